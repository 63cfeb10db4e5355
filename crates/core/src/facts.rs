//! What the shell found out about the world before the decision: the add-on,
//! its update history, GuardDuty's live coverage and the account's coverage
//! statistics, and the current time. Every read can fail on its own; a failed
//! read is a fact too (`Unavailable`, with the reason), and the alert says so.

use serde::Serialize;

use crate::event::CoverageEvent;
use crate::policy::{Policy, RemediationMode};

/// The outcome of one read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "value")]
pub enum Fact<T> {
    Known(T),
    /// The read was attempted and failed; the reason is for humans.
    Unavailable(String),
    /// Nobody tried (offline, or not needed for this event).
    NotGathered,
}

impl<T> Fact<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(value) => Some(value),
            _ => None,
        }
    }
}

/// EKS add-on status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AddonStatus {
    Creating,
    Active,
    CreateFailed,
    Updating,
    Deleting,
    DeleteFailed,
    Degraded,
    UpdateFailed,
    Other(String),
}

impl AddonStatus {
    pub fn parse(status: &str) -> AddonStatus {
        match status {
            "CREATING" => AddonStatus::Creating,
            "ACTIVE" => AddonStatus::Active,
            "CREATE_FAILED" => AddonStatus::CreateFailed,
            "UPDATING" => AddonStatus::Updating,
            "DELETING" => AddonStatus::Deleting,
            "DELETE_FAILED" => AddonStatus::DeleteFailed,
            "DEGRADED" => AddonStatus::Degraded,
            "UPDATE_FAILED" => AddonStatus::UpdateFailed,
            other => AddonStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            AddonStatus::Creating => "CREATING",
            AddonStatus::Active => "ACTIVE",
            AddonStatus::CreateFailed => "CREATE_FAILED",
            AddonStatus::Updating => "UPDATING",
            AddonStatus::Deleting => "DELETING",
            AddonStatus::DeleteFailed => "DELETE_FAILED",
            AddonStatus::Degraded => "DEGRADED",
            AddonStatus::UpdateFailed => "UPDATE_FAILED",
            AddonStatus::Other(status) => status,
        }
    }

    /// A change is under way: another update now would collide with it.
    pub fn is_transitional(&self) -> bool {
        matches!(
            self,
            AddonStatus::Creating | AddonStatus::Updating | AddonStatus::Deleting
        )
    }
}

/// `DescribeAddon` for `aws-guardduty-agent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonState {
    pub status: AddonStatus,
    pub version: Option<String>,
    /// GuardDuty's own tuning (priorityClassName, dnsPolicy, resources) lives here.
    pub configuration_values: Option<String>,
    pub health_issues: Vec<AddonHealthIssue>,
    pub arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonHealthIssue {
    pub code: String,
    pub message: String,
}

/// EKS update status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum UpdateStatus {
    InProgress,
    Failed,
    Cancelled,
    Successful,
    Other(String),
}

impl UpdateStatus {
    pub fn parse(status: &str) -> UpdateStatus {
        match status {
            "InProgress" => UpdateStatus::InProgress,
            "Failed" => UpdateStatus::Failed,
            "Cancelled" => UpdateStatus::Cancelled,
            "Successful" => UpdateStatus::Successful,
            other => UpdateStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            UpdateStatus::InProgress => "InProgress",
            UpdateStatus::Failed => "Failed",
            UpdateStatus::Cancelled => "Cancelled",
            UpdateStatus::Successful => "Successful",
            UpdateStatus::Other(status) => status,
        }
    }
}

/// One entry of the add-on's update history (`ListUpdates` + `DescribeUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateRecord {
    pub id: String,
    pub status: UpdateStatus,
    /// Seconds since the Unix epoch.
    pub created_at: Option<i64>,
    /// The `ResolveConflicts` parameter of the update, if it had one.
    pub resolve_conflicts: Option<String>,
}

impl UpdateRecord {
    pub fn is_overwrite(&self) -> bool {
        self.resolve_conflicts
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("OVERWRITE"))
    }
}

/// GuardDuty's live view of the cluster (`ListCoverage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveCoverage {
    pub coverage_status: Option<String>,
    pub issue: Option<String>,
    pub covered_nodes: Option<i64>,
    pub compatible_nodes: Option<i64>,
    pub management_type: Option<String>,
    pub addon_version: Option<String>,
    pub addon_status: Option<String>,
    pub updated_at: Option<i64>,
}

impl LiveCoverage {
    pub fn is_healthy(&self) -> bool {
        self.coverage_status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("HEALTHY"))
    }
}

