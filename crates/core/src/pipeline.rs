//! The whole handling of one event as a sans-IO state machine, in the spirit
//! of quinn-proto: the shell hands it the event, the settings and the
//! invocation (where the function runs, the time, the deadline); it answers
//! with what it needs next (`Next`: the reads to make, the one write, the
//! message to publish), the shell performs that and hands back the result,
//! until it says `Done` or `Failed`. The Lambda, `coverage replay`, the tests
//! and the benchmark all drive this one type, so there is one definition of
//! the order and of every rule, and every deadline is computed here from
//! times the shell passes in. After a started OVERWRITE it asks for the
//! follow-up's schedule (`follow_up`) before the publish, so the alert says
//! when the update's result will be posted, or why it will not.

use serde_json::Value;

use crate::approval::ApprovalClaims;
use crate::audit::{AuditObject, AuditQuery, objects_named};
use crate::decide::Outcome;
use crate::decide::{
    Decision, OverwriteRequest, Plan, SkipReason, Subject, decide_subject, subject_of,
};
use crate::event::{CoverageEvent, DecodeError, decode_event, decode_event_bytes};
use crate::facts::{Fact, FactRequest, Facts};
use crate::follow_up::{
    FollowUpNote, FollowUpSettings, ScheduleRequest, ScheduleResult, first_follow_up,
};
use crate::guardrails::{MemberAccess, member_access, reads_needed};
use crate::ids::{FunctionIdentity, IdError, RequestId};
use crate::policy::Policy;
use crate::render::{Message, MessageFormat, Summary, issue_id, render_message, summary};

/// Time budgets, in milliseconds. Every AWS call gets a deadline from these,
/// always inside the invocation's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Each read; a slow read degrades the alert, never blocks it.
    pub read_ms: u64,
    /// The `UpdateAddon` call.
    pub write_ms: u64,
    /// The SNS `Publish` (its SDK retries included).
    pub publish_ms: u64,
    /// Kept free before the invocation's deadline to return in time.
    pub margin_ms: u64,
    /// Below this much time for the write, it is not started.
    pub min_write_ms: u64,
    /// Each `CreateSchedule` (and the claim's `GetSchedule`).
    pub schedule_ms: u64,
    /// Below this much time for a schedule, it is not attempted.
    pub min_schedule_ms: u64,
    /// The audit log query, `StartQuery` to the last `GetQueryResults`
    /// (`AUDIT_QUERY_BUDGET_MS`); it runs alongside the other reads.
    pub audit_ms: u64,
    /// Between two `GetQueryResults` of a running query.
    pub audit_poll_ms: u64,
    /// Approve mode: how long an approval token is valid, in seconds
    /// (`APPROVAL_TTL_SECONDS`; the KMS `GenerateMac` is bounded by `read_ms`).
    pub approval_ttl_seconds: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            read_ms: 3_000,
            write_ms: 10_000,
            publish_ms: 5_000,
            margin_ms: 500,
            min_write_ms: 1_000,
            schedule_ms: 3_000,
            min_schedule_ms: 1_000,
            audit_ms: 4_000,
            audit_poll_ms: 300,
            approval_ttl_seconds: crate::approval::DEFAULT_TTL_SECONDS,
        }
    }
}

/// What the operator configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub policy: Policy,
    pub format: MessageFormat,
    pub limits: Limits,
    /// `None`: no follow-up after an OVERWRITE (the alert says so).
    pub follow_up: Option<FollowUpSettings>,
}

/// What `cargo lambda watch` sends as every invocation's function ARN: a
/// literal, never a real ARN, so locally the function could never verify
/// where it runs (and would never reach a write or an approval).
pub const EMULATOR_INVOKED_FUNCTION_ARN: &str = "function-arn";

/// The deployed function's timeout (`infra/template.yaml`): the deadline an
/// emulator invocation gets when its own is unusable (`cargo lambda watch`
/// sends `600000`, a duration, where Lambda sends a time).
pub const EMULATOR_STAND_IN_TIMEOUT_MS: u64 = 30_000;

