//! Following a started OVERWRITE to its end, as a second sans-IO state
//! machine beside `Pipeline`. It owns the follow-up invocation's payload
//! (`{"follow_up": {...}}`, parsed into typed ids once), the one-time
//! EventBridge Scheduler schedules that carry it (their names, `at(...)`
//! expressions and inputs), what EKS's answer means (succeeded, failed,
//! cancelled, still running, an update EKS does not know, unreadable),
//! whether to look again, and the stateless "posted at most once per
//! outcome" claim. It also finds the OVERWRITE a recovery followed
//! (`recovered_after`). Every deadline is computed here from times the shell
//! passes in, inside the invocation's.
//!
//! Idempotency without a database: every schedule name derives from the EKS
//! update id, and Scheduler refuses a second schedule of the same name in a
//! group (`ConflictException`). The next look is `<update>-followup-<n>`, so
//! two deliveries of look `n-1` make one look `n`. Before it posts an
//! outcome, a follow-up claims it by creating the disabled marker schedule
//! `<update>-posted-<outcome>`, whose input records the Lambda request id;
//! a second delivery finds the marker and posts nothing, while Lambda's own
//! retry of the claiming invocation (same request id, after a failed publish)
//! posts again, so a failed publish does not lose the message.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::decide::{ADDON_NAME, OverwriteRequest, format_time};
use crate::facts::{AddonState, Fact, UpdateRecord, UpdateStatus};
use crate::ids::{
    AccountId, ClusterName, EventId, FunctionIdentity, Region, RequestId, RoleArn,
    ScheduleGroupName, ScheduleName, UpdateId,
};
use crate::pipeline::{Invocation, Settings, Undelivered};
use crate::render::Message;
use crate::text::clip;

/// The top-level key that marks a follow-up invocation's payload.
pub const FOLLOW_UP_KEY: &str = "follow_up";
/// The most looks at one update, whatever the settings say: a bound a forged
/// or looping payload cannot pass, and one that keeps names short.
pub const MAX_ATTEMPTS: u32 = 120;
/// How far before a recovery an OVERWRITE counts as the fix it followed.
pub const RECOVERY_LOOKBACK_SECONDS: i64 = 24 * 3600;
/// How much of an untrusted string a follow-up keeps.
const MAX_UNTRUSTED_BYTES: usize = 2048;

/// Where the follow-up schedules go and how often they look. `None` in
/// `Settings`: no follow-up, and the alert says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpSettings {
    /// The schedule group the stack owns (the function may create schedules
    /// only there).
    pub group: ScheduleGroupName,
    /// The role Scheduler assumes to invoke the function.
    pub role_arn: RoleArn,
    /// Minutes from one look to the next (the first comes this long after
    /// the OVERWRITE).
    pub delay_minutes: u32,
    /// The longest the follow-ups keep looking after the OVERWRITE.
    pub max_minutes: u32,
}

/// The one add-on a follow-up may be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Addon {
    #[serde(rename = "aws-guardduty-agent")]
    GuardDutyAgent,
}

/// What a follow-up is about: everything parsed into the types that
/// validate it, so nothing else in the payload reaches a call or a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpPayload {
    pub account: AccountId,
    pub region: Region,
    pub cluster: ClusterName,
    pub addon: Addon,
    pub update_id: UpdateId,
    /// The GuardDuty event the OVERWRITE answered (its idempotency token).
    pub event_id: EventId,
    /// Which look this is: 1 for the first.
    pub attempt: u32,
    /// When the OVERWRITE was started (the function's clock), seconds since
    /// the epoch: the follow-ups stop looking `max_minutes` after it.
    pub started_at: i64,
}

/// Who posted an outcome, recorded in the marker schedule's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub outcome: ReportKind,
    /// The claiming invocation's Lambda request id (its retries keep it).
    pub request_id: Option<RequestId>,
    /// Seconds since the epoch.
    pub claimed_at: i64,
}

/// A schedule's input, and so a follow-up invocation's payload. A marker's
/// input also carries its claim; delivered (if someone enabled the marker),
/// it is an ordinary follow-up whose claim then finds the marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpInput {
    pub follow_up: FollowUpPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

