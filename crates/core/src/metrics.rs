//! Which operational metrics an invocation produces: names, their one
//! dimension, and the counts, decided from what happened (the facts read,
//! the outcome, the follow-up's report, the sweep's tally). The shell hands
//! these counts to the `metrics` facade, whose CloudWatch embedded-metric
//! backend writes them; no EMF is written here, and nothing here does I/O.
//!
//! Every dimension value is a label from a closed set (a skip reason's label,
//! an outcome's label, a service name), never text from an event or AWS, so
//! a hostile event cannot create metrics or dimension values.

use crate::decide::{NoAction, Outcome};
use crate::facts::{Fact, Facts};
use crate::follow_up::{FollowUpSummary, Report, ReportKind};

/// The CloudWatch namespace when none is configured.
pub const DEFAULT_NAMESPACE: &str = "GuardDutyCoverage";

/// The metrics the function emits. The names are what the dashboard and
/// the alarms in `infra/template.yaml` refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricName {
    /// Messages published: alerts, recovery notices, follow-ups, digests.
    AlertsPublished,
    /// A message that could not be published (the invocation then fails and
    /// Lambda retries it).
    AlertsUndelivered,
    /// OVERWRITE attempts by outcome (dimension `Outcome`).
    Remediations,
    /// OVERWRITEs that failed: the call failed, its answer never came, or a
    /// follow-up saw the update fail. No dimension: the alarm's metric.
    RemediationsFailed,
    /// OVERWRITEs considered and not made, by skip reason (dimension `Reason`).
    RemediationsSkipped,
    /// Fact reads that failed, by service (dimension `Service`).
    FactReadsFailed,
    /// Member accounts whose role could not be assumed. No dimension: the
    /// alarm's metric.
    AccountsUnreachable,
    /// Follow-up outcomes posted (dimension `Outcome`).
    FollowUps,
    /// Clusters a sweep found, by status (dimension `Status`).
    SweepClusters,
}

impl MetricName {
    pub const ALL: [MetricName; 9] = [
        MetricName::AlertsPublished,
        MetricName::AlertsUndelivered,
        MetricName::Remediations,
        MetricName::RemediationsFailed,
        MetricName::RemediationsSkipped,
        MetricName::FactReadsFailed,
        MetricName::AccountsUnreachable,
        MetricName::FollowUps,
        MetricName::SweepClusters,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::AlertsPublished => "AlertsPublished",
            MetricName::AlertsUndelivered => "AlertsUndelivered",
            MetricName::Remediations => "Remediations",
            MetricName::RemediationsFailed => "RemediationsFailed",
            MetricName::RemediationsSkipped => "RemediationsSkipped",
            MetricName::FactReadsFailed => "FactReadsFailed",
            MetricName::AccountsUnreachable => "AccountsUnreachable",
            MetricName::FollowUps => "FollowUps",
            MetricName::SweepClusters => "SweepClusters",
        }
    }

    /// The metric's one dimension key, if it has one.
    pub fn dimension(self) -> Option<&'static str> {
        match self {
            MetricName::Remediations | MetricName::FollowUps => Some("Outcome"),
            MetricName::RemediationsSkipped => Some("Reason"),
            MetricName::FactReadsFailed => Some("Service"),
            MetricName::SweepClusters => Some("Status"),
            MetricName::AlertsPublished
            | MetricName::AlertsUndelivered
            | MetricName::RemediationsFailed
            | MetricName::AccountsUnreachable => None,
        }
    }
}

/// The AWS service a failed read belongs to: `FactReadsFailed`'s dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Eks,
    GuardDuty,
    Logs,
    Sts,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Eks => "eks",
            Service::GuardDuty => "guardduty",
            Service::Logs => "logs",
            Service::Sts => "sts",
        }
    }
}

/// One count to add: a metric, its dimension value when the metric has a
/// dimension, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub metric: MetricName,
    /// `Some` exactly when `metric.dimension()` is `Some`.
    pub dimension_value: Option<&'static str>,
    pub value: u64,
}

impl Count {
    fn one(metric: MetricName) -> Count {
        Count {
            metric,
            dimension_value: None,
            value: 1,
        }
    }

    fn one_of(metric: MetricName, dimension_value: &'static str) -> Count {
        Count {
            metric,
            dimension_value: Some(dimension_value),
            value: 1,
        }
    }
}

