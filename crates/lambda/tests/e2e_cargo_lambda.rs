//! End to end: the function built and run by `cargo lambda watch`, configured
//! only through environment variables (the SDK's own `AWS_ENDPOINT_URL_<SERVICE>`
//! points it at moto for SNS and at the fake for EKS and GuardDuty), and every
//! file in `events/` sent with `cargo lambda invoke --data-file`; then approve
//! mode's whole flow, offer to click, with `EMULATOR_FUNCTION_ARN` standing
//! in for the ARN the emulator does not send.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{FakeAws, Inbox, Moto, free_port, repo, tool};
use serde_json::Value;

/// `cargo lambda watch` in its own process group, stopped with it on drop.
struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    fn start(env_file: &Path, log: PathBuf) -> Watch {
        let port = free_port();
        let path = format!(
            "{}:{}",
            tool("cargo-lambda").parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new("cargo")
            .args([
                "lambda",
                "watch",
                "--package",
                "coverage-lambda",
                "--bin",
                "coverage-lambda",
                "--ignore-changes",
            ])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .arg("--env-file")
            .arg(env_file)
            .current_dir(repo())
            .env("PATH", path)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("cargo lambda watch starts");
        Watch { child, port, log }
    }

    fn invoke(&self, data_file: &Path) -> Output {
        Command::new("cargo")
            .args([
                "lambda",
                "invoke",
                "coverage-lambda",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args([
                "--invoke-port",
                &self.port.to_string(),
                "--output-format",
                "json",
                "--data-file",
            ])
            .arg(data_file)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    tool("cargo-lambda").parent().unwrap().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .output()
            .unwrap()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The first invocation waits for cargo to build the function.
fn wait_until_built(watch: &Watch) {
    let recovered = repo().join("events/healthy.recovered.json");
    let started = Instant::now();
    loop {
        let output = watch.invoke(&recovered);
        if let Some(summary) = summary(&output) {
            assert_eq!(summary["outcome"], "recovery-notice");
            return;
        }
        // A build that failed (a compile error, a linker killed for want of
        // disk) never answers: say so now rather than after the timeout.
        let log = watch.log_tail();
        assert!(
            !log.contains("error: could not compile"),
            "cargo lambda watch could not build the function:\n{log}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20 * 60),
            "the function never answered:\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            watch.log_tail()
        );
        std::thread::sleep(Duration::from_secs(3));
    }
}

fn summary(output: &Output) -> Option<Value> {
    if !output.status.success() {
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

#[tokio::test]
async fn every_sample_event_through_cargo_lambda_watch() {
    let moto = Moto::start();
    let fake = FakeAws::start().await;
    let Inbox {
        topic_arn,
        queue_url,
        sqs,
    } = moto.inbox("coverage-alerts", "e2e-inbox", true).await;

    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&scratch).unwrap();
    let env_file = scratch.join("function.env");
    std::fs::write(
        &env_file,
        [
            "AWS_REGION=us-east-1".to_owned(),
            "AWS_ACCESS_KEY_ID=AKIDTEST".to_owned(),
            "AWS_SECRET_ACCESS_KEY=test-secret".to_owned(),
            "AWS_EC2_METADATA_DISABLED=true".to_owned(),
            format!("AWS_ENDPOINT_URL_EKS={}", fake.uri()),
            format!("AWS_ENDPOINT_URL_GUARDDUTY={}", fake.uri()),
            format!("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={}", fake.uri()),
            format!("AWS_ENDPOINT_URL_SNS={}", moto.endpoint),
            format!("ALERT_TOPIC_ARN={topic_arn}"),
            "REMEDIATION_MODE=enforce".to_owned(),
            "AWS_LAMBDA_LOG_FORMAT=JSON".to_owned(),
        ]
        .join("\n"),
    )
    .unwrap();
    let watch = Watch::start(&env_file, scratch.join("watch.log"));
    wait_until_built(&watch);
    let events = repo().join("events");
    let mut published = 1;

    let names: Vec<String> = common::event_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        let output = watch.invoke(&events.join(name));
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if name == "malformed.not-json.json" || name == "malformed.wrong-detail-type.json" {
            assert!(
                !output.status.success(),
                "{name} should fail the invocation"
            );
            if name == "malformed.wrong-detail-type.json" {
                // cargo-lambda wraps the message over lines.
                let flat: String = stderr
                    .split_whitespace()
                    .filter(|w| *w != "│")
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(
                    flat.contains("NotACoverageEvent")
                        && flat.contains("detail-type is \"GuardDuty Finding\""),
                    "{name}: {stderr}"
                );
            }
            continue;
        }
        let summary =
            summary(&output).unwrap_or_else(|| panic!("{name}: {stderr}\n{}", watch.log_tail()));
        published += 1;
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(events.join(name)).unwrap()).unwrap();
        assert_eq!(summary["event_id"], file["id"], "{name}");
        assert_ne!(summary["message_id"], "stdout", "{name} must go to SNS");
        let expected_outcome = match name.as_str() {
            // cargo-lambda's invocation carries no real function ARN, so the
            // function cannot verify its account and region: it never writes.
            "unhealthy.addon-configuration-conflict.json" => "skipped-function-unverified",
            "unhealthy.addon-configuration-conflict.member-account.json" => {
                "skipped-member-account"
            }
            "unhealthy.enablement-provisioning-in-progress.json" => "transient",
            "unhealthy.local-outpost-cluster.json" => "not-actionable",
            "healthy.recovered.json" => "recovery-notice",
            "ecs.unhealthy.json" => "out-of-scope",
            "malformed.no-detail.json" => "unreadable-event",
            _ => "manual",
        };
        assert_eq!(summary["outcome"], expected_outcome, "{name}");
        if let Some(id) = name
            .strip_prefix("unhealthy.")
            .and_then(|n| n.strip_suffix(".json"))
        {
            assert_eq!(
                summary["issue_id"],
                id.trim_end_matches(".member-account"),
                "{name}"
            );
        }
    }

    // Locally the function cannot tell where it runs: no write, ever (the
    // exact UpdateAddon body is asserted in remediation.rs, with an ARN).
    assert!(fake.requests("UpdateAddon").is_empty());
    assert!(
        fake.requests("ListUpdates").is_empty(),
        "no history is read for a write that cannot happen"
    );

    // Every successful invocation published exactly one chat notification.
    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies.len() < published && Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for message in received.messages.unwrap_or_default() {
            bodies.push(message.body.unwrap_or_default());
        }
    }
    assert_eq!(bodies.len(), published);
    for body in &bodies {
        let chat: Value = serde_json::from_str(body).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
    }

    // The binary's own metrics: EMF documents on its standard output, one
    // published alert counted per alert, in the default namespace, each
    // with the function's name (which cargo lambda watch sets).
    let log = std::fs::read_to_string(scratch.join("watch.log")).unwrap();
    let mut counted = 0.0;
    for line in log.lines() {
        let Some(start) = line.find("{\"_aws\"") else {
            continue;
        };
        let doc: Value = serde_json::from_str(&line[start..])
            .unwrap_or_else(|e| panic!("an EMF line is one JSON document ({e}): {line}"));
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "GuardDutyCoverage", "{line}");
        assert!(doc["Function"].is_string(), "{line}");
        assert!(doc["RequestId"].is_string(), "{line}");
        counted += doc["AlertsPublished"].as_f64().unwrap_or(0.0);
    }
    assert_eq!(counted, published as f64, "AlertsPublished in:\n{log}");
}

/// Approve mode under `cargo lambda watch`: the conflict sample publishes a
/// chat alert with a token and makes no write; `{"approve": token}` through
/// `cargo lambda invoke` makes exactly one `UpdateAddon` with the original
/// event id; a token with one character changed, and the same token a
/// second time, make none. KMS is the fake's (a real HMAC).
#[tokio::test]
async fn the_approve_flow_through_cargo_lambda_watch() {
    const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
    let fake = FakeAws::start().await;
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-approve");
    std::fs::create_dir_all(&scratch).unwrap();
    let env_file = scratch.join("function.env");
    let endpoints = ["EKS", "GUARDDUTY", "CLOUDWATCH_LOGS", "SNS", "KMS"]
        .map(|service| format!("AWS_ENDPOINT_URL_{service}={}", fake.uri()));
    std::fs::write(
        &env_file,
        [
            "AWS_REGION=us-east-1".to_owned(),
            "AWS_ACCESS_KEY_ID=AKIDTEST".to_owned(),
            "AWS_SECRET_ACCESS_KEY=test-secret".to_owned(),
            "AWS_EC2_METADATA_DISABLED=true".to_owned(),
            format!("ALERT_TOPIC_ARN={}", common::TOPIC),
            "REMEDIATION_MODE=approve".to_owned(),
            format!("APPROVAL_KEY_ID={}", common::KMS_KEY_ID),
            format!("EMULATOR_FUNCTION_ARN={}", common::FUNCTION_ARN),
            "AWS_LAMBDA_LOG_FORMAT=JSON".to_owned(),
        ]
        .into_iter()
        .chain(endpoints)
        .collect::<Vec<_>>()
        .join("\n"),
    )
    .unwrap();
    let watch = Watch::start(&env_file, scratch.join("watch.log"));
    wait_until_built(&watch);

    // The offer: a token in the chat alert, no write.
    let conflict = repo().join("events/unhealthy.addon-configuration-conflict.json");
    let output = watch.invoke(&conflict);
    let offered = summary(&output).unwrap_or_else(|| {
        panic!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            watch.log_tail()
        )
    });
    assert_eq!(offered["outcome"], "skipped-awaiting-approval", "{offered}");
    assert!(
        fake.requests("UpdateAddon").is_empty(),
        "no write before the click"
    );
    assert_eq!(fake.requests("GenerateMac").len(), 1);
    let (_, message, _) = fake.last_published();
    let chat: Value = serde_json::from_str(&message).unwrap();
    assert_eq!(chat["metadata"]["enableCustomActions"], true);
    let context = &chat["metadata"]["additionalContext"];
    assert_eq!(context["approveFunction"], common::FUNCTION_ARN);
    let token = context["approvalToken"].as_str().unwrap().to_owned();

    let approve = |token: &str, name: &str| -> Value {
        let payload = scratch.join(name);
        std::fs::write(
            &payload,
            serde_json::json!({ "approve": token }).to_string(),
        )
        .unwrap();
        let output = watch.invoke(&payload);
        summary(&output).unwrap_or_else(|| {
            panic!(
                "{name}: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                watch.log_tail()
            )
        })
    };

    // One character changed: refused, no call.
    let mut bytes = token.clone().into_bytes();
    let at = bytes.len() - 3;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = approve(&String::from_utf8(bytes).unwrap(), "tampered.json");
    assert!(
        tampered["outcome"]
            .as_str()
            .is_some_and(|outcome| outcome.starts_with("approval-")),
        "{tampered}"
    );
    assert!(fake.requests("UpdateAddon").is_empty());

    // The click: exactly one OVERWRITE, with the original event id.
    let approved = approve(&token, "approve.json");
    assert_eq!(approved["outcome"], "update-started", "{approved}");
    let updates = fake.requests("UpdateAddon");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].json()["clientRequestToken"], EVENT_ID);
    assert_eq!(updates[0].json()["resolveConflicts"], "OVERWRITE");
    let (_, message, _) = fake.last_published();
    let chat: Value = serde_json::from_str(&message).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(description.contains("Approved in chat"), "{description}");

    // The second click on the same button: no second update.
    let again = approve(&token, "approve-again.json");
    assert!(
        again["outcome"]
            .as_str()
            .is_some_and(|outcome| outcome.starts_with("skipped-")),
        "{again}"
    );
    assert_eq!(
        fake.requests("UpdateAddon").len(),
        1,
        "never a second update"
    );

    // The log says the stand-in was used, as a warning.
    let log = std::fs::read_to_string(scratch.join("watch.log")).unwrap();
    assert!(
        log.contains("EMULATOR_FUNCTION_ARN stands in"),
        "{}",
        watch.log_tail()
    );
}
