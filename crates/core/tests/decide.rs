//! The decision and its guardrails: every reason the OVERWRITE is not made
//! (each its own `SkipReason`), the exact request when it is, the boundaries
//! of every comparison, which reads are asked for, and the outcomes of the
//! other kinds of event.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use coverage_core::audit::{AuditChange, AuditFailure, AuditTrail, ControllerName};
use coverage_core::decide::{
    Decision, Evidence, NoAction, Outcome, SkipReason, Subject, parse_time,
};
use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatistics, CoverageStatus, LiveCoverage,
    UpdateRecord, UpdateStatus,
};
use coverage_core::guardrails::{OVERWRITE_STATUSES, reads_needed};
use coverage_core::policy::{ClusterSelection, OverwriteBound, parse_cluster_patterns};
use coverage_core::{
    Actionability, CoverageEvent, Fact, FactRequest, Facts, FunctionIdentity, Policy,
    RemediationMode, decide, decode_event,
};
use serde_json::{Value, json};

const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
const EVENT_TIME: &str = "2026-03-14T09:21:07Z";
const CONFLICT: &str = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image";
const HOME_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:coverage";

fn event_json(issue: &str) -> Value {
    json!({
        "version": "0", "id": EVENT_ID,
        "detail-type": "GuardDuty Runtime Protection Unhealthy", "source": "aws.guardduty",
        "account": "111122223333", "time": EVENT_TIME, "region": "us-east-1", "resources": [],
        "detail": {
            "schemaVersion": "1.0", "resourceAccountId": "111122223333",
            "currentStatus": "UNHEALTHY", "previousStatus": "HEALTHY",
            "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
                "clusterName": "prod-payments", "availableNodes": "5", "desiredNodes": "6",
                "addonVersion": "v1.10.0-eksbuild.2"}},
            "issue": issue, "lastUpdatedAt": "2026-03-14T09:20:58Z"
        }
    })
}

fn event(issue: &str) -> CoverageEvent {
    decode_event(&event_json(issue)).unwrap()
}

/// The conflict event with one change to its JSON.
fn conflict_with(change: impl FnOnce(&mut Value)) -> CoverageEvent {
    let mut value = event_json(CONFLICT);
    change(&mut value);
    decode_event(&value).unwrap()
}

fn event_time() -> i64 {
    parse_time(EVENT_TIME).unwrap()
}

fn now() -> i64 {
    event_time() + 60
}

fn home() -> Fact<FunctionIdentity> {
    Fact::Known(FunctionIdentity::from_arn(HOME_ARN).unwrap())
}

fn conflict_issue() -> AddonHealthIssue {
    AddonHealthIssue {
        code: "ConfigurationConflict".into(),
        message: "Conflicts found when trying to apply.".into(),
    }
}

fn addon(status: AddonStatus) -> AddonState {
    AddonState {
        status,
        version: Some("v1.10.0-eksbuild.2".into()),
        configuration_values: Some(
            r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high"}"#.into(),
        ),
        health_issues: vec![conflict_issue()],
        arn: Some(
            "arn:aws:eks:us-east-1:111122223333:addon/prod-payments/aws-guardduty-agent/abc".into(),
        ),
    }
}

fn coverage(status: Option<CoverageStatus>) -> LiveCoverage {
    LiveCoverage {
        cluster_name: Some("prod-payments".into()),
        account_id: Some("111122223333".into()),
        coverage_status: status,
        ..LiveCoverage::default()
    }
}

/// Facts under which every guardrail holds.
fn good_facts() -> Facts {
    Facts {
        now: Some(now()),
        function: home(),
        detector_id: Fact::Known("12abc34d567e8fa901bc2d34e56789f0".into()),
        addon: Fact::Known(addon(AddonStatus::Degraded)),
        update_history: Fact::Known(vec![]),
        coverage: Fact::Known(coverage(Some(CoverageStatus::Unhealthy))),
        statistics: Fact::Known(CoverageStatistics {
            healthy: Some(3),
            unhealthy: Some(1),
        }),
        // Read, and nobody changed the agent in the window.
        audit_log: Fact::Known(AuditTrail::Read {
            query_id: Some("q-1".into()),
            changes: vec![],
        }),
    }
}

fn with_policy(mode: RemediationMode) -> Policy {
    Policy {
        mode,
        ..Policy::default()
    }
}

fn enforce() -> Policy {
    with_policy(RemediationMode::Enforce)
}

fn dry_run() -> Policy {
    with_policy(RemediationMode::DryRun)
}

