//! End to end: the function built and run by `cargo lambda watch`, configured
//! only through environment variables (the SDK's own `AWS_ENDPOINT_URL_<SERVICE>`
//! points it at moto for SNS and at the fake for EKS and GuardDuty), and every
//! file in `events/` sent with `cargo lambda invoke --data-file`.

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

    // The first invocation waits for cargo to build the function.
    let events = repo().join("events");
    let started = Instant::now();
    loop {
        let output = watch.invoke(&events.join("healthy.recovered.json"));
        if let Some(summary) = summary(&output) {
            assert_eq!(summary["outcome"], "recovery-notice");
            break;
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