impl FollowUpInput {
    /// The JSON the schedule hands to the function.
    pub fn to_json(&self) -> String {
        // Plain structs of strings and numbers: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A marker schedule's input, as `GetSchedule` returns it.
    pub fn from_json(text: &str) -> Result<FollowUpInput, FollowUpError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(malformed)
    }
}

/// What a schedule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// A look at the update: enabled, deleted by Scheduler once it has run.
    FollowUp,
    /// The marker that an outcome was posted: disabled (it never runs) and
    /// kept; deleting the schedule group deletes the markers.
    Claim,
}

/// One `CreateSchedule` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRequest {
    pub kind: ScheduleKind,
    pub name: ScheduleName,
    pub group: ScheduleGroupName,
    /// `at(yyyy-mm-ddThh:mm:ss)`, UTC.
    pub expression: String,
    /// When it is due, seconds since the epoch.
    pub due_at: i64,
    /// The function's unqualified ARN.
    pub target_arn: String,
    pub role_arn: RoleArn,
    pub input: FollowUpInput,
    pub description: String,
}

impl ScheduleRequest {
    /// Markers never run.
    pub fn enabled(&self) -> bool {
        self.kind == ScheduleKind::FollowUp
    }

    /// Looks are deleted once they have run; markers stay.
    pub fn delete_after_completion(&self) -> bool {
        self.kind == ScheduleKind::FollowUp
    }
}

/// Scheduler's answer to `CreateSchedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleResult {
    Created,
    /// `ConflictException`: a schedule of that name exists (another delivery made it).
    AlreadyExists,
    Failed {
        why: String,
    },
}

/// Scheduler's answer to claiming an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    Claimed,
    /// The marker exists; its claim, when `GetSchedule` could read it.
    Taken {
        claim: Option<Claim>,
    },
    Failed {
        why: String,
    },
}

/// What the OVERWRITE alert says about the follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "follow-up")]
pub enum FollowUpNote {
    /// `FOLLOW_UP_SCHEDULE_GROUP` and `FOLLOW_UP_ROLE_ARN` are not set.
    NotConfigured,
    Scheduled {
        name: ScheduleName,
        group: ScheduleGroupName,
        due_at: i64,
        every_minutes: u32,
        max_minutes: u32,
    },
    /// Another delivery of the event scheduled it.
    AlreadyScheduled {
        name: ScheduleName,
        group: ScheduleGroupName,
    },
    Failed {
        why: String,
    },
    DeadlineTooClose {
        remaining_ms: u64,
    },
    /// EKS's update id cannot name a schedule.
    UnusableUpdateId {
        update_id: String,
    },
    /// The function's own ARN (the schedule's target) is not known.
    TargetUnknown,
    /// The update runs in a member account; follow-ups look only in the
    /// function's own.
    MemberAccount {
        account: AccountId,
    },
}

impl FollowUpNote {
    pub fn label(&self) -> &'static str {
        match self {
            FollowUpNote::NotConfigured => "not-configured",
            FollowUpNote::Scheduled { .. } => "scheduled",
            FollowUpNote::AlreadyScheduled { .. } => "already-scheduled",
            FollowUpNote::Failed { .. } => "schedule-failed",
            FollowUpNote::DeadlineTooClose { .. } => "deadline-too-close",
            FollowUpNote::UnusableUpdateId { .. } => "unusable-update-id",
            FollowUpNote::TargetUnknown => "target-unknown",
            FollowUpNote::MemberAccount { .. } => "member-account",
        }
    }

    /// A sentence for the alert.
    pub fn explain(&self) -> String {
        match self {
            FollowUpNote::NotConfigured => "follow-ups are not configured (FOLLOW_UP_SCHEDULE_GROUP and FOLLOW_UP_ROLE_ARN are unset), so nothing will be posted when the update ends".to_owned(),
            FollowUpNote::Scheduled {
                name,
                group,
                due_at,
                every_minutes,
                max_minutes,
            } => format!(
                "the update's result will be posted in this thread at about {} (schedule {name} in group {group}; looked at again every {every_minutes} min while it runs, for up to {max_minutes} min)",
                format_time(*due_at)
            ),
            FollowUpNote::AlreadyScheduled { name, group } => format!(
                "another delivery of this event already scheduled it (schedule {name} in group {group}); the update's result will be posted in this thread"
            ),
            FollowUpNote::Failed { why } => format!(
                "could not be scheduled ({why}), so nothing will be posted when the update ends"
            ),
            FollowUpNote::DeadlineTooClose { remaining_ms } => format!(
                "not scheduled: only {remaining_ms} ms of the invocation were left, so nothing will be posted when the update ends"
            ),
            FollowUpNote::UnusableUpdateId { update_id } => format!(
                "not scheduled: EKS's update id {update_id:?} cannot name a schedule, so nothing will be posted when the update ends"
            ),
            FollowUpNote::TargetUnknown => "not scheduled: the function's own ARN is not known, so nothing will be posted when the update ends".to_owned(),
            FollowUpNote::MemberAccount { account } => format!(
                "not scheduled: follow-ups look only in the function's own account, and this update runs in member account {account}, so nothing will be posted when it ends"
            ),
        }
    }

    /// Whether a follow-up will come.
    pub fn is_scheduled(&self) -> bool {
        matches!(
            self,
            FollowUpNote::Scheduled { .. } | FollowUpNote::AlreadyScheduled { .. }
        )
    }
}

