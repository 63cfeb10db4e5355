//! The sweep's decisions and its digest: each coverage resource's verdict,
//! the synthesized event through the real pipeline, the stable event id,
//! who gets an alert of their own, the deadlines, and the digest split
//! within the chat limits with every cluster in some part.

use coverage_core::decide::{NoAction, OverwriteRequest};
use coverage_core::render::digest::{digest_lines, digest_messages, pack, thread_id};
use coverage_core::render::{MAX_DESCRIPTION, MAX_KEYWORD, MAX_NEXT_STEP, MAX_TITLE};
use coverage_core::sweep::{
    self, AccountReport, AccountResult, ClusterReport, CoverageResource, Digest, LISTED,
    NOT_REACHED, Status,
};
use coverage_core::text::utf16_len;
use coverage_core::{
    Actionability, Invocation, MessageFormat, Next, Outcome, Pipeline, RemediationMode, Settings,
};
use serde_json::Value;

fn resource(
    status: Option<&str>,
    covered: Option<i64>,
    compatible: Option<i64>,
) -> CoverageResource {
    CoverageResource {
        account: "111122223333".to_owned(),
        cluster: Some("prod-payments".to_owned()),
        status: status.map(str::to_owned),
        issue: None,
        updated_at: Some(1_773_480_274),
        covered_nodes: covered,
        compatible_nodes: compatible,
        addon_version: Some("v1.10.0-eksbuild.2".to_owned()),
    }
}

