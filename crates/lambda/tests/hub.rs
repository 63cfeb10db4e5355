//! The organization hub against the local HTTP fake (with STS `AssumeRole`,
//! which checks the role ARN and session name and hands out credentials
//! distinct per account, and records the access key id that signed every
//! call): a member's conflict is read (the audit-log query too) and
//! remediated with the member role's credentials; a member that is not
//! allowed gets no `AssumeRole` and no write; an unassumable role is
//! reported in the alert; credentials are reused across events from one
//! account until shortly before they expire;
//! the own account's events still use the function's own role.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{FakeAws, TOPIC, assumed_key, clients, fresh_event, home, members};
use coverage_core::policy::{Policy, RemediationMode, parse_member_accounts};
use coverage_lambda::{App, Config, MessageFormat};
use serde_json::{Value, json};

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";
const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
const MEMBER: &str = "444455556666";
const OTHER_MEMBER: &str = "777788889999";
const MEMBER_ROLE: &str = "arn:aws:iam::444455556666:role/GuardDutyCoverageMember";
/// The hub function's own credentials in the tests (`common::base_config`).
const OWN_KEY: &str = "AKIDTEST";

/// Every EKS, GuardDuty and CloudWatch Logs operation an event's handling may call.
const READS_AND_WRITE: [&str; 9] = [
    "DescribeAddon",
    "ListUpdates",
    "DescribeUpdate",
    "ListDetectors",
    "ListCoverage",
    "GetCoverageStatistics",
    "StartQuery",
    "GetQueryResults",
    "UpdateAddon",
];

fn config(member_accounts: &str) -> Config {
    Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode: RemediationMode::Enforce,
            members: parse_member_accounts(member_accounts).unwrap(),
            ..Policy::default()
        },
        // Generous: the SDK's own retries with backoff must fit inside.
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

async fn hub(fake: &FakeAws, member_accounts: &str) -> App {
    App::with_clients(
        config(member_accounts),
        clients(&fake.uri(), &fake.uri()).await,
    )
    .with_members(members(&fake.uri()).await)
}

/// The conflict event as a member's default bus forwards it to the hub's
/// bus: the envelope's account and the cluster's are the member's.
fn member_event(account: &str, id: &str) -> Value {
    let mut value = fresh_event(CONFLICT);
    value["id"] = json!(id);
    value["account"] = json!(account);
    value["detail"]["resourceAccountId"] = json!(account);
    value
}

/// The access key ids that signed each EKS, GuardDuty and Logs call.
fn signers(fake: &FakeAws) -> Vec<(&'static str, Option<String>)> {
    fake.all_requests()
        .into_iter()
        .filter(|r| READS_AND_WRITE.contains(&r.operation))
        .map(|r| (r.operation, r.access_key))
        .collect()
}

#[tokio::test]
async fn a_members_conflict_is_read_and_remediated_with_the_member_roles_credentials() {
    let fake = FakeAws::start().await;
    let app = hub(&fake, MEMBER).await;
    let summary = app
        .handle(member_event(MEMBER, EVENT_ID), home())
        .await
        .unwrap();
    assert_eq!(summary.outcome, "update-started");

    let assumed = fake.requests("AssumeRole");
    assert_eq!(assumed.len(), 1, "one AssumeRole");
    let form = assumed[0].form();
    assert_eq!(form["Action"], "AssumeRole");
    assert_eq!(form["RoleArn"], MEMBER_ROLE);
    assert_eq!(form["RoleSessionName"], format!("coverage.{EVENT_ID}"));
    assert_eq!(
        assumed[0].access_key.as_deref(),
        Some(OWN_KEY),
        "assumed with the function's own role"
    );

    let updates = fake.requests("UpdateAddon");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].json()["clientRequestToken"], EVENT_ID);
    let signed = signers(&fake);
    for operation in [
        "DescribeAddon",
        "ListUpdates",
        "ListDetectors",
        "ListCoverage",
        "GetCoverageStatistics",
        "StartQuery",
        "GetQueryResults",
        "UpdateAddon",
    ] {
        assert!(
            signed.iter().any(|(op, _)| *op == operation),
            "{operation} was not called: {signed:?}"
        );
    }
    for (operation, key) in &signed {
        assert_eq!(
            key.as_deref(),
            Some(assumed_key(MEMBER).as_str()),
            "{operation} signed with the member role's credentials"
        );
    }
    // The alert goes to the hub's own topic, with the hub's own role.
    let publish = fake.requests("Publish");
    assert_eq!(publish.len(), 1);
    assert_eq!(publish[0].access_key.as_deref(), Some(OWN_KEY));
    let (subject, message, attributes) = fake.last_published();
    assert!(subject.contains("prod-payments"), "{subject}");
    assert_eq!(attributes["outcome"], "update-started");
    assert!(message.contains(MEMBER), "{message}");
}

