//! The decision: from an event, the facts and the policy, a plan holding what
//! the alert is about and at most one action (the guarded OVERWRITE retry),
//! with the reason whenever that action is not taken. After the shell has
//! executed the plan it reports an `Outcome`, which the alert then states.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::{self, Actionability, Entry};
use crate::event::{CoverageEvent, Detail, Resource, Transition};
use crate::facts::{Fact, Facts, UpdateStatus, acting_account};
use crate::issue::{AddonIssueCode, Issue};
use crate::policy::{ClusterExclusion, Policy, RemediationMode};
use crate::text::is_eks_cluster_name;

/// The only add-on this project ever writes to.
pub const ADDON_NAME: &str = "aws-guardduty-agent";
/// The only conflict resolution it ever asks for.
pub const RESOLVE_CONFLICTS: &str = "OVERWRITE";

/// The exact `UpdateAddon` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverwriteRequest {
    pub cluster_name: String,
    pub addon_name: &'static str,
    /// The add-on's current version; `None` only in an offline dry-run.
    pub addon_version: Option<String>,
    /// The add-on's current configuration values, sent back unchanged so that
    /// OVERWRITE does not reset GuardDuty's own tuning.
    pub configuration_values: Option<String>,
    pub resolve_conflicts: &'static str,
    /// Derived from the event id: a redelivered event cannot start a second update.
    pub client_request_token: String,
    /// Whether the add-on was read; when not, version and values are placeholders.
    pub addon_read: bool,
}

impl OverwriteRequest {
    /// The call as an AWS CLI command, for the alert and for humans.
    pub fn as_cli(&self, region: &str) -> String {
        let version = self
            .addon_version
            .as_deref()
            .unwrap_or("<current addonVersion>");
        let mut command = format!(
            "aws eks update-addon --cluster-name {} --addon-name {} --region {} --resolve-conflicts {} --addon-version {} --client-request-token {}",
            self.cluster_name,
            self.addon_name,
            region,
            self.resolve_conflicts,
            shell_quote(version),
            shell_quote(&self.client_request_token),
        );
        match (&self.configuration_values, self.addon_read) {
            (Some(values), _) => {
                command.push_str(" --configuration-values ");
                command.push_str(&shell_quote(values));
            }
            (None, false) => {
                command.push_str(" --configuration-values '<current configurationValues, if any>'")
            }
            (None, true) => {}
        }
        command
    }
}

/// Single-quote for POSIX shells.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The idempotency token for an event: the event id itself when it is a
/// plain identifier (so auditors can match the update to the event), else a
/// SHA-256 of it.
pub fn client_request_token(event_id: &str) -> String {
    let plain = !event_id.is_empty()
        && event_id.len() <= 64
        && event_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if plain {
        event_id.to_owned()
    } else {
        Sha256::digest(event_id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// What the alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Subject {
    /// Coverage lost, with the catalog entry that explains why.
    CoverageLost {
        #[serde(serialize_with = "serialize_entry_id")]
        entry: &'static Entry,
        issue: Issue,
    },
    CoverageRestored,
    /// A coverage event for a resource this project does not remediate (ECS).
    OutOfScope {
        resource_type: String,
    },
    /// The envelope is a coverage event but its detail cannot be read.
    Unreadable {
        error: String,
        raw_event: String,
    },
}

fn serialize_entry_id<S: serde::Serializer>(
    entry: &&'static Entry,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(entry.id)
}

/// Why no action applies to this event at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoAction {
    Recovered,
    OutOfScope,
    Unreadable,
    /// The catalog entry is not automatable; its steps are for people.
    NotAutomatable(Actionability),
}

/// Why the OVERWRITE retry was not made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum SkipReason {
    ModeOff,
    DryRun,
    InvalidClusterName {
        cluster: String,
    },
    OtherAccount {
        resource_account: String,
        function_account: String,
    },
    OtherRegion {
        event_region: String,
        function_region: String,
    },
    ClusterExcluded {
        pattern: String,
    },
    ClusterNotAllowed {
        cluster: String,
    },
    AddonUnreadable {
        why: String,
    },
    AddonBusy {
        status: String,
    },
    AlreadyHealthy,
    HistoryUnreadable {
        why: String,
    },
    UpdateInFlight {
        update_id: String,
    },
    AlreadyRemediated {
        update_id: String,
        status: String,
    },
    BoundReached {
        count: u32,
        max: u32,
        window_seconds: u64,
    },
}

