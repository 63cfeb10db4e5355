//! The sweep against the local HTTP fake: two accounts (the own one and a
//! member), a third whose member role cannot be assumed; unhealthy (one
//! `ConfigurationConflict`), partially covered and healthy clusters, listed
//! two per page, with throttled `ListCoverage` answers the SDK retries. One
//! digest names each unhealthy and partial cluster and the unreachable
//! account; in enforce mode only the conflict cluster gets an `UpdateAddon`
//! (and its own alert); in dry-run none does and only the digest is posted.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{ACCOUNT, CLUSTER, FakeAws, TOPIC, clients, fleet_resource, home, members};
use coverage_core::policy::{Policy, RemediationMode, parse_member_accounts};
use coverage_lambda::{App, Config, MessageFormat, Reply};
use serde_json::{Value, json};

const MEMBER: &str = "444455556666";
const UNREACHABLE: &str = "777788889999";
const CONFLICT: &str = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image";
const CPU: &str = "Addon Update Failed:EKS Addon Issue - InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas. 0/1 nodes are available: 1 Insufficient cpu.";

async fn app(fake: &FakeAws, mode: RemediationMode) -> App {
    let config = Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode,
            members: parse_member_accounts(&format!("{MEMBER},{UNREACHABLE}")).unwrap(),
            ..Policy::default()
        },
        // Generous: the SDK's own retries with backoff must fit inside.
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    App::with_clients(config, clients(&fake.uri(), &fake.uri()).await)
        .with_members(members(&fake.uri()).await)
}

fn fleet(fake: &FakeAws) {
    fake.set(|state| {
        state.fleet.insert(
            ACCOUNT.to_owned(),
            vec![
                fleet_resource(ACCOUNT, CLUSTER, "UNHEALTHY", Some(CONFLICT), 0, 3),
                fleet_resource(ACCOUNT, "tainted-nodes", "HEALTHY", None, 4, 6),
                fleet_resource(ACCOUNT, "all-good", "HEALTHY", None, 5, 5),
            ],
        );
        state.fleet.insert(
            MEMBER.to_owned(),
            vec![
                fleet_resource(MEMBER, "member-cpu", "UNHEALTHY", Some(CPU), 1, 4),
                fleet_resource(MEMBER, "member-partial", "HEALTHY", None, 1, 2),
                fleet_resource(MEMBER, "member-good-1", "HEALTHY", None, 2, 2),
                fleet_resource(MEMBER, "member-good-2", "HEALTHY", None, 2, 2),
            ],
        );
        state.unreachable = vec![UNREACHABLE.to_owned()];
    });
    // Throttled twice: the SDK's standard retry backs off and tries again.
    fake.fail(
        "ListCoverage",
        400,
        "ThrottlingException",
        "Rate exceeded",
        Some(2),
    );
}

async fn sweep(app: &App) -> coverage_core::sweep::SweepSummary {
    match app.dispatch(json!({"sweep": {}}), home()).await.unwrap() {
        Reply::Sweep(summary) => summary,
        other => panic!("a sweep was handled as something else: {other:?}"),
    }
}

fn published(fake: &FakeAws) -> Vec<Value> {
    fake.requests("Publish")
        .iter()
        .map(|r| serde_json::from_str(&r.form()["Message"]).unwrap())
        .collect()
}

fn digests(fake: &FakeAws) -> Vec<Value> {
    published(fake)
        .into_iter()
        .filter(|m| {
            m["metadata"]["threadId"]
                .as_str()
                .unwrap()
                .starts_with("guardduty-coverage-sweep/")
        })
        .collect()
}

