//! The guardrails fail closed, through the real handler over HTTP: in
//! `enforce`, none of these situations leads to an `UpdateAddon`, and each
//! alert names the guardrail and why; slow writes and publishes still end
//! the invocation before its deadline.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{FUNCTION_ARN, FakeAws, TOPIC, clients, fresh_event, home, invocation_with_deadline};
use coverage_core::policy::{Policy, RemediationMode};
use coverage_lambda::{App, Config, HandlerError, MessageFormat};
use serde_json::{Value, json};

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";

fn enforce_config() -> Config {
    Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Text,
        policy: Policy {
            mode: RemediationMode::Enforce,
            ..Policy::default()
        },
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

async fn app(fake: &FakeAws, config: Config) -> App {
    App::with_clients(config, clients(&fake.uri(), &fake.uri()).await)
}

/// The conflict event (fresh), changed by `edit`, in enforce mode against a
/// fake prepared by `setup`: no write, and the alert states the reason.
async fn refused(
    setup: impl FnOnce(&FakeAws),
    edit: impl FnOnce(&mut Value),
    config: Config,
    outcome: &str,
    says: &str,
) -> FakeAws {
    let fake = FakeAws::start().await;
    setup(&fake);
    let app = app(&fake, config).await;
    let mut payload = fresh_event(CONFLICT);
    edit(&mut payload);
    let summary = app.handle(payload, home()).await.unwrap();
    assert_eq!(summary.outcome, outcome);
    assert!(
        fake.requests("UpdateAddon").is_empty(),
        "{outcome}: UpdateAddon was called"
    );
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], outcome);
    assert!(
        message.contains(says),
        "{outcome}: {says:?} not in:\n{message}"
    );
    fake
}

fn healthy_now(fake: &FakeAws) {
    fake.set(|s| s.coverage_status = "HEALTHY");
}

#[tokio::test]
async fn coverage_slow_while_healthy_is_no_write() {
    refused(
        |f| {
            healthy_now(f);
            f.set(|s| {
                s.delays.insert("ListCoverage", Duration::from_secs(5));
            });
        },
        |_| {},
        Config {
            fact_read_timeout: Duration::from_millis(300),
            ..enforce_config()
        },
        "skipped-coverage-unreadable",
        "could not verify GuardDuty's live coverage of the cluster (no answer within 300 ms)",
    )
    .await;
}

#[tokio::test]
async fn coverage_denied_while_healthy_is_no_write() {
    refused(
        |f| {
            healthy_now(f);
            f.fail(
                "ListCoverage",
                403,
                "AccessDeniedException",
                "not authorized to perform guardduty:ListCoverage",
                None,
            );
        },
        |_| {},
        enforce_config(),
        "skipped-coverage-unreadable",
        "ListCoverage failed: AccessDeniedException: not authorized to perform guardduty:ListCoverage",
    )
    .await;
}

#[tokio::test]
async fn no_detector_while_healthy_is_no_write() {
    let fake = refused(
        |f| {
            healthy_now(f);
            f.fail(
                "ListDetectors",
                403,
                "AccessDeniedException",
                "not authorized to perform guardduty:ListDetectors",
                None,
            );
        },
        |_| {},
        enforce_config(),
        "skipped-coverage-unreadable",
        "no GuardDuty detector: ListDetectors failed: AccessDeniedException",
    )
    .await;
    assert!(fake.requests("ListCoverage").is_empty());
}

#[tokio::test]
async fn coverage_of_another_cluster_is_no_write() {
    refused(
        |f| f.set(|s| s.coverage_cluster = Some("prod-payments-old")),
        |_| {},
        enforce_config(),
        "skipped-coverage-mismatch",
        "GuardDuty's coverage answer is about another resource (cluster prod-payments-old",
    )
    .await;
}

#[tokio::test]
async fn addon_status_missing_is_no_write() {
    refused(
        |f| f.set(|s| s.addon_status_missing = true),
        |_| {},
        enforce_config(),
        "skipped-addon-status-unknown",
        "could not verify the add-on's status: EKS reported none",
    )
    .await;
}

#[tokio::test]
async fn addon_status_unknown_is_no_write() {
    refused(
        |f| f.set(|s| s.addon_status = Some("SUSPENDED")),
        |_| {},
        enforce_config(),
        "skipped-addon-status-unknown",
        "EKS reported \"SUSPENDED\", which this function does not know",
    )
    .await;
}

#[tokio::test]
async fn addon_active_is_no_write() {
    refused(
        |f| f.set(|s| s.addon_status = Some("ACTIVE")),
        |_| {},
        enforce_config(),
        "skipped-addon-status-not-eligible",
        "only made from DEGRADED or UPDATE_FAILED",
    )
    .await;
}

#[tokio::test]
async fn health_issues_without_a_conflict_are_no_write() {
    refused(
        |f| f.set(|s| s.health_codes = vec!["InsufficientNumberOfReplicas"]),
        |_| {},
        enforce_config(),
        "skipped-no-conflict-reported",
        "EKS does not report a ConfigurationConflict on the add-on now (its health issues: InsufficientNumberOfReplicas)",
    )
    .await;
}

