//! One invocation: decode, gather what the core asks for, decide, execute the
//! plan, render, publish, and return the summary. Every event ends in a
//! published alert or in an error that makes Lambda retry it and then keep it
//! in the on-failure destination.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use coverage_core::decide::Step;
use coverage_core::facts::FunctionIdentity;
use coverage_core::render::issue_id;
use coverage_core::{
    DecodeError, Summary, decide, decode_event, facts_needed, render_message, summary,
};
use serde_json::Value;
use tracing::{Instrument, field};

use crate::config::Config;
use crate::gather::{AwsClients, Gatherer};
use crate::publish::{Destination, PublishError};
use crate::remediate;

/// Why an invocation failed. Both make Lambda retry, then send the event to
/// the on-failure destination with this message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("rejected input: {0}")]
    NotACoverageEvent(#[from] DecodeError),
    #[error(
        "the alert for event {event_id} ({issue_id}) could not be published to {destination}: {source}"
    )]
    Publish {
        event_id: String,
        issue_id: String,
        destination: String,
        #[source]
        source: PublishError,
    },
}

/// The function's state across invocations: configuration and clients, built once.
#[derive(Debug)]
pub struct App {
    config: Config,
    clients: AwsClients,
    destination: Destination,
    detector_cache: Mutex<Option<String>>,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> App {
        App::with_clients(config, AwsClients::new(sdk))
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
            config,
            clients,
            destination,
            detector_cache: Mutex::new(None),
        }
    }

    /// During init: the one call every EKS event needs anyway (the detector
    /// id, cached), which also pays the first TLS handshake and the crypto
    /// library's set-up before the first event. Failure only logs.
    pub async fn warm_up(&self) {
        let gatherer = Gatherer {
            clients: &self.clients,
            timeout: self.config.fact_read_timeout,
            detector_cache: &self.detector_cache,
        };
        match gatherer.detector().await {
            coverage_core::Fact::Known(_) => tracing::debug!("warm-up: GuardDuty detector read"),
            coverage_core::Fact::Unavailable(why) => {
                tracing::warn!(why, "warm-up: GuardDuty detector not read")
            }
            coverage_core::Fact::NotGathered => {}
        }
    }

    /// Handle one invocation: the function's own ARN says where it may write.
    pub async fn handle_invocation(
        &self,
        payload: Value,
        function_arn: &str,
    ) -> Result<Summary, HandlerError> {
        let function = FunctionIdentity::from_arn(function_arn);
        if function.is_none() {
            tracing::warn!(
                function_arn,
                "cannot read account and region from the function ARN"
            );
        }
        self.handle_as(payload, function).await
    }

    /// Handle one event payload, acting in the account that delivered it
    /// (tests; production goes through `handle_invocation`).
    pub async fn handle(&self, payload: Value) -> Result<Summary, HandlerError> {
        self.handle_as(payload, None).await
    }

    async fn handle_as(
        &self,
        payload: Value,
        function: Option<FunctionIdentity>,
    ) -> Result<Summary, HandlerError> {
        let event = match decode_event(&payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(error = %error, "rejected input: not a GuardDuty coverage event");
                return Err(error.into());
            }
        };
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
        self.handle_event(event, function).instrument(span).await
    }

    async fn handle_event(
        &self,
        event: coverage_core::CoverageEvent,
        function: Option<FunctionIdentity>,
    ) -> Result<Summary, HandlerError> {
        let span = tracing::Span::current();
        let policy = &self.config.policy;
        let request = facts_needed(&event, policy, function.as_ref());
        let gatherer = Gatherer {
            clients: &self.clients,
            timeout: self.config.fact_read_timeout,
            detector_cache: &self.detector_cache,
        };
        let mut facts = gatherer.gather(&event, request, unix_now()).await;
        facts.function = function;
        let plan = decide(&event, &facts, policy);
        span.record("issue_id", issue_id(&plan));

        let outcome = match plan.step() {
            Step::Report(outcome) => outcome,
            Step::Call(overwrite) => {
                tracing::warn!(
                    cluster = %overwrite.cluster_name,
                    addon_version = overwrite.addon_version.as_deref().unwrap_or("-"),
                    client_request_token = %overwrite.client_request_token,
                    "calling UpdateAddon with resolveConflicts OVERWRITE"
                );
                remediate::overwrite(&self.clients.eks, overwrite).await
            }
        };
        span.record("action", outcome.action_label());
        span.record("outcome", outcome.label().as_str());

        let message = render_message(&plan, &outcome, self.config.message_format);
        let message_id = self.destination.publish(&message).await.map_err(|source| {
            let error = HandlerError::Publish {
                event_id: clip(&event.envelope.id),
                issue_id: issue_id(&plan).to_owned(),
                destination: self.destination.describe(),
                source,
            };
            tracing::error!(error = %error, "alert not published; Lambda will retry the event");
            error
        })?;
        let summary = summary(&plan, &outcome, &message_id);
        tracing::info!(
            update_id = summary.update_id.as_deref().unwrap_or("-"),
            message_id = %summary.message_id,
            "event handled"
        );
        Ok(summary)
    }
}

/// Untrusted values are cut before they reach a log line.
fn clip(text: &str) -> String {
    coverage_core::text::clip(text, 256)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What Lambda records for a failed invocation (and the on-failure
/// destination keeps): a stable error type and the full message.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::NotACoverageEvent(_) => "NotACoverageEvent",
            HandlerError::Publish { .. } => "AlertNotPublished",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}
