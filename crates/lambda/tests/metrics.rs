//! The function's metrics as the real handler emits them, against the local
//! HTTP fake: every line is a valid CloudWatch embedded-metric document
//! (checked against the format's rules by parsing it), and the counts are
//! the ones the invocation earned: the published alert, the started or
//! refused OVERWRITE by outcome and reason, failed reads by service, an
//! unreachable member account.
//!
//! One process has one metrics recorder, so these tests take turns.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{FakeAws, TOPIC, clients, event, home, members};
use coverage_core::policy::{Policy, RemediationMode, parse_member_accounts};
use coverage_lambda::emf::{self, Emitter, MetricsSettings};
use coverage_lambda::{App, Config, MessageFormat};
use serde_json::{Value, json};

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";
const NAMESPACE: &str = "GuardDutyCoverageTest";
const FUNCTION: &str = "coverage-test-fn";

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn emitter() -> Emitter {
    emf::install(&MetricsSettings {
        namespace: NAMESPACE.to_owned(),
        function_name: Some(FUNCTION.to_owned()),
    })
    .unwrap()
}

fn config(mode: RemediationMode, member_accounts: &str) -> Config {
    Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode,
            members: parse_member_accounts(member_accounts).unwrap(),
            ..Policy::default()
        },
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One EMF document, checked against the specification's rules: the `_aws`
/// metadata (integer timestamp, one or more directives with a namespace,
/// dimension sets of at most 30 keys that are root members with string
/// values, at most 100 metrics each a root member with a number or an array
/// of at most 100 numbers, a known unit), then its values as
/// (metric, dimensions) → value.
fn parse_emf(line: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = doc.as_object().expect("an EMF document is an object");
    let aws = root["_aws"].as_object().expect("_aws metadata");
    assert!(aws["Timestamp"].is_u64(), "Timestamp in ms: {line}");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert!(!directives.is_empty(), "{line}");
    let mut values = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().unwrap();
        assert!((1..=255).contains(&namespace.len()) && !namespace.starts_with(':'));
        assert!(namespace == NAMESPACE || namespace == "Checker", "{line}");
        let dimension_sets = directive["Dimensions"].as_array().unwrap();
        let metrics = directive["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
        for set in dimension_sets {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30, "{line}");
            let mut dimensions = BTreeMap::new();
            for key in set {
                let key = key.as_str().unwrap();
                let value = root
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("dimension {key} is a string root member: {line}"));
                assert!(!value.is_empty() && value.len() <= 1024);
                dimensions.insert(key.to_owned(), value.to_owned());
            }
            for metric in metrics {
                let name = metric["Name"].as_str().unwrap();
                assert!((1..=1024).contains(&name.len()));
                if let Some(unit) = metric.get("Unit") {
                    assert!(UNITS.contains(&unit.as_str().unwrap()), "{line}");
                }
                if namespace == NAMESPACE {
                    assert_eq!(metric["Unit"], "Count", "every metric is a count: {line}");
                }
                let value = &root[name];
                let number = match value {
                    Value::Number(n) => n.as_f64().unwrap(),
                    Value::Array(items) => {
                        assert!(items.len() <= 100 && items.iter().all(Value::is_number));
                        items.iter().filter_map(Value::as_f64).sum()
                    }
                    other => panic!("metric {name} has a number value, not {other}: {line}"),
                };
                values.push((name.to_owned(), dimensions.clone(), number));
            }
        }
    }
    values
}

/// The counts the flush wrote, every document checked, keyed by metric and
/// its dimension value (beyond the function's).
fn flushed(emitter: &Emitter, request_id: &str) -> BTreeMap<(String, Option<String>), f64> {
    let lines = String::from_utf8(emitter.flush(request_id)).unwrap();
    let mut counts = BTreeMap::new();
    for line in lines.lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        assert_eq!(doc["RequestId"], request_id, "{line}");
        for (name, mut dimensions, value) in parse_emf(line) {
            assert_eq!(
                dimensions.remove("Function").as_deref(),
                Some(FUNCTION),
                "every metric carries the function's name: {line}"
            );
            assert!(dimensions.len() <= 1, "{line}");
            let other = dimensions.into_values().next();
            *counts.entry((name, other)).or_insert(0.0) += value;
        }
    }
    counts
}