impl SkipReason {
    /// Short machine label (`skipped-<label>` in summaries and attributes).
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::ModeOff => "mode-off",
            SkipReason::DryRun => "dry-run",
            SkipReason::InvalidClusterName { .. } => "invalid-cluster-name",
            SkipReason::OtherAccount { .. } => "other-account",
            SkipReason::OtherRegion { .. } => "other-region",
            SkipReason::ClusterExcluded { .. } => "cluster-excluded",
            SkipReason::ClusterNotAllowed { .. } => "cluster-not-allowed",
            SkipReason::AddonUnreadable { .. } => "addon-unreadable",
            SkipReason::AddonBusy { .. } => "addon-busy",
            SkipReason::AlreadyHealthy => "already-healthy",
            SkipReason::HistoryUnreadable { .. } => "history-unreadable",
            SkipReason::UpdateInFlight { .. } => "update-in-flight",
            SkipReason::AlreadyRemediated { .. } => "already-remediated",
            SkipReason::BoundReached { .. } => "bound-reached",
        }
    }

    /// A sentence for the alert.
    pub fn explain(&self) -> String {
        match self {
            SkipReason::ModeOff => "remediation is off (REMEDIATION_MODE=off)".to_owned(),
            SkipReason::DryRun => {
                "dry-run mode (REMEDIATION_MODE=dry-run) plans the call but never makes it"
                    .to_owned()
            }
            SkipReason::InvalidClusterName { cluster } => {
                format!("the event's cluster name {cluster:?} is not a valid EKS cluster name")
            }
            SkipReason::OtherAccount {
                resource_account,
                function_account,
            } => format!(
                "the cluster belongs to account {resource_account}, and this function only acts in its own account {function_account}"
            ),
            SkipReason::OtherRegion {
                event_region,
                function_region,
            } => format!(
                "the cluster is in {event_region}, and this function only acts in its own region {function_region}"
            ),
            SkipReason::ClusterExcluded { pattern } => {
                format!("the cluster is excluded by the deny-list pattern {pattern:?}")
            }
            SkipReason::ClusterNotAllowed { cluster } => {
                format!("the cluster {cluster:?} matches no allow-list pattern")
            }
            SkipReason::AddonUnreadable { why } => format!(
                "the add-on could not be read ({why}), so its version and configuration values cannot be kept"
            ),
            SkipReason::AddonBusy { status } => {
                format!("the add-on is {status}: another change is under way")
            }
            SkipReason::AlreadyHealthy => {
                "GuardDuty already reports the cluster's coverage as HEALTHY".to_owned()
            }
            SkipReason::HistoryUnreadable { why } => format!(
                "the add-on's update history could not be read ({why}), so the OVERWRITE bound cannot be checked"
            ),
            SkipReason::UpdateInFlight { update_id } => {
                format!("update {update_id} of the add-on is still in progress")
            }
            SkipReason::AlreadyRemediated { update_id, status } => format!(
                "an OVERWRITE update ({update_id}, {status}) was already started after this event"
            ),
            SkipReason::BoundReached {
                count,
                max,
                window_seconds,
            } => format!(
                "{count} OVERWRITE update(s) in the last {} reached the bound of {max}: a conflict that keeps coming back needs a person",
                human_duration(*window_seconds)
            ),
        }
    }
}

fn human_duration(seconds: u64) -> String {
    if seconds.is_multiple_of(86_400) && seconds >= 86_400 {
        let days = seconds / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else if seconds.is_multiple_of(3600) && seconds >= 3600 {
        let hours = seconds / 3600;
        format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
    } else {
        format!("{seconds} s")
    }
}

/// The decision about the one possible action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "decision")]
pub enum Decision {
    NoAction {
        why: NoAction,
    },
    Skip {
        reason: SkipReason,
        /// The call that would have been made (dry-run).
        would_call: Option<OverwriteRequest>,
        /// Guardrails that could not be checked because a fact was not gathered.
        unchecked: Vec<&'static str>,
    },
    Overwrite(OverwriteRequest),
}

/// What happened, once the shell has executed the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    NoAction {
        why: NoAction,
    },
    Skipped {
        reason: SkipReason,
        would_call: Option<OverwriteRequest>,
        unchecked: Vec<&'static str>,
    },
    UpdateStarted {
        request: OverwriteRequest,
        update_id: String,
        status: String,
    },
    /// EKS answered ResourceInUseException: an update is already in flight.
    UpdateInFlight {
        request: OverwriteRequest,
        message: String,
    },
    UpdateFailed {
        request: OverwriteRequest,
        error: String,
    },
}