#[tokio::test]
async fn enforce_sweep_remediates_only_the_conflict_and_posts_one_digest() {
    let fake = FakeAws::start().await;
    fleet(&fake);
    let summary = sweep(&app(&fake, RemediationMode::Enforce).await).await;

    // Counts over both listed accounts; the third is unreachable.
    assert_eq!(
        (
            summary.healthy,
            summary.unhealthy,
            summary.partial,
            summary.unknown
        ),
        (3, 2, 2, 0)
    );
    assert_eq!(summary.accounts_swept, 2);
    assert_eq!(summary.unreachable_accounts.len(), 1);
    assert_eq!(summary.unreachable_accounts[0].account, UNREACHABLE);
    assert!(
        summary.unreachable_accounts[0].why.contains("AccessDenied"),
        "{:?}",
        summary.unreachable_accounts
    );
    assert!(summary.not_reached_clusters.is_empty() && summary.not_reached_accounts.is_empty());

    // One UpdateAddon, for the conflict cluster, with the own role.
    let updates = fake.requests("UpdateAddon");
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(
        updates[0].path.contains(&format!("/clusters/{CLUSTER}/")),
        "{}",
        updates[0].path
    );
    let conflict = summary
        .clusters
        .iter()
        .find(|c| c.cluster == CLUSTER)
        .unwrap();
    assert_eq!(conflict.done, "update-started");
    assert_eq!(conflict.catalog_id, Some("addon-configuration-conflict"));
    assert!(conflict.alert.is_some() && conflict.update_id.is_some());
    let cpu = summary
        .clusters
        .iter()
        .find(|c| c.cluster == "member-cpu")
        .unwrap();
    assert_eq!(cpu.catalog_id, Some("addon-insufficient-cpu"));
    assert_eq!(cpu.alert, None, "{cpu:?}");
    for partial in ["tainted-nodes", "member-partial"] {
        let c = summary
            .clusters
            .iter()
            .find(|c| c.cluster == partial)
            .unwrap();
        assert_eq!(
            (c.catalog_id, c.done.as_str()),
            (Some("partial-coverage"), "listed")
        );
    }

    // Published: the conflict's own alert, then one digest.
    let messages = published(&fake);
    assert_eq!(messages.len(), 2, "{messages:?}");
    let digests = digests(&fake);
    assert_eq!(digests.len(), 1);
    let description = digests[0]["content"]["description"].as_str().unwrap();
    for name in [
        CLUSTER,
        "tainted-nodes",
        "member-cpu",
        "member-partial",
        UNREACHABLE,
    ] {
        assert!(
            description.contains(&format!("`{name}`")),
            "{name} in {description}"
        );
    }
    assert!(!description.contains("all-good") && !description.contains("member-good"));
    assert!(description.contains("UNREACHABLE"));
    assert!(description.contains("done: `update-started`"));
    assert!(description.contains(&format!("Account `{ACCOUNT}`: 1 healthy, 1 unhealthy, 1 partial, 0 unknown; 64% of compatible nodes covered (9/14)")), "{description}");

    // Every page followed, in each listed account, throttled calls retried.
    let listings: Vec<Value> = fake
        .requests("ListCoverage")
        .iter()
        .map(|r| r.json())
        .filter(|b| b["filterCriteria"]["filterCriterion"][0]["criterionKey"] == "RESOURCE_TYPE")
        .collect();
    let tokens: Vec<Option<&str>> = listings.iter().map(|b| b["nextToken"].as_str()).collect();
    assert_eq!(
        tokens.iter().filter(|t| **t == Some("2")).count(),
        2,
        "{tokens:?}"
    );
    assert!(
        listings.len() >= 4 + 2,
        "two pages per account and two throttled answers: {tokens:?}"
    );
    assert!(listings.iter().all(|b| b["maxResults"] == 50));
}

