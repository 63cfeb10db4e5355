//! Who changed it: the handler against the fake CloudWatch Logs Insights
//! (`common/mod.rs` checks every `StartQuery` body: the cluster's log group,
//! a window in epoch seconds ending now, a query over the audit streams that
//! selects the alert's fields and names every conflicting object). The
//! conflict alert names the user who patched the DaemonSet and when; with a
//! reconciling controller as the last writer, enforce mode makes no
//! `UpdateAddon` and says why; an audit log that cannot be read never stops
//! the OVERWRITE, and the alert says why the writer is unchecked.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{CLUSTER, FakeAws, TOPIC, audit_row, clients, fresh_event, home, now};
use coverage_core::policy::{Policy, RemediationMode};
use coverage_lambda::{App, Config, MessageFormat};
use serde_json::Value;

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";
const ARGO_USER: &str = "system:serviceaccount:argocd:argocd-application-controller";
const ARGO_AGENT: &str = "argocd-application-controller/v2.11.0 (linux/amd64) kubernetes/1a2b3c4";
const KUBECTL: &str = "kubectl/v1.30.2 (linux/amd64) kubernetes/39683505";

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
        audit_query_budget: Duration::from_secs(10),
        ..Config::default()
    }
}

async fn app(fake: &FakeAws, config: Config) -> App {
    App::with_clients(config, clients(&fake.uri(), &fake.uri()).await)
}

/// The chat description of the last alert.
fn description(fake: &FakeAws) -> String {
    let (_, message, _) = fake.last_published();
    let chat: Value = serde_json::from_str(&message).unwrap();
    chat["content"]["description"].as_str().unwrap().to_owned()
}

fn refused(fake: &FakeAws) -> Vec<String> {
    fake.state.lock().unwrap().logs.refused.clone()
}

#[tokio::test]
async fn the_conflict_alert_names_who_patched_the_daemonset_and_when() {
    let fake = FakeAws::start().await;
    let patched = now() - 3_600;
    let argo_before = now() - 7_200;
    fake.set(|s| {
        // A person patched it last; Argo CD applied it earlier.
        s.logs.rows = vec![
            audit_row(patched, "patch", "alice@example.com", KUBECTL, 200),
            audit_row(argo_before, "update", ARGO_USER, ARGO_AGENT, 200),
        ];
        // The query is still running on the first two looks.
        s.logs.running_polls = 2;
    });
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let event = fresh_event(CONFLICT);
    let event_time = coverage_core::decide::parse_time(event["time"].as_str().unwrap()).unwrap();
    let summary = app.handle(event, home()).await.unwrap();

    assert_eq!(refused(&fake), Vec::<String>::new());
    let starts = fake.requests("StartQuery");
    assert_eq!(starts.len(), 1);
    let body = starts[0].json();
    assert_eq!(body["logGroupName"], format!("/aws/eks/{CLUSTER}/cluster"));
    assert_eq!(body["startTime"], event_time - 7 * 86_400);
    assert!((body["endTime"].as_i64().unwrap() - now()).abs() <= 60);
    assert_eq!(body["limit"], 50);
    assert_eq!(
        body["queryString"].as_str().unwrap(),
        coverage_core::audit::AGENT_QUERY,
        "the one query the catalog prints"
    );
    // Running, Running, Complete: one more look than the fake held back.
    assert_eq!(fake.requests("GetQueryResults").len(), 3);
    for look in fake.requests("GetQueryResults") {
        assert_eq!(
            look.json()["queryId"],
            "a1b2c3d4-0000-4000-8000-000000000001"
        );
    }

    // The person's change was the last: the OVERWRITE goes ahead.
    assert_eq!(summary.outcome, "update-started");
    assert_eq!(fake.requests("UpdateAddon").len(), 1);
    let description = description(&fake);
    let when = coverage_core::decide::format_time(patched);
    assert!(
        description.contains(&format!(
            // In chat an untrusted '@' is U+FF20: no @-mention survives.
            "Last change: alice\u{FF20}example.com, a person (kubectl): patch daemonsets amazon-guardduty/aws-guardduty-agent at {when} from {KUBECTL}"
        )),
        "{description}"
    );
    assert!(
        description.contains(&format!(
            "Earlier: {ARGO_USER}, a reconciling controller (Argo CD): update"
        )),
        "{description}"
    );
}

