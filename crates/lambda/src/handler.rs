//! One invocation: a short loop over the core's `Pipeline` for a coverage
//! event, or over its `FollowUp` for a follow-up payload (`{"follow_up":
//! ...}`, which the function's own schedules send). Each asks for reads, the
//! one write, schedules and the publish, each with a deadline inside the
//! invocation's; this shell performs them and hands back what happened.
//! Every event ends in a published alert or in an error that makes Lambda
//! retry it and then keep it in the on-failure destination.

use std::sync::Mutex;

use coverage_core::follow_up::{
    FollowUp, FollowUpError, FollowUpNext, FollowUpSummary, is_follow_up,
};
use coverage_core::{
    DecodeError, Fact, Invocation, Next, Pipeline, ScheduleResult, Settings, Summary, Undelivered,
    WriteResult,
};
use serde::Serialize;
use serde_json::Value;
use tracing::{Instrument, field};

use crate::accounts::{MemberClients, Members};
use crate::config::Config;
use crate::gather::{AwsClients, Gatherer, now_ms, until};
use crate::publish::Destination;
use crate::{remediate, schedule};

/// Why an invocation failed. Each makes Lambda retry, then send the event to
/// the on-failure destination with this message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("rejected input: {0}")]
    NotACoverageEvent(#[from] DecodeError),
    #[error("rejected follow-up: {0}")]
    FollowUp(#[from] FollowUpError),
    #[error(
        "the alert for event {event_id} ({issue_id}) could not be published to {destination}: {why}"
    )]
    Publish {
        event_id: String,
        issue_id: String,
        destination: String,
        why: String,
    },
}

/// What an invocation returns: a coverage event's summary or a follow-up's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Event(Summary),
    FollowUp(FollowUpSummary),
    Sweep(coverage_core::sweep::SweepSummary),
}

/// The function's state across invocations: configuration and clients, built once.
#[derive(Debug)]
pub struct App {
    config: Config,
    settings: Settings,
    clients: AwsClients,
    destination: Destination,
    detector_cache: Mutex<Option<String>>,
    /// The member accounts' clients (the organization hub); `None` when
    /// `MEMBER_ACCOUNTS` is empty, so a single-account function builds no
    /// STS client.
    members: Option<Members>,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> App {
        let members = config
            .policy
            .members
            .is_configured()
            .then(|| Members::from_sdk(sdk));
        let app = App::with_clients(config, AwsClients::new(sdk));
        match members {
            Some(members) => app.with_members(members),
            None => app,
        }
    }

    /// With the member accounts' clients (tests point STS and the member
    /// clients at their own local endpoint).
    pub fn with_members(mut self, members: Members) -> App {
        self.members = Some(members);
        self
    }

    /// With clients built elsewhere (tests point each at its own local endpoint).
    pub fn with_clients(config: Config, clients: AwsClients) -> App {
        let destination = match &config.alert_topic_arn {
            Some(topic_arn) => Destination::Sns {
                client: clients.sns.clone(),
                topic_arn: topic_arn.clone(),
            },
            None => Destination::Stdout,
        };
        App {
            settings: config.settings(),
            config,
            clients,
            destination,
            detector_cache: Mutex::new(None),
            members: None,
        }
    }

    /// During init: the one call every EKS event needs anyway (the detector
    /// id, cached), which also pays the first TLS handshake and the crypto
    /// library's set-up before the first event. Failure only logs.
    pub async fn warm_up(&self) {
        let gatherer = Gatherer {
            clients: &self.clients,
            timeout: self.config.fact_read_timeout,
            deadline_ms: u64::MAX,
            detector_cache: &self.detector_cache,
        };
        match gatherer.detector().await {
            Fact::Known(_) => tracing::debug!("warm-up: GuardDuty detector read"),
            Fact::Unavailable(why) => tracing::warn!(why, "warm-up: GuardDuty detector not read"),
            Fact::NotGathered => {}
        }
    }