fn skip_reason(decision: &Decision) -> &SkipReason {
    match decision {
        Decision::Skip { reason, .. } => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn update(id: &str, status: UpdateStatus, created: i64, overwrite: bool) -> UpdateRecord {
    UpdateRecord {
        id: id.into(),
        status,
        created_at: Some(created),
        resolve_conflicts: overwrite.then(|| "OVERWRITE".into()),
    }
}

fn history(records: Vec<UpdateRecord>) -> Facts {
    Facts {
        update_history: Fact::Known(records),
        ..good_facts()
    }
}

fn with_addon(change: impl FnOnce(&mut AddonState)) -> Facts {
    let mut state = addon(AddonStatus::Degraded);
    change(&mut state);
    Facts {
        addon: Fact::Known(state),
        ..good_facts()
    }
}

fn with_coverage(change: impl FnOnce(&mut LiveCoverage)) -> Facts {
    let mut live = coverage(Some(CoverageStatus::Unhealthy));
    change(&mut live);
    Facts {
        coverage: Fact::Known(live),
        ..good_facts()
    }
}

fn overwrites(event: &CoverageEvent, facts: &Facts, policy: &Policy) -> bool {
    matches!(
        decide(event, facts, policy).decision,
        Decision::Overwrite(_)
    )
}

#[test]
fn enforce_with_every_guardrail_holding_plans_the_exact_request() {
    let plan = decide(&event(CONFLICT), &good_facts(), &enforce());
    let Decision::Overwrite(request) = &plan.decision else {
        panic!("{:?}", plan.decision)
    };
    assert_eq!(request.cluster_name, "prod-payments");
    assert_eq!(request.addon_name, "aws-guardduty-agent");
    assert_eq!(request.resolve_conflicts, "OVERWRITE");
    assert_eq!(request.addon_version.as_deref(), Some("v1.10.0-eksbuild.2"));
    assert_eq!(
        request.configuration_values.as_deref(),
        Some(r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high"}"#)
    );
    assert_eq!(request.client_request_token, EVENT_ID);
    assert!(request.addon_read);
    assert!(
        plan.outcome_without_call().is_none(),
        "an OVERWRITE plan needs the shell's call"
    );
}

#[test]
fn both_states_a_conflict_leaves_allow_the_overwrite() {
    assert_eq!(
        OVERWRITE_STATUSES,
        [AddonStatus::Degraded, AddonStatus::UpdateFailed]
    );
    for status in OVERWRITE_STATUSES {
        let facts = with_addon(|a| a.status = status.clone());
        assert!(
            overwrites(&event(CONFLICT), &facts, &enforce()),
            "{status:?}"
        );
    }
}

#[test]
fn dry_run_plans_the_same_call_and_makes_none() {
    let plan = decide(&event(CONFLICT), &good_facts(), &dry_run());
    let Decision::Skip {
        reason: SkipReason::DryRun,
        would_call: Some(request),
        unchecked,
    } = &plan.decision
    else {
        panic!("{:?}", plan.decision)
    };
    assert!(unchecked.is_empty());
    assert_eq!(request.addon_version.as_deref(), Some("v1.10.0-eksbuild.2"));
    let cli = request.as_cli("us-east-1");
    assert!(cli.starts_with(
        "aws eks update-addon --cluster-name prod-payments --addon-name aws-guardduty-agent"
    ));
    assert!(cli.contains("--resolve-conflicts OVERWRITE"));
    assert!(matches!(
        plan.outcome_without_call(),
        Some(Outcome::Skipped {
            reason: SkipReason::DryRun,
            ..
        })
    ));
}

#[test]
fn offline_dry_run_lists_what_it_could_not_check_in_order() {
    let plan = decide(&event(CONFLICT), &Facts::offline(), &Policy::offline());
    let Decision::Skip {
        reason: SkipReason::DryRun,
        would_call: Some(request),
        unchecked,
    } = &plan.decision
    else {
        panic!("{:?}", plan.decision)
    };
    assert_eq!(
        unchecked,
        &[
            Evidence::FunctionIdentity,
            Evidence::UpdateHistory,
            Evidence::Addon,
            Evidence::Coverage,
            Evidence::AuditLog,
        ]
    );
    assert_eq!(request.addon_version, None);
    assert_eq!(request.configuration_values, None);
    assert!(!request.addon_read);
    for evidence in unchecked {
        assert!(!evidence.describe().is_empty());
    }
}

/// A name, the event, the policy and facts, and the expected skip label.
type GuardrailCase = (&'static str, CoverageEvent, Policy, Facts, &'static str);

fn guardrail_cases() -> Vec<GuardrailCase> {
    let conflict = event(CONFLICT);
    let policy_with = |clusters: ClusterSelection| Policy {
        clusters,
        ..enforce()
    };
    let t = event_time();
    vec![
        (
            "mode off",
            conflict.clone(),
            with_policy(RemediationMode::Off),
            good_facts(),
            "mode-off",
        ),
        (
            "untrusted source",
            conflict_with(|v| v["source"] = json!("evil.source")),
            enforce(),
            good_facts(),
            "untrusted-source",
        ),
        (
            "empty event id",
            conflict_with(|v| v["id"] = json!("")),
            enforce(),
            good_facts(),
            "invalid-event-id",
        ),
        (
            "event id with spaces",
            conflict_with(|v| v["id"] = json!("an id")),
            enforce(),
            good_facts(),
            "invalid-event-id",
        ),
        (
            "no event time",
            conflict_with(|v| {
                v.as_object_mut().unwrap().remove("time");
            }),
            enforce(),
            good_facts(),
            "event-time-unreadable",
        ),
        (
            "unparsable event time",
            conflict_with(|v| v["time"] = json!("yesterday")),
            enforce(),
            good_facts(),
            "event-time-unreadable",
        ),
        (
            "invalid cluster name",
            conflict_with(|v| {
                v["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] =
                    json!("x; rm -rf /")
            }),
            enforce(),
            good_facts(),
            "invalid-cluster-name",
        ),
        (
            "function not known in enforce",
            conflict.clone(),
            enforce(),
            Facts {
                function: Fact::NotGathered,
                ..good_facts()
            },
            "function-unverified",
        ),
        (
            "function ARN unparsable",
            conflict.clone(),
            enforce(),
            Facts {
                function: Fact::Unavailable("the ARN \"function-arn\" does not parse".into()),
                ..good_facts()
            },
            "function-unverified",
        ),
        (
            "no account anywhere",
            conflict_with(|v| {
                v.as_object_mut().unwrap().remove("account");
                v["detail"]
                    .as_object_mut()
                    .unwrap()
                    .remove("resourceAccountId");
            }),
            enforce(),
            good_facts(),
            "account-unknown",
        ),
        (
            "a malformed account",
            conflict_with(|v| {
                v["detail"]["resourceAccountId"] = json!("1111");
            }),
            enforce(),
            good_facts(),
            "account-unknown",
        ),
        (
            "a member's cluster, delivered to the administrator",
            conflict_with(|v| v["detail"]["resourceAccountId"] = json!("444455556666")),
            enforce(),
            good_facts(),
            "member-account",
        ),
        (
            "delivered by another account's bus",
            conflict_with(|v| v["account"] = json!("444455556666")),
            enforce(),
            good_facts(),
            "member-account",
        ),
        (
            "another account's cluster and bus",
            conflict_with(|v| {
                v["account"] = json!("444455556666");
                v["detail"]["resourceAccountId"] = json!("444455556666");
            }),
            enforce(),
            good_facts(),
            "other-account",
        ),
        (
            "only the bus account, another one",
            conflict_with(|v| {
                v["account"] = json!("444455556666");
                v["detail"]
                    .as_object_mut()
                    .unwrap()
                    .remove("resourceAccountId");
            }),
            enforce(),
            good_facts(),
            "other-account",
        ),
        (
            "no region",
            conflict_with(|v| {
                v.as_object_mut().unwrap().remove("region");
            }),
            enforce(),
            good_facts(),
            "region-unknown",
        ),
        (
            "another region",
            conflict_with(|v| v["region"] = json!("eu-west-1")),
            enforce(),
            good_facts(),
            "other-region",
        ),
        (
            "denied cluster",
            conflict.clone(),
            policy_with(ClusterSelection {
                allow: vec![],
                deny: parse_cluster_patterns("prod-*").unwrap(),
            }),
            good_facts(),
            "cluster-excluded",
        ),
        (
            "not allowed",
            conflict.clone(),
            policy_with(ClusterSelection {
                allow: parse_cluster_patterns("staging-*").unwrap(),
                deny: vec![],
            }),
            good_facts(),
            "cluster-not-allowed",
        ),
        (
            "history unreadable",
            conflict.clone(),
            enforce(),
            Facts {
                update_history: Fact::Unavailable("ThrottlingException".into()),
                ..good_facts()
            },
            "history-unreadable",
        ),
        (
            "history not read in enforce",
            conflict.clone(),
            enforce(),
            Facts {
                update_history: Fact::NotGathered,
                ..good_facts()
            },
            "history-unreadable",
        ),
        (
            "an update without a date",
            conflict.clone(),
            enforce(),
            history(vec![UpdateRecord {
                id: "u-0".into(),
                status: UpdateStatus::Successful,
                created_at: None,
                resolve_conflicts: None,
            }]),
            "update-time-unknown",
        ),
        (
            "already remediated for this event",
            conflict.clone(),
            enforce(),
            history(vec![update("u-2", UpdateStatus::InProgress, t + 30, true)]),
            "already-remediated",
        ),
        (
            "another update in flight",
            conflict.clone(),
            enforce(),
            history(vec![update(
                "u-3",
                UpdateStatus::InProgress,
                t - 7200,
                false,
            )]),
            "update-in-flight",
        ),
        (
            "an update with an unknown status",
            conflict.clone(),
            enforce(),
            history(vec![update(
                "u-4",
                UpdateStatus::parse("Paused"),
                t - 7200,
                false,
            )]),
            "update-status-unknown",
        ),
        (
            "an update with no status",
            conflict.clone(),
            enforce(),
            history(vec![update(
                "u-5",
                UpdateStatus::parse(""),
                t - 7200,
                false,
            )]),
            "update-status-unknown",
        ),
        (
            "another update since the event",
            conflict.clone(),
            enforce(),
            history(vec![update("u-6", UpdateStatus::Failed, t + 10, false)]),
            "changed-since-event",
        ),
        (
            "add-on unreadable",
            conflict.clone(),
            enforce(),
            Facts {
                addon: Fact::Unavailable("AccessDeniedException: no".into()),
                ..good_facts()
            },
            "addon-unreadable",
        ),
        (
            "add-on not read in enforce",
            conflict.clone(),
            enforce(),
            Facts {
                addon: Fact::NotGathered,
                ..good_facts()
            },
            "addon-unreadable",
        ),
        (
            "creating",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::Creating),
            "addon-busy",
        ),
        (
            "updating",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::Updating),
            "addon-busy",
        ),
        (
            "deleting",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::Deleting),
            "addon-busy",
        ),
        (
            "unknown add-on status",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::parse("SUSPENDED")),
            "addon-status-unknown",
        ),
        (
            "no add-on status",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::parse("")),
            "addon-status-unknown",
        ),
        (
            "active",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::Active),
            "addon-status-not-eligible",
        ),
        (
            "create failed",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::CreateFailed),
            "addon-status-not-eligible",
        ),
        (
            "delete failed",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.status = AddonStatus::DeleteFailed),
            "addon-status-not-eligible",
        ),
        (
            "no version",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.version = None),
            "addon-unreadable",
        ),
        (
            "empty version",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.version = Some(String::new())),
            "addon-unreadable",
        ),
        (
            "no health issues",
            conflict.clone(),
            enforce(),
            with_addon(|a| a.health_issues.clear()),
            "no-conflict-reported",
        ),
        (
            "health issues without a conflict",
            conflict.clone(),
            enforce(),
            with_addon(|a| {
                a.health_issues = vec![AddonHealthIssue {
                    code: "InsufficientNumberOfReplicas".into(),
                    message: "m".into(),
                }]
            }),
            "no-conflict-reported",
        ),
        (
            "coverage unreadable",
            conflict.clone(),
            enforce(),
            Facts {
                coverage: Fact::Unavailable("ListCoverage failed: AccessDeniedException".into()),
                ..good_facts()
            },
            "coverage-unreadable",
        ),
        (
            "coverage not read in enforce",
            conflict.clone(),
            enforce(),
            Facts {
                coverage: Fact::NotGathered,
                ..good_facts()
            },
            "coverage-unreadable",
        ),
        (
            "coverage of another cluster",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.cluster_name = Some("prod-payments-2".into())),
            "coverage-mismatch",
        ),
        (
            "coverage naming no cluster",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.cluster_name = None),
            "coverage-mismatch",
        ),
        (
            "coverage of another account",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.account_id = Some("444455556666".into())),
            "coverage-mismatch",
        ),
        (
            "coverage naming no account",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.account_id = None),
            "coverage-mismatch",
        ),
        (
            "already healthy",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.coverage_status = Some(CoverageStatus::Healthy)),
            "already-healthy",
        ),
        (
            "coverage status missing",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.coverage_status = None),
            "coverage-status-unknown",
        ),
        (
            "coverage status unknown",
            conflict.clone(),
            enforce(),
            with_coverage(|c| c.coverage_status = Some(CoverageStatus::parse("PENDING"))),
            "coverage-status-unknown",
        ),
        (
            "bound reached",
            conflict,
            enforce(),
            history(vec![update(
                "u-1",
                UpdateStatus::Successful,
                t - 7200,
                true,
            )]),
            "bound-reached",
        ),
    ]
}

