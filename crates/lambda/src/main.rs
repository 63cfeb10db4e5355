//! The Lambda entry point: logging, configuration and clients once at
//! start-up, then the runtime loop.

use aws_config::BehaviorVersion;
use coverage_lambda::payload::Payload;
use coverage_lambda::{App, Config, HandlerError, emf, logging, tls};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = Config::from_env().inspect_err(|error| {
        tracing::error!(error = %error, "invalid configuration");
    })?;
    // Where the alert goes, in words: locally (no ALERT_TOPIC_ARN) it is
    // this process's standard output, which is not a misconfiguration.
    match config.alert_topic_arn.as_deref() {
        Some(topic) => tracing::info!(
            remediation_mode = config.policy.mode.as_str(),
            alert_destination = topic,
            "starting: alerts are published to the SNS topic"
        ),
        None => tracing::info!(
            remediation_mode = config.policy.mode.as_str(),
            alert_destination = "stdout",
            "starting: alerts are printed to standard output (ALERT_TOPIC_ARN is not set)"
        ),
    }
    // Metrics (EMF on standard output): set up before the first event, a bad
    // namespace is a start-up error like any other setting.
    let metrics = emf::MetricsSettings::from_env()
        .and_then(|settings| emf::install(&settings))
        .inspect_err(|error| tracing::error!(error = %error, "invalid configuration"))?;
    let http_client = tls::https_client(config.trust_store, config.extra_ca_pem.as_deref())?;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    let warm_up = config.warm_up_at_init;
    let app = App::new(config, &sdk);
    if warm_up {
        app.warm_up().await;
    }
    let app = &app;
    // Boxed: the handler's future nests every SDK call's future, deeper than
    // the compiler's default layout recursion allows in one type.
    // `Payload` never fails to deserialize, so a body that is not JSON reaches
    // us and fails as `NotACoverageEvent`, not as lambda_runtime's own error.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| {
        Box::pin(async move {
            let payload = event.payload.into_value().map_err(|error| {
                tracing::error!(error = %error, "rejected input: not a GuardDuty coverage event");
                HandlerError::from(error)
            })?;
            let reply = app.handle_invocation(payload, &event.context).await;
            metrics.flush_to_stdout(&event.context.request_id);
            reply
        })
    }))
    .await
}