#[test]
fn each_resource_gets_its_verdict() {
    assert_eq!(
        sweep::status_of(&resource(Some("UNHEALTHY"), Some(0), Some(3))),
        Status::Unhealthy
    );
    assert_eq!(
        sweep::status_of(&resource(Some("UNHEALTHY"), None, None)),
        Status::Unhealthy
    );
    assert_eq!(
        sweep::status_of(&resource(Some("HEALTHY"), Some(2), Some(3))),
        Status::Partial
    );
    assert_eq!(
        sweep::status_of(&resource(Some("HEALTHY"), Some(3), Some(3))),
        Status::Healthy
    );
    assert_eq!(
        sweep::status_of(&resource(Some("HEALTHY"), Some(4), Some(3))),
        Status::Healthy
    );
    assert_eq!(
        sweep::status_of(&resource(Some("HEALTHY"), None, Some(3))),
        Status::Healthy
    );
    assert_eq!(
        sweep::status_of(&resource(Some("HEALTHY"), Some(1), None)),
        Status::Healthy
    );
    assert_eq!(
        sweep::status_of(&resource(Some("healthy"), Some(3), Some(3))),
        Status::Unknown
    );
    assert_eq!(
        sweep::status_of(&resource(None, Some(3), Some(3))),
        Status::Unknown
    );
    for status in [
        Status::Healthy,
        Status::Unhealthy,
        Status::Partial,
        Status::Unknown,
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
}

#[test]
fn partial_clusters_are_listed_under_our_own_catalog_entry() {
    let partial = resource(Some("HEALTHY"), Some(2), Some(3));
    assert_eq!(
        sweep::catalog_id(&partial, Status::Partial),
        Some("partial-coverage")
    );
    let mut unhealthy = resource(Some("UNHEALTHY"), Some(0), Some(3));
    unhealthy.issue = Some("Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode.".to_owned());
    assert_eq!(
        sweep::catalog_id(&unhealthy, Status::Unhealthy),
        Some("addon-configuration-conflict")
    );
    unhealthy.issue = None;
    assert_eq!(
        sweep::catalog_id(&unhealthy, Status::Unhealthy),
        Some("unrecognized")
    );
    assert_eq!(sweep::catalog_id(&partial, Status::Healthy), None);
    assert_eq!(sweep::catalog_id(&partial, Status::Unknown), None);
    // Ours: not among GuardDuty's entries, findable by id, never classified.
    let ours = coverage_core::catalog::entry("partial-coverage").unwrap();
    assert!(coverage_core::catalog::entries().all(|e| e.id != "partial-coverage"));
    assert!(coverage_core::catalog::our_entries().any(|e| e.id == ours.id));
    assert_eq!(ours.actionability, Actionability::Manual);
    let text = ours.steps.join(" ");
    for word in ["taint", "toleration", "architecture", "Pending"] {
        assert!(text.contains(word), "{word}");
    }
    assert!(
        ours.commands
            .iter()
            .any(|c| c.template.contains("comm -23"))
    );
}

#[test]
fn coverage_percent_rounds_down_and_needs_compatible_nodes() {
    assert_eq!(sweep::coverage_percent(0, 0), None);
    assert_eq!(sweep::coverage_percent(5, 0), None);
    assert_eq!(sweep::coverage_percent(999, 1000), Some(99));
    assert_eq!(sweep::coverage_percent(1000, 1000), Some(100));
    assert_eq!(sweep::coverage_percent(1200, 1000), Some(100));
    assert_eq!(sweep::coverage_percent(1, 3), Some(33));
    assert_eq!(sweep::coverage_percent(0, 7), Some(0));
}

#[test]
fn the_event_id_is_a_stable_well_formed_uuid() {
    let id = sweep::event_id("111122223333", "prod-payments", Some(1_773_480_274));
    assert_eq!(
        id,
        sweep::event_id("111122223333", "prod-payments", Some(1_773_480_274))
    );
    assert_eq!(id.len(), 36);
    let groups: Vec<&str> = id.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    assert!(groups[2].starts_with('8'), "version 8: {id}");
    assert!("89ab".contains(&groups[3][..1]), "RFC 9562 variant: {id}");
    assert!(coverage_core::EventId::parse(&id).is_ok());
    for other in [
        sweep::event_id("444455556666", "prod-payments", Some(1_773_480_274)),
        sweep::event_id("111122223333", "prod-orders", Some(1_773_480_274)),
        sweep::event_id("111122223333", "prod-payments", Some(1_773_480_275)),
        sweep::event_id("111122223333", "prod-payments", None),
    ] {
        assert_ne!(other, id);
    }
}

fn conflict() -> CoverageResource {
    let mut r = resource(Some("UNHEALTHY"), Some(0), Some(3));
    r.issue = Some("Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode.".to_owned());
    r
}

#[test]
fn an_unhealthy_cluster_becomes_the_event_the_pipeline_decodes() {
    let event = sweep::synthesized_event(&conflict(), "us-east-1").unwrap();
    assert_eq!(event["time"], "2026-03-14T09:24:34Z");
    assert_eq!(event["detail"]["lastUpdatedAt"], "2026-03-14T09:24:34Z");
    assert_eq!(event["detail"]["resourceAccountId"], "111122223333");
    let settings = Settings::default();
    let function = "arn:aws:lambda:us-east-1:111122223333:function:coverage";
    let invocation = Invocation::lambda(function, 1_773_480_400_000, Some(1_773_480_430_000));
    let pipeline = Pipeline::new(&event, &settings, invocation).unwrap();
    assert_eq!(pipeline.event().cluster_name(), Some("prod-payments"));
    assert!(matches!(pipeline.poll(), Next::Gather { .. }));
    let plan_id = sweep::event_id("111122223333", "prod-payments", Some(1_773_480_274));
    assert_eq!(pipeline.event().envelope.id, plan_id);
    // A member's: the member's account in the envelope too, as its own
    // event forwarded to the hub has it (the hub's account there would make
    // it an administrator's copy, never acted on).
    let mut member = conflict();
    member.account = "444455556666".to_owned();
    let event = sweep::synthesized_event(&member, "us-east-1").unwrap();
    assert_eq!(event["account"], "444455556666");
    assert_eq!(event["detail"]["resourceAccountId"], "444455556666");
    // (crates/lambda/tests/sweep.rs: the member's conflict is remediated.)
    // No time from AWS: no time in the event (the pipeline then refuses to act).
    let mut undated = conflict();
    undated.updated_at = None;
    let event = sweep::synthesized_event(&undated, "us-east-1").unwrap();
    assert_eq!(event["time"], Value::Null);
    let mut nameless = conflict();
    nameless.cluster = None;
    assert!(sweep::synthesized_event(&nameless, "us-east-1").is_none());
}

fn request() -> OverwriteRequest {
    OverwriteRequest {
        cluster_name: "prod-payments".to_owned(),
        addon_name: "aws-guardduty-agent",
        addon_version: Some("v1".to_owned()),
        configuration_values: None,
        resolve_conflicts: "OVERWRITE",
        client_request_token: "t".to_owned(),
        addon_read: true,
    }
}

#[test]
fn only_an_attempted_write_gets_an_alert_of_its_own() {
    let r = request();
    assert!(sweep::alerts_individually(&Outcome::UpdateStarted {
        request: r.clone(),
        update_id: "u".to_owned(),
        status: "InProgress".to_owned(),
        follow_up: coverage_core::follow_up::FollowUpNote::NotConfigured,
    }));
    assert!(sweep::alerts_individually(&Outcome::UpdateInFlight {
        request: r.clone(),
        message: "m".to_owned()
    }));
    assert!(sweep::alerts_individually(&Outcome::UpdateFailed {
        request: r.clone(),
        error: "e".to_owned()
    }));
    assert!(sweep::alerts_individually(&Outcome::UpdateOutcomeUnknown {
        request: r.clone(),
        why: "w".to_owned()
    }));
    assert!(!sweep::alerts_individually(&Outcome::NoAction {
        why: NoAction::NotAutomatable(Actionability::Manual)
    }));
    assert!(!sweep::alerts_individually(&Outcome::Skipped {
        reason: coverage_core::SkipReason::DryRun,
        would_call: Some(r.clone()),
        unchecked: vec![],
    }));
    // Approve mode: the offer carries the button, so it is posted; waiting
    // for a token, or a token not signed, is not an offer.
    assert!(sweep::alerts_individually(&Outcome::Skipped {
        reason: coverage_core::SkipReason::ApprovalOffered {
            token: "t".to_owned(),
            function: "f".to_owned(),
            expires_at: 1,
        },
        would_call: Some(r.clone()),
        unchecked: vec![],
    }));
    assert!(!sweep::alerts_individually(&Outcome::Skipped {
        reason: coverage_core::SkipReason::ApprovalNotSigned {
            why: "KMS denied".to_owned()
        },
        would_call: Some(r),
        unchecked: vec![],
    }));
}

#[test]
fn deadlines_leave_room_for_the_digest() {
    let limits = coverage_core::Limits::default();
    let d = sweep::deadlines(Some(100_000), &limits);
    assert_eq!(d.publish_deadline_ms, Some(100_000 - limits.margin_ms));
    assert_eq!(
        d.work_deadline_ms,
        Some(100_000 - limits.margin_ms - limits.publish_ms)
    );
    assert_eq!(
        d.min_cluster_ms,
        limits.read_ms + limits.publish_ms + limits.margin_ms
    );
    let work = d.work_deadline_ms.unwrap();
    assert!(d.may_start_cluster(work - d.min_cluster_ms));
    assert!(!d.may_start_cluster(work - d.min_cluster_ms + 1));
    assert!(d.may_start_listing(work - 3_000, 3_000));
    assert!(!d.may_start_listing(work - 2_999, 3_000));
    let none = sweep::deadlines(None, &limits);
    assert_eq!(
        (none.work_deadline_ms, none.publish_deadline_ms),
        (None, None)
    );
    assert!(none.may_start_cluster(u64::MAX / 2) && none.may_start_listing(u64::MAX / 2, 1));
    assert_eq!(
        sweep::deadlines(Some(10), &limits).work_deadline_ms,
        Some(0)
    );
}

#[test]
fn the_sweep_covers_its_own_account_and_the_listed_members() {
    use coverage_core::policy::{MemberAccounts, parse_member_accounts};
    let own = "111122223333";
    assert_eq!(sweep::accounts_to_sweep(own, &MemberAccounts::None), [own]);
    assert_eq!(sweep::accounts_to_sweep(own, &MemberAccounts::Any), [own]);
    let listed =
        parse_member_accounts("444455556666,111122223333,444455556666,777788889999").unwrap();
    assert_eq!(
        sweep::accounts_to_sweep(own, &listed),
        [own, "444455556666", "777788889999"]
    );
    assert!(sweep::is_sweep(&serde_json::json!({"sweep": {}})));
    assert!(!sweep::is_sweep(&serde_json::json!({"follow_up": {}})));
    assert!(!sweep::is_sweep(&serde_json::json!(["sweep"])));
}

#[test]
fn an_administrators_listing_leaves_swept_members_to_their_own() {
    let own = "111122223333";
    let member = "444455556666";
    let unlisted = "777788889999";
    let of = |account: &str, cluster: &str| CoverageResource {
        account: account.to_owned(),
        cluster: Some(cluster.to_owned()),
        ..resource(Some("UNHEALTHY"), Some(0), Some(3))
    };
    let swept = vec![own.to_owned(), member.to_owned()];
    // The administrator's listing: its own, a swept member's, an unswept one's.
    let admin = vec![of(own, "a"), of(member, "b"), of(unlisted, "c")];
    let clusters = |view: Vec<CoverageResource>| -> Vec<(String, String)> {
        view.into_iter()
            .map(|r| (r.account, r.cluster.unwrap()))
            .collect()
    };
    assert_eq!(
        clusters(sweep::own_view(own, admin, &swept)),
        [
            (own.to_owned(), "a".to_owned()),
            (unlisted.to_owned(), "c".to_owned())
        ]
    );
    // The member's own listing keeps its own clusters.
    assert_eq!(
        clusters(sweep::own_view(member, vec![of(member, "b")], &swept)),
        [(member.to_owned(), "b".to_owned())]
    );
    // Only the own account swept: the administrator's view is the whole view.
    let alone = vec![own.to_owned()];
    assert_eq!(
        sweep::own_view(own, vec![of(own, "a"), of(member, "b")], &alone).len(),
        2
    );
}

#[test]
fn the_member_role_session_names_the_sweep() {
    let function = coverage_core::FunctionIdentity::from_arn(
        "arn:aws:lambda:us-east-1:111122223333:function:coverage",
    )
    .unwrap();
    let account = coverage_core::AccountId::parse("444455556666").unwrap();
    let role = coverage_core::policy::parse_member_role("").unwrap();
    let access = sweep::member_access(&function, &account, &role, 1_773_480_400_123).unwrap();
    assert_eq!(
        access.role_arn.as_str(),
        "arn:aws:iam::444455556666:role/GuardDutyCoverageMember"
    );
    assert_eq!(access.session_name, "coverage.sweep-1773480400");
    assert_eq!(access.account, account);
}

fn listed(account: &str, healthy: u64, unhealthy: u64, partial: u64) -> AccountReport {
    AccountReport {
        account: account.to_owned(),
        result: AccountResult::Listed {
            healthy,
            unhealthy,
            partial,
            unknown: 0,
            covered_nodes: 90,
            compatible_nodes: 100,
        },
    }
}

fn cluster(account: &str, name: &str, status: Status, done: &str) -> ClusterReport {
    ClusterReport {
        account: account.to_owned(),
        cluster: name.to_owned(),
        status,
        catalog_id: Some(if status == Status::Partial {
            "partial-coverage"
        } else {
            "addon-configuration-conflict"
        }),
        done: done.to_owned(),
        alert: None,
        update_id: None,
    }
}

/// 1,000 clusters over 20 accounts, every tenth one not healthy... and
/// here every one of them listed, the worst case for the digest's size.
fn fleet() -> Digest {
    let mut accounts = Vec::new();
    let mut clusters = Vec::new();
    for a in 0..20u64 {
        let account = format!("{:012}", 100_000_000_000 + a);
        accounts.push(listed(&account, 0, 25, 25));
        for c in 0..50 {
            let status = if c % 2 == 0 {
                Status::Unhealthy
            } else {
                Status::Partial
            };
            let name = format!("cluster-{a:02}-{c:02}-{}", "x".repeat(60));
            clusters.push(cluster(
                &account,
                &name,
                status,
                if status == Status::Partial {
                    LISTED
                } else {
                    "skipped-dry-run"
                },
            ));
        }
    }
    accounts.push(AccountReport {
        account: "999999999999".to_owned(),
        result: AccountResult::Unreachable {
            why: "AssumeRole failed: AccessDenied: not authorized `@here` <!channel>".to_owned(),
        },
    });
    accounts.push(AccountReport {
        account: "888888888888".to_owned(),
        result: AccountResult::NotReached,
    });
    Digest {
        region: "us-east-1".to_owned(),
        mode: RemediationMode::Enforce,
        started_ms: 1_773_480_400_000,
        members_not_enumerable: false,
        accounts,
        clusters,
    }
}

#[test]
fn a_thousand_cluster_fleet_is_split_within_the_chat_limits_and_nothing_is_lost() {
    let digest = fleet();
    let messages = digest_messages(&digest, MessageFormat::Chat);
    assert!(messages.len() > 1, "{}", messages.len());
    let count = messages.len();
    let mut descriptions = String::new();
    let thread = thread_id(&digest);
    for (index, message) in messages.iter().enumerate() {
        let body: Value = serde_json::from_str(&message.body).unwrap();
        let content = &body["content"];
        let description = content["description"].as_str().unwrap();
        assert!(utf16_len(description) <= MAX_DESCRIPTION);
        assert!(utf16_len(content["title"].as_str().unwrap()) <= MAX_TITLE);
        for step in content["nextSteps"].as_array().unwrap() {
            assert!(utf16_len(step.as_str().unwrap()) <= MAX_NEXT_STEP);
        }
        for keyword in content["keywords"].as_array().unwrap() {
            assert!(utf16_len(keyword.as_str().unwrap()) <= MAX_KEYWORD);
        }
        assert_eq!(body["metadata"]["threadId"], thread.as_str());
        let part = format!("part {} of {count}", index + 1);
        assert!(description.contains(&part), "{part}");
        assert!(content["title"].as_str().unwrap().contains(&part));
        assert!(message.subject.len() < 100 && message.subject.is_ascii());
        assert!(message.publish_size() < 256 * 1024);
        assert_eq!(message.attributes["part"], format!("{}/{count}", index + 1));
        descriptions.push_str(description);
        descriptions.push('\n');
    }
    for cluster in &digest.clusters {
        assert_eq!(
            descriptions
                .matches(&format!("`{}`", cluster.cluster))
                .count(),
            1,
            "{}",
            cluster.cluster
        );
    }
    for account in ["999999999999", "888888888888"] {
        assert!(
            descriptions.contains(&format!("Account `{account}`")),
            "{account}"
        );
    }
    assert!(descriptions.contains("UNREACHABLE") && descriptions.contains("NOT REACHED"));
    // Untrusted error text stays inert.
    assert!(!descriptions.contains("<!channel>") && !descriptions.contains(" @here"));
    assert!(descriptions.contains("90% of compatible nodes covered (90/100)"));
    // The plain-text parts carry every line too.
    let text: String = digest_messages(&digest, MessageFormat::Text)
        .iter()
        .map(|m| m.body.clone())
        .collect();
    for line in digest_lines(&digest) {
        assert!(text.contains(&line), "{line}");
    }
}

#[test]
fn a_small_fleet_is_one_message_without_part_numbers() {
    let digest = Digest {
        region: "us-east-1".to_owned(),
        mode: RemediationMode::DryRun,
        started_ms: 1_773_480_400_000,
        members_not_enumerable: true,
        accounts: vec![listed("111122223333", 3, 1, 1)],
        clusters: vec![
            cluster(
                "111122223333",
                "orders",
                Status::Unhealthy,
                "update-started",
            ),
            cluster("111122223333", "tainted", Status::Partial, LISTED),
            cluster("111122223333", "late", Status::Unhealthy, NOT_REACHED),
        ],
    };
    let messages = digest_messages(&digest, MessageFormat::Chat);
    assert_eq!(messages.len(), 1);
    let body: Value = serde_json::from_str(&messages[0].body).unwrap();
    let description = body["content"]["description"].as_str().unwrap();
    assert!(!description.contains("part "));
    assert!(description.contains("MEMBER_ACCOUNTS is `*`"));
    assert!(description.contains("`orders` in `111122223333`: unhealthy, `addon-configuration-conflict`, done: `update-started`"));
    assert!(description.contains(
        "`tainted` in `111122223333`: partially covered, `partial-coverage`, done: `listed`"
    ));
    assert_eq!(messages[0].attributes["severity"], "high");
    let summary = digest.summary(vec!["m-1".to_owned()]);
    assert_eq!(
        (
            summary.healthy,
            summary.unhealthy,
            summary.partial,
            summary.unknown
        ),
        (3, 1, 1, 0)
    );
    assert_eq!(summary.not_reached_clusters.len(), 1);
    assert_eq!(summary.not_reached_clusters[0].cluster, "late");
    assert_eq!(summary.accounts_swept, 1);
    assert!(summary.members_not_enumerable);
    assert_eq!(summary.digest_messages, ["m-1"]);
}

#[test]
fn severity_follows_the_worst_finding() {
    let mut digest = fleet();
    digest.accounts = vec![listed("111122223333", 3, 0, 1)];
    assert_eq!(
        digest_messages(&digest, MessageFormat::Text)[0].attributes["severity"],
        "medium"
    );
    digest.accounts = vec![listed("111122223333", 3, 0, 0)];
    assert_eq!(
        digest_messages(&digest, MessageFormat::Text)[0].attributes["severity"],
        "info"
    );
    digest.accounts.push(AccountReport {
        account: "2".to_owned(),
        result: AccountResult::Unreachable {
            why: "x".to_owned(),
        },
    });
    assert_eq!(
        digest_messages(&digest, MessageFormat::Text)[0].attributes["severity"],
        "high"
    );
}

#[test]
fn packing_keeps_order_and_fills_each_part() {
    let lines: Vec<String> = ["aaaa", "bbbb", "cc", "dddddd"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(pack(&lines, 9, str::len), ["aaaa\nbbbb", "cc\ndddddd"]);
    assert_eq!(pack(&lines, 8, str::len), ["aaaa", "bbbb\ncc", "dddddd"]);
    assert_eq!(pack(&lines, 100, str::len), ["aaaa\nbbbb\ncc\ndddddd"]);
    assert_eq!(pack(&[], 10, str::len), [""]);
    let account = AccountReport::listed(
        "1",
        &[
            resource(Some("HEALTHY"), Some(3), Some(3)),
            resource(Some("HEALTHY"), Some(1), Some(3)),
            resource(Some("UNHEALTHY"), Some(0), Some(2)),
            resource(Some("PENDING"), None, None),
        ],
    );
    assert_eq!(
        account.result,
        AccountResult::Listed {
            healthy: 1,
            unhealthy: 1,
            partial: 1,
            unknown: 1,
            covered_nodes: 4,
            compatible_nodes: 8
        }
    );
}

#[test]
fn the_summary_and_the_thread_name_exactly_what_the_digest_holds() {
    let mut digest = fleet();
    // Unknown clusters in two accounts add up like the other counts.
    digest.accounts[0] = AccountReport {
        account: digest.accounts[0].account.clone(),
        result: AccountResult::Listed {
            healthy: 2,
            unhealthy: 1,
            partial: 1,
            unknown: 2,
            covered_nodes: 3,
            compatible_nodes: 4,
        },
    };
    digest.accounts[1] = AccountReport {
        account: digest.accounts[1].account.clone(),
        result: AccountResult::Listed {
            healthy: 1,
            unhealthy: 0,
            partial: 0,
            unknown: 3,
            covered_nodes: 1,
            compatible_nodes: 1,
        },
    };
    let (_, _, _, unknown) = digest.totals();
    assert_eq!(unknown, 5);
    let summary = digest.summary(Vec::new());
    // Only the account the deadline kept out is "not reached".
    assert_eq!(summary.not_reached_accounts, ["888888888888"]);
    assert_eq!(summary.accounts_swept, 20);

    // One thread per sweep: region (only [A-Za-z0-9-], at most 32) and start.
    assert_eq!(
        thread_id(&digest),
        "guardduty-coverage-sweep/us-east-1/1773480400"
    );
    digest.region = "eu-west-1\n<!here>/x".to_owned();
    assert_eq!(
        thread_id(&digest),
        "guardduty-coverage-sweep/eu-west-1herex/1773480400"
    );
    digest.region = "us-east-1".to_owned();
    let messages = digest_messages(&digest, MessageFormat::Chat);
    let body: Value = serde_json::from_str(&messages[0].body).unwrap();
    assert!(
        body["content"]["description"]
            .as_str()
            .unwrap()
            .starts_with("**Coverage sweep** started 2026-03-14T09:26:40Z"),
        "{body}"
    );
    let text = digest_messages(&digest, MessageFormat::Text);
    assert!(text[0].body.contains("\nStarted 2026-03-14T09:26:40Z\n"));
}

#[test]
fn a_plain_text_digest_is_split_only_past_128_kib() {
    // A few dozen clusters: a few kilobytes, one part.
    let mut digest = fleet();
    digest.clusters.truncate(40);
    let parts = digest_messages(&digest, MessageFormat::Text);
    assert_eq!(parts.len(), 1, "{}", parts.len());
    assert!(parts[0].body.len() > 4 * 1024, "{}", parts[0].body.len());
    // The whole fleet: more than 128 KiB of lines, so parts, each within it.
    let digest = fleet();
    let lines: usize = digest_lines(&digest).iter().map(|l| l.len() + 1).sum();
    assert!(lines > 128 * 1024, "{lines}");
    let parts = digest_messages(&digest, MessageFormat::Text);
    assert_eq!(parts.len(), lines.div_ceil(128 * 1024), "{lines}");
    for part in &parts {
        assert!(part.body.len() <= 128 * 1024 + 200, "{}", part.body.len());
    }
}

#[test]
fn each_sweep_starts_its_unhealthy_clusters_somewhere_else() {
    let clusters: Vec<u32> = (0..40).collect();
    let six_hours_ms = 6 * 3600 * 1000;
    let start = 1_773_480_400_000;
    let mut firsts = std::collections::BTreeSet::new();
    for sweep_number in 0..12 {
        let ordered = sweep::fair_order(clusters.clone(), start + sweep_number * six_hours_ms);
        // A rotation: every cluster once, the listing's order kept around it.
        let mut sorted = ordered.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, clusters);
        let first = ordered[0];
        assert!(
            ordered
                .iter()
                .zip(ordered.iter().skip(1))
                .all(|(a, b)| *b == (*a + 1) % 40)
        );
        firsts.insert(first);
    }
    // 40 divides the 6-hour period in seconds: `start % 40` would be one
    // offset for ever; the hash gives (nearly) one per sweep.
    assert!(firsts.len() >= 8, "{firsts:?}");
    // The same start, the same order; a single cluster and none are as given.
    assert_eq!(
        sweep::fair_order(clusters.clone(), start),
        sweep::fair_order(clusters.clone(), start + 999)
    );
    assert_eq!(sweep::fair_order(vec![7], start), [7]);
    // The hash itself, pinned (splitmix64's finalizer; any change to it is
    // a deliberate one): the first cluster of 40, 1,000 and 7.
    let first_of = |n: u32, at: u64| sweep::fair_order((0..n).collect(), at)[0];
    let offsets: Vec<u32> = (0..12)
        .map(|k| first_of(40, start + k * six_hours_ms))
        .collect();
    assert_eq!(offsets, [23, 24, 9, 17, 10, 38, 5, 8, 33, 24, 38, 11]);
    assert_eq!((first_of(1000, start), first_of(7, start)), (63, 5));
    assert!(sweep::fair_order(Vec::<u32>::new(), start).is_empty());
}