/// Whether the emulator stand-in (`EMULATOR_FUNCTION_ARN`) was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandIn {
    /// None configured: the runtime's word, as sent.
    NotConfigured,
    /// The runtime was the emulator: the stand-in ARN, and a deadline
    /// `EMULATOR_STAND_IN_TIMEOUT_MS` away when the emulator's is unusable.
    Applied,
    /// Configured, but the runtime sent a real ARN (Lambda itself): ignored.
    Ignored,
}

/// Where and when this invocation runs, as the shell observed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The function's own account and region; `NotGathered` offline.
    pub function: Fact<FunctionIdentity>,
    /// The shell's clock at the start, milliseconds since the Unix epoch.
    pub now_ms: Option<u64>,
    /// `Lambda-Runtime-Deadline-Ms`: the invocation must end before it.
    pub deadline_ms: Option<u64>,
    /// A deadline the runtime sent that is not a time after `now_ms` (an
    /// emulator's duration, a skewed clock): the calls then keep to their own
    /// limits, and the write, which must not be cut off unreported, is refused.
    pub unusable_deadline_ms: Option<u64>,
    /// `Lambda-Runtime-Aws-Request-Id`: a follow-up's claim records it.
    pub request_id: Option<RequestId>,
    /// An approval invocation: the claims of a token whose MAC KMS verified
    /// and that has not expired (`approval::Token::accept`).
    pub approval: Option<ApprovalClaims>,
}

impl Invocation {
    /// A Lambda invocation from what the runtime sent. The runtime's word is
    /// final, except when the runtime is the local emulator (it sent exactly
    /// [`EMULATOR_INVOKED_FUNCTION_ARN`]) and a stand-in ARN was configured:
    /// then the invocation is what Lambda would have sent, the stand-in ARN
    /// and a usable deadline. Lambda never sends the placeholder, so a
    /// stand-in left in a deployed function's environment changes nothing.
    pub fn from_runtime(
        invoked_arn: &str,
        now_ms: u64,
        deadline_ms: u64,
        emulator_stand_in: Option<&str>,
    ) -> (Invocation, StandIn) {
        match emulator_stand_in {
            None => (
                Invocation::lambda(invoked_arn, now_ms, Some(deadline_ms)),
                StandIn::NotConfigured,
            ),
            Some(stand_in) if invoked_arn == EMULATOR_INVOKED_FUNCTION_ARN => {
                let deadline_ms = if deadline_ms > now_ms {
                    deadline_ms
                } else {
                    now_ms.saturating_add(EMULATOR_STAND_IN_TIMEOUT_MS)
                };
                (
                    Invocation::lambda(stand_in, now_ms, Some(deadline_ms)),
                    StandIn::Applied,
                )
            }
            Some(_) => (
                Invocation::lambda(invoked_arn, now_ms, Some(deadline_ms)),
                StandIn::Ignored,
            ),
        }
    }

    /// A Lambda invocation: the function's ARN, the clock and the deadline.
    pub fn lambda(function_arn: &str, now_ms: u64, deadline_ms: Option<u64>) -> Invocation {
        let function = match FunctionIdentity::from_arn(function_arn) {
            Ok(identity) => Fact::Known(identity),
            Err(IdError { value, .. }) => {
                Fact::Unavailable(format!("the invoked function ARN {value:?} does not parse"))
            }
        };
        let (deadline_ms, unusable_deadline_ms) = match deadline_ms {
            Some(deadline) if deadline <= now_ms => (None, Some(deadline)),
            other => (other, None),
        };
        Invocation {
            function,
            now_ms: Some(now_ms),
            deadline_ms,
            unusable_deadline_ms,
            request_id: None,
            approval: None,
        }
    }

    /// With the invocation's request id (an unparsable one is dropped: the
    /// claim then records none, and a retry cannot recognise its own claim).
    pub fn with_request_id(mut self, request_id: &str) -> Invocation {
        self.request_id = RequestId::parse(request_id).ok();
        self
    }
}