impl Outcome {
    /// `none` or `overwrite-addon`: whether the OVERWRITE was considered.
    pub fn action_label(&self) -> &'static str {
        match self {
            Outcome::NoAction { .. } => "none",
            _ => "overwrite-addon",
        }
    }

    pub fn label(&self) -> String {
        match self {
            Outcome::NoAction { why } => match why {
                NoAction::Recovered => "recovery-notice".to_owned(),
                NoAction::OutOfScope => "out-of-scope".to_owned(),
                NoAction::Unreadable => "unreadable-event".to_owned(),
                NoAction::NotAutomatable(actionability) => actionability.as_str().to_owned(),
            },
            Outcome::Skipped { reason, .. } => format!("skipped-{}", reason.label()),
            Outcome::UpdateStarted { .. } => "update-started".to_owned(),
            Outcome::UpdateInFlight { .. } => "update-in-flight".to_owned(),
            Outcome::UpdateFailed { .. } => "update-failed".to_owned(),
        }
    }

    pub fn update_id(&self) -> Option<&str> {
        match self {
            Outcome::UpdateStarted { update_id, .. } => Some(update_id),
            _ => None,
        }
    }
}

/// The plan for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub event: CoverageEvent,
    pub subject: Subject,
    pub decision: Decision,
    pub facts: Facts,
    pub mode: RemediationMode,
}

/// What the shell does next with a plan.
// Built and matched at once, never stored: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Make this `UpdateAddon` call and report what EKS answers.
    Call(&'a OverwriteRequest),
    /// Nothing to call: this is the outcome.
    Report(Outcome),
}

impl Plan {
    pub fn step(&self) -> Step<'_> {
        match &self.decision {
            Decision::NoAction { why } => Step::Report(Outcome::NoAction { why: why.clone() }),
            Decision::Skip {
                reason,
                would_call,
                unchecked,
            } => Step::Report(Outcome::Skipped {
                reason: reason.clone(),
                would_call: would_call.clone(),
                unchecked: unchecked.clone(),
            }),
            Decision::Overwrite(request) => Step::Call(request),
        }
    }

    /// The outcome when the plan makes no call; `None` when the shell must
    /// make the OVERWRITE call and report what EKS answered.
    pub fn outcome_without_call(&self) -> Option<Outcome> {
        match self.step() {
            Step::Report(outcome) => Some(outcome),
            Step::Call(_) => None,
        }
    }
}

/// Decide. Pure: the same event, facts and policy always give the same plan.
pub fn decide(event: &CoverageEvent, facts: &Facts, policy: &Policy) -> Plan {
    let (subject, decision) = match &event.detail {
        Detail::Malformed { error, raw_event } => (
            Subject::Unreadable {
                error: error.to_string(),
                raw_event: raw_event.clone(),
            },
            Decision::NoAction {
                why: NoAction::Unreadable,
            },
        ),
        Detail::Decoded(detail) => match (&detail.resource, event.envelope.transition) {
            (Resource::Ecs(_), _) => (
                Subject::OutOfScope {
                    resource_type: "ECS".to_owned(),
                },
                Decision::NoAction {
                    why: NoAction::OutOfScope,
                },
            ),
            (Resource::Other { resource_type }, _) => (
                Subject::OutOfScope {
                    resource_type: resource_type.clone(),
                },
                Decision::NoAction {
                    why: NoAction::OutOfScope,
                },
            ),
            (Resource::Eks(_), Transition::Healthy) => (
                Subject::CoverageRestored,
                Decision::NoAction {
                    why: NoAction::Recovered,
                },
            ),
            (Resource::Eks(_), Transition::Unhealthy) => {
                let issue = detail.issue.clone().unwrap_or_else(|| Issue::parse(""));
                let entry = catalog::classify(&issue);
                let decision = decide_overwrite(event, entry, &issue, facts, policy);
                (Subject::CoverageLost { entry, issue }, decision)
            }
        },
    };
    Plan {
        event: event.clone(),
        subject,
        decision,
        facts: facts.clone(),
        mode: policy.mode,
    }
}

