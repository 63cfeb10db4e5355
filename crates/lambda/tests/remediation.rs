//! The handler against a local HTTP fake of EKS, GuardDuty and SNS: the exact
//! `UpdateAddon` body, idempotent redelivery, dry-run, every guardrail's skip
//! path, and the faults (EKS, GuardDuty and SNS errors, slow reads).

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{CLUSTER, CONFIG_VALUES, FakeAws, TOPIC, clients, event, fresh_event, home};
use coverage_core::policy::{ClusterSelection, Policy, RemediationMode, parse_cluster_patterns};
use coverage_lambda::{App, Config, HandlerError, MessageFormat};
use serde_json::{Value, json};

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";
const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";

fn config(mode: RemediationMode) -> Config {
    Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode,
            ..Policy::default()
        },
        // Generous: the SDK's own retries with backoff must fit inside.
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

async fn app(fake: &FakeAws, config: Config) -> App {
    App::with_clients(config, clients(&fake.uri(), &fake.uri()).await)
}

fn chat(message: &str) -> Value {
    serde_json::from_str(message).expect("the SNS message is the chat-notification JSON")
}

#[tokio::test]
async fn enforce_makes_exactly_one_update_addon_with_the_exact_body() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "update-started");
    assert_eq!(summary.action, "overwrite-addon");
    assert_eq!(summary.update_id.as_deref(), Some("update-1"));
    assert!(summary.message_id.starts_with("fake-message-"));

    let updates = fake.requests("UpdateAddon");
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].path,
        format!("/clusters/{CLUSTER}/addons/aws-guardduty-agent/update")
    );
    assert_eq!(
        updates[0].json(),
        json!({
            "addonVersion": "v1.10.0-eksbuild.2",
            "clientRequestToken": EVENT_ID,
            "configurationValues": CONFIG_VALUES,
            "resolveConflicts": "OVERWRITE"
        }),
        "no podIdentityAssociations, no serviceAccountRoleArn, nothing else"
    );

    let (subject, message, attributes) = fake.last_published();
    assert!(subject.contains(CLUSTER), "{subject}");
    assert_eq!(attributes["outcome"], "update-started");
    assert_eq!(attributes["issue_id"], "addon-configuration-conflict");
    let chat = chat(&message);
    assert_eq!(
        chat["metadata"]["additionalContext"]["updateId"],
        "update-1"
    );
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(description.contains("EKS update update-1"), "{description}");
    assert!(description.contains("--resolve-conflicts OVERWRITE"));
}

#[tokio::test]
async fn the_same_event_again_makes_no_second_update() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let first = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(first.outcome, "update-started");
    let second = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(second.outcome, "skipped-already-remediated");
    assert_eq!(fake.requests("UpdateAddon").len(), 1);
    let (_, message, _) = fake.last_published();
    assert!(
        message.contains("was already started after this event"),
        "{message}"
    );
}

#[tokio::test]
async fn concurrent_duplicates_share_one_token_and_one_update() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let (a, b) = tokio::join!(
        app.handle(event(CONFLICT), home()),
        app.handle(event(CONFLICT), home())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let calls = fake.requests("UpdateAddon");
    assert!(!calls.is_empty() && calls.len() <= 2);
    for call in &calls {
        assert_eq!(call.json()["clientRequestToken"], EVENT_ID);
    }
    assert_eq!(
        fake.state.lock().unwrap().updates.len(),
        1,
        "one update on the EKS side"
    );
    for summary in [&a, &b] {
        assert!(
            [
                "update-started",
                "skipped-already-remediated",
                "skipped-addon-busy"
            ]
            .contains(&summary.outcome.as_str()),
            "{}",
            summary.outcome
        );
    }
}

#[tokio::test]
async fn dry_run_makes_no_update_and_states_the_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::DryRun)).await;
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "skipped-dry-run");
    assert!(fake.requests("UpdateAddon").is_empty());
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "skipped-dry-run");
    let description = chat(&message)["content"]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        description.contains("The call it would make"),
        "{description}"
    );
    assert!(
        description.contains(&format!(
            "aws eks update-addon --cluster-name {CLUSTER} --addon-name aws-guardduty-agent --region us-east-1 --resolve-conflicts OVERWRITE --addon-version v1.10.0-eksbuild.2 --client-request-token {EVENT_ID} --configuration-values"
        )),
        "{description}"
    );
}