/// The reads that failed in one gathering, by service, and an unreachable
/// member account. A read not attempted is not a failure. When the member
/// role was not assumed, no read was attempted in that account (each is
/// `Unavailable` only because of that), so only the account counts.
pub fn of_facts(facts: &Facts) -> Vec<Count> {
    if facts.role_not_assumed.is_some() {
        return vec![
            Count::one(MetricName::AccountsUnreachable),
            Count::one_of(MetricName::FactReadsFailed, Service::Sts.as_str()),
        ];
    }
    let failed = [
        (Service::GuardDuty, is_unavailable(&facts.detector_id)),
        (Service::Eks, is_unavailable(&facts.addon)),
        (Service::Eks, is_unavailable(&facts.update_history)),
        (Service::GuardDuty, is_unavailable(&facts.coverage)),
        (Service::GuardDuty, is_unavailable(&facts.statistics)),
        (Service::Logs, is_unavailable(&facts.audit_log)),
    ];
    failed
        .into_iter()
        .filter(|(_, failed)| *failed)
        .map(|(service, _)| Count::one_of(MetricName::FactReadsFailed, service.as_str()))
        .collect()
}

fn is_unavailable<T>(fact: &Fact<T>) -> bool {
    matches!(fact, Fact::Unavailable(_))
}

/// Whether the alert reached its destination.
pub fn of_publish(published: bool) -> Count {
    Count::one(if published {
        MetricName::AlertsPublished
    } else {
        MetricName::AlertsUndelivered
    })
}

/// What an event's outcome adds: nothing for an alert with no OVERWRITE to
/// consider; a skip by its reason; an attempt by its outcome, and a failed
/// or unanswered one to `RemediationsFailed` as well.
pub fn of_outcome(outcome: &Outcome) -> Vec<Count> {
    match outcome {
        Outcome::NoAction { why } => match why {
            NoAction::Recovered
            | NoAction::OutOfScope
            | NoAction::Unreadable
            | NoAction::NotAutomatable(_) => Vec::new(),
        },
        Outcome::Skipped { reason, .. } => {
            vec![Count::one_of(
                MetricName::RemediationsSkipped,
                reason.label(),
            )]
        }
        Outcome::UpdateStarted { .. } => {
            vec![Count::one_of(MetricName::Remediations, "update-started")]
        }
        Outcome::UpdateInFlight { .. } => {
            vec![Count::one_of(MetricName::Remediations, "update-in-flight")]
        }
        Outcome::UpdateFailed { .. } => vec![
            Count::one_of(MetricName::Remediations, "update-failed"),
            Count::one(MetricName::RemediationsFailed),
        ],
        Outcome::UpdateOutcomeUnknown { .. } => vec![
            Count::one_of(MetricName::Remediations, "update-outcome-unknown"),
            Count::one(MetricName::RemediationsFailed),
        ],
    }
}

/// What a follow-up adds: the outcome it posted (a quiet reschedule or a
/// duplicate posts nothing), a failed or cancelled update to
/// `RemediationsFailed`, and the message it published.
pub fn of_follow_up(report: Option<&Report>, summary: &FollowUpSummary) -> Vec<Count> {
    let posted = summary.message_id.is_some();
    let mut counts = Vec::new();
    if let (true, Some(report)) = (posted, report) {
        let kind = report.kind();
        counts.push(Count::one_of(MetricName::FollowUps, kind.as_str()));
        if matches!(kind, ReportKind::Failed | ReportKind::Cancelled) {
            counts.push(Count::one(MetricName::RemediationsFailed));
        }
        counts.push(of_publish(true));
    }
    counts
}

/// A sweep's clusters by status, and the accounts it could not reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepTally {
    pub healthy: u64,
    pub unhealthy: u64,
    pub partial: u64,
    pub accounts_unreachable: u64,
}

/// What a sweep adds: each status with clusters, and the unreachable
/// accounts when any. A zero is not written (the EMF backend omits counters
/// that did not move); the dashboard fills the gaps with zeros.
pub fn of_sweep(tally: SweepTally) -> Vec<Count> {
    let mut counts: Vec<Count> = [
        ("healthy", tally.healthy),
        ("unhealthy", tally.unhealthy),
        ("partial", tally.partial),
    ]
    .into_iter()
    .filter(|(_, value)| *value > 0)
    .map(|(status, value)| Count {
        metric: MetricName::SweepClusters,
        dimension_value: Some(status),
        value,
    })
    .collect();
    if tally.accounts_unreachable > 0 {
        counts.push(Count {
            metric: MetricName::AccountsUnreachable,
            dimension_value: None,
            value: tally.accounts_unreachable,
        });
    }
    counts
}