/// A member account's conflict, found by the sweep: remediated as the
/// member's own event would be, read and written with the member role's
/// credentials, with the sweep's stable event id as the idempotency token.
#[tokio::test]
async fn a_member_accounts_conflict_is_remediated_with_the_member_role() {
    let fake = FakeAws::start().await;
    fake.set(|state| {
        state.fleet.insert(
            ACCOUNT.to_owned(),
            vec![fleet_resource(ACCOUNT, "all-good", "HEALTHY", None, 5, 5)],
        );
        state.fleet.insert(
            MEMBER.to_owned(),
            vec![fleet_resource(
                MEMBER,
                "member-conflict",
                "UNHEALTHY",
                Some(CONFLICT),
                0,
                3,
            )],
        );
        // The guardrail's own coverage read, filtered on the cluster.
        state.coverage_cluster = Some("member-conflict");
    });
    let summary = sweep(&app(&fake, RemediationMode::Enforce).await).await;
    let conflict = summary
        .clusters
        .iter()
        .find(|c| c.cluster == "member-conflict")
        .unwrap();
    assert_eq!(conflict.account, MEMBER);
    assert_eq!(conflict.done, "update-started", "{conflict:?}");
    let updates = fake.requests("UpdateAddon");
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(updates[0].path.contains("/clusters/member-conflict/"));
    assert_eq!(
        updates[0].access_key.as_deref(),
        Some(common::assumed_key(MEMBER).as_str()),
        "written with the member role's credentials"
    );
    let assumed = fake.requests("AssumeRole");
    assert!(
        assumed.iter().all(
            |r| r.form()["RoleArn"].contains(&format!(":iam::{MEMBER}:role/"))
                || r.form()["RoleArn"].contains(&format!(":iam::{UNREACHABLE}:role/"))
        ),
        "only member roles are assumed"
    );
    // The member's own alert, in the member's thread, then the digest.
    let alert = published(&fake)
        .into_iter()
        .find(|m| {
            m["metadata"]["threadId"]
                == format!("guardduty-coverage/{MEMBER}/us-east-1/member-conflict")
        })
        .expect("the remediation's own alert");
    assert!(
        alert["content"]["description"]
            .as_str()
            .unwrap()
            .contains("OVERWRITE"),
        "{alert}"
    );
}

/// A hub that is the GuardDuty administrator: its own `ListCoverage` also
/// names the member's clusters. The member's cluster is counted and run
/// once, from the member's own listing.
#[tokio::test]
async fn an_administrators_listing_does_not_count_a_swept_member_twice() {
    let fake = FakeAws::start().await;
    fake.set(|state| {
        let member_conflict =
            fleet_resource(MEMBER, "member-conflict", "UNHEALTHY", Some(CONFLICT), 0, 3);
        state.fleet.insert(
            ACCOUNT.to_owned(),
            vec![
                fleet_resource(ACCOUNT, "all-good", "HEALTHY", None, 5, 5),
                member_conflict.clone(),
            ],
        );
        state.fleet.insert(MEMBER.to_owned(), vec![member_conflict]);
        state.coverage_cluster = Some("member-conflict");
    });
    let summary = sweep(&app(&fake, RemediationMode::Enforce).await).await;
    assert_eq!((summary.healthy, summary.unhealthy), (1, 1), "{summary:?}");
    let named: Vec<&str> = summary
        .clusters
        .iter()
        .map(|c| c.cluster.as_str())
        .collect();
    assert_eq!(named, ["member-conflict"]);
    assert_eq!(fake.requests("UpdateAddon").len(), 1);
}

#[tokio::test]
async fn a_second_sweep_does_not_repeat_the_remediation() {
    let fake = FakeAws::start().await;
    fleet(&fake);
    let app = app(&fake, RemediationMode::Enforce).await;
    sweep(&app).await;
    // The update is still running: the next sweep finds the cluster unhealthy again.
    let summary = sweep(&app).await;
    assert_eq!(fake.requests("UpdateAddon").len(), 1);
    let conflict = summary
        .clusters
        .iter()
        .find(|c| c.cluster == CLUSTER)
        .unwrap();
    assert!(conflict.done.starts_with("skipped-"), "{conflict:?}");
    assert_eq!(conflict.alert, None);
    assert_eq!(digests(&fake).len(), 2);
}