    /// Handle one Lambda invocation: the function's own ARN says where it may
    /// write, and the runtime's deadline bounds every call.
    pub async fn handle_invocation(
        &self,
        payload: Value,
        context: &lambda_runtime::Context,
    ) -> Result<Reply, HandlerError> {
        let now = now_ms();
        tracing::debug!(
            deadline_ms = context.deadline,
            now_ms = now,
            "invocation started"
        );
        let (invocation, stand_in) = Invocation::from_runtime(
            &context.invoked_function_arn,
            now,
            context.deadline,
            self.config.emulator_function_arn.as_deref(),
        );
        let invocation = invocation.with_request_id(&context.request_id);
        match stand_in {
            coverage_core::StandIn::NotConfigured => {}
            coverage_core::StandIn::Applied => tracing::warn!(
                invoked = %context.invoked_function_arn,
                "the runtime is the local emulator: EMULATOR_FUNCTION_ARN stands in for its placeholder ARN (local testing only)"
            ),
            coverage_core::StandIn::Ignored => tracing::warn!(
                invoked = %context.invoked_function_arn,
                "EMULATOR_FUNCTION_ARN is set but ignored: the runtime sent a function ARN of its own"
            ),
        }
        // Expected under `cargo lambda watch` (no real ARN): information, not
        // a warning; the alert states it, and no write can follow.
        if let Fact::Unavailable(why) = &invocation.function {
            tracing::info!(
                why,
                "cannot read account and region from the function ARN: no write"
            );
        }
        self.dispatch(payload, invocation).await
    }

    /// Handle a payload by its shape: a follow-up (`{"follow_up": ...}`), or
    /// else a coverage event.
    pub async fn dispatch(
        &self,
        payload: Value,
        invocation: Invocation,
    ) -> Result<Reply, HandlerError> {
        if coverage_core::sweep::is_sweep(&payload) {
            return Box::pin(self.sweep(invocation)).await.map(Reply::Sweep);
        }
        if is_follow_up(&payload) {
            self.follow_up(payload, invocation)
                .await
                .map(Reply::FollowUp)
        } else if coverage_core::approval::is_approval(&payload) {
            self.approve(&payload, invocation).await.map(Reply::Event)
        } else {
            self.handle(payload, invocation).await.map(Reply::Event)
        }
    }

    /// Handle a follow-up payload: look at the update, post what became of it.
    pub async fn follow_up(
        &self,
        payload: Value,
        invocation: Invocation,
    ) -> Result<FollowUpSummary, HandlerError> {
        let follow_up = match FollowUp::new(&payload, &self.settings, invocation) {
            Ok(follow_up) => follow_up,
            Err(error) => {
                tracing::error!(error = %error, "rejected follow-up");
                return Err(error.into());
            }
        };
        let about = follow_up.payload();
        let span = tracing::info_span!(
            "follow_up",
            event_id = %about.event_id,
            update_id = %about.update_id,
            cluster = %about.cluster,
            attempt = about.attempt,
            outcome = field::Empty,
        );
        self.drive_follow_up(follow_up).instrument(span).await
    }

    /// Handle one event payload for an invocation described by the caller
    /// (tests pass their own ARN, clock and deadline).
    pub async fn handle(
        &self,
        payload: Value,
        invocation: Invocation,
    ) -> Result<Summary, HandlerError> {
        self.handle_with(payload, invocation, false).await
    }

    /// A cluster the sweep found unhealthy, as its event: the same
    /// pipeline, its alert published only when the OVERWRITE was attempted
    /// (`sweep::alerts_individually`); else its summary's message id is
    /// `sweep::DIGEST_ONLY` and the digest lists it.
    pub(crate) async fn handle_swept(
        &self,
        payload: Value,
        invocation: Invocation,
    ) -> Result<Summary, HandlerError> {
        self.handle_with(payload, invocation, true).await
    }

    async fn handle_with(
        &self,
        payload: Value,
        invocation: Invocation,
        swept: bool,
    ) -> Result<Summary, HandlerError> {
        let pipeline = match Pipeline::new(&payload, &self.settings, invocation) {
            Ok(pipeline) => pipeline,
            Err(error) => {
                tracing::error!(error = %error, "rejected input: not a GuardDuty coverage event");
                return Err(error.into());
            }
        };
        let event = pipeline.event();
        let span = tracing::info_span!(
            "event",
            event_id = %clip(&event.envelope.id),
            account = event.envelope.account.as_deref().map(clip).as_deref().unwrap_or("-"),
            region = event.envelope.region.as_deref().map(clip).as_deref().unwrap_or("-"),
            cluster = event.cluster_name().map(clip).as_deref().unwrap_or("-"),
            issue_id = field::Empty,
            action = field::Empty,
            outcome = field::Empty,
        );
        self.drive(pipeline, swept).instrument(span).await
    }