/// Run the conflict event in enforce mode with the fake prepared by `setup`;
/// no update may be made, and the outcome and alert must give the reason.
async fn assert_skipped(
    policy: Policy,
    setup: impl FnOnce(&FakeAws),
    outcome: &str,
    reason_text: &str,
) {
    let fake = FakeAws::start().await;
    setup(&fake);
    let app = app(
        &fake,
        Config {
            policy,
            ..config(RemediationMode::Enforce)
        },
    )
    .await;
    let summary = app.handle(fresh_event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, outcome);
    assert!(
        fake.requests("UpdateAddon").is_empty(),
        "{outcome}: an update was made"
    );
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], outcome);
    assert!(
        message.contains(reason_text),
        "{outcome}: {reason_text:?} not in {message}"
    );
}

fn enforce() -> Policy {
    Policy {
        mode: RemediationMode::Enforce,
        ..Policy::default()
    }
}

#[tokio::test]
async fn skip_when_mode_is_off() {
    let off = Policy {
        mode: RemediationMode::Off,
        ..Policy::default()
    };
    assert_skipped(off, |_| {}, "skipped-mode-off", "remediation is off").await;
}

#[tokio::test]
async fn skip_when_the_cluster_is_denied() {
    let deny = ClusterSelection {
        allow: vec![],
        deny: parse_cluster_patterns("prod-*").unwrap(),
    };
    let policy = Policy {
        clusters: deny,
        ..enforce()
    };
    assert_skipped(
        policy,
        |_| {},
        "skipped-cluster-excluded",
        "deny-list pattern",
    )
    .await;
}

#[tokio::test]
async fn skip_when_the_cluster_is_not_allowed() {
    let allow = ClusterSelection {
        allow: parse_cluster_patterns("staging-*").unwrap(),
        deny: vec![],
    };
    let policy = Policy {
        clusters: allow,
        ..enforce()
    };
    assert_skipped(
        policy,
        |_| {},
        "skipped-cluster-not-allowed",
        "matches no allow-list pattern",
    )
    .await;
}

#[tokio::test]
async fn skip_while_the_addon_is_creating() {
    assert_skipped(
        enforce(),
        |f| f.set(|s| s.addon_status = Some("CREATING")),
        "skipped-addon-busy",
        "CREATING",
    )
    .await;
}

#[tokio::test]
async fn skip_while_the_addon_is_updating() {
    assert_skipped(
        enforce(),
        |f| f.set(|s| s.addon_status = Some("UPDATING")),
        "skipped-addon-busy",
        "UPDATING",
    )
    .await;
}

#[tokio::test]
async fn skip_while_the_addon_is_deleting() {
    assert_skipped(
        enforce(),
        |f| f.set(|s| s.addon_status = Some("DELETING")),
        "skipped-addon-busy",
        "DELETING",
    )
    .await;
}

#[tokio::test]
async fn skip_when_coverage_is_already_healthy() {
    let healthy = |f: &FakeAws| f.set(|s| s.coverage_status = "HEALTHY");
    assert_skipped(
        enforce(),
        healthy,
        "skipped-already-healthy",
        "already reports",
    )
    .await;
}

#[tokio::test]
async fn skip_when_the_bound_is_reached() {
    let recent = |f: &FakeAws| f.past_update("Successful", 3600, true);
    assert_skipped(
        enforce(),
        recent,
        "skipped-bound-reached",
        "reached the bound of 1",
    )
    .await;
}

#[tokio::test]
async fn skip_when_the_addon_is_not_installed() {
    let missing = |f: &FakeAws| f.set(|s| s.addon_status = None);
    assert_skipped(
        enforce(),
        missing,
        "skipped-addon-unreadable",
        "not installed on the cluster",
    )
    .await;
}

#[tokio::test]
async fn skip_when_the_history_cannot_be_read() {
    let denied = |f: &FakeAws| {
        f.fail(
            "ListUpdates",
            403,
            "AccessDeniedException",
            "not authorized to perform eks:ListUpdates",
            None,
        )
    };
    assert_skipped(
        enforce(),
        denied,
        "skipped-history-unreadable",
        "AccessDeniedException",
    )
    .await;
}

