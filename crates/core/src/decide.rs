//! The decision: from an event, the facts and the policy, a plan holding what
//! the alert is about and at most one action (the guarded OVERWRITE retry),
//! with the reason whenever that action is not taken. After the shell has
//! executed the plan it reports an `Outcome`, which the alert then states.

use serde::Serialize;

use crate::catalog::{self, Actionability, Entry};
use crate::commands::{AddonSettings, overwrite_command};
use crate::event::{CoverageEvent, Detail, Resource, Transition};
use crate::facts::Facts;
use crate::follow_up::FollowUpNote;
use crate::guardrails;
use crate::issue::Issue;
use crate::policy::{Policy, RemediationMode};

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
    /// The call as an AWS CLI command, for the alert and for humans: the
    /// version and configuration values it keeps, or, where the add-on was
    /// not read, lines that fetch them first (never a placeholder).
    pub fn as_cli(&self, region: &str) -> String {
        let addon = self.addon_read.then(|| AddonSettings {
            version: self.addon_version.clone(),
            configuration_values: self.configuration_values.clone(),
        });
        overwrite_command(
            &self.cluster_name,
            region,
            addon.as_ref(),
            Some(&self.client_request_token),
        )
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

/// Why no action applies to this event at all. Serialized adjacently
/// tagged (`{"kind": "not-automatable", "actionability": "manual"}`) so that
/// every JSON key stays snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "actionability")]
pub enum NoAction {
    Recovered,
    OutOfScope,
    Unreadable,
    /// The catalog entry is not automatable; its steps are for people.
    NotAutomatable(Actionability),
}

/// A fact the guardrails depend on that was not gathered (offline replay,
/// dry-run) or, in a dry-run, could not be read: listed in the alert as not
/// checked, and a dry-run's reason stays "dry-run".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    FunctionIdentity,
    UpdateHistory,
    Addon,
    Coverage,
    /// Soft: listed when not read, never a reason not to write.
    AuditLog,
}

impl Evidence {
    pub fn describe(self) -> &'static str {
        match self {
            Evidence::FunctionIdentity => "where the function runs (its own account and region)",
            Evidence::UpdateHistory => {
                "update history (already remediated, update in flight, OVERWRITE bound)"
            }
            Evidence::Addon => {
                "add-on status, its health issues, and its current version and configuration values"
            }
            Evidence::Coverage => "live coverage (already HEALTHY)",
            Evidence::AuditLog => {
                "who changed the agent last (the cluster's audit log: a reconciling controller would undo the OVERWRITE)"
            }
        }
    }
}

/// Why the OVERWRITE retry was not made: one reason per guardrail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum SkipReason {
    ModeOff,
    DryRun,
    UntrustedSource {
        source: String,
    },
    InvalidEventId {
        id: String,
    },
    EventTimeUnreadable {
        time: Option<String>,
    },
    InvalidClusterName {
        cluster: String,
    },
    FunctionUnverified {
        why: String,
    },
    AccountUnknown,
    MemberAccount {
        resource_account: String,
        delivering_account: String,
    },
    OtherAccount {
        resource_account: String,
        function_account: String,
    },
    /// Member accounts are configured, and this one is not among them.
    MemberAccountNotAllowed {
        resource_account: String,
        function_account: String,
    },
    /// The member role could not be assumed, so nothing there was read.
    MemberRoleNotAssumed {
        role_arn: String,
        why: String,
    },
    RegionUnknown,
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
    HistoryUnreadable {
        why: String,
    },
    UpdateTimeUnknown {
        update_id: String,
    },
    AlreadyRemediated {
        update_id: String,
        status: String,
    },
    UpdateInFlight {
        update_id: String,
    },
    UpdateStatusUnknown {
        update_id: String,
        status: String,
    },
    ChangedSinceEvent {
        update_id: String,
    },
    AddonUnreadable {
        why: String,
    },
    AddonBusy {
        status: String,
    },
    AddonStatusUnknown {
        status: String,
    },
    AddonStatusNotEligible {
        status: String,
    },
    NoConflictReported {
        codes: Vec<String>,
    },
    CoverageUnreadable {
        why: String,
    },
    CoverageMismatch {
        cluster: Option<String>,
        account: Option<String>,
    },
    AlreadyHealthy,
    CoverageStatusUnknown {
        status: Option<String>,
    },
    /// The last change to a conflicting object came from a reconciling
    /// controller (Argo CD, Flux, or one the operator named): it would
    /// re-apply its version and fight the OVERWRITE.
    ChangedByController {
        controller: String,
        user: String,
        object: String,
        at: Option<i64>,
    },
    BoundReached {
        count: u32,
        max: u32,
        window_seconds: u64,
    },
    /// Too little of the invocation is left to make the call and publish its outcome.
    DeadlineTooClose {
        remaining_ms: u64,
    },
    /// The runtime's deadline is not a time in the future.
    DeadlineUnknown {
        deadline_ms: u64,
    },
    /// Approve mode: every guardrail holds; the pipeline asks for the
    /// approval token next (`approval`).
    AwaitingApproval,
    /// Approve mode: the token is issued; the call waits for the click.
    ApprovalOffered {
        token: String,
        /// The function the approval invokes (its ARN).
        function: String,
        expires_at: i64,
    },
    /// Approve mode: no token could be signed, so none is offered.
    ApprovalNotSigned {
        why: String,
    },
    /// The approved add-on is not the one there now.
    ApprovalStale {
        what: &'static str,
        approved: String,
        now: String,
    },
}