#[tokio::test]
async fn argo_cd_as_the_last_writer_stops_the_overwrite_and_says_why() {
    let fake = FakeAws::start().await;
    fake.set(|s| {
        s.logs.rows = vec![
            audit_row(now() - 600, "patch", ARGO_USER, ARGO_AGENT, 200),
            audit_row(now() - 7_200, "patch", "alice@example.com", KUBECTL, 200),
        ]
    });
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let summary = app.handle(fresh_event(CONFLICT), home()).await.unwrap();
    assert_eq!(refused(&fake), Vec::<String>::new());
    assert_eq!(summary.outcome, "skipped-changed-by-controller");
    assert!(
        fake.requests("UpdateAddon").is_empty(),
        "no UpdateAddon: the controller would re-apply its version"
    );
    let (_, _, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "skipped-changed-by-controller");
    let description = description(&fake);
    for words in [
        "was made by Argo CD",
        ARGO_USER,
        "fight the OVERWRITE",
        "the Git repository",
        "the add-on's configuration values",
        "a reconciling controller (Argo CD)",
    ] {
        assert!(description.contains(words), "{words}: {description}");
    }
}

#[tokio::test]
async fn the_operators_own_controller_names_stop_it_too() {
    let fake = FakeAws::start().await;
    let fleet = "system:serviceaccount:cattle-fleet-system:fleet-agent";
    fake.set(|s| {
        s.logs.rows = vec![audit_row(
            now() - 60,
            "patch",
            fleet,
            "fleet-agent/v0.9",
            200,
        )]
    });
    let mut config = config(RemediationMode::Enforce);
    config.policy.audit.controllers =
        coverage_core::audit::ControllerName::parse_list(fleet).unwrap();
    let app = app(&fake, config).await;
    let summary = app.handle(fresh_event(CONFLICT), home()).await.unwrap();
    assert_eq!(summary.outcome, "skipped-changed-by-controller");
    assert!(fake.requests("UpdateAddon").is_empty());
}

#[tokio::test]
async fn the_query_covers_every_object_in_the_conflict_list() {
    let fake = FakeAws::start().await;
    fake.set(|s| s.logs.expected_names = vec!["aws-guardduty-agent-role", "aws-guardduty-agent"]);
    let mut event = fresh_event(CONFLICT);
    event["detail"]["issue"] = Value::String(
        "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image ClusterRole.rbac.authorization.k8s.io aws-guardduty-agent-role - .rules ServiceAccount aws-guardduty-agent - .metadata.labels".to_owned(),
    );
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    app.handle(event, home()).await.unwrap();
    assert_eq!(refused(&fake), Vec::<String>::new());
    let query = fake.requests("StartQuery")[0].json()["queryString"]
        .as_str()
        .unwrap()
        .to_owned();
    for object in [
        "(objectRef.resource = \"clusterroles\" and objectRef.name = \"aws-guardduty-agent-role\")",
        "(objectRef.resource = \"serviceaccounts\" and objectRef.name = \"aws-guardduty-agent\")",
    ] {
        assert!(query.contains(object), "{object}: {query}");
    }
}

/// A failure of the audit log read: how to make the fake fail, and what the
/// alert must say about it.
struct Unreadable {
    name: &'static str,
    setup: fn(&FakeAws),
    says: Vec<String>,
}