/// The account's coverage counts (`GetCoverageStatistics`, COUNT_BY_COVERAGE_STATUS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoverageStatistics {
    pub healthy: Option<i64>,
    pub unhealthy: Option<i64>,
}

/// Where this function runs, from its own ARN: it may only write there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionIdentity {
    pub account: String,
    pub region: String,
}

impl FunctionIdentity {
    /// From `arn:<partition>:lambda:<region>:<account>:function:<name>[:qualifier]`.
    pub fn from_arn(arn: &str) -> Option<FunctionIdentity> {
        let mut parts = arn.split(':');
        let (Some("arn"), Some(_partition), Some("lambda"), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        (crate::text::is_region(region) && crate::text::is_account_id(account)).then(|| {
            FunctionIdentity {
                account: account.to_owned(),
                region: region.to_owned(),
            }
        })
    }
}

/// Everything gathered for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// When the facts were read, seconds since the Unix epoch.
    pub now: Option<i64>,
    /// The function's own account and region; `None` offline.
    pub function: Option<FunctionIdentity>,
    pub detector_id: Fact<String>,
    pub addon: Fact<AddonState>,
    pub update_history: Fact<Vec<UpdateRecord>>,
    pub coverage: Fact<LiveCoverage>,
    pub statistics: Fact<CoverageStatistics>,
}

impl Facts {
    /// Nothing gathered: the offline replay.
    pub fn offline() -> Facts {
        Facts {
            now: None,
            function: None,
            detector_id: Fact::NotGathered,
            addon: Fact::NotGathered,
            update_history: Fact::NotGathered,
            coverage: Fact::NotGathered,
            statistics: Fact::NotGathered,
        }
    }
}

/// Which reads the shell should make for an event: the core decides, the
/// shell only executes, so an event that needs nothing costs no AWS call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FactRequest {
    /// `DescribeAddon` for `aws-guardduty-agent` on the event's cluster.
    pub addon: bool,
    /// `ListUpdates` + `DescribeUpdate` for the add-on (the OVERWRITE bound).
    pub update_history: bool,
    /// `ListDetectors` then `ListCoverage` for the cluster.
    pub coverage: bool,
    /// `ListDetectors` then `GetCoverageStatistics` for the account.
    pub statistics: bool,
}

impl FactRequest {
    pub fn needs_detector(&self) -> bool {
        self.coverage || self.statistics
    }
}

/// The reads worth making for this event under this policy, for a function
/// running where `function` says (when known).
pub fn facts_needed(
    event: &CoverageEvent,
    policy: &Policy,
    function: Option<&FunctionIdentity>,
) -> FactRequest {
    let Some(cluster) = event.eks_cluster() else {
        return FactRequest::default();
    };
    if !cluster
        .cluster_name
        .as_deref()
        .is_some_and(crate::text::is_eks_cluster_name)
    {
        return FactRequest::default();
    }
    // This function's credentials reach only its own account and region; a
    // member's cluster is visible through GuardDuty alone.
    let same_account = event.resource_account() == acting_account(event, function)
        && function.is_none_or(|f| event.envelope.region.as_deref() == Some(f.region.as_str()));
    let may_act = same_account
        && policy.mode != RemediationMode::Off
        && policy
            .clusters
            .check(cluster.cluster_name.as_deref().unwrap_or_default())
            .is_ok()
        && event.issue().is_some_and(|issue| {
            crate::catalog::classify(issue).actionability
                == crate::catalog::Actionability::AutomaticOverwrite
        })
        && event.envelope.transition == crate::event::Transition::Unhealthy;
    FactRequest {
        addon: same_account,
        update_history: may_act,
        coverage: true,
        statistics: true,
    }
}

/// The account this function acts in: its own when known, else the account
/// whose event bus delivered the event.
pub fn acting_account<'a>(
    event: &'a CoverageEvent,
    function: Option<&'a FunctionIdentity>,
) -> Option<&'a str> {
    function
        .map(|f| f.account.as_str())
        .or(event.envelope.account.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_identity_from_its_arn() {
        let identity = FunctionIdentity::from_arn(
            "arn:aws:lambda:eu-west-1:111122223333:function:coverage:live",
        )
        .unwrap();
        assert_eq!(identity.account, "111122223333");
        assert_eq!(identity.region, "eu-west-1");
        assert_eq!(
            FunctionIdentity::from_arn("arn:aws:sns:eu-west-1:111122223333:topic"),
            None
        );
        assert_eq!(FunctionIdentity::from_arn("garbage"), None);
    }
}