/// The `at(...)` expression for a time, seconds since the epoch (UTC).
pub fn at_expression(due_at: i64) -> String {
    format!("at({})", format_time(due_at).trim_end_matches('Z'))
}

/// The name of look `attempt` at an update.
pub fn follow_up_name(update_id: &UpdateId, attempt: u32) -> Option<ScheduleName> {
    ScheduleName::parse(&format!("{update_id}-followup-{attempt}")).ok()
}

/// The name of the marker that `kind` was posted for an update.
pub fn claim_name(update_id: &UpdateId, kind: ReportKind) -> Option<ScheduleName> {
    ScheduleName::parse(&format!("{update_id}-posted-{}", kind.as_str())).ok()
}

/// The schedule of look `payload.attempt`, due `delay_minutes` after `now_s`.
pub fn follow_up_schedule(
    settings: &FollowUpSettings,
    target_arn: &str,
    payload: FollowUpPayload,
    now_s: i64,
) -> Result<ScheduleRequest, FollowUpNote> {
    let name = follow_up_name(&payload.update_id, payload.attempt).ok_or_else(|| {
        FollowUpNote::UnusableUpdateId {
            update_id: payload.update_id.to_string(),
        }
    })?;
    let due_at = now_s.saturating_add(i64::from(settings.delay_minutes) * 60);
    Ok(ScheduleRequest {
        kind: ScheduleKind::FollowUp,
        description: format!(
            "Look {} at OVERWRITE update {} of {} on {} (event {})",
            payload.attempt, payload.update_id, ADDON_NAME, payload.cluster, payload.event_id
        ),
        name,
        group: settings.group.clone(),
        expression: at_expression(due_at),
        due_at,
        target_arn: target_arn.to_owned(),
        role_arn: settings.role_arn.clone(),
        input: FollowUpInput {
            follow_up: payload,
            claim: None,
        },
    })
}

/// The first follow-up of an OVERWRITE that EKS started: what the pipeline
/// asks the shell to schedule, or what the alert says instead.
pub fn first_follow_up(
    settings: Option<&FollowUpSettings>,
    function: &Fact<FunctionIdentity>,
    request: &OverwriteRequest,
    update_id: &str,
    now_s: i64,
) -> Result<ScheduleRequest, FollowUpNote> {
    let settings = settings.ok_or(FollowUpNote::NotConfigured)?;
    let unusable = || FollowUpNote::UnusableUpdateId {
        update_id: clip(update_id, 128),
    };
    let parsed_update = UpdateId::parse(update_id).map_err(|_| unusable())?;
    // The write was made only where the function runs: its account and region.
    let function = function.known().ok_or(FollowUpNote::TargetUnknown)?;
    let target = function
        .unqualified_arn()
        .ok_or(FollowUpNote::TargetUnknown)?;
    let (Ok(cluster), Ok(event_id)) = (
        ClusterName::parse(&request.cluster_name),
        EventId::parse(&request.client_request_token),
    ) else {
        return Err(unusable());
    };
    let payload = FollowUpPayload {
        account: function.account.clone(),
        region: function.region.clone(),
        cluster,
        addon: Addon::GuardDutyAgent,
        update_id: parsed_update,
        event_id,
        attempt: 1,
        started_at: now_s,
    };
    follow_up_schedule(settings, &target, payload, now_s)
}

