//! What the shell found out about the world for one event: the add-on, its
//! update history, GuardDuty's live coverage, the account's coverage
//! statistics, where the function runs and the current time. Every read can
//! fail on its own; a failed read is a fact too (`Unavailable`, with the
//! reason), and the alert says so. Facts serialize to and from JSON in the
//! shape the pipeline asks for, so `coverage replay --facts` can replay them.

use serde::{Deserialize, Serialize};

use crate::audit::AuditTrail;
use crate::ids::FunctionIdentity;
use crate::issue::AddonIssueCode;

/// The outcome of one read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "value")]
pub enum Fact<T> {
    Known(T),
    /// The read was attempted and failed; the reason is for humans.
    Unavailable(String),
    /// Nobody tried (offline, or not needed for this event).
    #[default]
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

/// A status string from AWS, as an enum with a catch-all; serialized as AWS
/// spells it. Unknown values are kept so the alert can quote them, and every
/// guardrail treats them as "do not act".
macro_rules! aws_status {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)*
            /// A value this code does not know, or `""` when AWS sent none.
            Unknown(String),
        }

        impl $name {
            pub fn parse(text: &str) -> $name {
                match text {
                    $($text => $name::$variant,)*
                    other => $name::Unknown(crate::text::clip(other, 64)),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(text) => text,
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> $name {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(status: $name) -> String {
                status.as_str().to_owned()
            }
        }
    };
}

aws_status!(
    /// EKS add-on status (`DescribeAddon` `addon.status`).
    AddonStatus {
        Creating = "CREATING",
        Active = "ACTIVE",
        CreateFailed = "CREATE_FAILED",
        Updating = "UPDATING",
        Deleting = "DELETING",
        DeleteFailed = "DELETE_FAILED",
        Degraded = "DEGRADED",
        UpdateFailed = "UPDATE_FAILED",
    }
);

impl AddonStatus {
    /// A change is under way: another update now would collide with it.
    pub fn is_transitional(&self) -> bool {
        matches!(
            self,
            AddonStatus::Creating | AddonStatus::Updating | AddonStatus::Deleting
        )
    }
}

aws_status!(
    /// EKS update status (`DescribeUpdate` `update.status`).
    UpdateStatus {
        InProgress = "InProgress",
        Failed = "Failed",
        Cancelled = "Cancelled",
        Successful = "Successful",
    }
);

impl UpdateStatus {
    /// The update has ended, one way or the other.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            UpdateStatus::Failed | UpdateStatus::Cancelled | UpdateStatus::Successful
        )
    }
}

aws_status!(
    /// GuardDuty coverage status (`ListCoverage` `coverageStatus`).
    CoverageStatus {
        Healthy = "HEALTHY",
        Unhealthy = "UNHEALTHY",
    }
);

/// `DescribeAddon` for `aws-guardduty-agent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonState {
    /// Absent in a recorded file: EKS sent none.
    #[serde(default = "no_addon_status")]
    pub status: AddonStatus,
    pub version: Option<String>,
    /// GuardDuty's own tuning (priorityClassName, dnsPolicy, resources) lives here.
    #[serde(default)]
    pub configuration_values: Option<String>,
    #[serde(default)]
    pub health_issues: Vec<AddonHealthIssue>,
    #[serde(default)]
    pub arn: Option<String>,
}

impl AddonState {
    /// EKS itself reports a configuration conflict on the add-on now.
    pub fn reports_conflict(&self) -> bool {
        self.health_issues.iter().any(|issue| {
            AddonIssueCode::parse(&issue.code) == AddonIssueCode::ConfigurationConflict
        })
    }
}

fn no_addon_status() -> AddonStatus {
    AddonStatus::Unknown(String::new())
}

fn no_update_status() -> UpdateStatus {
    UpdateStatus::Unknown(String::new())
}