fn key(name: &str, dimension: Option<&str>) -> (String, Option<String>) {
    (name.to_owned(), dimension.map(str::to_owned))
}

#[test]
fn the_checker_rejects_documents_that_break_the_format() {
    let good = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Checker",
        "Dimensions": [["Function"]], "Metrics": [{"Name": "X", "Unit": "Count"}]}]},
        "Function": "f", "X": 1});
    assert_eq!(parse_emf(&good.to_string()).len(), 1);
    let broken = [
        json!({"_aws": {"Timestamp": "now", "CloudWatchMetrics": []}}),
        json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Checker",
            "Dimensions": [["Function"]], "Metrics": [{"Name": "X"}]}]}, "X": 1}),
        json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Checker",
            "Dimensions": [[]], "Metrics": [{"Name": "X"}]}]}, "X": "one"}),
        json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Checker",
            "Dimensions": [[]], "Metrics": [{"Name": "X", "Unit": "Things"}]}]}, "X": 1}),
    ];
    for doc in broken {
        let text = doc.to_string();
        assert!(
            std::panic::catch_unwind(|| parse_emf(&text)).is_err(),
            "accepted {text}"
        );
    }
}

#[tokio::test]
async fn a_started_overwrite_counts_the_alert_and_the_remediation_once() {
    let _turn = TURN.lock().await;
    let emitter = emitter();
    let _ = emitter.flush("before");
    let fake = FakeAws::start().await;
    let app = App::with_clients(
        config(RemediationMode::Enforce, ""),
        clients(&fake.uri(), &fake.uri()).await,
    );
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "update-started");
    let counts = flushed(&emitter, "req-started");
    assert_eq!(
        counts,
        BTreeMap::from([
            (key("AlertsPublished", None), 1.0),
            (key("Remediations", Some("update-started")), 1.0),
        ]),
    );
    // A flush takes what it writes: nothing is written twice.
    assert!(emitter.flush("again").is_empty());
}

#[tokio::test]
async fn refusals_count_by_reason_and_failed_reads_by_service() {
    let _turn = TURN.lock().await;
    let emitter = emitter();
    let _ = emitter.flush("before");
    let fake = FakeAws::start().await;
    fake.fail(
        "DescribeAddon",
        403,
        "AccessDeniedException",
        "not authorized to perform eks:DescribeAddon",
        None,
    );
    let app = App::with_clients(
        config(RemediationMode::Enforce, ""),
        clients(&fake.uri(), &fake.uri()).await,
    );
    let summary = app.handle(event(CONFLICT), home()).await.unwrap();
    assert!(
        summary.outcome.starts_with("skipped-"),
        "{}",
        summary.outcome
    );
    let reason = summary.outcome.trim_start_matches("skipped-").to_owned();
    let counts = flushed(&emitter, "req-refused");
    assert_eq!(counts[&key("AlertsPublished", None)], 1.0);
    assert_eq!(counts[&key("FactReadsFailed", Some("eks"))], 1.0);
    assert_eq!(
        counts[&("RemediationsSkipped".to_owned(), Some(reason))],
        1.0,
        "{counts:?}"
    );
    assert!(!counts.contains_key(&key("Remediations", Some("update-started"))));
    assert!(fake.requests("UpdateAddon").is_empty());

    // A dry-run counts as such, and two events add up.
    let app = App::with_clients(
        config(RemediationMode::DryRun, ""),
        clients(&fake.uri(), &fake.uri()).await,
    );
    fake.set(|s| s.failures.clear());
    app.handle(event(CONFLICT), home()).await.unwrap();
    app.handle(event(CONFLICT), home()).await.unwrap();
    let counts = flushed(&emitter, "req-dry-run");
    assert_eq!(counts[&key("AlertsPublished", None)], 2.0);
    assert_eq!(counts[&key("RemediationsSkipped", Some("dry-run"))], 2.0);
}

#[tokio::test]
async fn a_failed_update_and_an_undelivered_alert_are_counted() {
    let _turn = TURN.lock().await;
    let emitter = emitter();
    let _ = emitter.flush("before");
    let fake = FakeAws::start().await;
    fake.fail(
        "UpdateAddon",
        400,
        "InvalidParameterException",
        "bad version",
        None,
    );
    fake.fail("Publish", 500, "InternalError", "SNS is down", None);
    let app = App::with_clients(
        config(RemediationMode::Enforce, ""),
        clients(&fake.uri(), &fake.uri()).await,
    );
    assert!(app.handle(event(CONFLICT), home()).await.is_err());
    let counts = flushed(&emitter, "req-failed");
    assert_eq!(
        counts,
        BTreeMap::from([
            (key("AlertsUndelivered", None), 1.0),
            (key("Remediations", Some("update-failed")), 1.0),
            (key("RemediationsFailed", None), 1.0),
        ]),
    );
}