/// The most recent OVERWRITE update that started at most
/// `RECOVERY_LOOKBACK_SECONDS` before a recovery at `event_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery<'h> {
    pub update: &'h UpdateRecord,
    /// Whole minutes from the update's start to the recovery.
    pub minutes: i64,
}

/// The OVERWRITE a recovery followed, from the add-on's update history.
/// EKS does not record who started an update, so this is the latest
/// OVERWRITE of the add-on before the recovery, whoever made it.
pub fn recovered_after(history: &[UpdateRecord], event_time: i64) -> Option<Recovery<'_>> {
    history
        .iter()
        .filter(|u| u.is_overwrite())
        .filter_map(|u| u.created_at.map(|t| (u, t)))
        .filter(|(_, t)| *t <= event_time && event_time - *t <= RECOVERY_LOOKBACK_SECONDS)
        .max_by_key(|(_, t)| *t)
        .map(|(update, t)| Recovery {
            update,
            minutes: (event_time - t) / 60,
        })
}

/// Why a follow-up payload is refused. The invocation fails with it (no
/// read, no write, no message): Lambda retries, then keeps the payload in
/// the on-failure destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FollowUpError {
    #[error("malformed follow-up payload: field `{field}`: {reason}")]
    Malformed { field: String, reason: String },
    #[error("follow-up attempt {attempt} is outside 1..={MAX_ATTEMPTS}")]
    Attempt { attempt: u32 },
    #[error(
        "follow-up for {account}/{region} refused: cannot verify which account and region this function runs in ({why})"
    )]
    FunctionUnverified {
        account: String,
        region: String,
        why: String,
    },
    #[error(
        "follow-up for {account}/{region} refused: this function runs in {function_account}/{function_region} and reads only there"
    )]
    Elsewhere {
        account: String,
        region: String,
        function_account: String,
        function_region: String,
    },
}

fn malformed<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> FollowUpError {
    let path = error.path().to_string();
    FollowUpError::Malformed {
        field: clip(&path, 256),
        reason: clip(&error.into_inner().to_string(), 512),
    }
}

/// Whether a payload is a follow-up (and not a coverage event).
pub fn is_follow_up(payload: &Value) -> bool {
    payload
        .as_object()
        .is_some_and(|object| object.contains_key(FOLLOW_UP_KEY))
}

/// One error of EKS's `DescribeUpdate` `errors[]`: untrusted text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateErrorDetail {
    pub code: String,
    pub message: String,
    pub resource_ids: Vec<String>,
}

/// `DescribeUpdate` for the followed update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateDetail {
    pub status: UpdateStatus,
    /// Seconds since the epoch (EKS's clock).
    pub created_at: Option<i64>,
    pub errors: Vec<UpdateErrorDetail>,
}

/// What the shell found out about the update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum UpdateLookup {
    Found(UpdateDetail),
    /// `ResourceNotFoundException`: EKS does not know the update (or the
    /// cluster or add-on is gone), with EKS's message.
    NotFound {
        message: String,
    },
    Unavailable {
        why: String,
    },
    #[default]
    NotGathered,
}

/// The follow-up's reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowUpFacts {
    pub update: UpdateLookup,
    pub addon: Fact<AddonState>,
}

/// Which message a follow-up posts: the claim's unit ("at most once per outcome").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    Succeeded,
    Failed,
    Cancelled,
    StillRunning,
    UnknownUpdate,
    Unreadable,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Succeeded => "succeeded",
            ReportKind::Failed => "failed",
            ReportKind::Cancelled => "cancelled",
            ReportKind::StillRunning => "still-running",
            ReportKind::UnknownUpdate => "unknown-update",
            ReportKind::Unreadable => "unreadable",
        }
    }
}

/// Why a follow-up stops looking at an update that has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum StillRunning {
    /// The next look would come after `max_minutes` (or past `MAX_ATTEMPTS`).
    BoundReached {
        max_minutes: u32,
    },
    RescheduleFailed {
        why: String,
    },
    /// Follow-ups are no longer configured.
    NotConfigured,
    /// The function's own ARN is not known.
    TargetUnknown,
    DeadlineTooClose {
        remaining_ms: u64,
    },
}