fn skip(reason: SkipReason) -> Decision {
    Decision::Skip {
        reason,
        would_call: None,
        unchecked: Vec::new(),
    }
}

/// The guardrails of the OVERWRITE retry, in order; the first that fails is the reason.
fn decide_overwrite(
    event: &CoverageEvent,
    entry: &'static Entry,
    issue: &Issue,
    facts: &Facts,
    policy: &Policy,
) -> Decision {
    // Safety interlock independent of the catalog's data: only a
    // ConfigurationConflict is ever overwritten.
    let is_conflict = issue.addon_code() == Some(&AddonIssueCode::ConfigurationConflict)
        && issue.issue_type.is_addon_failure();
    if entry.actionability != Actionability::AutomaticOverwrite || !is_conflict {
        return Decision::NoAction {
            why: NoAction::NotAutomatable(entry.actionability),
        };
    }
    if policy.mode == RemediationMode::Off {
        return skip(SkipReason::ModeOff);
    }
    let dry_run = policy.mode == RemediationMode::DryRun;
    let mut unchecked = Vec::new();

    let cluster = event.cluster_name().unwrap_or_default();
    if !is_eks_cluster_name(cluster) {
        return skip(SkipReason::InvalidClusterName {
            cluster: cluster.to_owned(),
        });
    }
    let function_account = acting_account(event, facts.function.as_ref())
        .unwrap_or_default()
        .to_owned();
    if let Some(resource_account) = event.resource_account()
        && resource_account != function_account
    {
        return skip(SkipReason::OtherAccount {
            resource_account: resource_account.to_owned(),
            function_account,
        });
    }
    if let Some(function) = &facts.function {
        let event_region = event.envelope.region.as_deref().unwrap_or_default();
        if event_region != function.region {
            return skip(SkipReason::OtherRegion {
                event_region: event_region.to_owned(),
                function_region: function.region.clone(),
            });
        }
    }
    match policy.clusters.check(cluster) {
        Ok(()) => {}
        Err(ClusterExclusion::Denied { pattern }) => {
            return skip(SkipReason::ClusterExcluded { pattern });
        }
        Err(ClusterExclusion::NotAllowed) => {
            return skip(SkipReason::ClusterNotAllowed {
                cluster: cluster.to_owned(),
            });
        }
    }

    let event_time = event.envelope.time.as_deref().and_then(parse_time);
    let history = match &facts.update_history {
        Fact::Known(history) => Some(history),
        Fact::Unavailable(why) => return skip(SkipReason::HistoryUnreadable { why: why.clone() }),
        Fact::NotGathered if dry_run => {
            unchecked
                .push("update history (already remediated, update in flight, OVERWRITE bound)");
            None
        }
        Fact::NotGathered => {
            return skip(SkipReason::HistoryUnreadable {
                why: "it was not read".to_owned(),
            });
        }
    };
    if let Some(history) = history {
        let after_event = |created: Option<i64>| match (created, event_time) {
            (Some(created), Some(event_time)) => created >= event_time,
            _ => false,
        };
        if let Some(done) = history
            .iter()
            .find(|u| u.is_overwrite() && after_event(u.created_at))
        {
            return skip(SkipReason::AlreadyRemediated {
                update_id: done.id.clone(),
                status: done.status.as_str().to_owned(),
            });
        }
        if let Some(running) = history
            .iter()
            .find(|u| u.status == UpdateStatus::InProgress)
        {
            return skip(SkipReason::UpdateInFlight {
                update_id: running.id.clone(),
            });
        }
    }

    let addon = match &facts.addon {
        Fact::Known(addon) => Some(addon),
        Fact::Unavailable(why) => return skip(SkipReason::AddonUnreadable { why: why.clone() }),
        Fact::NotGathered if dry_run => {
            unchecked.push("add-on status (CREATING, UPDATING, DELETING) and its current version and configuration values");
            None
        }
        Fact::NotGathered => {
            return skip(SkipReason::AddonUnreadable {
                why: "it was not read".to_owned(),
            });
        }
    };
    if let Some(addon) = addon {
        if addon.status.is_transitional() {
            return skip(SkipReason::AddonBusy {
                status: addon.status.as_str().to_owned(),
            });
        }
        if addon.version.is_none() {
            return skip(SkipReason::AddonUnreadable {
                why: "DescribeAddon returned no addonVersion".to_owned(),
            });
        }
    }

    match &facts.coverage {
        Fact::Known(coverage) if coverage.is_healthy() => return skip(SkipReason::AlreadyHealthy),
        Fact::Known(_) => {}
        Fact::Unavailable(_) | Fact::NotGathered => {
            unchecked.push("live coverage (already HEALTHY)")
        }
    }

    if let Some(history) = history {
        let window = i64::try_from(policy.bound.window_seconds).unwrap_or(i64::MAX);
        let in_window = |created: Option<i64>| match (created, facts.now) {
            (Some(created), Some(now)) => now.saturating_sub(created) < window,
            // Without a date, count it: the bound errs on the side of not writing.
            _ => true,
        };
        let count = history
            .iter()
            .filter(|u| u.is_overwrite() && in_window(u.created_at))
            .count();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if count >= policy.bound.max_updates {
            return skip(SkipReason::BoundReached {
                count,
                max: policy.bound.max_updates,
                window_seconds: policy.bound.window_seconds,
            });
        }
    }

    let request = OverwriteRequest {
        cluster_name: cluster.to_owned(),
        addon_name: ADDON_NAME,
        addon_version: addon.and_then(|a| a.version.clone()),
        configuration_values: addon.and_then(|a| a.configuration_values.clone()),
        resolve_conflicts: RESOLVE_CONFLICTS,
        client_request_token: client_request_token(&event.envelope.id),
        addon_read: addon.is_some(),
    };
    if dry_run {
        Decision::Skip {
            reason: SkipReason::DryRun,
            would_call: Some(request),
            unchecked,
        }
    } else {
        Decision::Overwrite(request)
    }
}