/// An approval's call: the plan's OVERWRITE when every guardrail holds now
/// and the add-on is the one approved; `Ok(None)` when a guardrail fails
/// (the plan's own reason stands); `Err` when the add-on changed.
fn approved_call(
    decision: &Decision,
    claims: &ApprovalClaims,
) -> Result<Option<OverwriteRequest>, SkipReason> {
    let request = match decision {
        Decision::Skip {
            reason: SkipReason::AwaitingApproval,
            would_call: Some(request),
            ..
        }
        | Decision::Overwrite(request) => request,
        _ => return Ok(None),
    };
    claims.check_binding(request)?;
    Ok(Some(request.clone()))
}

/// The audit log query for an event: the objects its issue names, over the
/// configured window before the event up to now. `None` without a valid
/// cluster name or a clock.
fn audit_query(
    event: &CoverageEvent,
    subject: &Subject,
    settings: &Settings,
    invocation: &Invocation,
) -> Option<AuditQuery> {
    let cluster = crate::guardrails::cluster_name(event).ok()?;
    let now = i64::try_from(invocation.now_ms? / 1000).ok()?;
    let objects = match subject {
        Subject::CoverageLost { issue, .. } => objects_named(issue),
        _ => vec![AuditObject::agent_daemonset()],
    };
    let event_time = event
        .envelope
        .time
        .as_deref()
        .and_then(crate::decide::parse_time);
    Some(AuditQuery::new(
        &cluster,
        objects,
        event_time,
        now,
        settings.policy.audit.window_seconds,
    ))
}

/// What EKS answered to the `UpdateAddon` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    Started {
        update_id: String,
        status: String,
    },
    /// `ResourceInUseException`: an update is already in flight.
    InUse {
        message: String,
    },
    Failed {
        error: String,
    },
    /// No answer before the deadline: the update may or may not have started.
    NoAnswer {
        why: String,
    },
}

/// Why the event could not be delivered; the shell fails the invocation with
/// it, so Lambda retries and then keeps the event in the on-failure destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub event_id: String,
    pub issue_id: &'static str,
    pub why: String,
}

/// The audit log query to run and its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRead<'a> {
    pub query: &'a AuditQuery,
    /// The last `GetQueryResults` ends by then; a query still running is
    /// reported with its id (`AuditFailure::StillRunning`).
    pub deadline_ms: u64,
    /// Between two `GetQueryResults`.
    pub poll_ms: u64,
}

/// What the pipeline needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<'a> {
    /// Make these reads (concurrently, each within `read_ms`, all before
    /// `deadline_ms`), then call `gathered`.
    Gather {
        request: FactRequest,
        /// The cluster the reads are about (already validated).
        cluster: &'a str,
        /// Its account, when the event names a valid one (coverage filters).
        account: Option<&'a str>,
        /// `Some`: the cluster is in an allowed member account; make every
        /// read with the member role's credentials (assumed within
        /// `deadline_ms`), or report why not in `Facts::role_not_assumed`.
        member: Option<&'a MemberAccess>,
        read_ms: u64,
        deadline_ms: u64,
        /// The audit log query, when `request.audit_log`: alongside the other
        /// reads, within its own deadline.
        audit: Option<AuditRead<'a>>,
    },
    /// Make this `UpdateAddon` call before `deadline_ms`, then call `wrote`.
    Write {
        request: &'a OverwriteRequest,
        /// `Some`: make the call with the member role's credentials.
        member: Option<&'a MemberAccess>,
        deadline_ms: u64,
    },
    /// Approve mode: have KMS `GenerateMac` (HMAC_SHA_256) over these bytes
    /// before `deadline_ms`, then call `signed`.
    Sign { signed: &'a str, deadline_ms: u64 },
    /// Create the follow-up's schedule before `deadline_ms`, then call `scheduled`.
    Schedule {
        request: &'a ScheduleRequest,
        deadline_ms: u64,
    },
    /// Publish this message before `deadline_ms`, then call `published`.
    Publish {
        message: &'a Message,
        deadline_ms: u64,
    },
    /// Handled: return this summary.
    Done(Summary),
    /// Not delivered: fail the invocation.
    Failed(Undelivered),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Gathering,
    Signing,
    Writing,
    Scheduling,
    Publishing,
    Done,
    Failed,
}

/// What EKS answered to a started OVERWRITE, kept while its follow-up is scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Started {
    request: OverwriteRequest,
    update_id: String,
    status: String,
}

