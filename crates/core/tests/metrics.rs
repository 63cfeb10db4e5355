//! The metrics each outcome produces: names, dimensions and counts, and that
//! no dimension value comes from untrusted text.

use coverage_core::catalog::Actionability;
use coverage_core::decide::NoAction;
use coverage_core::follow_up::{FollowUpSummary, Report, StillRunning};
use coverage_core::metrics::{
    Count, DEFAULT_NAMESPACE, MetricName, Service, SweepTally, of_facts, of_follow_up, of_outcome,
    of_publish, of_sweep,
};
use coverage_core::{Fact, Facts, Outcome, OverwriteRequest, SkipReason};

fn request() -> OverwriteRequest {
    OverwriteRequest {
        cluster_name: "prod".to_owned(),
        addon_name: "aws-guardduty-agent",
        addon_version: Some("v1.10.0-eksbuild.2".to_owned()),
        configuration_values: None,
        resolve_conflicts: "OVERWRITE",
        client_request_token: "e5a3f0c2-0000-4000-8000-000000000001".to_owned(),
        addon_read: true,
    }
}

fn one(metric: MetricName, value: Option<&'static str>) -> Count {
    Count {
        metric,
        dimension_value: value,
        value: 1,
    }
}

fn pairs(counts: &[Count]) -> Vec<(&'static str, Option<&'static str>, u64)> {
    counts
        .iter()
        .map(|c| (c.metric.as_str(), c.dimension_value, c.value))
        .collect()
}

#[test]
fn every_metric_has_a_distinct_name_and_a_dimension_exactly_where_counts_carry_one() {
    let mut names: Vec<&str> = MetricName::ALL.iter().map(|m| m.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), MetricName::ALL.len());
    assert_eq!(DEFAULT_NAMESPACE, "GuardDutyCoverage");
    let dimensioned: Vec<_> = MetricName::ALL
        .iter()
        .filter_map(|m| m.dimension().map(|d| (m.as_str(), d)))
        .collect();
    assert_eq!(
        dimensioned,
        [
            ("Remediations", "Outcome"),
            ("RemediationsSkipped", "Reason"),
            ("FactReadsFailed", "Service"),
            ("FollowUps", "Outcome"),
            ("SweepClusters", "Status"),
        ]
    );
    // Every count any function returns agrees with its metric's dimension.
    let outcomes = [
        Outcome::UpdateFailed {
            request: request(),
            error: "x".into(),
        },
        Outcome::Skipped {
            reason: SkipReason::DryRun,
            would_call: None,
            unchecked: vec![],
        },
    ];
    let mut all: Vec<Count> = outcomes.iter().flat_map(of_outcome).collect();
    all.extend(of_sweep(SweepTally {
        healthy: 1,
        unhealthy: 1,
        partial: 1,
        accounts_unreachable: 1,
    }));
    all.push(of_publish(true));
    for count in all {
        assert_eq!(
            count.metric.dimension().is_some(),
            count.dimension_value.is_some(),
            "{count:?}"
        );
    }
}

#[test]
fn services_are_lowercase_names() {
    let names: Vec<_> = [
        Service::Eks,
        Service::GuardDuty,
        Service::Logs,
        Service::Sts,
    ]
    .iter()
    .map(|s| s.as_str())
    .collect();
    assert_eq!(names, ["eks", "guardduty", "logs", "sts"]);
}

#[test]
fn publish_counts_published_or_undelivered() {
    assert_eq!(of_publish(true), one(MetricName::AlertsPublished, None));
    assert_eq!(of_publish(false), one(MetricName::AlertsUndelivered, None));
}

#[test]
fn no_action_outcomes_count_no_remediation() {
    for why in [
        NoAction::Recovered,
        NoAction::OutOfScope,
        NoAction::Unreadable,
        NoAction::NotAutomatable(Actionability::Manual),
    ] {
        assert_eq!(of_outcome(&Outcome::NoAction { why }), []);
    }
}

#[test]
fn skips_count_by_their_reason_label_never_by_untrusted_text() {
    let hostile = "<!channel> \u{1b}[31m".to_owned();
    let counts = of_outcome(&Outcome::Skipped {
        reason: SkipReason::UntrustedSource { source: hostile },
        would_call: Some(request()),
        unchecked: vec![],
    });
    assert_eq!(
        pairs(&counts),
        [("RemediationsSkipped", Some("untrusted-source"), 1)]
    );
    assert_eq!(
        pairs(&of_outcome(&Outcome::Skipped {
            reason: SkipReason::DryRun,
            would_call: None,
            unchecked: vec![],
        })),
        [("RemediationsSkipped", Some("dry-run"), 1)]
    );
}

