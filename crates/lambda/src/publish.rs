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
                let line = serde_json::json!({
                    "alert": {"subject": message.subject, "message": message.body, "message_attributes": message.attributes}
                });
                println!("{line}");
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
