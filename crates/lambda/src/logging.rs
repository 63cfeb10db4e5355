//! Logging set-up: lambda_runtime's tracing subscriber, as
//! `lambda_runtime::tracing::init_default_subscriber` builds it (JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, level from `AWS_LAMBDA_LOG_LEVEL`, else
//! `RUST_LOG`, else INFO), plus a floor on the AWS SDK's signing and HTTP
//! internals: at DEBUG and TRACE they print canonical requests and headers,
//! which carry the session token. No log level may print those.

use lambda_runtime::tracing::subscriber::filter::{Directive, EnvFilter, LevelFilter};

/// Targets that never log below INFO, whatever level the operator asks for.
const SENSITIVE_TARGETS: &[&str] = &[
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_config",
    "aws_credential_types",
    "hyper",
    "hyper_util",
    "rustls",
    "h2",
];

/// The SDK's credential chain warns once per provider that finds nothing
/// (environment, profile, web identity, IMDS...), on every read: without
/// credentials (`cargo lambda watch` on a laptop) that is several warnings
/// per event. The failed read's own error says it once, in the alert and in
/// the `event handled` line, so the chain is heard only at ERROR.
const CREDENTIAL_CHAIN: &str = "aws_config::meta::credentials::chain=error";

/// The filter for a requested level (the value of `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`).
pub fn filter(requested: Option<&str>) -> EnvFilter {
    // Lambda's levels include FATAL, which tracing calls ERROR.
    let level = requested
        .map(|text| {
            if text.trim().eq_ignore_ascii_case("fatal") {
                "error"
            } else {
                text.trim()
            }
        })
        .and_then(|text| text.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::default().add_directive(level.into());
    for target in SENSITIVE_TARGETS {
        let cap = if level > LevelFilter::INFO {
            LevelFilter::INFO
        } else {
            level
        };
        if let Ok(directive) = format!("{target}={cap}").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    if let Ok(directive) = CREDENTIAL_CHAIN.parse::<Directive>() {
        filter = filter.add_directive(directive);
    }
    filter
}

/// lambda_runtime warns when `AWS_LAMBDA_MAX_CONCURRENCY` is set and it runs
/// sequentially. At `1` (what `cargo lambda watch` sets) sequential is what
/// was asked for, so that warning is noise; at any other value it is kept.
fn quiet_single_concurrency(filter: EnvFilter, max_concurrency: Option<&str>) -> EnvFilter {
    match max_concurrency.map(str::trim) {
        Some("1") => match "lambda_runtime::runtime=error".parse::<Directive>() {
            Ok(directive) => filter.add_directive(directive),
            Err(_) => filter,
        },
        _ => filter,
    }
}

/// Install the subscriber. Call once, first thing in `main`.
pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let max_concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok();
    let builder = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(quiet_single_concurrency(
            filter(level.as_deref()),
            max_concurrency.as_deref(),
        ))
        .with_writer(std::io::stdout);
    if format.eq_ignore_ascii_case("json") {
        builder.json().with_current_span(true).init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_internals_are_capped_at_info() {
        let text = filter(Some("trace")).to_string();
        assert!(text.contains("aws_sigv4=info"), "{text}");
        assert!(text.contains("trace"), "{text}");
        let quiet = filter(Some("warn")).to_string();
        assert!(quiet.contains("aws_sigv4=warn"), "{quiet}");
        assert!(filter(Some("nonsense")).to_string().contains("info"));
        assert!(
            text.contains("aws_config::meta::credentials::chain=error"),
            "{text}"
        );
        assert!(
            filter(Some("FATAL")).to_string().starts_with("error")
                || filter(Some("FATAL")).to_string().contains(",error")
        );
    }

    #[test]
    fn the_runtimes_concurrency_warning_is_quiet_only_at_one() {
        let quiet = |value| quiet_single_concurrency(filter(None), value).to_string();
        assert!(quiet(Some("1")).contains("lambda_runtime::runtime=error"));
        assert!(!quiet(Some("4")).contains("lambda_runtime::runtime"));
        assert!(!quiet(None).contains("lambda_runtime::runtime"));
    }
}