fn unreadable_cases() -> Vec<Unreadable> {
    vec![
        Unreadable {
            name: "no log group",
            setup: |fake| {
                fake.fail(
                    "StartQuery",
                    400,
                    "ResourceNotFoundException",
                    "Log group '/aws/eks/prod-payments/cluster' does not exist",
                    None,
                )
            },
            says: vec![
                "the cluster has no control-plane log group /aws/eks/prod-payments/cluster, so audit logging is off".to_owned(),
                format!(
                    "aws eks update-cluster-config --region us-east-1 --name {CLUSTER} --logging '{{\"clusterLogging\":[{{\"types\":[\"audit\"],\"enabled\":true}}]}}'"
                ),
            ],
        },
        Unreadable {
            name: "still running",
            setup: |fake| fake.set(|s| s.logs.never_completes = true),
            says: vec![
                "still running when its time ran out".to_owned(),
                "aws logs get-query-results --region us-east-1 --query-id a1b2c3d4-0000-4000-8000-000000000001".to_owned(),
                "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:logs-insights".to_owned(),
            ],
        },
        Unreadable {
            name: "limit exceeded",
            setup: |fake| {
                fake.fail(
                    "StartQuery",
                    400,
                    "LimitExceededException",
                    "Account maximum query concurrency limit of [30] reached.",
                    None,
                )
            },
            says: vec!["LimitExceededException: at most 30 concurrent Logs Insights queries per account".to_owned()],
        },
        Unreadable {
            name: "access denied",
            setup: |fake| {
                fake.fail(
                    "StartQuery",
                    400,
                    "AccessDeniedException",
                    "User is not authorized to perform: logs:StartQuery",
                    None,
                )
            },
            says: vec![
                "access denied to the audit log".to_owned(),
                "User is not authorized to perform: logs:StartQuery".to_owned(),
            ],
        },
        Unreadable {
            name: "query failed",
            setup: |fake| fake.set(|s| s.logs.ends = Some("Failed")),
            says: vec!["ended Failed".to_owned()],
        },
    ]
}

#[tokio::test]
async fn an_unreadable_audit_log_never_stops_the_overwrite_and_the_alert_says_why() {
    for case in unreadable_cases() {
        let fake = FakeAws::start().await;
        (case.setup)(&fake);
        let mut config = config(RemediationMode::Enforce);
        // Short, so a query that never completes is given up on soon.
        config.audit_query_budget = Duration::from_millis(800);
        let app = app(&fake, config).await;
        let summary = app.handle(fresh_event(CONFLICT), home()).await.unwrap();
        assert_eq!(refused(&fake), Vec::<String>::new(), "{}", case.name);
        // One attempt: a LimitExceededException is not retried into a timeout.
        assert_eq!(fake.requests("StartQuery").len(), 1, "{}", case.name);
        assert_eq!(summary.outcome, "update-started", "{}", case.name);
        assert_eq!(fake.requests("UpdateAddon").len(), 1, "{}", case.name);
        let description = description(&fake);
        assert!(
            description.contains("Last writer: could not be checked"),
            "{}: {description}",
            case.name
        );
        for words in &case.says {
            assert!(
                description.contains(words.as_str()),
                "{}: {words}: {description}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn the_rbac_row_shows_who_changed_the_bindings_without_writing() {
    let fake = FakeAws::start().await;
    fake.set(|s| {
        s.logs.expected_names = vec!["aws-guardduty-agent.priorityclass"];
        s.logs.rows = vec![audit_row(
            now() - 60,
            "delete",
            "bob@example.com",
            KUBECTL,
            200,
        )];
    });
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    let mut event = fresh_event("unhealthy.addon-rbac-priorityclass.json");
    event["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] =
        Value::String(CLUSTER.to_owned());
    let summary = app.handle(event, home()).await.unwrap();
    assert_eq!(refused(&fake), Vec::<String>::new());
    assert_eq!(fake.requests("StartQuery").len(), 1);
    assert!(fake.requests("UpdateAddon").is_empty());
    assert_eq!(summary.outcome, "manual");
    assert!(
        description(&fake)
            .contains("Last change: bob\u{FF20}example.com, a person (kubectl): delete")
    );
}

#[tokio::test]
async fn no_query_where_nothing_in_the_cluster_is_the_cause_or_it_is_another_region() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config(RemediationMode::Enforce)).await;
    app.handle(fresh_event("unhealthy.authorization-failure.json"), home())
        .await
        .unwrap();
    let away = common::invocation_with_deadline(
        "arn:aws:lambda:eu-west-1:111122223333:function:coverage",
        30_000,
    );
    app.handle(fresh_event(CONFLICT), away).await.unwrap();
    assert!(fake.requests("StartQuery").is_empty());
    assert!(fake.requests("GetQueryResults").is_empty());
}
