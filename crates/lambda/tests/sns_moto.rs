//! The alert through a real SNS implementation: moto server, an SQS queue
//! subscribed to the topic, the handler publishing, the message read back.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{CLUSTER, FakeAws, Inbox, Moto, clients, event, home};
use coverage_core::policy::{Policy, RemediationMode};
use coverage_lambda::{App, Config, MessageFormat};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_read_back_from_sqs_is_a_valid_chat_notification() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let fake = FakeAws::start().await;
    let Inbox {
        topic_arn,
        queue_url,
        sqs,
    } = moto
        .inbox("guardduty-coverage-alerts", "alerts-inbox", false)
        .await;

    let config = Config {
        alert_topic_arn: Some(topic_arn.clone()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode: RemediationMode::Enforce,
            ..Policy::default()
        },
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let app = App::with_clients(config, clients(&fake.uri(), &moto.endpoint).await);
    let summary = app
        .handle(event("unhealthy.addon-configuration-conflict.json"), home())
        .await
        .unwrap();
    assert_eq!(summary.outcome, "update-started");

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(5)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "exactly one publish per event");
    let envelope: Value = serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["MessageId"], summary.message_id.as_str());
    let subject = envelope["Subject"].as_str().unwrap();
    assert_eq!(
        subject,
        "[HIGH] GuardDuty agent unhealthy on prod-payments (us-east-1): addon-configuration-conflict"
    );
    let attributes = &envelope["MessageAttributes"];
    for (name, value) in [
        ("severity", "high"),
        ("issue_id", "addon-configuration-conflict"),
        ("cluster", CLUSTER),
        ("account", "111122223333"),
        ("region", "us-east-1"),
        ("transition", "unhealthy"),
        ("action", "overwrite-addon"),
        ("outcome", "update-started"),
    ] {
        assert_eq!(attributes[name]["Type"], "String", "{name}");
        assert_eq!(attributes[name]["Value"], value, "{name}");
    }

    let chat: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert_eq!(chat["content"]["textType"], "client-markdown");
    assert!(chat["content"]["title"].as_str().unwrap().contains(CLUSTER));
    let steps = chat["content"]["nextSteps"].as_array().unwrap();
    assert!(steps.len() >= 3 && steps[0].as_str().unwrap().contains("Logs Insights"));
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(description.contains("`addon-configuration-conflict`"));
    assert!(description.contains("EKS update update-1"));
    assert_eq!(
        chat["metadata"]["threadId"],
        "guardduty-coverage/111122223333/us-east-1/prod-payments"
    );
    assert_eq!(
        chat["metadata"]["additionalContext"]["outcome"],
        "update-started"
    );
    assert_eq!(
        chat["metadata"]["additionalContext"]["issueId"],
        "addon-configuration-conflict"
    );
}
