//! AWS SDK errors as one readable line for the alert and the logs: the
//! service's code and message when it sent them, else what went wrong on the
//! way, in words. Never the SDK's Debug output (`Unhandled(Unhandled { source:
//! ...`), never credentials. Part of the line comes from the service, or from
//! whatever answered in its place, so the line is clipped and stripped of
//! control characters.

use std::error::Error;

use aws_sdk_eks::error::{ErrorMetadata, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use coverage_core::text::clip;

/// Upper bound on one error line: it is pasted into an alert that holds
/// several of them.
pub const MAX_ERROR_TEXT_BYTES: usize = 512;

/// An SDK error as one line. Never includes credentials: only the service's
/// code and message, the HTTP status and the Display text of the transport's
/// errors are used.
pub fn error_text<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let text = match error {
        SdkError::ServiceError(service) => {
            service_error_text(service.err(), service.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) => "the request timed out".to_owned(),
        SdkError::DispatchFailure(_) => unless_no_credentials(error.source())
            .unwrap_or_else(|| with_causes("could not reach the endpoint", error.source())),
        SdkError::ResponseError(response) => format!(
            "the answer could not be read (HTTP {})",
            response.raw().status().as_u16()
        ),
        SdkError::ConstructionFailure(_) => unless_no_credentials(error.source())
            .unwrap_or_else(|| with_causes("the request could not be built", error.source())),
        // SdkError is non-exhaustive; its own Display is a short phrase.
        other => with_causes(&other.to_string(), other.source()),
    };
    clip(&one_line(&text), MAX_ERROR_TEXT_BYTES)
}

/// The service's code and message; without them only the status says what
/// came back. The SDK keeps the parse error as the source of an unparsed
/// body, and the (empty) error metadata as the source of a parsed one.
fn service_error_text<E>(error: &E, status: u16) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let code = error.code().filter(|c| !c.trim().is_empty());
    let message = error.message().filter(|m| !m.trim().is_empty());
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        (None, Some(message)) => format!("HTTP {status} from the service: {message}"),
        (None, None) if error.source().is_some_and(|s| s.is::<ErrorMetadata>()) => {
            format!("HTTP {status} from the service, without an error code")
        }
        (None, None) if (200..300).contains(&status) => {
            format!("HTTP {status} from the service, with a body that could not be read")
        }
        (None, None) => {
            format!("HTTP {status} from the service, with an error body that could not be read")
        }
    }
}

