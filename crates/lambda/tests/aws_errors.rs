//! `error_text` over real HTTP: SDK clients for EKS (REST-JSON) and SNS (the
//! XML query protocol) pointed at a wiremock server, or at a port nothing
//! listens on, or at a server that hangs up mid-body, and the line each
//! failure becomes. Every line must read as words: no Rust Debug output, no
//! credentials, one clipped line.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_eks::config::Credentials;
use coverage_lambda::aws_error::{MAX_ERROR_TEXT_BYTES, error_text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

const ACCESS_KEY: &str = "AKIDAWSERRORTEST";
const SECRET_KEY: &str = "aws-errors-test-secret";
const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:guardduty-coverage-alerts";

/// Static test credentials, us-east-1, no retries (each failure once, fast).
async fn sdk(timeout: Option<Duration>) -> SdkConfig {
    let mut timeouts = TimeoutConfig::builder();
    if let Some(timeout) = timeout {
        timeouts = timeouts.operation_timeout(timeout);
    }
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts.build())
        .load()
        .await
}

async fn eks(endpoint: &str, timeout: Option<Duration>) -> aws_sdk_eks::Client {
    aws_sdk_eks::Client::from_conf(
        aws_sdk_eks::config::Builder::from(&sdk(timeout).await)
            .endpoint_url(endpoint)
            .build(),
    )
}

async fn sns(endpoint: &str) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&sdk(None).await)
            .endpoint_url(endpoint)
            .build(),
    )
}

/// A server answering every request with `response`.
async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// DescribeAddon (EKS, REST-JSON) against `endpoint`: the error's line.
async fn describe_addon(endpoint: &str) -> String {
    let error = eks(endpoint, None)
        .await
        .describe_addon()
        .cluster_name("prod-payments")
        .addon_name("aws-guardduty-agent")
        .send()
        .await
        .unwrap_err();
    readable(error_text(&error))
}

/// Publish (SNS, XML query protocol) against `endpoint`: the error's line.
async fn publish(endpoint: &str) -> String {
    let error = sns(endpoint)
        .await
        .publish()
        .topic_arn(TOPIC)
        .message("alert")
        .send()
        .await
        .unwrap_err();
    readable(error_text(&error))
}

/// The properties every line has, whatever the failure.
fn readable(text: String) -> String {
    for artefact in [
        "Unhandled(",
        "{ source",
        "Some(",
        "None",
        "XmlDecodeError",
        "DeserializeError",
        "ErrorMetadata",
        "{ kind",
        "Os {",
        "ConnectorError",
        "SdkBody",
        ACCESS_KEY,
        SECRET_KEY,
    ] {
        assert!(!text.contains(artefact), "{artefact:?} in {text:?}");
    }
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.len() <= MAX_ERROR_TEXT_BYTES, "{} bytes", text.len());
    assert!(!text.is_empty());
    text
}

fn body(status: u16, content_type: &str, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_owned(), content_type)
}

#[tokio::test]
async fn a_json_error_with_its_type_header_gives_code_and_message() {
    let server = answering(
        body(
            404,
            "application/json",
            r#"{"message":"No addon: aws-guardduty-agent found in cluster: prod-payments"}"#,
        )
        .insert_header(
            "x-amzn-errortype",
            "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.eks/",
        ),
    )
    .await;
    assert_eq!(
        describe_addon(&server.uri()).await,
        "ResourceNotFoundException: No addon: aws-guardduty-agent found in cluster: prod-payments"
    );
}

#[tokio::test]
async fn an_error_type_without_a_message_gives_the_code() {
    let server = answering(
        body(503, "application/json", "")
            .insert_header("x-amzn-errortype", "ServiceUnavailableException"),
    )
    .await;
    assert_eq!(
        describe_addon(&server.uri()).await,
        "ServiceUnavailableException"
    );
}