#[tokio::test]
async fn the_bound_reads_the_history_through_list_and_describe_update() {
    let fake = FakeAws::start().await;
    fake.past_update("Failed", 3 * 86_400, true);
    fake.past_update("Successful", 7200, false);
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app.handle(fresh_event(CONFLICT), home()).await.unwrap();
    assert_eq!(
        summary.outcome, "update-started",
        "old and non-OVERWRITE updates do not count"
    );
    assert_eq!(fake.requests("ListUpdates").len(), 1);
    assert!(
        fake.requests("ListUpdates")[0]
            .query
            .contains("addonName=aws-guardduty-agent")
    );
    assert_eq!(fake.requests("DescribeUpdate").len(), 2);
}

#[tokio::test]
async fn resource_in_use_is_reported_as_in_flight_and_not_retried() {
    let fake = FakeAws::start().await;
    fake.fail(
        "UpdateAddon",
        409,
        "ResourceInUseException",
        "Addon aws-guardduty-agent is currently being updated",
        None,
    );
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "update-in-flight");
    assert_eq!(fake.requests("UpdateAddon").len(), 1, "not retried");
    let (_, message, _) = fake.last_published();
    assert!(message.contains("already in flight"), "{message}");
}

#[tokio::test]
async fn access_denied_on_update_is_reported_in_the_alert() {
    let fake = FakeAws::start().await;
    fake.fail(
        "UpdateAddon",
        403,
        "AccessDeniedException",
        "User is not authorized to perform: eks:UpdateAddon",
        None,
    );
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "update-failed");
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "update-failed");
    assert!(
        message
            .contains("AccessDeniedException: User is not authorized to perform: eks:UpdateAddon"),
        "{message}"
    );
}

#[tokio::test]
async fn guardduty_throttling_and_access_denied_are_said_and_coverage_unread_blocks_the_write() {
    let fake = FakeAws::start().await;
    fake.fail(
        "ListCoverage",
        429,
        "ThrottlingException",
        "Rate exceeded",
        None,
    );
    fake.fail(
        "GetCoverageStatistics",
        403,
        "AccessDeniedException",
        "not authorized to perform guardduty:GetCoverageStatistics",
        None,
    );
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(
        summary.outcome, "skipped-coverage-unreadable",
        "coverage that could not be read might be HEALTHY: no write"
    );
    assert!(fake.requests("UpdateAddon").is_empty());
    let (_, message, _) = fake.last_published();
    assert!(
        message.contains("could not verify GuardDuty's live coverage of the cluster"),
        "{message}"
    );
    assert!(message.contains("GuardDuty coverage: could not be read (ListCoverage failed: ThrottlingException: Rate exceeded)"), "{message}");
    assert!(message.contains("Coverage statistics: could not be read (GetCoverageStatistics failed: AccessDeniedException"), "{message}");
    assert!(
        fake.requests("ListCoverage").len() > 1,
        "throttling is retried by the SDK"
    );
}

#[tokio::test]
async fn no_detector_access_still_alerts() {
    let fake = FakeAws::start().await;
    fake.fail(
        "ListDetectors",
        403,
        "AccessDeniedException",
        "not authorized to perform guardduty:ListDetectors",
        None,
    );
    let app = app(&fake, config(RemediationMode::DryRun)).await;
    app.handle(event("unhealthy.addon-insufficient-cpu.json"), home())
        .await
        .unwrap();
    let (_, message, _) = fake.last_published();
    assert!(
        message.contains("no GuardDuty detector: ListDetectors failed: AccessDeniedException"),
        "{message}"
    );
    assert!(fake.requests("ListCoverage").is_empty());
}

#[tokio::test]
async fn a_slow_read_is_cut_off_and_said() {
    let fake = FakeAws::start().await;
    fake.set(|s| {
        s.delays.insert("DescribeAddon", Duration::from_secs(5));
    });
    let app = app(
        &fake,
        Config {
            fact_read_timeout: Duration::from_millis(300),
            ..config(RemediationMode::Enforce)
        },
    )
    .await;
    let started = std::time::Instant::now();
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the slow read blocked the alert"
    );
    assert_eq!(summary.outcome, "skipped-addon-unreadable");
    let (_, message, _) = fake.last_published();
    assert!(message.contains("no answer within 300 ms"), "{message}");
}