#[tokio::test]
async fn an_update_without_a_status_is_no_write() {
    refused(
        |f| {
            f.set(|s| {
                s.updates
                    .push(json!({"id": "no-status", "type": "AddonUpdate",
                    "createdAt": common::now() - 7200, "params": [], "errors": []}))
            })
        },
        |_| {},
        enforce_config(),
        "skipped-update-status-unknown",
        "could not verify that add-on update no-status has ended: its status is missing",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_source_is_no_write() {
    refused(
        |_| {},
        |e| e["source"] = json!("evil.source"),
        enforce_config(),
        "skipped-untrusted-source",
        "the event's source is \"evil.source\", not aws.guardduty",
    )
    .await;
}

#[tokio::test]
async fn an_empty_event_id_is_no_write() {
    refused(
        |_| {},
        |e| e["id"] = json!(""),
        enforce_config(),
        "skipped-invalid-event-id",
        "the event id \"\" is empty or not an EventBridge id",
    )
    .await;
}

#[tokio::test]
async fn an_event_without_time_is_no_write() {
    refused(
        |_| {},
        |e| {
            e.as_object_mut().unwrap().remove("time");
        },
        enforce_config(),
        "skipped-event-time-unreadable",
        "could not verify when the event happened: it has no time",
    )
    .await;
}

#[tokio::test]
async fn a_garbage_function_arn_is_no_write_and_no_eks_read() {
    let fake = FakeAws::start().await;
    let app = app(&fake, enforce_config()).await;
    let summary = app
        .handle(
            fresh_event(CONFLICT),
            invocation_with_deadline("function-arn", 30_000),
        )
        .await
        .unwrap();
    assert_eq!(summary.outcome, "skipped-function-unverified");
    assert!(fake.requests("UpdateAddon").is_empty());
    assert!(fake.requests("ListUpdates").is_empty());
    assert!(
        fake.requests("DescribeAddon").is_empty(),
        "an unknown account and region: no EKS read either"
    );
    let (_, message, _) = fake.last_published();
    assert!(
        message.contains("could not verify which account and region this function runs in (the invoked function ARN \"function-arn\" does not parse)"),
        "{message}"
    );
}

#[tokio::test]
async fn an_event_from_another_region_never_touches_the_local_same_named_cluster() {
    refused(
        |_| {},
        |e| e["region"] = json!("eu-west-1"),
        enforce_config(),
        "skipped-other-region",
        "the cluster is in eu-west-1, and this function only acts in its own region us-east-1",
    )
    .await;
}

#[tokio::test]
async fn garbage_from_eks_is_said_in_words_and_no_write() {
    let fake = refused(
        |f| {
            f.set(|s| {
                s.raw
                    .insert("DescribeAddon", (200, "<html>not json</html>"));
            })
        },
        |_| {},
        enforce_config(),
        "skipped-addon-unreadable",
        "DescribeAddon failed",
    )
    .await;
    let (_, message, _) = fake.last_published();
    for artefact in ["Unhandled(", "{ source", "Some(", "DecodeError {"] {
        assert!(!message.contains(artefact), "{artefact} in:\n{message}");
    }
}

#[tokio::test]
async fn a_hanging_update_addon_ends_in_time_with_the_outcome_unknown() {
    let fake = FakeAws::start().await;
    fake.set(|s| {
        s.delays.insert("UpdateAddon", Duration::from_secs(60));
    });
    // UPDATE_ADDON_TIMEOUT_MS far beyond the invocation: the deadline wins.
    let app = app(
        &fake,
        Config {
            update_addon_timeout: Duration::from_secs(60),
            publish_timeout: Duration::from_secs(1),
            ..enforce_config()
        },
    )
    .await;
    let deadline_in = Duration::from_secs(5);
    let started = Instant::now();
    let summary = app
        .handle(
            fresh_event(CONFLICT),
            invocation_with_deadline(FUNCTION_ARN, deadline_in.as_millis() as u64),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took < deadline_in, "the invocation took {took:?}");
    assert_eq!(summary.outcome, "update-outcome-unknown");
    assert_eq!(
        fake.requests("UpdateAddon").len(),
        1,
        "called once, not retried"
    );
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "update-outcome-unknown");
    assert!(message.contains("the outcome is unknown"), "{message}");
    assert!(message.contains("A retry is safe"), "{message}");
    assert!(
        message.contains("4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37"),
        "{message}"
    );
}

#[tokio::test]
async fn a_hanging_publish_fails_the_invocation_before_its_deadline() {
    let fake = FakeAws::start().await;
    fake.set(|s| {
        s.delays.insert("Publish", Duration::from_secs(60));
    });
    let app = app(
        &fake,
        Config {
            publish_timeout: Duration::from_secs(60),
            policy: Policy::default(),
            ..enforce_config()
        },
    )
    .await;
    let deadline_in = Duration::from_secs(3);
    let started = Instant::now();
    let error = app
        .handle(
            fresh_event(CONFLICT),
            invocation_with_deadline(FUNCTION_ARN, deadline_in.as_millis() as u64),
        )
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < deadline_in, "the invocation took {took:?}");
    assert!(matches!(error, HandlerError::Publish { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("could not be published"), "{text}");
    assert!(text.contains("no answer within"), "{text}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "AlertNotPublished");
}
