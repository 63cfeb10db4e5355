//! Approve mode against the local HTTP fake, whose KMS really computes and
//! checks HMAC-SHA256: the conflict gets a signed token and no write; the
//! approval makes exactly one `UpdateAddon` with the original event id;
//! a second approval, a tampered, expired or malformed token, a recovered
//! cluster and a changed add-on make none, each with an alert saying why.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{CLUSTER, FUNCTION_ARN, FakeAws, KMS_KEY_ID, TOPIC, clients, event, home};
use coverage_core::Invocation;
use coverage_core::policy::{Policy, RemediationMode};
use coverage_lambda::{App, Config, MessageFormat, Reply};
use serde_json::{Value, json};

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";
const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";

fn config() -> Config {
    Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode: RemediationMode::Approve,
            ..Policy::default()
        },
        fact_read_timeout: Duration::from_secs(10),
        approval_key_id: Some(KMS_KEY_ID.to_owned()),
        ..Config::default()
    }
}

async fn app(fake: &FakeAws) -> App {
    App::with_clients(config(), clients(&fake.uri(), &fake.uri()).await)
}

fn chat(message: &str) -> Value {
    serde_json::from_str(message).unwrap()
}

/// The conflict in approve mode: the token from the published alert.
async fn offered(fake: &FakeAws, app: &App) -> String {
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "skipped-awaiting-approval");
    assert!(
        fake.requests("UpdateAddon").is_empty(),
        "no write before the click"
    );
    assert_eq!(fake.requests("GenerateMac").len(), 1);
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "skipped-awaiting-approval");
    let chat = chat(&message);
    assert_eq!(chat["metadata"]["enableCustomActions"], true);
    let context = &chat["metadata"]["additionalContext"];
    assert_eq!(context["approveFunction"], FUNCTION_ARN);
    let token = context["approvalToken"].as_str().unwrap().to_owned();
    assert!(token.len() <= 1024, "{}", token.len());
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
        "{token}"
    );
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(description.contains("Approve OVERWRITE"), "{description}");
    assert!(description.contains("(UTC)"), "{description}");
    token
}

async fn approve(app: &App, token: &str, invocation: Invocation) -> coverage_core::Summary {
    match app
        .dispatch(
            json!({ "approve": token }),
            invocation.with_request_id("req-approve-1"),
        )
        .await
        .unwrap()
    {
        Reply::Event(summary) => summary,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn approve_mode_offers_a_signed_token_and_the_approval_makes_exactly_one_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;

    // The signed part really is what the fake KMS signed.
    let (signed, _) = token.split_once('.').unwrap();
    let generate: Value = fake.requests("GenerateMac")[0].json();
    assert_eq!(generate["KeyId"], KMS_KEY_ID);
    assert_eq!(generate["MacAlgorithm"], "HMAC_SHA_256");
    use base64::Engine as _;
    let message = base64::engine::general_purpose::STANDARD
        .decode(generate["Message"].as_str().unwrap())
        .unwrap();
    assert_eq!(message, signed.as_bytes());

    let summary = approve(&app, &token, home()).await;
    assert_eq!(summary.outcome, "update-started", "{summary:?}");
    assert_eq!(fake.requests("VerifyMac").len(), 1);
    let updates = fake.requests("UpdateAddon");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].json()["clientRequestToken"], EVENT_ID);
    assert_eq!(updates[0].json()["resolveConflicts"], "OVERWRITE");
    let (_, message, _) = fake.last_published();
    let chat = chat(&message);
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(description.contains("Approved in chat"), "{description}");
    assert!(description.contains("update-1"), "{description}");
    // The same thread as the alert.
    assert_eq!(
        chat["metadata"]["threadId"],
        format!("guardduty-coverage/111122223333/us-east-1/{CLUSTER}")
    );

    // A second click: the first update is in the add-on's history now.
    let again = approve(&app, &token, home()).await;
    assert!(again.outcome.starts_with("skipped-"), "{again:?}");
    assert_eq!(
        fake.requests("UpdateAddon").len(),
        1,
        "never a second update"
    );
}

