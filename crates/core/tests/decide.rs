//! The decision and its guardrails: every reason the OVERWRITE is not made,
//! the exact request when it is, and the outcomes of the other kinds of event.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::decide::{
    Decision, NoAction, Outcome, SkipReason, Subject, client_request_token, parse_time,
};
use coverage_core::facts::{
    AddonState, AddonStatus, CoverageStatistics, LiveCoverage, UpdateRecord, UpdateStatus,
};
use coverage_core::policy::{ClusterSelection, OverwriteBound, parse_cluster_patterns};
use coverage_core::{
    Actionability, CoverageEvent, Fact, Facts, Policy, RemediationMode, decide, decode_event,
    facts_needed,
};
use serde_json::{Value, json};

const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
const EVENT_TIME: &str = "2026-03-14T09:21:07Z";
const CONFLICT: &str = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image";

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

fn now() -> i64 {
    parse_time(EVENT_TIME).unwrap() + 60
}

fn addon(status: AddonStatus) -> AddonState {
    AddonState {
        status,
        version: Some("v1.10.0-eksbuild.2".into()),
        configuration_values: Some(
            r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high"}"#.into(),
        ),
        health_issues: vec![],
        arn: Some(
            "arn:aws:eks:us-east-1:111122223333:addon/prod-payments/aws-guardduty-agent/abc".into(),
        ),
    }
}

fn unhealthy_coverage() -> LiveCoverage {
    LiveCoverage {
        coverage_status: Some("UNHEALTHY".into()),
        ..LiveCoverage::default()
    }
}

/// Facts under which every guardrail holds.
fn good_facts() -> Facts {
    Facts {
        now: Some(now()),
        function: None,
        detector_id: Fact::Known("12abc34d567e8fa901bc2d34e56789f0".into()),
        addon: Fact::Known(addon(AddonStatus::Degraded)),
        update_history: Fact::Known(vec![]),
        coverage: Fact::Known(unhealthy_coverage()),
        statistics: Fact::Known(CoverageStatistics {
            healthy: Some(3),
            unhealthy: Some(1),
        }),
    }
}

fn enforce() -> Policy {
    Policy {
        mode: RemediationMode::Enforce,
        ..Policy::default()
    }
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
    assert_eq!(request.client_request_token, client_request_token(EVENT_ID));
    assert_eq!(request.client_request_token, EVENT_ID);
    assert!(
        plan.outcome_without_call().is_none(),
        "an OVERWRITE plan needs the shell's call"
    );
}