#[test]
fn attempts_count_by_outcome_and_failures_also_count_as_failed() {
    let started = Outcome::UpdateStarted {
        request: request(),
        update_id: "u-1".into(),
        status: "InProgress".into(),
        follow_up: coverage_core::follow_up::FollowUpNote::NotConfigured,
    };
    assert_eq!(
        pairs(&of_outcome(&started)),
        [("Remediations", Some("update-started"), 1)]
    );
    let in_flight = Outcome::UpdateInFlight {
        request: request(),
        message: "busy".into(),
    };
    assert_eq!(
        pairs(&of_outcome(&in_flight)),
        [("Remediations", Some("update-in-flight"), 1)]
    );
    let failed = Outcome::UpdateFailed {
        request: request(),
        error: "AccessDenied".into(),
    };
    assert_eq!(
        pairs(&of_outcome(&failed)),
        [
            ("Remediations", Some("update-failed"), 1),
            ("RemediationsFailed", None, 1)
        ]
    );
    let unknown = Outcome::UpdateOutcomeUnknown {
        request: request(),
        why: "timeout".into(),
    };
    assert_eq!(
        pairs(&of_outcome(&unknown)),
        [
            ("Remediations", Some("update-outcome-unknown"), 1),
            ("RemediationsFailed", None, 1)
        ]
    );
}

#[test]
fn failed_reads_count_by_service_and_reads_not_made_do_not_count() {
    assert_eq!(of_facts(&Facts::offline()), []);
    let facts = Facts {
        detector_id: Fact::Unavailable("denied".into()),
        addon: Fact::Unavailable("timeout".into()),
        update_history: Fact::Unavailable("timeout".into()),
        coverage: Fact::NotGathered,
        statistics: Fact::Unavailable("throttled".into()),
        audit_log: Fact::Unavailable("no log group".into()),
        ..Facts::offline()
    };
    assert_eq!(
        pairs(&of_facts(&facts)),
        [
            ("FactReadsFailed", Some("guardduty"), 1),
            ("FactReadsFailed", Some("eks"), 1),
            ("FactReadsFailed", Some("eks"), 1),
            ("FactReadsFailed", Some("guardduty"), 1),
            ("FactReadsFailed", Some("logs"), 1),
        ]
    );
    let only_coverage = Facts {
        coverage: Fact::Unavailable("denied".into()),
        ..Facts::offline()
    };
    assert_eq!(
        pairs(&of_facts(&only_coverage)),
        [("FactReadsFailed", Some("guardduty"), 1)]
    );
}

#[test]
fn a_role_not_assumed_counts_the_account_once_not_every_read() {
    let facts = Facts {
        addon: Fact::Unavailable("role not assumed".into()),
        coverage: Fact::Unavailable("role not assumed".into()),
        role_not_assumed: Some("AccessDenied".into()),
        ..Facts::offline()
    };
    assert_eq!(
        pairs(&of_facts(&facts)),
        [
            ("AccountsUnreachable", None, 1),
            ("FactReadsFailed", Some("sts"), 1)
        ]
    );
}

type Row = (&'static str, Option<&'static str>, u64);

fn follow_up_summary(posted: bool) -> FollowUpSummary {
    FollowUpSummary {
        kind: "follow-up",
        event_id: "e".into(),
        update_id: "u".into(),
        cluster: "prod".into(),
        attempt: 1,
        outcome: "follow-up-failed".into(),
        next_schedule: None,
        message_id: posted.then(|| "m-1".to_owned()),
    }
}

#[test]
fn follow_ups_count_what_they_posted_and_a_failed_or_cancelled_update_as_failed() {
    let cases: [(Report, &[Row]); 4] = [
        (
            Report::Succeeded,
            &[
                ("FollowUps", Some("succeeded"), 1),
                ("AlertsPublished", None, 1),
            ],
        ),
        (
            Report::Failed,
            &[
                ("FollowUps", Some("failed"), 1),
                ("RemediationsFailed", None, 1),
                ("AlertsPublished", None, 1),
            ],
        ),
        (
            Report::Cancelled,
            &[
                ("FollowUps", Some("cancelled"), 1),
                ("RemediationsFailed", None, 1),
                ("AlertsPublished", None, 1),
            ],
        ),
        (
            Report::StillRunning {
                why: StillRunning::NotConfigured,
            },
            &[
                ("FollowUps", Some("still-running"), 1),
                ("AlertsPublished", None, 1),
            ],
        ),
    ];
    for (report, expected) in cases {
        let counts = of_follow_up(Some(&report), &follow_up_summary(true));
        assert_eq!(pairs(&counts), expected, "{report:?}");
        // Nothing posted (a reschedule, a duplicate): nothing counted.
        assert_eq!(of_follow_up(Some(&report), &follow_up_summary(false)), []);
    }
    assert_eq!(of_follow_up(None, &follow_up_summary(true)), []);
}

#[test]
fn a_sweep_counts_each_status_with_clusters_and_unreachable_accounts() {
    let counts = of_sweep(SweepTally {
        healthy: 980,
        unhealthy: 12,
        partial: 8,
        accounts_unreachable: 2,
    });
    assert_eq!(
        pairs(&counts),
        [
            ("SweepClusters", Some("healthy"), 980),
            ("SweepClusters", Some("unhealthy"), 12),
            ("SweepClusters", Some("partial"), 8),
            ("AccountsUnreachable", None, 2),
        ]
    );
    let quiet = of_sweep(SweepTally {
        healthy: 3,
        ..SweepTally::default()
    });
    assert_eq!(pairs(&quiet), [("SweepClusters", Some("healthy"), 3)]);
    assert_eq!(of_sweep(SweepTally::default()), []);
}