/// What a follow-up posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "report")]
pub enum Report {
    Succeeded,
    Failed,
    Cancelled,
    StillRunning { why: StillRunning },
    UnknownUpdate { message: String },
    Unreadable { why: String },
}

impl Report {
    pub fn kind(&self) -> ReportKind {
        match self {
            Report::Succeeded => ReportKind::Succeeded,
            Report::Failed => ReportKind::Failed,
            Report::Cancelled => ReportKind::Cancelled,
            Report::StillRunning { .. } => ReportKind::StillRunning,
            Report::UnknownUpdate { .. } => ReportKind::UnknownUpdate,
            Report::Unreadable { .. } => ReportKind::Unreadable,
        }
    }
}

/// Whether the message is known to be the only one for its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "claim")]
pub enum ClaimNote {
    /// This invocation claimed the outcome.
    Claimed,
    /// An earlier try of this same invocation claimed it and did not post
    /// (Lambda retries a failed invocation with the same request id).
    Retried,
    /// The claim could not be made: a second delivery may post again.
    NotRecorded { why: String },
}

/// How a follow-up ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "ended")]
pub enum Ended {
    /// The update runs on; the next look is scheduled.
    Rescheduled {
        next: ScheduleName,
    },
    /// Another delivery of this look already scheduled the next one.
    AlreadyRescheduled {
        next: ScheduleName,
    },
    /// Another delivery already posted this outcome.
    Duplicate {
        kind: ReportKind,
    },
    Posted {
        kind: ReportKind,
    },
}

impl Ended {
    pub fn label(&self) -> String {
        match self {
            Ended::Rescheduled { .. } => "follow-up-rescheduled".to_owned(),
            Ended::AlreadyRescheduled { .. } => "follow-up-already-rescheduled".to_owned(),
            Ended::Duplicate { kind } => format!("follow-up-duplicate-{}", kind.as_str()),
            Ended::Posted { kind } => format!("follow-up-{}", kind.as_str()),
        }
    }
}

/// The follow-up invocation's return value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpSummary {
    pub kind: &'static str,
    pub event_id: String,
    pub update_id: String,
    pub cluster: String,
    pub attempt: u32,
    pub outcome: String,
    /// The next look's schedule, when one was made.
    pub next_schedule: Option<String>,
    /// The SNS message id, when a message was posted.
    pub message_id: Option<String>,
}

/// What the follow-up needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUpNext<'a> {
    /// `DescribeUpdate` and `DescribeAddon` (concurrently, each within
    /// `read_ms`, both before `deadline_ms`), then call `read`.
    Read {
        cluster: &'a ClusterName,
        update_id: &'a UpdateId,
        read_ms: u64,
        deadline_ms: u64,
    },
    /// Create the next look's schedule before `deadline_ms`, then call `scheduled`.
    Schedule {
        request: &'a ScheduleRequest,
        deadline_ms: u64,
    },
    /// Create the marker before `deadline_ms`; when it exists, read its
    /// claim (`GetSchedule`) within the same deadline; then call `claimed`.
    Claim {
        request: &'a ScheduleRequest,
        deadline_ms: u64,
    },
    /// Publish before `deadline_ms`, then call `published`.
    Publish {
        message: &'a Message,
        deadline_ms: u64,
    },
    Done(FollowUpSummary),
    Failed(Undelivered),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Reading,
    Rescheduling,
    Claiming,
    Publishing,
    Done,
    Failed,
}

/// One follow-up invocation's handling.
#[derive(Debug)]
pub struct FollowUp<'s> {
    settings: &'s Settings,
    invocation: Invocation,
    now_ms: u64,
    payload: FollowUpPayload,
    facts: FollowUpFacts,
    schedule: Option<ScheduleRequest>,
    report: Option<Report>,
    claim: Option<ClaimNote>,
    message: Option<Message>,
    ended: Option<Ended>,
    message_id: Option<String>,
    undelivered: Option<String>,
    stage: Stage,
}

