//! Delivering the alert: one SNS `Publish` per event with the core's subject,
//! body and message attributes, or standard output when no topic is set.

use aws_sdk_sns::types::MessageAttributeValue;
use coverage_core::Message;

use crate::gather::error_text;

/// What `message_id` is when the alert went to standard output.
pub const STDOUT: &str = "stdout";

#[derive(Debug, Clone)]
pub enum Destination {
    Sns {
        client: aws_sdk_sns::Client,
        topic_arn: String,
    },
    Stdout,
}

/// Why the alert was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(pub String);

impl Destination {
    pub fn describe(&self) -> String {
        match self {
            Destination::Sns { topic_arn, .. } => topic_arn.clone(),
            Destination::Stdout => STDOUT.to_owned(),
        }
    }

    /// Deliver; the message id on success.
    pub async fn publish(&self, message: &Message) -> Result<String, PublishError> {
        match self {
            Destination::Stdout => {
                println!("{}", stdout_line(message));
                Ok(STDOUT.to_owned())
            }
            Destination::Sns { client, topic_arn } => {
                let mut attributes = std::collections::HashMap::new();
                for (name, value) in &message.attributes {
                    let attribute = MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(value)
                        .build()
                        .map_err(|e| PublishError(format!("message attribute {name}: {e}")))?;
                    attributes.insert((*name).to_owned(), attribute);
                }
                let published = client
                    .publish()
                    .topic_arn(topic_arn)
                    .subject(&message.subject)
                    .message(&message.body)
                    .set_message_attributes(Some(attributes))
                    .send()
                    .await
                    .map_err(|e| PublishError(format!("SNS Publish failed: {}", error_text(&e))))?;
                Ok(published.message_id().unwrap_or("unknown").to_owned())
            }
        }
    }
}

/// The alert on standard output: one line, as a log record; the chat
/// notification as the object it is, not a string of escaped JSON (a
/// plain-text body stays a string).
fn stdout_line(message: &Message) -> serde_json::Value {
    let body = serde_json::from_str::<serde_json::Value>(&message.body)
        .ok()
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::Value::String(message.body.clone()));
    serde_json::json!({
        "alert": {"subject": message.subject, "message": body, "message_attributes": message.attributes}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_body_is_printed_as_an_object_and_text_as_a_string() {
        let message = |body: &str| Message {
            subject: "s".to_owned(),
            body: body.to_owned(),
            attributes: std::collections::BTreeMap::new(),
        };
        let chat = stdout_line(&message(r#"{"version":"1.0"}"#));
        assert_eq!(chat["alert"]["message"]["version"], "1.0");
        let text = stdout_line(&message("Plain {text}\nline two"));
        assert_eq!(text["alert"]["message"], "Plain {text}\nline two");
        assert!(!stdout_line(&message("[1]")).to_string().contains('\n'));
        assert_eq!(stdout_line(&message("[1]"))["alert"]["message"], "[1]");
    }
}