#[test]
fn each_guardrail_has_its_own_skip_reason_and_sentence() {
    let mut sentences = BTreeSet::new();
    for (name, event, policy, facts, label) in guardrail_cases() {
        let plan = decide(&event, &facts, &policy);
        let reason = skip_reason(&plan.decision);
        assert_eq!(reason.label(), label, "{name}: {reason:?}");
        let sentence = reason.explain();
        assert!(sentence.len() > 20, "{name}: {sentence}");
        sentences.insert(sentence);
        // The same facts never lead to a write in any mode (but `off` is about the mode).
        if label == "mode-off" {
            continue;
        }
        for mode in [
            RemediationMode::Off,
            RemediationMode::DryRun,
            RemediationMode::Enforce,
        ] {
            let policy = Policy {
                mode,
                ..policy.clone()
            };
            assert!(!overwrites(&event, &facts, &policy), "{name} in {mode:?}");
        }
    }
    assert!(
        sentences.len() > 40,
        "each case explains itself: {}",
        sentences.len()
    );
}

#[test]
fn a_dry_run_reports_the_same_guardrail_as_enforce_for_facts_that_were_read() {
    for (name, event, policy, facts, label) in guardrail_cases() {
        if name.contains("not read in enforce")
            || name.contains("not known in enforce")
            || label == "mode-off"
        {
            continue;
        }
        let dry = Policy {
            mode: RemediationMode::DryRun,
            ..policy
        };
        let reason = skip_reason(&decide(&event, &facts, &dry).decision).clone();
        // A fact that could not be read is listed as unchecked instead
        // (a_dry_run_states_dry_run_even_when_a_fact_could_not_be_read).
        let unreadable = matches!(facts.function, Fact::Unavailable(_))
            || matches!(facts.update_history, Fact::Unavailable(_))
            || matches!(facts.addon, Fact::Unavailable(_))
            || matches!(facts.coverage, Fact::Unavailable(_));
        let expected = if unreadable { "dry-run" } else { label };
        assert_eq!(reason.label(), expected, "{name} in dry-run");
    }
}