#[tokio::test]
async fn a_member_role_not_assumed_counts_an_unreachable_account() {
    let _turn = TURN.lock().await;
    let emitter = emitter();
    let _ = emitter.flush("before");
    let fake = FakeAws::start().await;
    fake.fail("AssumeRole", 403, "AccessDenied", "not authorized", None);
    let member = "444455556666";
    let app = App::with_clients(
        config(RemediationMode::Enforce, member),
        clients(&fake.uri(), &fake.uri()).await,
    )
    .with_members(members(&fake.uri()).await);
    let mut event = common::fresh_event(CONFLICT);
    event["account"] = json!(member);
    event["detail"]["resourceAccountId"] = json!(member);
    let summary = app.handle(event, home()).await.unwrap();
    assert_eq!(summary.outcome, "skipped-member-role-not-assumed");
    let counts = flushed(&emitter, "req-member");
    assert_eq!(counts[&key("AccountsUnreachable", None)], 1.0);
    assert_eq!(counts[&key("FactReadsFailed", Some("sts"))], 1.0);
    assert_eq!(
        counts[&key("RemediationsSkipped", Some("member-role-not-assumed"))],
        1.0
    );
    assert!(!counts.contains_key(&key("FactReadsFailed", Some("eks"))));
}

#[tokio::test]
async fn a_sweep_counts_clusters_by_status_the_unreachable_account_and_only_what_it_published() {
    let _turn = TURN.lock().await;
    let emitter = emitter();
    let _ = emitter.flush("before");
    let fake = FakeAws::start().await;
    let member = "444455556666";
    let unreachable = "777788889999";
    let conflict = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image";
    fake.set(|state| {
        state.fleet.insert(
            common::ACCOUNT.to_owned(),
            vec![
                common::fleet_resource(
                    common::ACCOUNT,
                    common::CLUSTER,
                    "UNHEALTHY",
                    Some(conflict),
                    0,
                    3,
                ),
                common::fleet_resource(common::ACCOUNT, "tainted-nodes", "HEALTHY", None, 4, 6),
                common::fleet_resource(common::ACCOUNT, "all-good", "HEALTHY", None, 5, 5),
            ],
        );
        state.fleet.insert(
            member.to_owned(),
            vec![common::fleet_resource(
                member,
                "member-good",
                "HEALTHY",
                None,
                2,
                2,
            )],
        );
        state.unreachable = vec![unreachable.to_owned()];
    });
    // Dry-run: the conflict cluster is in the digest only, so the one
    // message published is the digest.
    let app = App::with_clients(
        config(RemediationMode::DryRun, &format!("{member},{unreachable}")),
        clients(&fake.uri(), &fake.uri()).await,
    )
    .with_members(members(&fake.uri()).await);
    let reply = app.dispatch(json!({"sweep": {}}), home()).await.unwrap();
    assert!(
        matches!(reply, coverage_lambda::Reply::Sweep(_)),
        "{reply:?}"
    );
    let counts = flushed(&emitter, "req-sweep");
    assert_eq!(
        counts[&key("SweepClusters", Some("healthy"))],
        2.0,
        "{counts:?}"
    );
    assert_eq!(counts[&key("SweepClusters", Some("unhealthy"))], 1.0);
    assert_eq!(counts[&key("SweepClusters", Some("partial"))], 1.0);
    assert_eq!(counts[&key("AccountsUnreachable", None)], 1.0);
    assert_eq!(counts[&key("RemediationsSkipped", Some("dry-run"))], 1.0);
    assert_eq!(
        counts[&key("AlertsPublished", None)],
        fake.requests("Publish").len() as f64,
        "one count per message SNS took"
    );
    assert_eq!(fake.requests("Publish").len(), 1, "the digest only");
    assert!(
        !counts.contains_key(&key("AlertsUndelivered", None)),
        "a cluster kept for the digest is not an undelivered alert: {counts:?}"
    );
}