#[tokio::test]
async fn a_member_account_that_is_not_allowed_gets_no_assume_role_and_no_write() {
    let fake = FakeAws::start().await;
    let app = hub(&fake, OTHER_MEMBER).await;
    let summary = app
        .handle(member_event(MEMBER, EVENT_ID), home())
        .await
        .unwrap();
    assert_eq!(summary.outcome, "skipped-member-account-not-allowed");
    assert!(fake.requests("AssumeRole").is_empty());
    assert!(fake.requests("UpdateAddon").is_empty());
    assert!(
        fake.requests("DescribeAddon").is_empty(),
        "nothing read in the member account"
    );
    for (operation, key) in signers(&fake) {
        assert_eq!(key.as_deref(), Some(OWN_KEY), "{operation}");
    }
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "skipped-member-account-not-allowed");
    assert!(message.contains("MEMBER_ACCOUNTS"), "{message}");
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_reported_in_the_alert_and_nothing_is_written() {
    let fake = FakeAws::start().await;
    fake.fail(
        "AssumeRole",
        403,
        "AccessDenied",
        "User: arn:aws:sts::111122223333:assumed-role/hub/coverage is not authorized to perform: sts:AssumeRole",
        None,
    );
    let app = hub(&fake, MEMBER).await;
    let summary = app
        .handle(member_event(MEMBER, EVENT_ID), home())
        .await
        .unwrap();
    assert_eq!(summary.outcome, "skipped-member-role-not-assumed");
    assert!(!fake.requests("AssumeRole").is_empty());
    assert!(
        signers(&fake).is_empty(),
        "no EKS or GuardDuty call without the member's credentials: {:?}",
        signers(&fake)
    );
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "skipped-member-role-not-assumed");
    assert!(
        message.contains(&format!("could not assume the member role {MEMBER_ROLE}")),
        "{message}"
    );
    assert!(
        message.contains("AccessDenied") && message.contains("not authorized"),
        "{message}"
    );
}

#[tokio::test]
async fn two_events_from_one_account_pay_one_assume_role() {
    let fake = FakeAws::start().await;
    let app = hub(&fake, MEMBER).await;
    app.handle(member_event(MEMBER, EVENT_ID), home())
        .await
        .unwrap();
    let reads_after_first = signers(&fake).len();
    app.handle(member_event(MEMBER, "second-event"), home())
        .await
        .unwrap();
    assert_eq!(fake.requests("AssumeRole").len(), 1);
    let signed = signers(&fake);
    assert!(
        signed.len() > reads_after_first,
        "the second event read too"
    );
    for (operation, key) in &signed {
        assert_eq!(
            key.as_deref(),
            Some(assumed_key(MEMBER).as_str()),
            "{operation}"
        );
    }
}

#[tokio::test]
async fn credentials_about_to_expire_are_replaced_before_use() {
    let fake = FakeAws::start().await;
    // Two minutes: inside the five the hub keeps free before expiry.
    fake.set(|s| s.credential_seconds = 120);
    let app = hub(&fake, MEMBER).await;
    app.handle(member_event(MEMBER, EVENT_ID), home())
        .await
        .unwrap();
    app.handle(member_event(MEMBER, "second-event"), home())
        .await
        .unwrap();
    let sessions: Vec<String> = fake
        .requests("AssumeRole")
        .iter()
        .map(|r| r.form()["RoleSessionName"].clone())
        .collect();
    assert_eq!(
        sessions,
        [
            format!("coverage.{EVENT_ID}"),
            "coverage.second-event".to_owned()
        ]
    );
}

#[tokio::test]
async fn each_member_account_gets_its_own_role_and_credentials() {
    let fake = FakeAws::start().await;
    let app = hub(&fake, "*").await;
    app.handle(member_event(MEMBER, EVENT_ID), home())
        .await
        .unwrap();
    let first = signers(&fake).len();
    // The fake has one cluster: as if the second account's were untouched.
    fake.set(|s| {
        s.updates.clear();
        s.tokens.clear();
        s.addon_status = Some("DEGRADED");
    });
    let summary = app
        .handle(member_event(OTHER_MEMBER, "other-event"), home())
        .await
        .unwrap();
    assert_eq!(summary.outcome, "update-started");
    let roles: Vec<String> = fake
        .requests("AssumeRole")
        .iter()
        .map(|r| r.form()["RoleArn"].clone())
        .collect();
    assert_eq!(
        roles,
        [
            MEMBER_ROLE.to_owned(),
            "arn:aws:iam::777788889999:role/GuardDutyCoverageMember".to_owned()
        ]
    );
    let signed = signers(&fake);
    assert!(signed[first..].iter().any(|(op, _)| *op == "UpdateAddon"));
    for (operation, key) in &signed[first..] {
        assert_eq!(
            key.as_deref(),
            Some(assumed_key(OTHER_MEMBER).as_str()),
            "{operation}"
        );
    }
}

#[tokio::test]
async fn the_own_accounts_events_still_use_the_functions_own_role() {
    let fake = FakeAws::start().await;
    let app = hub(&fake, MEMBER).await;
    let summary = app.handle(fresh_event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "update-started");
    assert!(fake.requests("AssumeRole").is_empty());
    let signed = signers(&fake);
    assert!(!signed.is_empty());
    for (operation, key) in signed {
        assert_eq!(key.as_deref(), Some(OWN_KEY), "{operation}");
    }
}