/// One event's handling.
#[derive(Debug)]
pub struct Pipeline<'s> {
    settings: &'s Settings,
    invocation: Invocation,
    /// The shell's clock at its last answer.
    now_ms: u64,
    event: CoverageEvent,
    subject: Option<Subject>,
    request: FactRequest,
    /// The member role the reads and the write use, for an allowed member's event.
    member: Option<MemberAccess>,
    /// The audit log query, when the request asks for it.
    audit_query: Option<AuditQuery>,
    /// Whether an OVERWRITE may follow the reads (their deadline leaves room for it).
    may_write: bool,
    plan: Option<Plan>,
    /// The started update, while its follow-up is being scheduled.
    started: Option<Started>,
    schedule: Option<ScheduleRequest>,
    /// Approve mode: the token's signed part, while KMS signs it.
    signing: Option<(i64, String)>,
    outcome: Option<Outcome>,
    message: Option<Message>,
    message_id: Option<String>,
    undelivered: Option<String>,
    stage: Stage,
}

impl<'s> Pipeline<'s> {
    /// Start from a decoded JSON payload. An input that is not a coverage
    /// event is an error; everything else ends in a published alert.
    pub fn new(
        payload: &Value,
        settings: &'s Settings,
        invocation: Invocation,
    ) -> Result<Pipeline<'s>, DecodeError> {
        Ok(Pipeline::for_event(
            decode_event(payload)?,
            settings,
            invocation,
        ))
    }

    /// Start from raw bytes (an event file).
    pub fn from_bytes(
        bytes: &[u8],
        settings: &'s Settings,
        invocation: Invocation,
    ) -> Result<Pipeline<'s>, DecodeError> {
        Ok(Pipeline::for_event(
            decode_event_bytes(bytes)?,
            settings,
            invocation,
        ))
    }

    /// Start from an event already decoded.
    pub fn for_event(
        event: CoverageEvent,
        settings: &'s Settings,
        invocation: Invocation,
    ) -> Pipeline<'s> {
        let subject = subject_of(&event);
        let member = member_access(&event, &settings.policy, &invocation.function);
        let mut request = reads_needed(&event, &subject, &settings.policy, &invocation.function);
        let audit_query = request
            .audit_log
            .then(|| audit_query(&event, &subject, settings, &invocation))
            .flatten();
        // No query without a cluster and a clock to bound it.
        request.audit_log = audit_query.is_some();
        // The history is read for the OVERWRITE's guardrails, and for a
        // recovery notice; only the first may lead to a write.
        let may_write = request.update_history && matches!(subject, Subject::CoverageLost { .. });
        let mut pipeline = Pipeline {
            settings,
            now_ms: invocation.now_ms.unwrap_or(0),
            invocation,
            event,
            subject: Some(subject),
            request,
            member,
            audit_query,
            may_write,
            plan: None,
            started: None,
            schedule: None,
            signing: None,
            outcome: None,
            message: None,
            message_id: None,
            undelivered: None,
            stage: Stage::Gathering,
        };
        if request.is_empty() {
            pipeline.decide(Facts::default());
        }
        pipeline
    }

    /// What to do next. Asking again without answering gives the same answer.
    pub fn poll(&self) -> Next<'_> {
        let limits = &self.settings.limits;
        match self.stage {
            Stage::Gathering => {
                // After the reads there must still be time to publish and,
                // where a write may follow, for the shortest write worth
                // starting and its follow-up's schedule.
                let reserve = limits.publish_ms
                    + if self.may_write {
                        limits.min_write_ms + self.follow_up_reserve()
                    } else {
                        0
                    };
                // Coverage is two reads in a row (detector, then coverage).
                let mut reads_end = self.now_ms.saturating_add(2 * limits.read_ms);
                let audit = self.audit_query.as_ref().map(|query| {
                    let audit_end = self.now_ms.saturating_add(limits.audit_ms);
                    reads_end = reads_end.max(audit_end);
                    AuditRead {
                        query,
                        deadline_ms: audit_end.min(self.budget_end(reserve)),
                        poll_ms: limits.audit_poll_ms,
                    }
                });
                Next::Gather {
                    request: self.request,
                    cluster: self.event.cluster_name().unwrap_or_default(),
                    account: self
                        .event
                        .resource_account()
                        .filter(|a| crate::text::is_account_id(a)),
                    member: self.member.as_ref(),
                    read_ms: limits.read_ms,
                    deadline_ms: reads_end.min(self.budget_end(reserve)),
                    audit,
                }
            }
            Stage::Writing => match self.plan.as_ref().map(|p| &p.decision) {
                Some(Decision::Overwrite(request)) => Next::Write {
                    request,
                    member: self.member.as_ref(),
                    deadline_ms: self.write_end(),
                },
                // Writing is only entered with an OVERWRITE plan.
                _ => self.failed("internal: no write planned"),
            },
            Stage::Signing => match &self.signing {
                Some((_, signed)) => Next::Sign {
                    signed,
                    deadline_ms: self
                        .now_ms
                        .saturating_add(limits.read_ms)
                        .min(self.budget_end(limits.publish_ms)),
                },
                None => self.failed("internal: nothing to sign"),
            },
            Stage::Scheduling => match &self.schedule {
                Some(request) => Next::Schedule {
                    request,
                    deadline_ms: self.schedule_end(),
                },
                None => self.failed("internal: no schedule planned"),
            },
            Stage::Publishing => match &self.message {
                Some(message) => Next::Publish {
                    message,
                    deadline_ms: self
                        .now_ms
                        .saturating_add(limits.publish_ms)
                        .min(self.budget_end(0)),
                },
                None => self.failed("internal: no message rendered"),
            },
            Stage::Done => match (&self.plan, &self.outcome) {
                (Some(plan), Some(outcome)) => Next::Done(summary(
                    plan,
                    outcome,
                    self.message_id.as_deref().unwrap_or_default(),
                )),
                _ => self.failed("internal: done without a plan"),
            },
            Stage::Failed => self.failed(self.undelivered.as_deref().unwrap_or("unknown")),
        }
    }

    /// The reads asked for by `Next::Gather`. Facts that were not asked for
    /// are dropped, so a recorded file decides as the Lambda would.
    pub fn gathered(&mut self, facts: Facts, now_ms: u64) {
        if self.stage != Stage::Gathering {
            return;
        }
        self.now_ms = now_ms;
        self.decide(facts.restricted_to(self.request));
    }

    /// EKS's answer to `Next::Write`.
    pub fn wrote(&mut self, result: WriteResult, now_ms: u64) {
        if self.stage != Stage::Writing {
            return;
        }
        self.now_ms = now_ms;
        let Some(Decision::Overwrite(request)) = self.plan.as_ref().map(|p| &p.decision) else {
            return;
        };
        let request = request.clone();
        let outcome = match result {
            WriteResult::Started { update_id, status } => {
                let now_s = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
                let first = match &self.member {
                    // A follow-up reads in the function's own account only.
                    Some(member) => Err(FollowUpNote::MemberAccount {
                        account: member.account.clone(),
                    }),
                    None => first_follow_up(
                        self.settings.follow_up.as_ref(),
                        &self.invocation.function,
                        &request,
                        &update_id,
                        now_s,
                    ),
                };
                let follow_up = match first {
                    Ok(schedule) => {
                        let remaining_ms = self.schedule_end().saturating_sub(self.now_ms);
                        if remaining_ms >= self.settings.limits.min_schedule_ms {
                            self.schedule = Some(schedule);
                            self.started = Some(Started {
                                request,
                                update_id,
                                status,
                            });
                            self.stage = Stage::Scheduling;
                            return;
                        }
                        FollowUpNote::DeadlineTooClose { remaining_ms }
                    }
                    Err(note) => note,
                };
                Outcome::UpdateStarted {
                    request,
                    update_id,
                    status,
                    follow_up,
                }
            }
            WriteResult::InUse { message } => Outcome::UpdateInFlight { request, message },
            WriteResult::Failed { error } => Outcome::UpdateFailed { request, error },
            WriteResult::NoAnswer { why } => Outcome::UpdateOutcomeUnknown { request, why },
        };
        self.conclude(outcome);
    }

    /// KMS's answer to `Next::Sign`: the MAC, or why not. Without a MAC no
    /// token is offered, and the alert says why.
    pub fn signed(&mut self, result: Result<Vec<u8>, String>, now_ms: u64) {
        if self.stage != Stage::Signing {
            return;
        }
        self.now_ms = now_ms;
        let (Some((expires_at, signed)), Some(Decision::Skip { would_call, .. })) =
            (self.signing.take(), self.plan.as_ref().map(|p| &p.decision))
        else {
            return;
        };
        let would_call = would_call.clone();
        let function = self
            .invocation
            .function
            .known()
            .and_then(FunctionIdentity::unqualified_arn);
        let reason = match (result, function) {
            (Ok(mac), Some(function)) if mac.len() == crate::approval::MAC_BYTES => {
                SkipReason::ApprovalOffered {
                    token: crate::approval::token(&signed, &mac),
                    function,
                    expires_at,
                }
            }
            (Ok(_), Some(_)) => SkipReason::ApprovalNotSigned {
                why: "KMS returned a MAC that is not 32 bytes".to_owned(),
            },
            (Ok(_), None) => SkipReason::ApprovalNotSigned {
                why: "the function's own name is unknown, so the button has nothing to invoke"
                    .to_owned(),
            },
            (Err(why), _) => SkipReason::ApprovalNotSigned {
                why: crate::text::clip(&why, 512),
            },
        };
        self.conclude(Outcome::Skipped {
            reason,
            would_call,
            unchecked: Vec::new(),
        });
    }

    /// Scheduler's answer to `Next::Schedule`.
    pub fn scheduled(&mut self, result: ScheduleResult, now_ms: u64) {
        if self.stage != Stage::Scheduling {
            return;
        }
        self.now_ms = now_ms;
        let (
            Some(Started {
                request,
                update_id,
                status,
            }),
            Some(schedule),
        ) = (self.started.take(), self.schedule.take())
        else {
            return;
        };
        let follow_up = match (result, &self.settings.follow_up) {
            (ScheduleResult::Created, Some(settings)) => FollowUpNote::Scheduled {
                name: schedule.name,
                group: schedule.group,
                due_at: schedule.due_at,
                every_minutes: settings.delay_minutes,
                max_minutes: settings.max_minutes,
            },
            // Scheduling is only entered with follow-ups configured.
            (ScheduleResult::Created, None) => FollowUpNote::NotConfigured,
            (ScheduleResult::AlreadyExists, _) => FollowUpNote::AlreadyScheduled {
                name: schedule.name,
                group: schedule.group,
            },
            (ScheduleResult::Failed { why }, _) => FollowUpNote::Failed {
                why: crate::text::clip(&why, 512),
            },
        };
        self.conclude(Outcome::UpdateStarted {
            request,
            update_id,
            status,
            follow_up,
        });
    }

    /// The destination's answer to `Next::Publish`: the message id, or why not.
    pub fn published(&mut self, result: Result<String, String>, now_ms: u64) {
        if self.stage != Stage::Publishing {
            return;
        }
        self.now_ms = now_ms;
        match result {
            Ok(message_id) => {
                self.message_id = Some(message_id);
                self.stage = Stage::Done;
            }
            Err(why) => {
                self.undelivered = Some(why);
                self.stage = Stage::Failed;
            }
        }
    }

    pub fn event(&self) -> &CoverageEvent {
        &self.event
    }

    /// The audit log query the reads include, if any.
    pub fn audit_query(&self) -> Option<&AuditQuery> {
        self.audit_query.as_ref()
    }

    /// The plan, once the facts are in.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// What came of the plan, once known.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The message to publish, once rendered.
    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    fn decide(&mut self, mut facts: Facts) {
        facts.now = self
            .invocation
            .now_ms
            .map(|ms| i64::try_from(ms / 1000).unwrap_or(i64::MAX));
        facts.function = self.invocation.function.clone();
        let subject = self
            .subject
            .take()
            .unwrap_or_else(|| subject_of(&self.event));
        let mut plan = decide_subject(&self.event, subject, &facts, &self.settings.policy);
        if let Some(claims) = &self.invocation.approval {
            match approved_call(&plan.decision, claims) {
                Ok(Some(request)) => plan.decision = Decision::Overwrite(request),
                // A guardrail that fails now: its own reason, as in every mode.
                Ok(None) => {}
                Err(reason) => {
                    self.plan = Some(plan);
                    self.conclude(Outcome::Skipped {
                        reason,
                        would_call: None,
                        unchecked: Vec::new(),
                    });
                    return;
                }
            }
        } else if let Decision::Skip {
            reason: SkipReason::AwaitingApproval,
            would_call: Some(request),
            unchecked,
        } = &plan.decision
        {
            let now_s = i64::try_from(self.now_ms / 1000).unwrap_or(i64::MAX);
            let ttl = self.settings.limits.approval_ttl_seconds;
            match ApprovalClaims::for_request(&self.event, request, now_s, ttl) {
                Some(claims) => {
                    self.signing = Some((claims.expires_at, claims.signed()));
                    self.plan = Some(plan);
                    self.stage = Stage::Signing;
                }
                None => {
                    let outcome = Outcome::Skipped {
                        reason: SkipReason::ApprovalNotSigned {
                            why: "a value the token binds (event id, account, region, event time, add-on version) is missing or not an identifier".to_owned(),
                        },
                        would_call: Some(request.clone()),
                        unchecked: unchecked.clone(),
                    };
                    self.plan = Some(plan);
                    self.conclude(outcome);
                }
            }
            return;
        }
        let call = matches!(plan.decision, Decision::Overwrite(_));
        let outcome = plan.outcome_without_call();
        self.plan = Some(plan);
        match (call, outcome) {
            (true, _) => {
                let remaining_ms = self.write_end().saturating_sub(self.now_ms);
                if let Some(deadline_ms) = self.invocation.unusable_deadline_ms {
                    self.conclude(Outcome::Skipped {
                        reason: SkipReason::DeadlineUnknown { deadline_ms },
                        would_call: None,
                        unchecked: Vec::new(),
                    });
                } else if remaining_ms < self.settings.limits.min_write_ms {
                    self.conclude(Outcome::Skipped {
                        reason: SkipReason::DeadlineTooClose { remaining_ms },
                        would_call: None,
                        unchecked: Vec::new(),
                    });
                } else {
                    self.stage = Stage::Writing;
                }
            }
            (false, Some(outcome)) => self.conclude(outcome),
            (false, None) => {
                self.undelivered = Some("internal: a plan without an outcome".to_owned());
                self.stage = Stage::Failed;
            }
        }
    }

    fn conclude(&mut self, outcome: Outcome) {
        if let Some(plan) = &self.plan {
            self.message = Some(render_message(plan, &outcome, self.settings.format));
        }
        self.outcome = Some(outcome);
        self.stage = Stage::Publishing;
    }

    /// The last moment a call may end when `reserve_ms` must stay free for
    /// what follows it.
    fn budget_end(&self, reserve_ms: u64) -> u64 {
        match self.invocation.deadline_ms {
            Some(deadline) => deadline
                .saturating_sub(self.settings.limits.margin_ms)
                .saturating_sub(reserve_ms),
            None => u64::MAX,
        }
    }

    /// The write leaves room for the publish and, where follow-ups are
    /// configured, for the shortest schedule worth attempting.
    fn write_end(&self) -> u64 {
        let limits = &self.settings.limits;
        self.now_ms
            .saturating_add(limits.write_ms)
            .min(self.budget_end(limits.publish_ms + self.follow_up_reserve()))
    }

    /// The follow-up's schedule ends in time for the publish.
    fn schedule_end(&self) -> u64 {
        let limits = &self.settings.limits;
        self.now_ms
            .saturating_add(limits.schedule_ms)
            .min(self.budget_end(limits.publish_ms))
    }

    fn follow_up_reserve(&self) -> u64 {
        if self.settings.follow_up.is_some() {
            self.settings.limits.min_schedule_ms
        } else {
            0
        }
    }

    fn failed(&self, why: &str) -> Next<'_> {
        Next::Failed(Undelivered {
            event_id: crate::text::clip(&self.event.envelope.id, 128),
            issue_id: self.plan.as_ref().map_or("unknown", issue_id),
            why: why.to_owned(),
        })
    }
}
