//! The `coverage` binary as an engineer uses it.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn coverage() -> Command {
    Command::cargo_bin("coverage").unwrap()
}

#[derive(Deserialize)]
struct Documented {
    id: String,
    issue: String,
}

#[test]
fn explain_json_gives_the_documented_id_for_every_string_and_variant() {
    let text =
        std::fs::read_to_string(repo().join("crates/core/tests/data/documented_issues.json"))
            .unwrap();
    let rows: Vec<Documented> = serde_json::from_str(&text).unwrap();
    for row in rows {
        for variant in [
            row.issue.clone(),
            row.issue.to_lowercase(),
            row.issue.replace(' ', ""),
            row.issue.replace(' ', "   "),
        ] {
            let output = coverage()
                .args(["explain", "--format", "json", &variant])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{variant}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let json: Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(json["id"], row.id.as_str(), "{variant}");
            for field in ["title", "severity", "actionability", "issue_type", "steps"] {
                assert!(!json[field].is_null(), "{field} missing for {variant}");
            }
            assert!(json.get("addon_issue_code").is_some());
        }
    }
}

#[test]
fn explain_reads_standard_input_and_fills_commands() {
    let output = coverage()
        .args([
            "explain",
            "--format",
            "json",
            "--cluster",
            "prod-payments",
            "--region",
            "eu-west-1",
            "-",
        ])
        .write_stdin(
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found\n",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["id"], "addon-configuration-conflict");
    assert_eq!(json["addon_issue_code"], "ConfigurationConflict");
    assert_eq!(json["actionability"], "automatic-overwrite");
    let commands = json["commands"].to_string();
    assert!(
        commands.contains("--cluster-name prod-payments"),
        "{commands}"
    );
    assert!(commands.contains("--region eu-west-1"));

    let none = coverage()
        .args([
            "explain",
            "--format",
            "json",
            "Others:Error due to authorization failure",
        ])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&none.stdout).unwrap();
    assert_eq!(json["addon_issue_code"], Value::Null);
}

#[test]
fn explain_refuses_to_paste_unsafe_values_into_commands() {
    let output = coverage()
        .args([
            "explain",
            "--cluster",
            "x;rm -rf /",
            "Others:Error due to authorization failure",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains("rm -rf"), "{text}");
}

#[test]
fn replay_prints_a_plan_for_coverage_events_and_one_line_for_the_rest() {
    let mut coverage_events = 0;
    for entry in std::fs::read_dir(repo().join("events")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for format in ["text", "json"] {
            let output = coverage()
                .args(["replay", "--format", format])
                .arg(&path)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            if name.starts_with("malformed.") {
                assert!(!output.status.success(), "{name} should fail");
                assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
                assert!(stderr.starts_with("coverage: "), "{name}: {stderr}");
                assert!(output.stdout.is_empty());
            } else {
                assert!(output.status.success(), "{name}: {stderr}");
                if format == "json" {
                    coverage_events += 1;
                    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
                    let expected = name
                        .trim_start_matches("unhealthy.")
                        .trim_end_matches(".json");
                    let expected = expected.trim_end_matches(".member-account");
                    let issue_id = json["summary"]["issue_id"].as_str().unwrap();
                    if name.starts_with("unhealthy.") {
                        assert_eq!(issue_id, expected, "{name}");
                    }
                    let message: Value =
                        serde_json::from_str(json["alert"]["message"].as_str().unwrap()).unwrap();
                    assert_eq!(message["version"], "1.0");
                    assert!(!json["alert"]["subject"].as_str().unwrap().is_empty());
                } else {
                    let text = String::from_utf8(output.stdout.clone()).unwrap();
                    assert!(
                        text.contains("--- SNS subject")
                            && text.contains("--- SNS message attributes")
                    );
                }
            }
        }
    }
    assert!(coverage_events >= 27, "{coverage_events}");
}

#[test]
fn replay_of_the_conflict_states_the_dry_run_call() {
    let output = coverage()
        .args(["replay", "--format", "json"])
        .arg(repo().join("events/unhealthy.addon-configuration-conflict.json"))
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["outcome"], "skipped-dry-run");
    assert_eq!(
        json["outcome"]["would_call"]["resolve_conflicts"],
        "OVERWRITE"
    );
    assert_eq!(
        json["outcome"]["would_call"]["client_request_token"],
        "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37"
    );
    assert!(
        json["alert"]["text"]
            .as_str()
            .unwrap()
            .contains("aws eks update-addon --cluster-name prod-payments")
    );
}

#[test]
fn replay_reads_standard_input_and_rejects_garbage_in_one_line() {
    let output = coverage()
        .args(["replay", "-"])
        .write_stdin("not json at all")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("coverage: -: not JSON"), "{stderr}");
    // A missing file inside the repository, so the test reads nothing outside it.
    let path = repo().join("events/no-such-event.json");
    let missing = coverage().arg("replay").arg(&path).output().unwrap();
    let stderr = String::from_utf8(missing.stderr).unwrap();
    assert!(
        stderr.contains(&format!("reading {}", path.display())),
        "{stderr}"
    );
}

#[test]
fn the_generated_catalog_in_docs_is_up_to_date() {
    let output = coverage()
        .args(["catalog", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let generated = String::from_utf8(output.stdout).unwrap();
    let committed = std::fs::read_to_string(repo().join("docs/catalog.md")).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/catalog.md is stale: run `cargo run -q --bin coverage -- catalog --format markdown > docs/catalog.md`"
    );
    let json = coverage()
        .args(["catalog", "--format", "json"])
        .output()
        .unwrap();
    let entries: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(entries.len(), 24);
    assert_eq!(entries.last().unwrap()["id"], "unrecognized");
}