/// One of `DescribeAddon`'s `health.issues`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonHealthIssue {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One entry of the add-on's update history (`ListUpdates` + `DescribeUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecord {
    pub id: String,
    /// Absent in a recorded file: EKS sent none.
    #[serde(default = "no_update_status")]
    pub status: UpdateStatus,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// The `ResolveConflicts` parameter of the update, if it had one.
    #[serde(default)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveCoverage {
    /// The cluster the answer is about, as GuardDuty names it.
    pub cluster_name: Option<String>,
    /// The account the answer is about.
    pub account_id: Option<String>,
    pub coverage_status: Option<CoverageStatus>,
    pub issue: Option<String>,
    pub covered_nodes: Option<i64>,
    pub compatible_nodes: Option<i64>,
    pub management_type: Option<String>,
    pub addon_version: Option<String>,
    pub addon_status: Option<String>,
    pub updated_at: Option<i64>,
}

/// The account's coverage counts (`GetCoverageStatistics`, COUNT_BY_COVERAGE_STATUS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoverageStatistics {
    pub healthy: Option<i64>,
    pub unhealthy: Option<i64>,
}

/// Everything known for one event. Missing fields of a recorded file are
/// `NotGathered`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Facts {
    /// When the facts were read, seconds since the Unix epoch.
    pub now: Option<i64>,
    /// The function's own account and region, from its ARN.
    pub function: Fact<FunctionIdentity>,
    pub detector_id: Fact<String>,
    pub addon: Fact<AddonState>,
    pub update_history: Fact<Vec<UpdateRecord>>,
    pub coverage: Fact<LiveCoverage>,
    pub statistics: Fact<CoverageStatistics>,
    /// The cluster's audit log: who changed the agent's objects last.
    pub audit_log: Fact<AuditTrail>,
}

impl Facts {
    /// Nothing gathered: the offline replay.
    pub fn offline() -> Facts {
        Facts::default()
    }

    /// Keep only the reads `request` asked for: what the Lambda would have
    /// had (a recorded file may hold more).
    pub fn restricted_to(mut self, request: FactRequest) -> Facts {
        if !request.addon {
            self.addon = Fact::NotGathered;
        }
        if !request.update_history {
            self.update_history = Fact::NotGathered;
        }
        if !request.coverage {
            self.coverage = Fact::NotGathered;
        }
        if !request.statistics {
            self.statistics = Fact::NotGathered;
        }
        if !request.needs_detector() {
            self.detector_id = Fact::NotGathered;
        }
        if !request.audit_log {
            self.audit_log = Fact::NotGathered;
        }
        self
    }
}

/// Which reads the shell should make for an event: the core decides, the
/// shell only executes, so an event that needs nothing costs no AWS call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactRequest {
    /// `DescribeAddon` for `aws-guardduty-agent` on the event's cluster.
    pub addon: bool,
    /// `ListUpdates` + `DescribeUpdate` for the add-on (the OVERWRITE bound).
    pub update_history: bool,
    /// `ListDetectors` then `ListCoverage` for the cluster.
    pub coverage: bool,
    /// `ListDetectors` then `GetCoverageStatistics` for the account.
    pub statistics: bool,
    /// Logs Insights `StartQuery` + `GetQueryResults` on the cluster's audit
    /// log (the pipeline's `AuditQuery`).
    pub audit_log: bool,
}

impl FactRequest {
    pub fn needs_detector(&self) -> bool {
        self.coverage || self.statistics
    }