#[test]
fn a_dry_run_states_dry_run_even_when_a_fact_could_not_be_read() {
    fn denied<T>() -> Fact<T> {
        Fact::Unavailable("AccessDeniedException: not authorized".to_owned())
    }
    for (facts, expected) in [
        (
            Facts {
                function: denied(),
                ..good_facts()
            },
            Evidence::FunctionIdentity,
        ),
        (
            Facts {
                update_history: denied(),
                ..good_facts()
            },
            Evidence::UpdateHistory,
        ),
        (
            Facts {
                addon: denied(),
                ..good_facts()
            },
            Evidence::Addon,
        ),
        (
            Facts {
                coverage: denied(),
                ..good_facts()
            },
            Evidence::Coverage,
        ),
    ] {
        let plan = decide(&event(CONFLICT), &facts, &dry_run());
        let Decision::Skip {
            reason: SkipReason::DryRun,
            would_call: Some(request),
            unchecked,
        } = &plan.decision
        else {
            panic!("{expected:?}: {:?}", plan.decision)
        };
        assert_eq!(unchecked, &[expected]);
        // The add-on not read: the call fetches its version and values first.
        assert_eq!(
            request
                .as_cli("us-east-1")
                .starts_with("VERSION=$(aws eks describe-addon "),
            expected == Evidence::Addon,
            "{expected:?}"
        );
        // Enforce stops at the same unreadable fact, with its own reason.
        let enforced = decide(&event(CONFLICT), &facts, &enforce());
        assert!(
            skip_reason(&enforced.decision)
                .label()
                .ends_with("-unreadable")
                || skip_reason(&enforced.decision).label() == "function-unverified",
            "{:?}",
            enforced.decision
        );
    }
    // Planning a dry-run still reads nothing for a function it cannot place.
    let conflict = event(CONFLICT);
    let subject = coverage_core::decide::subject_of(&conflict);
    let asked = reads_needed(&conflict, &subject, &dry_run(), &denied());
    assert!(!asked.addon && !asked.update_history, "{asked:?}");
}

#[test]
fn a_dry_run_goes_on_past_facts_not_gathered_and_lists_them() {
    for (fact, expected) in [
        (
            Facts {
                function: Fact::NotGathered,
                ..good_facts()
            },
            Evidence::FunctionIdentity,
        ),
        (
            Facts {
                update_history: Fact::NotGathered,
                ..good_facts()
            },
            Evidence::UpdateHistory,
        ),
        (
            Facts {
                addon: Fact::NotGathered,
                ..good_facts()
            },
            Evidence::Addon,
        ),
        (
            Facts {
                coverage: Fact::NotGathered,
                ..good_facts()
            },
            Evidence::Coverage,
        ),
        (
            Facts {
                audit_log: Fact::NotGathered,
                ..good_facts()
            },
            Evidence::AuditLog,
        ),
    ] {
        let plan = decide(&event(CONFLICT), &fact, &dry_run());
        let Decision::Skip {
            reason: SkipReason::DryRun,
            would_call: Some(_),
            unchecked,
        } = &plan.decision
        else {
            panic!("{expected:?}: {:?}", plan.decision)
        };
        assert_eq!(unchecked, &[expected]);
    }
}

#[test]
fn skip_reasons_carry_their_details() {
    let t = event_time();
    let reason = |event: &CoverageEvent, facts: &Facts| {
        skip_reason(&decide(event, facts, &enforce()).decision).clone()
    };
    assert_eq!(
        reason(
            &conflict_with(|v| v["detail"]["resourceAccountId"] = json!("444455556666")),
            &good_facts()
        ),
        SkipReason::MemberAccount {
            resource_account: "444455556666".into(),
            delivering_account: "111122223333".into()
        }
    );
    assert_eq!(
        reason(
            &conflict_with(|v| {
                v["account"] = json!("444455556666");
                v["detail"]["resourceAccountId"] = json!("444455556666");
            }),
            &good_facts()
        ),
        SkipReason::OtherAccount {
            resource_account: "444455556666".into(),
            function_account: "111122223333".into()
        }
    );
    assert_eq!(
        reason(
            &conflict_with(|v| v["region"] = json!("eu-west-1")),
            &good_facts()
        ),
        SkipReason::OtherRegion {
            event_region: "eu-west-1".into(),
            function_region: "us-east-1".into()
        }
    );
    assert_eq!(
        reason(
            &event(CONFLICT),
            &history(vec![update("u-2", UpdateStatus::InProgress, t + 30, true)])
        ),
        SkipReason::AlreadyRemediated {
            update_id: "u-2".into(),
            status: "InProgress".into()
        }
    );
    assert_eq!(
        reason(
            &event(CONFLICT),
            &with_addon(|a| a.status = AddonStatus::Updating)
        ),
        SkipReason::AddonBusy {
            status: "UPDATING".into()
        }
    );
    assert_eq!(
        reason(
            &event(CONFLICT),
            &with_coverage(|c| {
                c.cluster_name = Some("other".into());
                c.account_id = Some("444455556666".into());
            })
        ),
        SkipReason::CoverageMismatch {
            cluster: Some("other".into()),
            account: Some("444455556666".into())
        }
    );
    assert_eq!(
        reason(
            &event(CONFLICT),
            &Facts {
                coverage: Fact::Unavailable("ListCoverage failed: AccessDeniedException".into()),
                ..good_facts()
            }
        ),
        SkipReason::CoverageUnreadable {
            why: "ListCoverage failed: AccessDeniedException".into()
        }
    );
    assert_eq!(
        reason(
            &event(CONFLICT),
            &with_addon(|a| a.health_issues[0].code = "AccessDenied".into())
        ),
        SkipReason::NoConflictReported {
            codes: vec!["AccessDenied".into()]
        }
    );
    assert_eq!(
        reason(
            &event(CONFLICT),
            &history(vec![update(
                "u-1",
                UpdateStatus::Successful,
                t - 7200,
                true
            )])
        ),
        SkipReason::BoundReached {
            count: 1,
            max: 1,
            window_seconds: 86_400
        }
    );
}