    /// Do what the pipeline asks until it is done.
    async fn drive(
        &self,
        mut pipeline: Pipeline<'_>,
        swept: bool,
    ) -> Result<Summary, HandlerError> {
        // A member's clients, from its reads to its write: one set of
        // credentials for the whole event.
        let mut assumed: Option<std::sync::Arc<MemberClients>> = None;
        loop {
            match pipeline.poll() {
                Next::Gather {
                    request,
                    cluster,
                    account,
                    member,
                    read_ms,
                    deadline_ms,
                    audit,
                } => {
                    let timeout = std::time::Duration::from_millis(read_ms);
                    let facts = match member {
                        None => {
                            let gatherer = Gatherer {
                                clients: &self.clients,
                                timeout,
                                deadline_ms,
                                detector_cache: &self.detector_cache,
                            };
                            gatherer
                                .gather_with_audit(cluster, account, request, audit)
                                .await
                        }
                        // Every read in the member account, with its role.
                        Some(member) => match self.member_clients(member, deadline_ms).await {
                            Ok(clients) => {
                                let gatherer = Gatherer {
                                    clients: &clients.clients,
                                    timeout,
                                    deadline_ms,
                                    detector_cache: &clients.detector_cache,
                                };
                                let facts = gatherer
                                    .gather_with_audit(cluster, account, request, audit)
                                    .await;
                                assumed = Some(clients);
                                facts
                            }
                            Err(why) => {
                                tracing::warn!(
                                    role_arn = %member.role_arn,
                                    why,
                                    "member role not assumed: nothing read there, no write"
                                );
                                crate::accounts::not_assumed(request, member, &why)
                            }
                        },
                    };
                    crate::emf::record(&coverage_core::metrics::of_facts(&facts));
                    pipeline.gathered(facts, now_ms());
                    self.record(&pipeline);
                }
                Next::Write {
                    request,
                    member,
                    deadline_ms,
                } => {
                    tracing::warn!(
                        cluster = %request.cluster_name,
                        addon_version = request.addon_version.as_deref().unwrap_or("-"),
                        client_request_token = %request.client_request_token,
                        "calling UpdateAddon with resolveConflicts OVERWRITE"
                    );
                    let limit = until(deadline_ms);
                    // A member's write uses the clients its reads used.
                    let writer = match (member, &assumed) {
                        (Some(member), Some(clients)) if clients.account == member.account => {
                            Some(clients.clone())
                        }
                        (Some(member), _) => match self.member_clients(member, deadline_ms).await {
                            Ok(clients) => Some(clients),
                            Err(why) => {
                                pipeline.wrote(
                                    WriteResult::Failed {
                                        error: format!("the member role was not assumed: {why}"),
                                    },
                                    now_ms(),
                                );
                                continue;
                            }
                        },
                        (None, _) => None,
                    };
                    let eks = writer
                        .as_ref()
                        .map_or(&self.clients.eks, |clients| &clients.clients.eks);
                    let call = remediate::overwrite(eks, request);
                    let result = match tokio::time::timeout(limit, call).await {
                        Ok(result) => result,
                        Err(_) => WriteResult::NoAnswer {
                            why: format!("EKS did not answer within {} ms", limit.as_millis()),
                        },
                    };
                    pipeline.wrote(result, now_ms());
                }
                Next::Sign {
                    signed,
                    deadline_ms,
                } => {
                    let result = match &self.config.approval_key_id {
                        Some(key) => {
                            crate::approval::generate_mac(
                                &self.clients.kms,
                                key,
                                signed,
                                deadline_ms,
                            )
                            .await
                        }
                        None => Err("APPROVAL_KEY_ID is not set".to_owned()),
                    };
                    pipeline.signed(result, now_ms());
                }
                Next::Schedule {
                    request,
                    deadline_ms,
                } => {
                    let result = self.create_schedule(request, deadline_ms).await;
                    pipeline.scheduled(result, now_ms());
                }
                Next::Publish {
                    message,
                    deadline_ms,
                } => {
                    self.record(&pipeline);
                    if swept
                        && !pipeline
                            .outcome()
                            .is_some_and(coverage_core::sweep::alerts_individually)
                    {
                        let digest_only = Ok(crate::sweep::DIGEST_ONLY.to_owned());
                        pipeline.published(digest_only, now_ms());
                        continue;
                    }
                    let result = self.publish(message, deadline_ms).await;
                    pipeline.published(result, now_ms());
                }
                Next::Done(summary) => {
                    // A swept cluster kept for the digest published nothing of its own.
                    let published =
                        (summary.message_id != crate::sweep::DIGEST_ONLY).then_some(true);
                    Self::count_event(&pipeline, published);
                    tracing::info!(
                        update_id = summary.update_id.as_deref().unwrap_or("-"),
                        message_id = %summary.message_id,
                        "event handled"
                    );
                    return Ok(summary);
                }
                Next::Failed(undelivered) => {
                    Self::count_event(&pipeline, Some(false));
                    return Err(self.not_published(
                        undelivered,
                        "alert not published; Lambda will retry the event",
                    ));
                }
            }
        }
    }