/// A request that failed before it left because the SDK's credential chain
/// found no credentials (a laptop without a profile, `cargo lambda watch`),
/// said in those words. Every read fails the same way and the alert says it
/// once (`render::view`), so the line names no per-call detail: the chain's
/// last cause differs from one call to the next ("... error already taken").
fn unless_no_credentials(first: Option<&(dyn Error + 'static)>) -> Option<String> {
    let mut next = first;
    while let Some(current) = next {
        if current
            .to_string()
            .to_ascii_lowercase()
            .contains("credentials")
        {
            return Some(
                "AWS could not be reached: no AWS credentials (the SDK's credential chain found none)"
                    .to_owned(),
            );
        }
        next = current.source();
    }
    None
}

/// `summary: cause: cause...`, each cause's Display once. The transport's
/// errors (hyper, io) say what happened only in their sources; the SDK's own
/// layers repeat each other, so a text already contained is skipped.
fn with_causes(summary: &str, first: Option<&(dyn Error + 'static)>) -> String {
    let mut parts: Vec<String> = vec![summary.to_owned()];
    let mut next = first;
    while let Some(current) = next {
        let text = one_line(&current.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// Newlines and runs of blanks as single spaces: the text is one line of an
/// alert or a log record.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use aws_sdk_eks::operation::describe_addon::DescribeAddonError;
    use aws_smithy_runtime_api::http::StatusCode;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), "".into())
    }

    fn service(code: Option<&str>, message: Option<&str>, status: u16) -> String {
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code);
        }
        if let Some(message) = message {
            meta = meta.message(message);
        }
        let error = DescribeAddonError::generic(meta.build());
        error_text(&SdkError::service_error(error, response(status)))
    }

    #[test]
    fn service_errors_by_what_the_service_sent() {
        assert_eq!(
            service(Some("ResourceNotFoundException"), Some("No addon"), 404),
            "ResourceNotFoundException: No addon"
        );
        assert_eq!(service(Some("Throttling"), None, 400), "Throttling");
        assert_eq!(service(Some("Throttling"), Some(" "), 400), "Throttling");
        assert_eq!(
            service(None, Some("bad gateway"), 502),
            "HTTP 502 from the service: bad gateway"
        );
        assert_eq!(
            service(None, None, 503),
            "HTTP 503 from the service, without an error code"
        );
    }

    #[test]
    fn a_body_the_sdk_could_not_parse_is_named_by_its_status() {
        let unparsed = |status| {
            let error = DescribeAddonError::unhandled("unexpected token '<' at offset 0");
            error_text(&SdkError::service_error(error, response(status)))
        };
        assert_eq!(
            unparsed(500),
            "HTTP 500 from the service, with an error body that could not be read"
        );
        assert_eq!(
            unparsed(200),
            "HTTP 200 from the service, with a body that could not be read"
        );
    }

    #[test]
    fn the_services_text_is_one_clipped_line_without_controls() {
        let text = service(
            Some("Code"),
            Some(&format!(
                "line one\nline two\u{1b}[31m\r{}",
                "x".repeat(4096)
            )),
            400,
        );
        assert!(text.len() <= MAX_ERROR_TEXT_BYTES, "{}", text.len());
        assert!(text.starts_with("Code: line one line two"), "{text}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("truncated"), "{text}");
    }

    #[test]
    fn timeouts_construction_and_response_failures_in_words() {
        let timeout: SdkError<DescribeAddonError, HttpResponse> =
            SdkError::timeout_error("deadline");
        assert_eq!(error_text(&timeout), "the request timed out");
        let construction: SdkError<DescribeAddonError, HttpResponse> =
            SdkError::construction_failure("cluster_name was not set");
        assert_eq!(
            error_text(&construction),
            "the request could not be built: cluster_name was not set"
        );
        let response: SdkError<DescribeAddonError, HttpResponse> =
            SdkError::response_error("connection closed before the body ended", response(200));
        assert_eq!(
            error_text(&response),
            "the answer could not be read (HTTP 200)"
        );
    }

    /// One layer of an error chain, with an optional cause below it.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    #[test]
    fn missing_credentials_are_named_as_such() {
        let error: SdkError<DescribeAddonError, HttpResponse> = SdkError::dispatch_failure(
            aws_smithy_runtime_api::client::result::ConnectorError::other(
                Box::new(Layer(
                    "an error occurred while loading credentials",
                    Some(Box::new(Layer("failed to load IMDS session token", None))),
                )),
                None,
            ),
        );
        assert_eq!(
            error_text(&error),
            "AWS could not be reached: no AWS credentials (the SDK's credential chain found none)"
        );
        let refused: SdkError<DescribeAddonError, HttpResponse> =
            SdkError::dispatch_failure(aws_smithy_runtime_api::client::result::ConnectorError::io(
                Box::new(Layer("Connection refused", None)),
            ));
        assert!(
            error_text(&refused).starts_with("could not reach the endpoint"),
            "{}",
            error_text(&refused)
        );
    }

    #[test]
    fn causes_are_listed_once() {
        let chain = Layer(
            "io error",
            Some(Box::new(Layer(
                "tcp connect error: Connection refused",
                Some(Box::new(Layer("Connection refused", None))),
            ))),
        );
        assert_eq!(
            with_causes("could not reach the endpoint", Some(&chain)),
            "could not reach the endpoint: io error: tcp connect error: Connection refused"
        );
    }
}