#[test]
fn an_update_at_the_very_second_of_the_event_counts_as_after_it() {
    let t = event_time();
    let wide_bound = Policy {
        bound: OverwriteBound {
            max_updates: 5,
            window_seconds: 86_400,
        },
        ..enforce()
    };
    let at = |created: i64, overwrite: bool| {
        decide(
            &event(CONFLICT),
            &history(vec![update(
                "u",
                UpdateStatus::Successful,
                created,
                overwrite,
            )]),
            &wide_bound,
        )
        .decision
    };
    assert_eq!(skip_reason(&at(t, true)).label(), "already-remediated");
    assert_eq!(skip_reason(&at(t, false)).label(), "changed-since-event");
    assert!(matches!(at(t - 1, true), Decision::Overwrite(_)));
    assert!(matches!(at(t - 1, false), Decision::Overwrite(_)));
}

#[test]
fn the_bound_counts_only_overwrites_inside_the_window() {
    let facts = history(vec![
        update("old", UpdateStatus::Successful, now() - 3 * 86_400, true),
        update(
            "not-overwrite",
            UpdateStatus::Successful,
            now() - 3600,
            false,
        ),
        update("recent", UpdateStatus::Failed, now() - 3600, true),
    ]);
    let bound = |max_updates: u32, window_seconds: u64| Policy {
        bound: OverwriteBound {
            max_updates,
            window_seconds,
        },
        ..enforce()
    };
    assert!(overwrites(&event(CONFLICT), &facts, &bound(2, 86_400)));
    assert_eq!(
        skip_reason(&decide(&event(CONFLICT), &facts, &bound(1, 86_400)).decision),
        &SkipReason::BoundReached {
            count: 1,
            max: 1,
            window_seconds: 86_400
        }
    );
    assert!(matches!(
        skip_reason(&decide(&event(CONFLICT), &facts, &bound(2, 7 * 86_400)).decision),
        SkipReason::BoundReached { count: 2, .. }
    ));
}

#[test]
fn the_window_edge_is_exclusive() {
    let window = 3600;
    let policy = Policy {
        bound: OverwriteBound {
            max_updates: 1,
            window_seconds: window,
        },
        ..enforce()
    };
    let created = |age: i64| {
        history(vec![update(
            "u",
            UpdateStatus::Successful,
            now() - age,
            true,
        )])
    };
    // Exactly one window ago: outside it.
    assert!(overwrites(
        &event(CONFLICT),
        &created(window as i64),
        &policy
    ));
    assert!(!overwrites(
        &event(CONFLICT),
        &created(window as i64 - 1),
        &policy
    ));
}

#[test]
fn without_a_clock_every_dated_overwrite_counts_towards_the_bound() {
    let facts = Facts {
        now: None,
        ..history(vec![update(
            "ancient",
            UpdateStatus::Successful,
            1_000,
            true,
        )])
    };
    assert_eq!(
        skip_reason(&decide(&event(CONFLICT), &facts, &enforce()).decision).label(),
        "bound-reached"
    );
    let with_clock = Facts {
        now: Some(now()),
        ..facts
    };
    assert!(overwrites(&event(CONFLICT), &with_clock, &enforce()));
}

#[test]
fn only_a_configuration_conflict_is_ever_overwritten() {
    for issue in [
        "Addon Update Failed:EKS Addon Issue - AccessDenied: priorityclasses.scheduling.k8s.io is forbidden",
        "Addon Status Unhealthy:EKS Addon Issue - InsufficientNumberOfReplicas: CrashLoopBackOff: Error",
        "Addon Deletion Failed:EKS Addon Issue - ConfigurationConflict: an undocumented type",
        "Others:ConfigurationConflict",
        "Addon Update Failed:EKS Addon Issue - AdmissionRequestDenied: ConfigurationConflict",
    ] {
        let plan = decide(&event(issue), &good_facts(), &enforce());
        assert!(
            matches!(plan.decision, Decision::NoAction { .. }),
            "{issue}: {:?}",
            plan.decision
        );
    }
}

#[test]
fn manual_transient_and_not_actionable_issues_say_so() {
    let cases = [
        (
            "Others:Error due to authorization failure",
            Actionability::Manual,
        ),
        (
            "EKS Runtime Monitoring enablement resource provisioning in progress",
            Actionability::Transient,
        ),
        (
            "Local EKS clusters:EKS add-ons are not supported on local outpost clusters.",
            Actionability::NotActionable,
        ),
    ];
    for (issue, actionability) in cases {
        let plan = decide(&event(issue), &good_facts(), &enforce());
        assert_eq!(
            plan.decision,
            Decision::NoAction {
                why: NoAction::NotAutomatable(actionability)
            },
            "{issue}"
        );
    }
}

#[test]
fn healthy_ecs_and_unreadable_events_have_their_own_subjects() {
    let mut healthy = event_json("");
    healthy["detail-type"] = json!("GuardDuty Runtime Protection Healthy");
    let plan = decide(&decode_event(&healthy).unwrap(), &good_facts(), &enforce());
    assert_eq!(plan.subject, Subject::CoverageRestored);
    assert_eq!(
        plan.decision,
        Decision::NoAction {
            why: NoAction::Recovered
        }
    );

    let mut ecs = event_json("Agent not reporting");
    ecs["detail"]["resourceDetails"] =
        json!({"resourceType": "ECS", "ecsClusterDetails": {"clusterName": "svc"}});
    let plan = decide(&decode_event(&ecs).unwrap(), &good_facts(), &enforce());
    assert!(matches!(plan.subject, Subject::OutOfScope { .. }));

    let mut other = event_json("x");
    other["detail"]["resourceDetails"] = json!({"resourceType": "EC2"});
    let plan = decide(&decode_event(&other).unwrap(), &good_facts(), &enforce());
    assert!(
        matches!(&plan.subject, Subject::OutOfScope { resource_type } if resource_type == "EC2")
    );

    let mut broken = event_json(CONFLICT);
    broken["detail"]["resourceDetails"] = json!("not an object");
    let plan = decide(&decode_event(&broken).unwrap(), &good_facts(), &enforce());
    assert!(
        matches!(&plan.subject, Subject::Unreadable { raw_event, .. } if raw_event.contains("not an object"))
    );
    assert_eq!(
        plan.decision,
        Decision::NoAction {
            why: NoAction::Unreadable
        }
    );
}