#[tokio::test]
async fn dry_run_sweep_writes_nothing_and_posts_only_the_digest() {
    let fake = FakeAws::start().await;
    fleet(&fake);
    let summary = sweep(&app(&fake, RemediationMode::DryRun).await).await;
    assert!(fake.requests("UpdateAddon").is_empty());
    assert_eq!(published(&fake).len(), 1);
    assert_eq!(digests(&fake).len(), 1);
    let conflict = summary
        .clusters
        .iter()
        .find(|c| c.cluster == CLUSTER)
        .unwrap();
    assert_eq!(conflict.done, "skipped-dry-run");
    assert_eq!(summary.digest_messages.len(), 1);
}

// `coverage sweep`'s shell: the same sweep with the engineer's credentials.

fn terminal_options(members: &str) -> coverage_lambda::terminal::TerminalSweep {
    coverage_lambda::terminal::TerminalSweep {
        members: parse_member_accounts(members).unwrap(),
        member_role: coverage_core::policy::parse_member_role("").unwrap(),
        timeout: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn terminal_sweep_reads_the_whole_fleet_and_writes_nothing() {
    let fake = FakeAws::start().await;
    fleet(&fake);
    let sdk = common::member_base_config(&fake.uri()).await;
    let digest = coverage_lambda::terminal::sweep(
        &sdk,
        terminal_options(&format!("{MEMBER},{UNREACHABLE}")),
    )
    .await
    .unwrap();

    // Who "the function" is: the caller's own account, asked once.
    assert_eq!(fake.requests("GetCallerIdentity").len(), 1);
    assert_eq!(digest.accounts[0].account, ACCOUNT);
    assert_eq!(digest.mode, RemediationMode::DryRun);
    assert_eq!(digest.region, "us-east-1");
    assert_eq!(digest.totals(), (3, 2, 2, 0));
    let unreachable = digest.unreachable();
    assert_eq!(unreachable.len(), 1);
    assert_eq!(unreachable[0].account, UNREACHABLE);

    // Member roles assumed under the terminal's session name.
    let sessions: Vec<String> = fake
        .requests("AssumeRole")
        .iter()
        .map(|r| r.form()["RoleSessionName"].clone())
        .collect();
    assert!(!sessions.is_empty());
    assert!(
        sessions
            .iter()
            .all(|s| s.starts_with("coverage-sweep-terminal.sweep-")),
        "{sessions:?}"
    );

    // Dry-run, whatever the fleet: no write, no publish, no schedule.
    for write in ["UpdateAddon", "Publish", "CreateSchedule", "GenerateMac"] {
        assert!(fake.requests(write).is_empty(), "{write} was called");
    }
    let conflict = digest
        .clusters
        .iter()
        .find(|c| c.cluster == CLUSTER)
        .unwrap();
    assert_eq!(conflict.done, "skipped-dry-run");
    assert_eq!(conflict.catalog_id, Some("addon-configuration-conflict"));
    let lines = coverage_core::render::digest::digest_lines(&digest).join("\n");
    for name in [
        CLUSTER,
        "tainted-nodes",
        "member-cpu",
        "member-partial",
        UNREACHABLE,
    ] {
        assert!(lines.contains(&format!("`{name}`")), "{name} in {lines}");
    }
}

#[tokio::test]
async fn terminal_sweep_without_an_identity_reads_nothing_else() {
    let fake = FakeAws::start().await;
    fleet(&fake);
    fake.fail(
        "GetCallerIdentity",
        403,
        "ExpiredToken",
        "The security token included in the request is expired",
        None,
    );
    let sdk = common::member_base_config(&fake.uri()).await;
    let error = coverage_lambda::terminal::sweep(&sdk, terminal_options(""))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("GetCallerIdentity failed"), "{text}");
    assert!(text.contains("ExpiredToken"), "{text}");
    assert!(fake.requests("ListDetectors").is_empty());
    assert!(fake.requests("ListCoverage").is_empty());
}

#[tokio::test]
async fn terminal_sweep_without_a_region_says_so() {
    let fake = FakeAws::start().await;
    let sdk = common::member_base_config(&fake.uri())
        .await
        .to_builder()
        .region(None)
        .build();
    let error = coverage_lambda::terminal::sweep(&sdk, terminal_options(""))
        .await
        .unwrap_err();
    assert_eq!(error, coverage_lambda::terminal::TerminalError::NoRegion);
    assert!(fake.all_requests().is_empty());
}

/// A fleet at the scale the issue names: 1,000 clusters in 20 accounts,
/// every tenth GuardDuty or EKS call throttled. Nothing may be missing from
/// the digest: each unhealthy and partial cluster appears exactly once over
/// its parts. (How long it takes is BENCHMARKS.md's business, not a test's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clusters_in_twenty_accounts_all_reach_the_digest() {
    let fake = FakeAws::start().await;
    let members: Vec<String> = (1..20)
        .map(|i| format!("{:012}", 500_000_000_000u64 + i))
        .collect();
    let mut expected = Vec::new();
    fake.set(|state| {
        for account in std::iter::once(ACCOUNT.to_owned()).chain(members.iter().cloned()) {
            let mut resources = Vec::new();
            for i in 0..50 {
                let name = format!("c{}-{i:02}", &account[8..]);
                let (status, issue, covered) = match i {
                    0 | 1 => ("UNHEALTHY", Some(CPU), 0),
                    2..=4 => ("HEALTHY", None, 2),
                    _ => ("HEALTHY", None, 3),
                };
                if i <= 4 {
                    expected.push(name.clone());
                }
                resources.push(fleet_resource(&account, &name, status, issue, covered, 3));
            }
            state.fleet.insert(account, resources);
        }
        state.page_size = 50;
        state.throttle_every = 10;
    });
    let config = Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode: RemediationMode::DryRun,
            members: parse_member_accounts(&members.join(",")).unwrap(),
            ..Policy::default()
        },
        fact_read_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let app = App::with_clients(config, clients(&fake.uri(), &fake.uri()).await)
        .with_members(members_for(&fake).await);
    let started = std::time::Instant::now();
    let summary = sweep(&app).await;
    let elapsed = started.elapsed();

    assert_eq!(
        (
            summary.healthy,
            summary.unhealthy,
            summary.partial,
            summary.unknown
        ),
        (900, 40, 60, 0)
    );
    assert_eq!(summary.accounts_swept, 20);
    assert!(
        summary.unreachable_accounts.is_empty(),
        "{:?}",
        summary.unreachable_accounts
    );
    assert!(summary.not_reached_clusters.is_empty() && summary.not_reached_accounts.is_empty());
    assert!(fake.requests("UpdateAddon").is_empty());
    let parts = digests(&fake);
    assert!(parts.len() > 1, "a fleet this size is split");
    let text: Vec<String> = parts
        .iter()
        .map(|p| p["content"]["description"].as_str().unwrap().to_owned())
        .collect();
    for name in &expected {
        let needle = format!("`{name}`");
        let count: usize = text.iter().map(|t| t.matches(&needle).count()).sum();
        assert_eq!(
            count,
            1,
            "{name} appears {count} times over {} parts",
            parts.len()
        );
    }
    let throttled = fake.state.lock().unwrap().throttled;
    assert!(throttled > 0, "the fake throttled nothing");
    eprintln!(
        "1000 clusters / 20 accounts: {} requests ({throttled} throttled and retried), {} digest parts, {elapsed:?} (debug build, in-process fake)",
        fake.all_requests().len(),
        parts.len()
    );
}

async fn members_for(fake: &FakeAws) -> coverage_lambda::accounts::Members {
    members(&fake.uri()).await
}
