//! `coverage sweep` as an engineer runs it: the binary, its AWS endpoint a
//! local HTTP fake of STS and GuardDuty (wiremock), credentials and region
//! from the environment. It prints the digest (text or JSON), reads only,
//! and fails with a clear message when it cannot start.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "111122223333";
const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const CPU: &str = "Addon Update Failed:EKS Addon Issue - InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas. 0/1 nodes are available: 1 Insufficient cpu.";

fn resource(
    cluster: &str,
    status: &str,
    issue: Option<&str>,
    covered: i64,
    compatible: i64,
) -> Value {
    json!({
        "resourceId": cluster, "detectorId": DETECTOR, "accountId": ACCOUNT,
        "coverageStatus": status, "issue": issue,
        "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
            "clusterName": cluster, "coveredNodes": covered, "compatibleNodes": compatible,
            "addonDetails": {"addonVersion": "v1.10.0-eksbuild.2", "addonStatus": "ACTIVE"}}},
        "updatedAt": 1_764_000_000
    })
}

/// STS and GuardDuty for one account of three clusters; anything else 404s
/// (the unhealthy cluster's other reads then fail, as a denied read would).
async fn fake() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(body_string_contains("Action=GetCallerIdentity"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/xml")
                .set_body_string(format!(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/engineer</Arn><UserId>AIDAFAKE</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
                )),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/detector"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"detectorIds": [DETECTOR]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/detector/{DETECTOR}/coverage")))
        .and(body_string_contains("RESOURCE_TYPE"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"resources": [
                resource("payments", "UNHEALTHY", Some(CPU), 0, 3),
                resource("tainted-nodes", "HEALTHY", None, 4, 6),
                resource("all-good", "HEALTHY", None, 5, 5),
            ]})),
        )
        .mount(&server)
        .await;
    server
}

/// The binary with only the fake's endpoint and test credentials: no
/// profile of the machine's is read.
fn coverage(endpoint: &str) -> Command {
    let mut command = Command::cargo_bin("coverage").unwrap();
    command
        .env_clear()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        );
    command
}

async fn run(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Every request the fake saw was a read: no EKS update, no publish.
async fn assert_read_only(server: &MockServer) {
    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty());
    for request in &requests {
        let body = String::from_utf8_lossy(&request.body);
        assert!(
            !request.url.path().ends_with("/update")
                && !body.contains("Action=Publish")
                && !request.url.path().starts_with("/schedules"),
            "a write: {} {} {body}",
            request.method,
            request.url
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_prints_the_digest_as_text() {
    let server = fake().await;
    let output = run({
        let mut c = coverage(&server.uri());
        c.arg("sweep");
        c
    })
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("Swept 1 account(s) in `us-east-1`, mode dry-run: 1 healthy, 1 unhealthy, 1 partially covered, 0 unknown"), "{stdout}");
    assert!(stdout.contains(&format!("Account `{ACCOUNT}`: 1 healthy, 1 unhealthy, 1 partial, 0 unknown; 64% of compatible nodes covered (9/14).")), "{stdout}");
    assert!(
        stdout.contains("- `payments` in `111122223333`: unhealthy, `addon-insufficient-cpu`"),
        "{stdout}"
    );
    assert!(stdout.contains("- `tainted-nodes` in `111122223333`: partially covered, `partial-coverage`, done: `listed`"), "{stdout}");
    assert!(!stdout.contains("all-good"), "{stdout}");
    assert_read_only(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_json_is_the_digest_with_totals() {
    let server = fake().await;
    let output = run({
        let mut c = coverage(&server.uri());
        c.args(["sweep", "--format", "json", "--region", "us-east-1"]);
        c
    })
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let digest: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(digest["mode"], "dry-run");
    assert_eq!(
        digest["totals"],
        json!({"healthy": 1, "unhealthy": 1, "partial": 1, "unknown": 0})
    );
    assert_eq!(digest["accounts"][0]["account"], ACCOUNT);
    assert_eq!(digest["accounts"][0]["result"], "listed");
    let clusters: Vec<&str> = digest["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(clusters, ["payments", "tainted-nodes"]);
    assert_read_only(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_that_cannot_learn_who_it_is_exits_1_and_says_why() {
    // Nothing listens on the fake's port once it is dropped.
    let endpoint = {
        let server = MockServer::start().await;
        server.uri()
    };
    let output = run({
        let mut c = coverage(&endpoint);
        c.args(["sweep", "--timeout-seconds", "5"]);
        c
    })
    .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("coverage: who am I? STS GetCallerIdentity failed"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn sweep_arguments_are_checked_before_any_call() {
    for args in [
        ["sweep", "--members", "12345"],
        ["sweep", "--region", "mars-1"],
        ["sweep", "--timeout-seconds", "0"],
    ] {
        let output = coverage("http://127.0.0.1:9").args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn sweep_help_documents_the_terminal_sweep() {
    let output = Command::cargo_bin("coverage")
        .unwrap()
        .args(["sweep", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "Always dry-run",
        "--members",
        "--member-role",
        "--format",
        "--region",
        "--profile",
        "Exit status",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
}