fn away_fn() -> Fact<FunctionIdentity> {
    Fact::Known(
        FunctionIdentity::from_arn("arn:aws:lambda:eu-west-1:111122223333:function:f").unwrap(),
    )
}

fn needed(
    event: &CoverageEvent,
    policy: &Policy,
    function: &Fact<FunctionIdentity>,
) -> FactRequest {
    reads_needed(
        event,
        &coverage_core::decide::subject_of(event),
        policy,
        function,
    )
}

const ALL: FactRequest = FactRequest {
    addon: true,
    update_history: true,
    coverage: true,
    statistics: true,
    audit_log: true,
};
/// A recovery: no audit log (nothing changed it into trouble).
const RECOVERY: FactRequest = FactRequest {
    audit_log: false,
    ..ALL
};
const SHOWN: FactRequest = FactRequest {
    addon: true,
    update_history: false,
    coverage: true,
    statistics: true,
    audit_log: false,
};
/// What the alert shows for a row whose cause is a change in the cluster.
const SHOWN_AUDITED: FactRequest = FactRequest {
    audit_log: true,
    ..SHOWN
};
const GUARDDUTY_ONLY: FactRequest = FactRequest {
    addon: false,
    update_history: false,
    coverage: true,
    statistics: true,
    audit_log: false,
};