/// RFC 3339 to seconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    let time = humantime::parse_rfc3339_weak(text.trim().trim_end_matches('Z')).ok()?;
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(seconds).ok()
}

/// Seconds since the epoch to RFC 3339.
pub fn format_time(seconds: i64) -> String {
    match u64::try_from(seconds) {
        Ok(secs) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.min(253_402_300_799)),
        )
        .to_string(),
        Err(_) => seconds.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_event_id_or_a_digest() {
        assert_eq!(
            client_request_token("4f1c2a9e-7b3d-4e8a"),
            "4f1c2a9e-7b3d-4e8a"
        );
        let hashed = client_request_token("weird id with spaces");
        assert_eq!(hashed.len(), 64);
        assert_eq!(hashed, client_request_token("weird id with spaces"));
        assert_ne!(hashed, client_request_token("weird id with spaces!"));
    }

    #[test]
    fn times_round_trip() {
        let t = parse_time("2026-03-14T09:21:07Z").unwrap();
        assert_eq!(format_time(t), "2026-03-14T09:21:07Z");
        assert_eq!(parse_time("2026-03-14T09:21:07.123Z"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn cli_quotes_configuration_values() {
        let request = OverwriteRequest {
            cluster_name: "prod".into(),
            addon_name: ADDON_NAME,
            addon_version: Some("v1.10.0-eksbuild.2".into()),
            configuration_values: Some("{\"dnsPolicy\":\"Default\",\"x\":\"it's\"}".into()),
            resolve_conflicts: RESOLVE_CONFLICTS,
            client_request_token: "abc".into(),
            addon_read: true,
        };
        let cli = request.as_cli("us-east-1");
        assert!(cli.contains("--resolve-conflicts OVERWRITE"));
        assert!(cli.contains("--addon-version v1.10.0-eksbuild.2"));
        assert!(
            cli.contains(r#"--configuration-values '{"dnsPolicy":"Default","x":"it'\''s"}'"#),
            "{cli}"
        );
    }
}