    // --- Approve mode: an approval invocation (`{"approve": "<token>"}`) ---

    /// Verify the token (KMS `VerifyMac`, then expiry), then run the pipeline
    /// again on the event it names with every read made anew: the call is
    /// made only if every guardrail holds now and the add-on is the one
    /// approved. A refused token publishes why, in the alert's thread.
    pub async fn approve(
        &self,
        payload: &Value,
        mut invocation: Invocation,
    ) -> Result<Summary, HandlerError> {
        let request_id = invocation.request_id.as_ref().map(ToString::to_string);
        // The function is not told who pressed the button: the request id
        // lines this log up with CloudTrail's Invoke by the channel's role.
        let accepted = self.accept_approval(payload, &invocation).await;
        match accepted {
            Ok(claims) => {
                tracing::warn!(
                    request_id = request_id.as_deref().unwrap_or("-"),
                    event_id = %claims.event_id,
                    cluster = %claims.cluster,
                    account = %claims.account,
                    addon_version = %claims.addon_version,
                    "approval verified: re-checking every guardrail before the OVERWRITE"
                );
                let event = claims.event();
                invocation.approval = Some(claims);
                self.handle(event, invocation).await
            }
            Err((rejection, claims)) => {
                tracing::warn!(
                    request_id = request_id.as_deref().unwrap_or("-"),
                    reason = rejection.label(),
                    error = %rejection,
                    "approval refused: no AWS call made"
                );
                let message = coverage_core::approval::refusal_message(
                    &rejection,
                    claims.as_ref(),
                    request_id.as_deref(),
                    self.settings.format,
                );
                let limits = &self.settings.limits;
                let deadline_ms = invocation
                    .deadline_ms
                    .map_or(u64::MAX, |d| d.saturating_sub(limits.margin_ms))
                    .min(now_ms().saturating_add(limits.publish_ms));
                let event_id = claims
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |c| c.event_id.to_string());
                match self.publish(&message, deadline_ms).await {
                    Ok(message_id) => Ok(Summary {
                        event_id,
                        issue_id: "approval".to_owned(),
                        cluster: claims.map(|c| c.cluster.to_string()),
                        action: "none",
                        outcome: rejection.label().to_owned(),
                        update_id: None,
                        follow_up: None,
                        message_id,
                    }),
                    Err(why) => Err(self.not_published(
                        Undelivered {
                            event_id,
                            issue_id: "approval",
                            why,
                        },
                        "approval refusal not published; Lambda will retry",
                    )),
                }
            }
        }
    }

    /// The token's claims once well-formed, verified by KMS and not expired;
    /// else why not, with the claims it states (for the refusal's thread).
    async fn accept_approval(
        &self,
        payload: &Value,
        invocation: &Invocation,
    ) -> Result<
        coverage_core::approval::ApprovalClaims,
        (
            coverage_core::approval::Rejection,
            Option<coverage_core::approval::ApprovalClaims>,
        ),
    > {
        use coverage_core::approval::{Rejection, Token};
        let token = coverage_core::approval::token_text(payload)
            .and_then(Token::parse)
            .map_err(|rejection| (rejection, None))?;
        let stated = Some(token.unverified_claims().clone());
        let key = match (&self.settings.policy.mode, &self.config.approval_key_id) {
            (coverage_core::RemediationMode::Approve, Some(key)) => key,
            _ => return Err((Rejection::NotApproveMode, stated)),
        };
        let limits = &self.settings.limits;
        let deadline_ms = invocation
            .deadline_ms
            .map_or(u64::MAX, |d| {
                d.saturating_sub(limits.margin_ms + limits.publish_ms)
            })
            .min(now_ms().saturating_add(limits.read_ms));
        let verification = crate::approval::verify_mac(
            &self.clients.kms,
            key,
            token.signed(),
            token.mac(),
            deadline_ms,
        )
        .await;
        // The invocation's clock, as the pipeline's: time is an input.
        let now_s =
            i64::try_from(invocation.now_ms.unwrap_or_else(now_ms) / 1000).unwrap_or(i64::MAX);
        token
            .accept(verification, now_s)
            .map_err(|rejection| (rejection, stated))
    }

    /// Do what the follow-up asks until it is done.
    async fn drive_follow_up(
        &self,
        mut follow_up: FollowUp<'_>,
    ) -> Result<FollowUpSummary, HandlerError> {
        loop {
            match follow_up.poll() {
                FollowUpNext::Read {
                    cluster,
                    update_id,
                    read_ms,
                    deadline_ms,
                } => {
                    let gatherer = Gatherer {
                        clients: &self.clients,
                        timeout: std::time::Duration::from_millis(read_ms),
                        deadline_ms,
                        detector_cache: &self.detector_cache,
                    };
                    let facts = gatherer
                        .follow_up(cluster.as_str(), update_id.as_str())
                        .await;
                    follow_up.read(facts, now_ms());
                }
                FollowUpNext::Schedule {
                    request,
                    deadline_ms,
                } => {
                    let result = self.create_schedule(request, deadline_ms).await;
                    follow_up.scheduled(result, now_ms());
                }
                FollowUpNext::Claim {
                    request,
                    deadline_ms,
                } => {
                    let limit = until(deadline_ms);
                    let claim = schedule::claim(&self.clients.scheduler, request);
                    let result = match tokio::time::timeout(limit, claim).await {
                        Ok(result) => result,
                        Err(_) => coverage_core::follow_up::ClaimResult::Failed {
                            why: format!(
                                "Scheduler did not answer within {} ms",
                                limit.as_millis()
                            ),
                        },
                    };
                    follow_up.claimed(result, now_ms());
                }
                FollowUpNext::Publish {
                    message,
                    deadline_ms,
                } => {
                    let result = self.publish(message, deadline_ms).await;
                    follow_up.published(result, now_ms());
                }
                FollowUpNext::Done(summary) => {
                    crate::emf::record(&coverage_core::metrics::of_follow_up(
                        follow_up.report(),
                        &summary,
                    ));
                    tracing::Span::current().record("outcome", summary.outcome.as_str());
                    tracing::info!(
                        next_schedule = summary.next_schedule.as_deref().unwrap_or("-"),
                        message_id = summary.message_id.as_deref().unwrap_or("-"),
                        "follow-up handled"
                    );
                    return Ok(summary);
                }
                FollowUpNext::Failed(undelivered) => {
                    crate::emf::record(&[coverage_core::metrics::of_publish(false)]);
                    return Err(self.not_published(
                        undelivered,
                        "follow-up not published; Lambda will retry it",
                    ));
                }
            }
        }
    }

    /// The member account's clients, assumed within `deadline_ms` (or cached).
    async fn member_clients(
        &self,
        member: &coverage_core::guardrails::MemberAccess,
        deadline_ms: u64,
    ) -> Result<std::sync::Arc<MemberClients>, String> {
        match &self.members {
            Some(members) => members.clients(member, until(deadline_ms)).await,
            None => Err("this function has no STS client for member accounts".to_owned()),
        }
    }

    /// One `CreateSchedule`, within the deadline the core gave.
    async fn create_schedule(
        &self,
        request: &coverage_core::ScheduleRequest,
        deadline_ms: u64,
    ) -> ScheduleResult {
        tracing::info!(
            schedule = %request.name,
            group = %request.group,
            expression = %request.expression,
            "creating schedule"
        );
        let limit = until(deadline_ms);
        let call = schedule::create(&self.clients.scheduler, request);
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => ScheduleResult::Failed {
                why: format!("Scheduler did not answer within {} ms", limit.as_millis()),
            },
        }
    }

    /// The invocation's error for a message that was not delivered, logged.
    fn not_published(&self, undelivered: Undelivered, log: &'static str) -> HandlerError {
        let error = HandlerError::Publish {
            event_id: undelivered.event_id,
            issue_id: undelivered.issue_id.to_owned(),
            destination: self.destination.describe(),
            why: undelivered.why,
        };
        tracing::error!(error = %error, "{log}");
        error
    }

    /// One publish, within the deadline the core gave.
    async fn publish(
        &self,
        message: &coverage_core::Message,
        deadline_ms: u64,
    ) -> Result<String, String> {
        let limit = until(deadline_ms);
        match tokio::time::timeout(limit, self.destination.publish(message)).await {
            Ok(Ok(message_id)) => Ok(message_id),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        }
    }

    /// The event's metrics, once it ended: its publish and its outcome.
    fn count_event(pipeline: &Pipeline<'_>, published: Option<bool>) {
        let mut counts: Vec<_> = published
            .map(coverage_core::metrics::of_publish)
            .into_iter()
            .collect();
        if let Some(outcome) = pipeline.outcome() {
            counts.extend(coverage_core::metrics::of_outcome(outcome));
        }
        crate::emf::record(&counts);
    }

    /// The decision so far, on the event's span.
    fn record(&self, pipeline: &Pipeline<'_>) {
        let span = tracing::Span::current();
        if let Some(plan) = pipeline.plan() {
            span.record("issue_id", coverage_core::render::issue_id(plan));
        }
        if let Some(outcome) = pipeline.outcome() {
            span.record("action", outcome.action_label());
            span.record("outcome", outcome.label().as_str());
        }
    }
}