#[tokio::test]
async fn a_token_with_one_character_changed_makes_no_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;
    // One character of the MAC, and one of the signed part.
    let mac_at = token.len() - 3;
    let body_at = 10;
    for at in [mac_at, body_at] {
        let mut bytes = token.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let summary = approve(&app, &tampered, home()).await;
        assert!(summary.outcome.starts_with("approval-"), "{summary:?}");
        assert_ne!(summary.outcome, "update-started");
    }
    assert!(fake.requests("UpdateAddon").is_empty());
    let (subject, message, _) = fake.last_published();
    assert!(subject.contains("approval refused"), "{subject}");
    assert!(message.contains("No AWS call was made"), "{message}");
    assert!(message.contains("req-approve-1"), "{message}");
}

#[tokio::test]
async fn a_flipped_mac_byte_fails_verification_in_kms() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;
    let (signed, mac) = token.split_once('.').unwrap();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut mac = engine.decode(mac).unwrap();
    mac[0] ^= 1;
    let tampered = format!("{signed}.{}", engine.encode(&mac));
    let summary = approve(&app, &tampered, home()).await;
    assert_eq!(summary.outcome, "approval-bad-signature");
    assert_eq!(fake.requests("VerifyMac").len(), 1, "KMS was asked");
    assert!(fake.requests("UpdateAddon").is_empty());
}

#[tokio::test]
async fn an_expired_token_makes_no_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;
    let now_ms = coverage_lambda::gather::now_ms();
    let later = now_ms + 3_601_000;
    let invocation = Invocation::lambda(FUNCTION_ARN, later, Some(later + 30_000));
    let summary = approve(&app, &token, invocation).await;
    assert_eq!(summary.outcome, "approval-expired");
    assert!(fake.requests("UpdateAddon").is_empty());
    assert!(
        fake.requests("DescribeAddon").len() == 1,
        "no read for an expired token"
    );
}

#[tokio::test]
async fn malformed_approvals_make_no_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    for payload in [json!({"approve": 7}), json!({"approve": "not-a-token"})] {
        let Reply::Event(summary) = app.dispatch(payload, home()).await.unwrap() else {
            panic!()
        };
        assert_eq!(summary.outcome, "approval-malformed");
    }
    assert!(fake.requests("VerifyMac").is_empty());
    assert!(fake.requests("UpdateAddon").is_empty());
}

#[tokio::test]
async fn approval_after_the_cluster_recovered_makes_no_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;
    fake.set(|s| s.coverage_status = "HEALTHY");
    let summary = approve(&app, &token, home()).await;
    assert_eq!(summary.outcome, "skipped-already-healthy");
    assert!(fake.requests("UpdateAddon").is_empty());
}

#[tokio::test]
async fn approval_after_the_addon_version_changed_makes_no_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;
    fake.set(|s| s.addon_version = "v1.11.0-eksbuild.1");
    let summary = approve(&app, &token, home()).await;
    assert_eq!(summary.outcome, "skipped-approval-stale");
    assert!(fake.requests("UpdateAddon").is_empty());
    let (_, message, _) = fake.last_published();
    assert!(message.contains("v1.11.0-eksbuild.1"), "{message}");
}

#[tokio::test]
async fn approval_after_the_configuration_values_changed_makes_no_call() {
    let fake = FakeAws::start().await;
    let app = app(&fake).await;
    let token = offered(&fake, &app).await;
    fake.set(|s| s.configuration_values = Some(r#"{"dnsPolicy":"ClusterFirst"}"#));
    let summary = approve(&app, &token, home()).await;
    assert_eq!(summary.outcome, "skipped-approval-stale");
    assert!(fake.requests("UpdateAddon").is_empty());
}

#[tokio::test]
async fn approve_mode_without_a_key_is_a_start_up_error() {
    let error =
        Config::from_lookup(|name| (name == "REMEDIATION_MODE").then(|| "approve".to_owned()))
            .unwrap_err();
    assert_eq!(error.variable, "APPROVAL_KEY_ID");
}