impl<'s> FollowUp<'s> {
    /// Start from the invocation's payload. A payload that does not parse,
    /// or that is about another account or region than the function's, is
    /// an error: nothing is read and nothing posted.
    pub fn new(
        payload: &Value,
        settings: &'s Settings,
        invocation: Invocation,
    ) -> Result<FollowUp<'s>, FollowUpError> {
        let input: FollowUpInput = serde_path_to_error::deserialize(payload).map_err(malformed)?;
        let payload = input.follow_up;
        if payload.attempt == 0 || payload.attempt > MAX_ATTEMPTS {
            return Err(FollowUpError::Attempt {
                attempt: payload.attempt,
            });
        }
        match &invocation.function {
            Fact::Known(function) => {
                if function.account != payload.account || function.region != payload.region {
                    return Err(FollowUpError::Elsewhere {
                        account: payload.account.to_string(),
                        region: payload.region.to_string(),
                        function_account: function.account.to_string(),
                        function_region: function.region.to_string(),
                    });
                }
            }
            Fact::Unavailable(why) => {
                return Err(FollowUpError::FunctionUnverified {
                    account: payload.account.to_string(),
                    region: payload.region.to_string(),
                    why: clip(why, 256),
                });
            }
            Fact::NotGathered => {
                return Err(FollowUpError::FunctionUnverified {
                    account: payload.account.to_string(),
                    region: payload.region.to_string(),
                    why: "no function ARN".to_owned(),
                });
            }
        }
        Ok(FollowUp {
            settings,
            now_ms: invocation.now_ms.unwrap_or(0),
            invocation,
            payload,
            facts: FollowUpFacts::default(),
            schedule: None,
            report: None,
            claim: None,
            message: None,
            ended: None,
            message_id: None,
            undelivered: None,
            stage: Stage::Reading,
        })
    }

    /// What to do next. Asking again without answering gives the same answer.
    pub fn poll(&self) -> FollowUpNext<'_> {
        let limits = &self.settings.limits;
        match self.stage {
            Stage::Reading => FollowUpNext::Read {
                cluster: &self.payload.cluster,
                update_id: &self.payload.update_id,
                read_ms: limits.read_ms,
                // After the reads: a schedule or a claim, then the publish.
                deadline_ms: self
                    .now_ms
                    .saturating_add(limits.read_ms)
                    .min(self.budget_end(limits.publish_ms + limits.min_schedule_ms)),
            },
            Stage::Rescheduling | Stage::Claiming => match &self.schedule {
                Some(request) if self.stage == Stage::Rescheduling => FollowUpNext::Schedule {
                    request,
                    deadline_ms: self.schedule_end(),
                },
                Some(request) => FollowUpNext::Claim {
                    request,
                    deadline_ms: self.schedule_end(),
                },
                None => self.failed("internal: no schedule planned"),
            },
            Stage::Publishing => match &self.message {
                Some(message) => FollowUpNext::Publish {
                    message,
                    deadline_ms: self
                        .now_ms
                        .saturating_add(limits.publish_ms)
                        .min(self.budget_end(0)),
                },
                None => self.failed("internal: no message rendered"),
            },
            Stage::Done => match &self.ended {
                Some(ended) => FollowUpNext::Done(self.summary(ended)),
                None => self.failed("internal: done without an end"),
            },
            Stage::Failed => self.failed(self.undelivered.as_deref().unwrap_or("unknown")),
        }
    }

    /// The answers to `FollowUpNext::Read`.
    pub fn read(&mut self, facts: FollowUpFacts, now_ms: u64) {
        if self.stage != Stage::Reading {
            return;
        }
        self.now_ms = now_ms;
        let report = match &facts.update {
            UpdateLookup::Found(update) => match &update.status {
                UpdateStatus::Successful => Some(Report::Succeeded),
                UpdateStatus::Failed => Some(Report::Failed),
                UpdateStatus::Cancelled => Some(Report::Cancelled),
                // InProgress, or a status this code does not know: not ended.
                UpdateStatus::InProgress | UpdateStatus::Unknown(_) => None,
            },
            UpdateLookup::NotFound { message } => Some(Report::UnknownUpdate {
                message: clip(message, MAX_UNTRUSTED_BYTES),
            }),
            UpdateLookup::Unavailable { why } => Some(Report::Unreadable {
                why: clip(why, MAX_UNTRUSTED_BYTES),
            }),
            UpdateLookup::NotGathered => Some(Report::Unreadable {
                why: "it was not read".to_owned(),
            }),
        };
        self.facts = facts;
        match report {
            Some(report) => self.claim_and_post(report),
            None => self.look_again(),
        }
    }

    /// Scheduler's answer to `FollowUpNext::Schedule`.
    pub fn scheduled(&mut self, result: ScheduleResult, now_ms: u64) {
        if self.stage != Stage::Rescheduling {
            return;
        }
        self.now_ms = now_ms;
        let Some(next) = self.schedule.take().map(|s| s.name) else {
            return;
        };
        match result {
            ScheduleResult::Created => self.end(Ended::Rescheduled { next }),
            ScheduleResult::AlreadyExists => self.end(Ended::AlreadyRescheduled { next }),
            ScheduleResult::Failed { why } => self.claim_and_post(Report::StillRunning {
                why: StillRunning::RescheduleFailed {
                    why: clip(&why, 512),
                },
            }),
        }
    }

    /// Scheduler's answer to `FollowUpNext::Claim`.
    pub fn claimed(&mut self, result: ClaimResult, now_ms: u64) {
        if self.stage != Stage::Claiming {
            return;
        }
        self.now_ms = now_ms;
        self.schedule = None;
        let note = match result {
            ClaimResult::Claimed => ClaimNote::Claimed,
            ClaimResult::Taken { claim } => {
                let ours = match (
                    claim.as_ref().and_then(|c| c.request_id.as_ref()),
                    &self.invocation.request_id,
                ) {
                    (Some(theirs), Some(ours)) => theirs == ours,
                    _ => false,
                };
                if !ours {
                    let kind = self
                        .report
                        .as_ref()
                        .map_or(ReportKind::Unreadable, Report::kind);
                    self.end(Ended::Duplicate { kind });
                    return;
                }
                ClaimNote::Retried
            }
            ClaimResult::Failed { why } => ClaimNote::NotRecorded {
                why: clip(&why, 512),
            },
        };
        self.post(note);
    }

    /// The destination's answer to `FollowUpNext::Publish`.
    pub fn published(&mut self, result: Result<String, String>, now_ms: u64) {
        if self.stage != Stage::Publishing {
            return;
        }
        self.now_ms = now_ms;
        match result {
            Ok(message_id) => {
                self.message_id = Some(message_id);
                let kind = self
                    .report
                    .as_ref()
                    .map_or(ReportKind::Unreadable, Report::kind);
                self.end(Ended::Posted { kind });
            }
            Err(why) => {
                self.undelivered = Some(why);
                self.stage = Stage::Failed;
            }
        }
    }

    pub fn payload(&self) -> &FollowUpPayload {
        &self.payload
    }

    /// What will be (or was) posted, once decided.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    /// The update is not over: look again if the bound allows, else report.
    fn look_again(&mut self) {
        let now_s = self.now_s();
        let Some(settings) = &self.settings.follow_up else {
            self.claim_and_post(Report::StillRunning {
                why: StillRunning::NotConfigured,
            });
            return;
        };
        let elapsed = now_s.saturating_sub(self.payload.started_at).max(0);
        let next_look = elapsed.saturating_add(i64::from(settings.delay_minutes) * 60);
        let within_bound = next_look <= i64::from(settings.max_minutes) * 60
            && self.payload.attempt < MAX_ATTEMPTS;
        if !within_bound {
            self.claim_and_post(Report::StillRunning {
                why: StillRunning::BoundReached {
                    max_minutes: settings.max_minutes,
                },
            });
            return;
        }
        let Some(target) = self.target_arn() else {
            self.claim_and_post(Report::StillRunning {
                why: StillRunning::TargetUnknown,
            });
            return;
        };
        let remaining_ms = self.schedule_end().saturating_sub(self.now_ms);
        if remaining_ms < self.settings.limits.min_schedule_ms {
            self.claim_and_post(Report::StillRunning {
                why: StillRunning::DeadlineTooClose { remaining_ms },
            });
            return;
        }
        let next = FollowUpPayload {
            attempt: self.payload.attempt + 1,
            ..self.payload.clone()
        };
        match follow_up_schedule(settings, &target, next, now_s) {
            Ok(request) => {
                self.schedule = Some(request);
                self.stage = Stage::Rescheduling;
            }
            // A valid update id always names a schedule; kept so no path is silent.
            Err(note) => self.claim_and_post(Report::StillRunning {
                why: StillRunning::RescheduleFailed {
                    why: note.explain(),
                },
            }),
        }
    }

    /// Claim the outcome where the claim can be made, else post with a note.
    fn claim_and_post(&mut self, report: Report) {
        let kind = report.kind();
        self.report = Some(report);
        let Some(settings) = &self.settings.follow_up else {
            self.post(ClaimNote::NotRecorded {
                why: "follow-ups are not configured".to_owned(),
            });
            return;
        };
        let Some(target) = self.target_arn() else {
            self.post(ClaimNote::NotRecorded {
                why: "the function's own ARN is not known".to_owned(),
            });
            return;
        };
        let remaining_ms = self.schedule_end().saturating_sub(self.now_ms);
        if remaining_ms < self.settings.limits.min_schedule_ms {
            self.post(ClaimNote::NotRecorded {
                why: format!("only {remaining_ms} ms of the invocation were left"),
            });
            return;
        }
        let Some(name) = claim_name(&self.payload.update_id, kind) else {
            self.post(ClaimNote::NotRecorded {
                why: "the update id cannot name a schedule".to_owned(),
            });
            return;
        };
        let now_s = self.now_s();
        // Disabled: it never runs; the date only has to be valid.
        let due_at = now_s.saturating_add(24 * 3600);
        self.schedule = Some(ScheduleRequest {
            kind: ScheduleKind::Claim,
            description: format!(
                "Posted: OVERWRITE update {} {} (event {}); disabled marker, never runs",
                self.payload.update_id,
                kind.as_str(),
                self.payload.event_id
            ),
            name,
            group: settings.group.clone(),
            expression: at_expression(due_at),
            due_at,
            target_arn: target,
            role_arn: settings.role_arn.clone(),
            input: FollowUpInput {
                follow_up: self.payload.clone(),
                claim: Some(Claim {
                    outcome: kind,
                    request_id: self.invocation.request_id.clone(),
                    claimed_at: now_s,
                }),
            },
        });
        self.stage = Stage::Claiming;
    }

    fn post(&mut self, note: ClaimNote) {
        if let Some(report) = &self.report {
            self.message = Some(crate::follow_up_render::render_follow_up(
                &crate::follow_up_render::FollowUpView {
                    payload: &self.payload,
                    facts: &self.facts,
                    report,
                    claim: &note,
                    now_s: self.now_s(),
                },
                self.settings.format,
            ));
        }
        self.claim = Some(note);
        self.stage = Stage::Publishing;
    }

    fn end(&mut self, ended: Ended) {
        self.ended = Some(ended);
        self.stage = Stage::Done;
    }

    fn target_arn(&self) -> Option<String> {
        self.invocation
            .function
            .known()
            .and_then(FunctionIdentity::unqualified_arn)
    }

    fn now_s(&self) -> i64 {
        i64::try_from(self.now_ms / 1000).unwrap_or(i64::MAX)
    }

    /// The last moment a call may end when `reserve_ms` must stay free.
    fn budget_end(&self, reserve_ms: u64) -> u64 {
        match self.invocation.deadline_ms {
            Some(deadline) => deadline
                .saturating_sub(self.settings.limits.margin_ms)
                .saturating_sub(reserve_ms),
            None => u64::MAX,
        }
    }

    /// A schedule or a claim ends in time for the publish.
    fn schedule_end(&self) -> u64 {
        let limits = &self.settings.limits;
        self.now_ms
            .saturating_add(limits.schedule_ms)
            .min(self.budget_end(limits.publish_ms))
    }

    fn summary(&self, ended: &Ended) -> FollowUpSummary {
        let next_schedule = match ended {
            Ended::Rescheduled { next } | Ended::AlreadyRescheduled { next } => {
                Some(next.to_string())
            }
            _ => None,
        };
        FollowUpSummary {
            kind: "follow-up",
            event_id: self.payload.event_id.to_string(),
            update_id: self.payload.update_id.to_string(),
            cluster: self.payload.cluster.to_string(),
            attempt: self.payload.attempt,
            outcome: ended.label(),
            next_schedule,
            message_id: self.message_id.clone(),
        }
    }

    fn failed(&self, why: &str) -> FollowUpNext<'_> {
        FollowUpNext::Failed(Undelivered {
            event_id: self.payload.event_id.to_string(),
            issue_id: "overwrite-follow-up",
            why: why.to_owned(),
        })
    }
}