#[tokio::test]
async fn sns_500s_then_success_is_published_once_retried() {
    let fake = FakeAws::start().await;
    fake.fail("Publish", 500, "InternalError", "Internal failure", Some(2));
    let app = app(&fake, config(RemediationMode::DryRun)).await;
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(fake.requests("Publish").len(), 3);
    assert!(summary.message_id.starts_with("fake-message-"));
}

#[tokio::test]
async fn sns_failing_throughout_fails_the_invocation() {
    let fake = FakeAws::start().await;
    fake.fail("Publish", 500, "InternalError", "Internal failure", None);
    let app = app(&fake, config(RemediationMode::DryRun)).await;
    let error = app.handle(event(CONFLICT), home()).await.unwrap_err();
    assert!(matches!(error, HandlerError::Publish { .. }));
    let text = error.to_string();
    assert!(
        text.contains(EVENT_ID) && text.contains("InternalError"),
        "{text}"
    );
    let diagnostic: lambda_runtime::Diagnostic = error.into();
    assert_eq!(diagnostic.error_type, "AlertNotPublished");
}

#[tokio::test]
async fn an_unreadable_detail_is_published_raw() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app
        .handle(event("malformed.no-detail.json"), home())
        .await
        .unwrap();
    assert_eq!(summary.outcome, "unreadable-event");
    let (subject, message, _) = fake.last_published();
    assert!(
        subject.starts_with("[HIGH] Unreadable GuardDuty coverage event"),
        "{subject}"
    );
    assert!(message.contains("289c220a-645a-4489-b5d3-bcc38fde7d5c"));
    assert_eq!(
        fake.all_requests()
            .iter()
            .filter(|r| r.operation != "Publish")
            .count(),
        0
    );
}

#[tokio::test]
async fn what_is_not_a_coverage_event_is_rejected_without_any_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    for payload in [
        event("malformed.wrong-detail-type.json"),
        json!("a string"),
        json!({"detail-type": 7}),
    ] {
        let error = app.handle(payload, home()).await.unwrap_err();
        assert!(
            matches!(error, HandlerError::NotACoverageEvent(_)),
            "{error}"
        );
        let diagnostic: lambda_runtime::Diagnostic = error.into();
        assert_eq!(diagnostic.error_type, "NotACoverageEvent");
    }
    assert!(fake.all_requests().is_empty());
}

#[tokio::test]
async fn healthy_ecs_and_member_events_are_published_without_writes() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let healthy = app
        .handle(event("healthy.recovered.json"), home())
        .await
        .unwrap();
    assert_eq!(healthy.outcome, "recovery-notice");
    let (subject, _, _) = fake.last_published();
    assert!(subject.starts_with("[RESOLVED]"), "{subject}");
    let ecs = app
        .handle(event("ecs.unhealthy.json"), home())
        .await
        .unwrap();
    assert_eq!(ecs.outcome, "out-of-scope");
    let member = app
        .handle(
            event("unhealthy.addon-configuration-conflict.member-account.json"),
            home(),
        )
        .await
        .unwrap();
    assert_eq!(member.outcome, "skipped-member-account");
    assert!(fake.requests("UpdateAddon").is_empty());
    assert!(
        fake.requests("DescribeAddon").len() <= 1,
        "only the Healthy event reads its own add-on"
    );
}

#[tokio::test]
async fn every_sample_event_ends_in_an_alert_or_a_rejection() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::DryRun)).await;
    for path in common::event_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(payload) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap())
        else {
            assert_eq!(name, "malformed.not-json.json");
            continue;
        };
        let before = fake.requests("Publish").len();
        match app.handle(payload, home()).await {
            Ok(summary) => {
                assert_eq!(fake.requests("Publish").len(), before + 1, "{name}");
                if let Some(id) = name
                    .strip_prefix("unhealthy.")
                    .and_then(|n| n.strip_suffix(".json"))
                {
                    assert_eq!(
                        summary.issue_id,
                        id.trim_end_matches(".addon-configuration-conflict.member-account")
                            .trim_end_matches(".member-account"),
                        "{name}"
                    );
                }
            }
            Err(error) => assert_eq!(name, "malformed.wrong-detail-type.json", "{name}: {error}"),
        }
    }
}