impl SkipReason {
    /// Short machine label (`skipped-<label>` in summaries and attributes).
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::ModeOff => "mode-off",
            SkipReason::DryRun => "dry-run",
            SkipReason::UntrustedSource { .. } => "untrusted-source",
            SkipReason::InvalidEventId { .. } => "invalid-event-id",
            SkipReason::EventTimeUnreadable { .. } => "event-time-unreadable",
            SkipReason::InvalidClusterName { .. } => "invalid-cluster-name",
            SkipReason::FunctionUnverified { .. } => "function-unverified",
            SkipReason::AccountUnknown => "account-unknown",
            SkipReason::MemberAccount { .. } => "member-account",
            SkipReason::OtherAccount { .. } => "other-account",
            SkipReason::MemberAccountNotAllowed { .. } => "member-account-not-allowed",
            SkipReason::MemberRoleNotAssumed { .. } => "member-role-not-assumed",
            SkipReason::RegionUnknown => "region-unknown",
            SkipReason::OtherRegion { .. } => "other-region",
            SkipReason::ClusterExcluded { .. } => "cluster-excluded",
            SkipReason::ClusterNotAllowed { .. } => "cluster-not-allowed",
            SkipReason::HistoryUnreadable { .. } => "history-unreadable",
            SkipReason::UpdateTimeUnknown { .. } => "update-time-unknown",
            SkipReason::AlreadyRemediated { .. } => "already-remediated",
            SkipReason::UpdateInFlight { .. } => "update-in-flight",
            SkipReason::UpdateStatusUnknown { .. } => "update-status-unknown",
            SkipReason::ChangedSinceEvent { .. } => "changed-since-event",
            SkipReason::AddonUnreadable { .. } => "addon-unreadable",
            SkipReason::AddonBusy { .. } => "addon-busy",
            SkipReason::AddonStatusUnknown { .. } => "addon-status-unknown",
            SkipReason::AddonStatusNotEligible { .. } => "addon-status-not-eligible",
            SkipReason::NoConflictReported { .. } => "no-conflict-reported",
            SkipReason::CoverageUnreadable { .. } => "coverage-unreadable",
            SkipReason::CoverageMismatch { .. } => "coverage-mismatch",
            SkipReason::AlreadyHealthy => "already-healthy",
            SkipReason::CoverageStatusUnknown { .. } => "coverage-status-unknown",
            SkipReason::ChangedByController { .. } => "changed-by-controller",
            SkipReason::BoundReached { .. } => "bound-reached",
            SkipReason::DeadlineTooClose { .. } => "deadline-too-close",
            SkipReason::DeadlineUnknown { .. } => "deadline-unknown",
            SkipReason::AwaitingApproval | SkipReason::ApprovalOffered { .. } => {
                "awaiting-approval"
            }
            SkipReason::ApprovalNotSigned { .. } => "approval-not-signed",
            SkipReason::ApprovalStale { .. } => "approval-stale",
        }
    }

    /// A sentence for the alert, in words a person on call understands.
    pub fn explain(&self) -> String {
        match self {
            SkipReason::ModeOff => "remediation is off (REMEDIATION_MODE=off)".to_owned(),
            SkipReason::DryRun => {
                "dry-run mode (REMEDIATION_MODE=dry-run) plans the call but never makes it"
                    .to_owned()
            }
            SkipReason::UntrustedSource { source } => format!(
                "the event's source is {source:?}, not aws.guardduty: only GuardDuty's own events may lead to a write"
            ),
            SkipReason::InvalidEventId { id } => format!(
                "the event id {id:?} is empty or not an EventBridge id, so it cannot serve as the update's idempotency token"
            ),
            SkipReason::EventTimeUnreadable { time: Some(time) } => format!(
                "could not verify when the event happened: its time {time:?} does not parse, so updates made since then cannot be told apart"
            ),
            SkipReason::EventTimeUnreadable { time: None } => "could not verify when the event happened: it has no time, so updates made since then cannot be told apart".to_owned(),
            SkipReason::InvalidClusterName { cluster } => {
                format!("the event's cluster name {cluster:?} is not a valid EKS cluster name")
            }
            SkipReason::FunctionUnverified { why } => format!(
                "could not verify which account and region this function runs in ({why}), and it only writes in its own"
            ),
            SkipReason::AccountUnknown => "could not verify the cluster's account: the event names no valid account".to_owned(),
            SkipReason::MemberAccount {
                resource_account,
                delivering_account,
            } => format!(
                "the cluster belongs to account {resource_account}, but the event came through account {delivering_account}'s event bus (a GuardDuty administrator's copy of a member's event): it is acted on only where the cluster and this function share an account"
            ),
            SkipReason::OtherAccount {
                resource_account,
                function_account,
            } => format!(
                "the cluster belongs to account {resource_account}, and this function only acts in its own account {function_account}"
            ),
            SkipReason::MemberAccountNotAllowed {
                resource_account,
                function_account,
            } => format!(
                "the cluster belongs to account {resource_account}, which is not one of the member accounts this function may act in (MEMBER_ACCOUNTS); it acts only in its own account {function_account} and those"
            ),
            SkipReason::MemberRoleNotAssumed { role_arn, why } => format!(
                "could not assume the member role {role_arn} ({why}), so nothing in that account was read or changed"
            ),
            SkipReason::RegionUnknown => "could not verify the cluster's region: the event names no valid region".to_owned(),
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
            SkipReason::HistoryUnreadable { why } => format!(
                "could not verify the add-on's update history ({why}), so neither an update in flight nor the OVERWRITE bound can be ruled out"
            ),
            SkipReason::UpdateTimeUnknown { update_id } => format!(
                "could not verify when add-on update {update_id} started (EKS gave no date), so it cannot be told apart from one made for this event"
            ),
            SkipReason::AlreadyRemediated { update_id, status } => format!(
                "an OVERWRITE update ({update_id}, {status}) was already started after this event"
            ),
            SkipReason::UpdateInFlight { update_id } => {
                format!("update {update_id} of the add-on is still in progress")
            }
            SkipReason::UpdateStatusUnknown { update_id, status } => format!(
                "could not verify that add-on update {update_id} has ended: its status is {}",
                if status.is_empty() { "missing".to_owned() } else { format!("{status:?}, which this function does not know") }
            ),
            SkipReason::ChangedSinceEvent { update_id } => format!(
                "the add-on was updated after this event (update {update_id}), so the event no longer describes its state"
            ),
            SkipReason::AddonUnreadable { why } => format!(
                "could not verify the add-on's state ({why}), so its version and configuration values cannot be kept"
            ),
            SkipReason::AddonBusy { status } => {
                format!("the add-on is {status}: another change is under way")
            }
            SkipReason::AddonStatusUnknown { status } => format!(
                "could not verify the add-on's status: EKS reported {}",
                if status.is_empty() { "none".to_owned() } else { format!("{status:?}, which this function does not know") }
            ),
            SkipReason::AddonStatusNotEligible { status } => format!(
                "the add-on is {status}; an OVERWRITE is only made from DEGRADED or UPDATE_FAILED, the states a configuration conflict leaves"
            ),
            SkipReason::NoConflictReported { codes } => format!(
                "EKS does not report a ConfigurationConflict on the add-on now (its health issues: {}), so the event's words are the only evidence",
                if codes.is_empty() { "none".to_owned() } else { codes.join(", ") }
            ),
            SkipReason::CoverageUnreadable { why } => format!(
                "could not verify GuardDuty's live coverage of the cluster ({why}): it may already be HEALTHY"
            ),
            SkipReason::CoverageMismatch { cluster, account } => format!(
                "GuardDuty's coverage answer is about another resource (cluster {}, account {}), so this cluster's live coverage is not verified",
                cluster.as_deref().unwrap_or("unnamed"),
                account.as_deref().unwrap_or("unnamed")
            ),
            SkipReason::AlreadyHealthy => {
                "GuardDuty already reports the cluster's coverage as HEALTHY".to_owned()
            }
            SkipReason::CoverageStatusUnknown { status } => format!(
                "could not verify that GuardDuty still reports the cluster UNHEALTHY: its coverage status is {}",
                status.as_deref().map_or("missing".to_owned(), |s| format!("{s:?}"))
            ),
            SkipReason::ChangedByController {
                controller,
                user,
                object,
                at,
            } => format!(
                "the last change to {object} was made by {controller} (user {user}) at {}: it would re-apply its own version and fight the OVERWRITE. Fix the source (the Git repository it syncs from) or make the change through the add-on's configuration values",
                at.map_or("an unknown time".to_owned(), format_time)
            ),
            SkipReason::BoundReached {
                count,
                max,
                window_seconds,
            } => format!(
                "{count} OVERWRITE update(s) in the last {} reached the bound of {max}: a conflict that keeps coming back needs a person",
                human_duration(*window_seconds)
            ),
            SkipReason::DeadlineUnknown { deadline_ms } => format!(
                "could not verify how long this invocation may run: the runtime's deadline ({deadline_ms}) is not a time in the future, so the call could be cut off before its outcome is reported"
            ),
            SkipReason::DeadlineTooClose { remaining_ms } => format!(
                "only {remaining_ms} ms of the invocation were left, too little to make the call and publish its outcome; the next delivery or a person can retry it"
            ),
            SkipReason::AwaitingApproval => "approve mode (REMEDIATION_MODE=approve): every guardrail holds, and the call waits for an approval".to_owned(),
            // The terminal command is not in this sentence: prose is made
            // inert in chat (`>` and `&` replaced), so a command in it would
            // not run as pasted. The plain-text alert prints it on its own.
            SkipReason::ApprovalOffered { expires_at, .. } => format!(
                "approve mode (REMEDIATION_MODE=approve): every guardrail holds; the \"Approve OVERWRITE\" button in the chat channel makes the call below until {} (UTC), after checking every guardrail again; it is refused after that, or if the add-on changed. To approve from a terminal instead, run the approval command of the plain-text alert (email) or of `coverage replay --mode approve`",
                crate::approval::time(*expires_at),
            ),
            SkipReason::ApprovalNotSigned { why } => format!(
                "approve mode (REMEDIATION_MODE=approve): every guardrail holds, but no approval token could be signed ({why}), so none is offered; a person can make the call below"
            ),
            SkipReason::ApprovalStale { what, approved, now } => format!(
                "the approval was for another add-on state: its {what} was {approved:?} when approved and is {now:?} now, so the approval does not cover it"
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
        unchecked: Vec<Evidence>,
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
        unchecked: Vec<Evidence>,
    },
    UpdateStarted {
        request: OverwriteRequest,
        update_id: String,
        status: String,
        /// Whether and when the update's result will be posted.
        follow_up: FollowUpNote,
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
    /// The call was made but no answer came in time: it may or may not have
    /// started an update. A retry is safe (same idempotency token).
    UpdateOutcomeUnknown {
        request: OverwriteRequest,
        why: String,
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
            Outcome::UpdateOutcomeUnknown { .. } => "update-outcome-unknown".to_owned(),
        }
    }

    pub fn update_id(&self) -> Option<&str> {
        match self {
            Outcome::UpdateStarted { update_id, .. } => Some(update_id),
            _ => None,
        }
    }

    /// What the alert says about the follow-up, for a started update.
    pub fn follow_up(&self) -> Option<&FollowUpNote> {
        match self {
            Outcome::UpdateStarted { follow_up, .. } => Some(follow_up),
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
    /// The operator's reconciling controllers, for the alert's audit lines.
    #[serde(skip)]
    pub controllers: Vec<crate::audit::ControllerName>,
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

/// What the event is about, the issue classified against the catalog.
pub fn subject_of(event: &CoverageEvent) -> Subject {
    match &event.detail {
        Detail::Malformed { error, raw_event } => Subject::Unreadable {
            error: error.to_string(),
            raw_event: raw_event.clone(),
        },
        Detail::Decoded(detail) => match (&detail.resource, event.envelope.transition) {
            (Resource::Ecs(_), _) => Subject::OutOfScope {
                resource_type: "ECS".to_owned(),
            },
            (Resource::Other { resource_type }, _) => Subject::OutOfScope {
                resource_type: resource_type.clone(),
            },
            (Resource::Eks(_), Transition::Healthy) => Subject::CoverageRestored,
            (Resource::Eks(_), Transition::Unhealthy) => {
                let issue = detail.issue.clone().unwrap_or_else(|| Issue::parse(""));
                let entry = catalog::classify(&issue);
                Subject::CoverageLost { entry, issue }
            }
        },
    }
}

/// Decide. Pure: the same event, facts and policy always give the same plan.
pub fn decide(event: &CoverageEvent, facts: &Facts, policy: &Policy) -> Plan {
    decide_subject(event, subject_of(event), facts, policy)
}

/// Decide for an event already classified (`subject_of`).
pub fn decide_subject(
    event: &CoverageEvent,
    subject: Subject,
    facts: &Facts,
    policy: &Policy,
) -> Plan {
    let decision = match &subject {
        Subject::Unreadable { .. } => Decision::NoAction {
            why: NoAction::Unreadable,
        },
        Subject::OutOfScope { .. } => Decision::NoAction {
            why: NoAction::OutOfScope,
        },
        Subject::CoverageRestored => Decision::NoAction {
            why: NoAction::Recovered,
        },
        Subject::CoverageLost { entry, issue } => {
            decide_overwrite(event, entry, issue, facts, policy)
        }
    };
    Plan {
        event: event.clone(),
        subject,
        decision,
        facts: facts.clone(),
        mode: policy.mode,
        controllers: policy.audit.controllers.clone(),
    }
}

fn skip(reason: SkipReason) -> Decision {
    Decision::Skip {
        reason,
        would_call: None,
        unchecked: Vec::new(),
    }
}

/// The OVERWRITE decision for a conflict the catalog allows to automate.
fn decide_overwrite(
    event: &CoverageEvent,
    entry: &'static Entry,
    issue: &Issue,
    facts: &Facts,
    policy: &Policy,
) -> Decision {
    if !guardrails::is_automatable(entry, issue) {
        return Decision::NoAction {
            why: NoAction::NotAutomatable(entry.actionability),
        };
    }
    let verdict = guardrails::check(event, policy, facts);
    let clearance = match verdict.result {
        Ok(clearance) => clearance,
        Err(reason) => return skip(reason),
    };
    let request = OverwriteRequest {
        cluster_name: clearance.cluster.to_string(),
        addon_name: ADDON_NAME,
        addon_version: clearance.addon.and_then(|a| a.version.clone()),
        configuration_values: clearance.addon.and_then(|a| a.configuration_values.clone()),
        resolve_conflicts: RESOLVE_CONFLICTS,
        client_request_token: clearance.event_id.to_string(),
        addon_read: clearance.addon.is_some(),
    };
    match policy.mode {
        RemediationMode::Enforce => Decision::Overwrite(request),
        // Fail closed like enforce; only a verified approval turns this into the call.
        RemediationMode::Approve => Decision::Skip {
            reason: SkipReason::AwaitingApproval,
            would_call: Some(request),
            unchecked: verdict.unchecked,
        },
        RemediationMode::DryRun => Decision::Skip {
            reason: SkipReason::DryRun,
            would_call: Some(request),
            unchecked: verdict.unchecked,
        },
        // The guardrails stop at `off` first; kept so no mode can fall through to a write.
        RemediationMode::Off => skip(SkipReason::ModeOff),
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