#[test]
fn dry_run_plans_the_same_call_and_makes_none() {
    let policy = Policy {
        mode: RemediationMode::DryRun,
        ..Policy::default()
    };
    let plan = decide(&event(CONFLICT), &good_facts(), &policy);
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
fn offline_dry_run_lists_what_it_could_not_check() {
    let plan = decide(&event(CONFLICT), &Facts::offline(), &Policy::offline());
    let Decision::Skip {
        reason: SkipReason::DryRun,
        would_call: Some(request),
        unchecked,
    } = &plan.decision
    else {
        panic!("{:?}", plan.decision)
    };
    assert_eq!(unchecked.len(), 3, "{unchecked:?}");
    assert_eq!(request.addon_version, None);
    assert!(!request.addon_read);
}

/// A name, the policy and facts, and what the skip reason must be.
type GuardrailCase = (&'static str, Policy, Facts, fn(&SkipReason) -> bool);

#[test]
fn each_guardrail_has_its_own_skip_reason() {
    let conflict = event(CONFLICT);
    let cases: Vec<GuardrailCase> = vec![
        (
            "mode off",
            Policy {
                mode: RemediationMode::Off,
                ..Policy::default()
            },
            good_facts(),
            |r| *r == SkipReason::ModeOff,
        ),
        (
            "denied cluster",
            Policy {
                clusters: ClusterSelection {
                    allow: vec![],
                    deny: parse_cluster_patterns("prod-*").unwrap(),
                },
                ..enforce()
            },
            good_facts(),
            |r| matches!(r, SkipReason::ClusterExcluded { pattern } if pattern == "prod-*"),
        ),
        (
            "not allowed",
            Policy {
                clusters: ClusterSelection {
                    allow: parse_cluster_patterns("staging-*").unwrap(),
                    deny: vec![],
                },
                ..enforce()
            },
            good_facts(),
            |r| matches!(r, SkipReason::ClusterNotAllowed { .. }),
        ),
        (
            "creating",
            enforce(),
            Facts {
                addon: Fact::Known(addon(AddonStatus::Creating)),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::AddonBusy { status } if status == "CREATING"),
        ),
        (
            "updating",
            enforce(),
            Facts {
                addon: Fact::Known(addon(AddonStatus::Updating)),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::AddonBusy { status } if status == "UPDATING"),
        ),
        (
            "deleting",
            enforce(),
            Facts {
                addon: Fact::Known(addon(AddonStatus::Deleting)),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::AddonBusy { status } if status == "DELETING"),
        ),
        (
            "add-on unreadable",
            enforce(),
            Facts {
                addon: Fact::Unavailable("AccessDeniedException: no".into()),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::AddonUnreadable { why } if why.contains("AccessDenied")),
        ),
        (
            "add-on not read in enforce",
            enforce(),
            Facts {
                addon: Fact::NotGathered,
                ..good_facts()
            },
            |r| matches!(r, SkipReason::AddonUnreadable { .. }),
        ),
        (
            "already healthy",
            enforce(),
            Facts {
                coverage: Fact::Known(LiveCoverage {
                    coverage_status: Some("HEALTHY".into()),
                    ..LiveCoverage::default()
                }),
                ..good_facts()
            },
            |r| *r == SkipReason::AlreadyHealthy,
        ),
        (
            "history unreadable",
            enforce(),
            Facts {
                update_history: Fact::Unavailable("ThrottlingException".into()),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::HistoryUnreadable { .. }),
        ),
        (
            "bound reached",
            enforce(),
            Facts {
                update_history: Fact::Known(vec![update(
                    "u-1",
                    UpdateStatus::Successful,
                    now() - 7200,
                    true,
                )]),
                ..good_facts()
            },
            |r| {
                matches!(
                    r,
                    SkipReason::BoundReached {
                        count: 1,
                        max: 1,
                        ..
                    }
                )
            },
        ),
        (
            "already remediated for this event",
            enforce(),
            Facts {
                update_history: Fact::Known(vec![update(
                    "u-2",
                    UpdateStatus::InProgress,
                    now() - 30,
                    true,
                )]),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::AlreadyRemediated { update_id, status } if update_id == "u-2" && status == "InProgress"),
        ),
        (
            "another update in flight",
            enforce(),
            Facts {
                update_history: Fact::Known(vec![update(
                    "u-3",
                    UpdateStatus::InProgress,
                    now() - 7200,
                    false,
                )]),
                ..good_facts()
            },
            |r| matches!(r, SkipReason::UpdateInFlight { update_id } if update_id == "u-3"),
        ),
    ];
    for (name, policy, facts, expected) in cases {
        let plan = decide(&conflict, &facts, &policy);
        let reason = skip_reason(&plan.decision);
        assert!(expected(reason), "{name}: got {reason:?}");
        assert!(!reason.explain().is_empty());
    }
}

#[test]
fn the_bound_counts_only_overwrites_inside_the_window() {
    let facts = Facts {
        update_history: Fact::Known(vec![
            update("old", UpdateStatus::Successful, now() - 3 * 86_400, true),
            update(
                "not-overwrite",
                UpdateStatus::Successful,
                now() - 3600,
                false,
            ),
            update("recent", UpdateStatus::Failed, now() - 3600, true),
        ]),
        ..good_facts()
    };
    let bound_two = Policy {
        bound: OverwriteBound {
            max_updates: 2,
            window_seconds: 86_400,
        },
        ..enforce()
    };
    assert!(matches!(
        decide(&event(CONFLICT), &facts, &bound_two).decision,
        Decision::Overwrite(_)
    ));
    let bound_one = Policy {
        bound: OverwriteBound {
            max_updates: 1,
            window_seconds: 86_400,
        },
        ..enforce()
    };
    assert!(matches!(
        skip_reason(&decide(&event(CONFLICT), &facts, &bound_one).decision),
        SkipReason::BoundReached {
            count: 1,
            max: 1,
            window_seconds: 86_400
        }
    ));
    let wide = Policy {
        bound: OverwriteBound {
            max_updates: 2,
            window_seconds: 7 * 86_400,
        },
        ..enforce()
    };
    assert!(matches!(
        skip_reason(&decide(&event(CONFLICT), &facts, &wide).decision),
        SkipReason::BoundReached { count: 2, .. }
    ));
}

#[test]
fn a_member_accounts_cluster_is_never_written() {
    let mut value = event_json(CONFLICT);
    value["detail"]["resourceAccountId"] = json!("444455556666");
    let event = decode_event(&value).unwrap();
    let plan = decide(&event, &good_facts(), &enforce());
    assert!(matches!(
        skip_reason(&plan.decision),
        SkipReason::OtherAccount { resource_account, .. } if resource_account == "444455556666"
    ));
    let needed = facts_needed(&event, &enforce(), None);
    assert!(!needed.addon && !needed.update_history && needed.coverage);
}

#[test]
fn an_invalid_cluster_name_is_never_written() {
    let mut value = event_json(CONFLICT);
    value["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!("x; rm -rf /");
    let plan = decide(&decode_event(&value).unwrap(), &good_facts(), &enforce());
    assert!(matches!(
        skip_reason(&plan.decision),
        SkipReason::InvalidClusterName { .. }
    ));
}

#[test]
fn only_a_configuration_conflict_is_ever_overwritten() {
    for issue in [
        "Addon Update Failed:EKS Addon Issue - AccessDenied: priorityclasses.scheduling.k8s.io is forbidden",
        "Addon Status Unhealthy:EKS Addon Issue - InsufficientNumberOfReplicas: CrashLoopBackOff: Error",
        "Addon Deletion Failed:EKS Addon Issue - ConfigurationConflict: an undocumented type",
        "Others:ConfigurationConflict",
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
    assert_eq!(
        facts_needed(&decode_event(&ecs).unwrap(), &enforce(), None),
        Default::default()
    );

    let mut broken = event_json(CONFLICT);
    broken["detail"]["resourceDetails"] = json!("not an object");
    let plan = decide(&decode_event(&broken).unwrap(), &good_facts(), &enforce());
    assert!(
        matches!(&plan.subject, Subject::Unreadable { raw_event, .. } if raw_event.contains("not an object"))
    );
}

#[test]
fn reads_are_only_requested_where_they_can_matter() {
    let conflict = event(CONFLICT);
    let all = facts_needed(&conflict, &enforce(), None);
    assert!(all.addon && all.update_history && all.coverage && all.statistics);
    let off = facts_needed(
        &conflict,
        &Policy {
            mode: RemediationMode::Off,
            ..Policy::default()
        },
        None,
    );
    assert!(off.addon && !off.update_history);
    let manual = facts_needed(
        &event("Others:Error due to authorization failure"),
        &enforce(),
        None,
    );
    assert!(manual.addon && !manual.update_history);
}

#[test]
fn the_function_only_writes_in_its_own_account_and_region() {
    use coverage_core::facts::FunctionIdentity;
    let conflict = event(CONFLICT);
    let elsewhere = |arn: &str| Facts {
        function: FunctionIdentity::from_arn(arn),
        ..good_facts()
    };
    let plan = decide(
        &conflict,
        &elsewhere("arn:aws:lambda:us-east-1:999988887777:function:f"),
        &enforce(),
    );
    assert!(matches!(
        skip_reason(&plan.decision),
        SkipReason::OtherAccount { function_account, .. } if function_account == "999988887777"
    ));
    let plan = decide(
        &conflict,
        &elsewhere("arn:aws:lambda:eu-west-1:111122223333:function:f"),
        &enforce(),
    );
    assert!(matches!(
        skip_reason(&plan.decision),
        SkipReason::OtherRegion { function_region, .. } if function_region == "eu-west-1"
    ));
    let home = elsewhere("arn:aws:lambda:us-east-1:111122223333:function:f");
    assert!(matches!(
        decide(&conflict, &home, &enforce()).decision,
        Decision::Overwrite(_)
    ));
    let away = FunctionIdentity::from_arn("arn:aws:lambda:eu-west-1:111122223333:function:f");
    let needed = facts_needed(&conflict, &enforce(), away.as_ref());
    assert!(!needed.addon && !needed.update_history && needed.coverage);
}

#[test]
fn decisions_are_pure() {
    let conflict = event(CONFLICT);
    assert_eq!(
        decide(&conflict, &good_facts(), &enforce()),
        decide(&conflict, &good_facts(), &enforce())
    );
}