    pub fn is_empty(&self) -> bool {
        !(self.addon || self.update_history || self.coverage || self.statistics || self.audit_log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_known_and_keep_unknown() {
        assert_eq!(AddonStatus::parse("DEGRADED"), AddonStatus::Degraded);
        assert_eq!(
            AddonStatus::parse("SOMETHING_NEW"),
            AddonStatus::Unknown("SOMETHING_NEW".into())
        );
        assert_eq!(
            AddonStatus::parse("UPDATE_FAILED").as_str(),
            "UPDATE_FAILED"
        );
        assert!(UpdateStatus::parse("Successful").is_final());
        assert!(UpdateStatus::parse("Failed").is_final());
        assert!(UpdateStatus::parse("Cancelled").is_final());
        assert!(!UpdateStatus::parse("InProgress").is_final());
        assert!(!UpdateStatus::parse("").is_final());
        assert!(AddonStatus::Updating.is_transitional());
        assert!(!AddonStatus::Degraded.is_transitional());
    }

    #[test]
    fn facts_round_trip_through_json_and_default_to_not_gathered() {
        let facts: Facts = serde_json::from_str(
            r#"{"now": 5, "addon": {"state": "known", "value": {"status": "DEGRADED", "version": "v1",
                 "health_issues": [{"code": "ConfigurationConflict", "message": "m"}]}},
                "coverage": {"state": "unavailable", "value": "AccessDenied"}}"#,
        )
        .unwrap();
        assert_eq!(facts.now, Some(5));
        assert_eq!(facts.update_history, Fact::NotGathered);
        assert_eq!(facts.coverage, Fact::Unavailable("AccessDenied".into()));
        assert!(facts.addon.known().unwrap().reports_conflict());
        let again: Facts = serde_json::from_str(&serde_json::to_string(&facts).unwrap()).unwrap();
        assert_eq!(again, facts);
        assert!(serde_json::from_str::<Facts>(r#"{"typo": 1}"#).is_err());
        let nested_typo =
            r#"{"addon": {"state": "known", "value": {"status": "DEGRADED", "versoin": "v1"}}}"#;
        assert!(serde_json::from_str::<Facts>(nested_typo).is_err());
        let no_status: Facts = serde_json::from_str(
            r#"{"addon": {"state": "known", "value": {"version": "v1"}},
                "update_history": {"state": "known", "value": [{"id": "u"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            no_status.addon.known().unwrap().status,
            AddonStatus::Unknown(String::new())
        );
        assert_eq!(
            no_status.update_history.known().unwrap()[0].status,
            UpdateStatus::Unknown(String::new())
        );
    }

    #[test]
    fn restricting_keeps_only_what_was_asked() {
        let all = Facts {
            detector_id: Fact::Known("d".into()),
            addon: Fact::Unavailable("a".into()),
            update_history: Fact::Known(vec![]),
            coverage: Fact::Unavailable("c".into()),
            statistics: Fact::Unavailable("s".into()),
            audit_log: Fact::Unavailable("l".into()),
            ..Facts::default()
        };
        let none = all.clone().restricted_to(FactRequest::default());
        assert_eq!(none, Facts::default());
        let only_history = all.clone().restricted_to(FactRequest {
            update_history: true,
            ..FactRequest::default()
        });
        assert_eq!(only_history.update_history, Fact::Known(vec![]));
        assert_eq!(only_history.addon, Fact::NotGathered);
        assert_eq!(only_history.detector_id, Fact::NotGathered);
        assert_eq!(only_history.audit_log, Fact::NotGathered);
        let every = FactRequest {
            addon: true,
            update_history: true,
            coverage: true,
            statistics: true,
            audit_log: true,
        };
        assert_eq!(all.clone().restricted_to(every), all);
        assert!(FactRequest::default().is_empty());
        let only = |coverage: bool, statistics: bool| FactRequest {
            coverage,
            statistics,
            ..FactRequest::default()
        };
        assert!(only(true, false).needs_detector());
        assert!(only(false, true).needs_detector());
        assert!(only(true, true).needs_detector());
        assert!(!only(false, false).needs_detector());
        assert!(
            !FactRequest {
                addon: true,
                update_history: true,
                ..FactRequest::default()
            }
            .needs_detector()
        );
        let coverage_only = all.clone().restricted_to(only(true, false));
        assert_eq!(coverage_only.detector_id, Fact::Known("d".into()));
        assert_eq!(coverage_only.statistics, Fact::NotGathered);
        assert!(!every.is_empty());
        for one in [
            FactRequest {
                addon: true,
                ..FactRequest::default()
            },
            FactRequest {
                update_history: true,
                ..FactRequest::default()
            },
            FactRequest {
                coverage: true,
                ..FactRequest::default()
            },
            FactRequest {
                statistics: true,
                ..FactRequest::default()
            },
            FactRequest {
                audit_log: true,
                ..FactRequest::default()
            },
        ] {
            assert!(!one.is_empty(), "{one:?}");
        }
    }
}