#[test]
fn reads_are_only_requested_where_they_can_matter() {
    let conflict = event(CONFLICT);
    assert_eq!(needed(&conflict, &enforce(), &home()), ALL);
    assert_eq!(needed(&conflict, &dry_run(), &home()), ALL);
    // Offline: what the check would need, though nothing can be read.
    assert_eq!(
        needed(&conflict, &dry_run(), &Fact::NotGathered),
        FactRequest { addon: true, ..ALL }
    );
    assert_eq!(needed(&conflict, &enforce(), &Fact::NotGathered), ALL);
    assert_eq!(
        needed(&conflict, &with_policy(RemediationMode::Off), &home()),
        SHOWN_AUDITED
    );
    assert_eq!(
        needed(
            &event("Others:Error due to authorization failure"),
            &enforce(),
            &home()
        ),
        SHOWN
    );
    assert_eq!(
        needed(
            &conflict_with(|v| v["source"] = json!("evil")),
            &enforce(),
            &home()
        ),
        SHOWN_AUDITED
    );
    // The RBAC and admission rows: a change in the cluster is the cause.
    for issue in [
        "Addon Update Failed:EKS Addon Issue - AccessDenied: namespaces \"amazon-guardduty\" is forbidden: User \"eks:addon-manager\" cannot patch resource \"namespaces\"",
        "Addon Update Failed:EKS Addon Issue - AdmissionRequestDenied: admission webhook \"validate.kyverno.svc\" denied the request",
    ] {
        assert_eq!(
            needed(&event(issue), &enforce(), &home()),
            SHOWN_AUDITED,
            "{issue}"
        );
        assert_eq!(
            needed(&event(issue), &enforce(), &away_fn()),
            GUARDDUTY_ONLY,
            "{issue}"
        );
    }
    let denied = Policy {
        clusters: ClusterSelection {
            allow: vec![],
            deny: parse_cluster_patterns("prod-*").unwrap(),
        },
        ..enforce()
    };
    assert_eq!(needed(&conflict, &denied, &home()), SHOWN_AUDITED);
    let unparsable = Fact::Unavailable("bad ARN".into());
    assert_eq!(needed(&conflict, &enforce(), &unparsable), GUARDDUTY_ONLY);
    let away = Fact::Known(
        FunctionIdentity::from_arn("arn:aws:lambda:eu-west-1:111122223333:function:f").unwrap(),
    );
    assert_eq!(needed(&conflict, &enforce(), &away), GUARDDUTY_ONLY);
    let member = conflict_with(|v| v["detail"]["resourceAccountId"] = json!("444455556666"));
    assert_eq!(needed(&member, &enforce(), &home()), GUARDDUTY_ONLY);

    // A recovery reads the history where the function runs (the notice
    // names the OVERWRITE it followed), in every mode; elsewhere it cannot.
    let mut healthy = event_json("");
    healthy["detail-type"] = json!("GuardDuty Runtime Protection Healthy");
    let healthy = decode_event(&healthy).unwrap();
    for policy in [enforce(), dry_run(), with_policy(RemediationMode::Off)] {
        assert_eq!(needed(&healthy, &policy, &home()), RECOVERY, "{policy:?}");
    }
    assert_eq!(needed(&healthy, &enforce(), &away), GUARDDUTY_ONLY);
    assert_eq!(needed(&healthy, &enforce(), &unparsable), GUARDDUTY_ONLY);
    assert_eq!(
        needed(&healthy, &enforce(), &Fact::NotGathered),
        GUARDDUTY_ONLY
    );

    let mut ecs = event_json("Agent not reporting");
    ecs["detail"]["resourceDetails"] =
        json!({"resourceType": "ECS", "ecsClusterDetails": {"clusterName": "svc"}});
    assert_eq!(
        needed(&decode_event(&ecs).unwrap(), &enforce(), &home()),
        FactRequest::default()
    );
    let invalid = conflict_with(|v| {
        v["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!("x; rm")
    });
    assert_eq!(
        needed(&invalid, &enforce(), &home()),
        FactRequest::default()
    );
}

#[test]
fn decisions_are_pure() {
    let conflict = event(CONFLICT);
    assert_eq!(
        decide(&conflict, &good_facts(), &enforce()),
        decide(&conflict, &good_facts(), &enforce())
    );
}

#[test]
fn the_bound_names_its_window_in_days_hours_or_seconds() {
    let sentence = |window_seconds: u64| {
        SkipReason::BoundReached {
            count: 2,
            max: 2,
            window_seconds,
        }
        .explain()
    };
    for (window, words) in [
        (86_400, "in the last 1 day reached the bound of 2"),
        (2 * 86_400, "in the last 2 days reached"),
        (90 * 86_400, "in the last 90 days reached"),
        (3600, "in the last 1 hour reached"),
        (6 * 3600, "in the last 6 hours reached"),
        (25 * 3600, "in the last 25 hours reached"),
        (5400, "in the last 5400 s reached"),
        (0, "in the last 0 s reached"),
        (86_401, "in the last 86401 s reached"),
    ] {
        let text = sentence(window);
        assert!(text.contains(words), "{window}: {text}");
        assert!(text.starts_with("2 OVERWRITE update(s)"), "{text}");
    }
}

#[test]
fn the_interlock_does_not_trust_the_catalog_alone() {
    use coverage_core::catalog;
    use coverage_core::guardrails::is_automatable;
    use coverage_core::issue::Issue;
    let conflict = Issue::parse(CONFLICT);
    let automatic = catalog::classify(&conflict);
    assert!(is_automatable(automatic, &conflict));
    // A row that is not automatic never becomes so because the issue is a conflict.
    for id in [
        "addon-insufficient-cpu",
        "addon-rbac-namespace",
        "unrecognized",
    ] {
        let entry = catalog::entry(id).unwrap();
        assert!(!is_automatable(entry, &conflict), "{id}");
    }
    // And the automatic row needs both an add-on failure type and the code.
    for issue in [
        "Addon Deletion Failed:EKS Addon Issue - ConfigurationConflict: x",
        "Addon Update Failed:EKS Addon Issue - AccessDenied: ConfigurationConflict",
        "Others:ConfigurationConflict",
    ] {
        assert!(!is_automatable(automatic, &Issue::parse(issue)), "{issue}");
    }
}

// --- changed-by-controller: who changed the agent last ---------------------

const ARGO_USER: &str = "system:serviceaccount:argocd:argocd-application-controller";
const ARGO_AGENT: &str = "argocd-application-controller/v2.11.0 (linux/amd64) kubernetes/1a2b3c4";

fn change(at: i64, user: &str, agent: &str) -> AuditChange {
    AuditChange {
        at: Some(at),
        verb: Some("patch".into()),
        user: Some(user.into()),
        user_agent: Some(agent.into()),
        request_uri: Some(
            "/apis/apps/v1/namespaces/amazon-guardduty/daemonsets/aws-guardduty-agent".into(),
        ),
        resource: Some("daemonsets".into()),
        namespace: Some("amazon-guardduty".into()),
        name: Some("aws-guardduty-agent".into()),
        response_code: Some(200),
    }
}

fn with_changes(changes: Vec<AuditChange>) -> Facts {
    Facts {
        audit_log: Fact::Known(AuditTrail::Read {
            query_id: Some("q-1".into()),
            changes,
        }),
        ..good_facts()
    }
}

fn decision_with(changes: Vec<AuditChange>, policy: &Policy) -> Decision {
    decide(&event(CONFLICT), &with_changes(changes), policy).decision
}

#[test]
fn a_controller_as_last_writer_stops_the_overwrite() {
    let t = event_time() - 3_600;
    // Argo CD by its service account, by its user agent, and Flux.
    for (user, agent, controller) in [
        (ARGO_USER, ARGO_AGENT, "Argo CD"),
        (ARGO_USER, "", "Argo CD"),
        (
            "system:serviceaccount:gitops:argocd-application-controller",
            "",
            "Argo CD",
        ),
        ("system:serviceaccount:argocd:argocd-server", "", "Argo CD"),
        ("arn:aws:iam::111122223333:role/x", ARGO_AGENT, "Argo CD"),
        (
            "system:serviceaccount:flux-system:kustomize-controller",
            "",
            "Flux",
        ),
        ("someone", "kustomize-controller/v1.2.0", "Flux"),
        ("someone", "helm-controller/v0.37.0", "Flux"),
        ("someone", "source-controller/v1.0.0", "Flux"),
    ] {
        let decision = decision_with(vec![change(t, user, agent)], &enforce());
        let SkipReason::ChangedByController {
            controller: named,
            user: who,
            object,
            at,
        } = skip_reason(&decision)
        else {
            panic!("{user} {agent}: {decision:?}")
        };
        assert_eq!(named, controller, "{user} {agent}");
        assert_eq!(who, user);
        assert_eq!(object, "daemonsets amazon-guardduty/aws-guardduty-agent");
        assert_eq!(*at, Some(t));
        assert_eq!(skip_reason(&decision).label(), "changed-by-controller");
        let sentence = skip_reason(&decision).explain();
        assert!(sentence.contains("the Git repository"), "{sentence}");
        assert!(sentence.contains("configuration values"), "{sentence}");
        assert!(sentence.contains("2026-03-14T08:21:07Z"), "{sentence}");
    }
    // A dry-run reports the same reason before its own.
    let decision = decision_with(vec![change(t, ARGO_USER, ARGO_AGENT)], &dry_run());
    assert_eq!(skip_reason(&decision).label(), "changed-by-controller");
}

#[test]
fn a_person_or_a_tool_as_last_writer_allows_the_overwrite() {
    let t = event_time() - 3_600;
    for (user, agent) in [
        ("alice", "kubectl/v1.30.2 (linux/amd64) kubernetes/39683505"),
        ("alice", "Mozilla/5.0 (X11; Linux x86_64)"),
        (
            "arn:aws:sts::111122223333:assumed-role/deployer/tf",
            "HashiCorp/1.0 Terraform/1.8.0",
        ),
        ("deployer", "Helm/3.15.0"),
        (
            "arn:aws:sts::111122223333:assumed-role/GitHubActions/run-1",
            "Go-http-client/2.0",
        ),
        ("eks:addon-manager", "eks-addon-manager/v1"),
        ("someone", "curl/8.0"),
    ] {
        assert!(
            matches!(
                decision_with(vec![change(t, user, agent)], &enforce()),
                Decision::Overwrite(_)
            ),
            "{user} {agent}"
        );
    }
}

#[test]
fn only_the_most_recent_change_counts() {
    let t = event_time() - 3_600;
    let person = change(t, "alice", "kubectl/v1.30.2");
    let argo = change(t - 60, ARGO_USER, ARGO_AGENT);
    // The controller earlier, the person latest: allowed, in either row order.
    assert!(matches!(
        decision_with(vec![person.clone(), argo.clone()], &enforce()),
        Decision::Overwrite(_)
    ));
    assert!(matches!(
        decision_with(vec![argo.clone(), person.clone()], &enforce()),
        Decision::Overwrite(_)
    ));
    // The controller latest by one second: stopped, in either row order.
    let argo_later = change(t + 1, ARGO_USER, ARGO_AGENT);
    for rows in [
        vec![person.clone(), argo_later.clone()],
        vec![argo_later.clone(), person.clone()],
    ] {
        assert_eq!(
            skip_reason(&decision_with(rows, &enforce())).label(),
            "changed-by-controller"
        );
    }
    // Same second: the first row (the query sorts newest first) wins.
    let argo_same = change(t, ARGO_USER, ARGO_AGENT);
    assert!(matches!(
        decision_with(vec![person.clone(), argo_same.clone()], &enforce()),
        Decision::Overwrite(_)
    ));
    assert_eq!(
        skip_reason(&decision_with(
            vec![argo_same.clone(), person.clone()],
            &enforce()
        ))
        .label(),
        "changed-by-controller"
    );
    // A refused request changed nothing: the person before it is the last writer.
    let refused = AuditChange {
        response_code: Some(403),
        ..argo_later.clone()
    };
    assert!(matches!(
        decision_with(vec![refused, person.clone()], &enforce()),
        Decision::Overwrite(_)
    ));
    let error = AuditChange {
        response_code: Some(500),
        ..argo_later.clone()
    };
    assert!(matches!(
        decision_with(vec![error, person.clone()], &enforce()),
        Decision::Overwrite(_)
    ));
    let accepted = AuditChange {
        response_code: Some(201),
        ..argo_later.clone()
    };
    assert_eq!(
        skip_reason(&decision_with(vec![accepted, person.clone()], &enforce())).label(),
        "changed-by-controller"
    );
    // A row without a time may be the latest: a controller there stops the write.
    let undated = AuditChange {
        at: None,
        ..argo.clone()
    };
    for rows in [
        vec![person.clone(), undated.clone()],
        vec![undated.clone(), person.clone()],
    ] {
        let decision = decision_with(rows, &enforce());
        let SkipReason::ChangedByController { at, .. } = skip_reason(&decision) else {
            panic!("{decision:?}")
        };
        assert_eq!(*at, None);
        assert!(skip_reason(&decision).explain().contains("an unknown time"));
    }
    let undated_person = AuditChange {
        at: None,
        ..person.clone()
    };
    assert!(matches!(
        decision_with(vec![undated_person.clone(), argo_later.clone()], &enforce()),
        Decision::Overwrite(_)
    ));
    assert!(matches!(
        decision_with(vec![argo_later, undated_person], &enforce()),
        Decision::Overwrite(_)
    ));
}

#[test]
fn an_empty_or_unreadable_audit_log_does_not_stop_the_overwrite() {
    assert!(matches!(
        decision_with(vec![], &enforce()),
        Decision::Overwrite(_)
    ));
    let failures = [
        AuditFailure::LogGroupNotFound,
        AuditFailure::StillRunning {
            query_id: "q".into(),
        },
        AuditFailure::LimitExceeded,
        AuditFailure::AccessDenied {
            message: "no".into(),
        },
        AuditFailure::QueryEnded {
            query_id: "q".into(),
            status: "Failed".into(),
        },
        AuditFailure::Other {
            message: "x".into(),
        },
    ];
    for failure in failures {
        let facts = Facts {
            audit_log: Fact::Known(AuditTrail::Unreadable {
                failure: failure.clone(),
            }),
            ..good_facts()
        };
        assert!(
            matches!(
                decide(&event(CONFLICT), &facts, &enforce()).decision,
                Decision::Overwrite(_)
            ),
            "{failure:?}"
        );
    }
    // The alert says the writer could not be checked, and why (a dry-run shows it without EKS).
    let facts = Facts {
        audit_log: Fact::Known(AuditTrail::Unreadable {
            failure: AuditFailure::LogGroupNotFound,
        }),
        ..good_facts()
    };
    let plan = decide(&event(CONFLICT), &facts, &dry_run());
    let alert = coverage_core::render(&plan, &plan.outcome_without_call().unwrap());
    for text in [&alert.text_message, &alert.chat_message] {
        assert!(text.contains("Last writer: could not be checked: the cluster has no control-plane log group /aws/eks/prod-payments/cluster"), "{text}");
        assert!(
            text.contains(
                "aws eks update-cluster-config --region us-east-1 --name prod-payments --logging"
            ),
            "{text}"
        );
    }
    for audit_log in [
        Fact::Unavailable("no answer within 4000 ms".into()),
        Fact::NotGathered,
    ] {
        let facts = Facts {
            audit_log,
            ..good_facts()
        };
        assert!(matches!(
            decide(&event(CONFLICT), &facts, &enforce()).decision,
            Decision::Overwrite(_)
        ));
    }
}

#[test]
fn the_operator_names_more_controllers() {
    let t = event_time() - 3_600;
    let policy = Policy {
        audit: coverage_core::audit::AuditSettings {
            controllers: ControllerName::parse_list(
                "system:serviceaccount:cattle-fleet-system:fleet-agent, fleet-agent",
            )
            .unwrap(),
            ..Default::default()
        },
        ..enforce()
    };
    for (user, agent) in [
        (
            "system:serviceaccount:cattle-fleet-system:fleet-agent",
            "Go-http-client/2.0",
        ),
        ("someone", "fleet-agent/v0.9 (linux)"),
    ] {
        let decision = decision_with(vec![change(t, user, agent)], &policy);
        assert_eq!(
            skip_reason(&decision).label(),
            "changed-by-controller",
            "{user}"
        );
        // Without the setting the same writer is not a controller.
        assert!(matches!(
            decision_with(vec![change(t, user, agent)], &enforce()),
            Decision::Overwrite(_)
        ));
    }
    // The configured names win over the built-in classes.
    let as_controller = Policy {
        audit: coverage_core::audit::AuditSettings {
            controllers: vec![ControllerName::parse("alice").unwrap()],
            ..Default::default()
        },
        ..enforce()
    };
    assert_eq!(
        skip_reason(&decision_with(
            vec![change(t, "alice", "kubectl/v1.30")],
            &as_controller
        ))
        .label(),
        "changed-by-controller"
    );
    assert!(ControllerName::parse_list("").unwrap().is_empty());
    assert!(ControllerName::parse_list("a,,b").is_err());
    assert!(ControllerName::parse("two words").is_err());
    assert!(ControllerName::parse(&"x".repeat(257)).is_err());
    assert!(ControllerName::parse(&"x".repeat(256)).is_ok());
}

#[test]
fn the_controller_check_comes_after_the_live_coverage_and_before_the_bound() {
    let t = event_time() - 3_600;
    let mut facts = with_changes(vec![change(t, ARGO_USER, ARGO_AGENT)]);
    facts.coverage = Fact::Known(coverage(Some(CoverageStatus::Healthy)));
    assert_eq!(
        skip_reason(&decide(&event(CONFLICT), &facts, &enforce()).decision).label(),
        "already-healthy"
    );
    let mut facts = with_changes(vec![change(t, ARGO_USER, ARGO_AGENT)]);
    facts.update_history = Fact::Known(vec![update("u-1", UpdateStatus::Successful, t - 60, true)]);
    assert_eq!(
        skip_reason(&decide(&event(CONFLICT), &facts, &enforce()).decision).label(),
        "changed-by-controller"
    );
}