#[tokio::test]
async fn a_500_whose_body_is_neither_json_nor_xml_gives_the_status() {
    let server = answering(body(
        500,
        "text/plain",
        "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    ))
    .await;
    let expected = "HTTP 500 from the service, with an error body that could not be read";
    assert_eq!(describe_addon(&server.uri()).await, expected);
    assert_eq!(publish(&server.uri()).await, expected);
}

#[tokio::test]
async fn a_200_whose_body_is_garbage_gives_the_status() {
    let server = answering(body(200, "application/json", "garbage{{\u{0}")).await;
    let expected = "HTTP 200 from the service, with a body that could not be read";
    assert_eq!(describe_addon(&server.uri()).await, expected);
    assert_eq!(publish(&server.uri()).await, expected);
}

#[tokio::test]
async fn sns_errors_over_the_xml_protocol() {
    let not_found = answering(body(
        404,
        "text/xml",
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>6d3e7d8e</RequestId></ErrorResponse>"#,
    ))
    .await;
    assert_eq!(
        publish(&not_found.uri()).await,
        "NotFound: Topic does not exist"
    );
    let garbage = answering(body(400, "text/xml", "<<<not xml>>> \u{1b}[2J")).await;
    assert_eq!(
        publish(&garbage.uri()).await,
        "HTTP 400 from the service, with an error body that could not be read"
    );
    // A proxy's page is XML enough to read, but names no error.
    let proxy = answering(body(
        502,
        "text/html",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    ))
    .await;
    assert_eq!(
        publish(&proxy.uri()).await,
        "HTTP 502 from the service, without an error code"
    );
}

#[tokio::test]
async fn the_services_text_is_clipped_and_stripped() {
    let message = format!("line one\nline two\r\u{7}{}", "x".repeat(100_000));
    let server = answering(
        body(
            400,
            "application/json",
            &serde_json::json!({ "message": message }).to_string(),
        )
        .insert_header("x-amzn-errortype", "InvalidParameterException"),
    )
    .await;
    let text = describe_addon(&server.uri()).await;
    assert!(
        text.starts_with("InvalidParameterException: line one line two"),
        "{text}"
    );
    assert!(text.contains("truncated"), "{text}");
}

#[tokio::test]
async fn connection_refused_says_the_endpoint_could_not_be_reached() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let text = describe_addon(&endpoint).await;
    assert!(text.starts_with("could not reach the endpoint: "), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    let error = eks(&server.uri(), Some(Duration::from_millis(200)))
        .await
        .describe_addon()
        .cluster_name("prod-payments")
        .addon_name("aws-guardduty-agent")
        .send()
        .await
        .unwrap_err();
    assert_eq!(readable(error_text(&error)), "the request timed out");
}

#[tokio::test]
async fn a_request_missing_a_required_field_could_not_be_built() {
    let server = answering(ResponseTemplate::new(200)).await;
    let error = eks(&server.uri(), None)
        .await
        .describe_addon()
        .addon_name("aws-guardduty-agent")
        .send()
        .await
        .unwrap_err();
    let text = readable(error_text(&error));
    assert!(
        text.starts_with("the request could not be built: ") && text.contains("cluster_name"),
        "{text}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_body_cut_short_could_not_be_read() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut connection, _)) = listener.accept().await {
            let mut request = [0u8; 8192];
            let _ = connection.read(&mut request).await;
            let _ = connection
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                      content-length: 100\r\n\r\n{\"addon\":",
                )
                .await;
        }
    });
    assert_eq!(
        describe_addon(&endpoint).await,
        "the answer could not be read (HTTP 200)"
    );
}

/// Without credentials (a profile file that does not exist, as on a laptop
/// with none): no request leaves, every read fails with the same line, and
/// the alert says once that AWS could not be reached.
#[tokio::test]
// aws-config's aliases of aws-runtime's profile-file types: the way to them
// without depending on aws-runtime.
#[allow(deprecated)]
async fn without_credentials_the_alert_says_once_that_aws_could_not_be_reached() {
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    use coverage_core::{Fact, FactRequest, Facts, Policy, decide, decode_event_bytes, render};
    use coverage_lambda::gather::{AwsClients, Gatherer, now_ms};

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let missing = repo.join("events/no-such-aws-credentials");
    let files = ProfileFiles::builder()
        .include_default_config_file(false)
        .include_default_credentials_file(false)
        .with_file(ProfileFileKind::Credentials, &missing)
        .with_file(ProfileFileKind::Config, &missing)
        .build();
    let provider = ProfileFileCredentialsProvider::builder()
        .profile_files(files)
        .profile_name("none")
        .build();
    let server = answering(ResponseTemplate::new(200)).await;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(server.uri())
        .credentials_provider(provider)
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    let clients = AwsClients::new(&sdk);
    let cache = std::sync::Mutex::new(None);
    let gatherer = Gatherer {
        clients: &clients,
        timeout: Duration::from_secs(10),
        deadline_ms: now_ms() + 20_000,
        detector_cache: &cache,
    };
    let request = FactRequest {
        addon: true,
        update_history: true,
        coverage: true,
        statistics: true,
        audit_log: false,
    };
    let gathered = gatherer
        .gather("prod-payments", Some("111122223333"), request)
        .await;
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "a request left without credentials"
    );
    let Fact::Unavailable(why) = &gathered.addon else {
        panic!("{:?}", gathered.addon)
    };
    assert!(
        why.starts_with("DescribeAddon failed: AWS could not be reached: no AWS credentials"),
        "{why}"
    );
    let bytes =
        std::fs::read(repo.join("events/unhealthy.addon-configuration-conflict.json")).unwrap();
    let event = decode_event_bytes(&bytes).unwrap();
    let facts = Facts {
        now: gathered.now,
        ..gathered
    };
    let plan = decide(&event, &facts, &Policy::offline());
    let alert = render(&plan, &plan.outcome_without_call().unwrap());
    let live: Vec<&str> = alert
        .text_message
        .lines()
        .filter(|line| line.starts_with("  - ") && line.contains("credentials"))
        .collect();
    assert_eq!(live.len(), 1, "{}", alert.text_message);
    assert!(
        live[0].contains("Every AWS read failed the same way (add-on, update history, GuardDuty coverage, coverage statistics, GuardDuty detector): AWS could not be reached: no AWS credentials"),
        "{}",
        live[0]
    );
}