/// What the sweep's shell (`crate::sweep`) borrows from the function's state.
impl App {
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn clients(&self) -> &AwsClients {
        &self.clients
    }

    pub(crate) fn destination_name(&self) -> String {
        self.destination.describe()
    }

    /// The own account's detector id, within `read` and `deadline_ms` (cached).
    pub(crate) async fn own_detector(
        &self,
        read: std::time::Duration,
        deadline_ms: u64,
    ) -> Fact<String> {
        let gatherer = Gatherer {
            clients: &self.clients,
            timeout: read,
            deadline_ms,
            detector_cache: &self.detector_cache,
        };
        gatherer.detector().await
    }

    pub(crate) async fn member_clients_for(
        &self,
        member: &coverage_core::guardrails::MemberAccess,
        deadline_ms: u64,
    ) -> Result<std::sync::Arc<MemberClients>, String> {
        self.member_clients(member, deadline_ms).await
    }

    pub(crate) async fn publish_message(
        &self,
        message: &coverage_core::Message,
        deadline_ms: u64,
    ) -> Result<String, String> {
        self.publish(message, deadline_ms).await
    }
}

/// Untrusted values are cut before they reach a log line.
fn clip(text: &str) -> String {
    coverage_core::text::clip(text, 256)
}

/// What Lambda records for a failed invocation (and the on-failure
/// destination keeps): a stable error type and the full message.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::NotACoverageEvent(DecodeError::NotJson { .. }) => "NotJson",
            HandlerError::NotACoverageEvent(_) => "NotACoverageEvent",
            HandlerError::FollowUp(
                FollowUpError::Malformed { .. } | FollowUpError::Attempt { .. },
            ) => "MalformedFollowUp",
            HandlerError::FollowUp(_) => "FollowUpRejected",
            HandlerError::Publish { .. } => "AlertNotPublished",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}
