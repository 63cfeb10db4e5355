//! The `coverage` binary as an engineer uses it.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use coverage_core::{Facts, Invocation, Next, Pipeline, Settings};
use coverage_core::{FunctionIdentity, RemediationMode};
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
fn explain_refuses_values_that_are_not_identifiers() {
    for (flag, value, says) in [
        ("--cluster", "x;rm -rf /", "not a valid EKS cluster name"),
        ("--region", "us-east-1; reboot", "not an AWS region code"),
        ("--account", "1234", "not a twelve-digit AWS account id"),
    ] {
        let output = coverage()
            .args([
                "explain",
                flag,
                value,
                "Others:Error due to authorization failure",
            ])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{flag} {value}");
        assert!(output.stdout.is_empty(), "{flag} {value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(says) && stderr.contains(flag), "{stderr}");
    }
}

#[test]
fn explain_without_the_cluster_leaves_a_variable_not_a_placeholder() {
    let output = coverage()
        .args(["explain", "Others:Error due to authorization failure"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(r#"--cluster-name "$CLUSTER""#), "{text}");
    assert!(
        !text.contains("<cluster-name>") && !text.contains("<region>"),
        "{text}"
    );
}

#[test]
fn explain_refuses_an_empty_issue() {
    for (args, stdin) in [(vec!["explain", ""], ""), (vec!["explain", "-"], " \n")] {
        let output = coverage().args(&args).write_stdin(stdin).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("the issue string is empty"), "{stderr}");
    }
}

#[test]
fn explain_shows_unrecognized_text_raw_and_keeps_continuation_lines_indented() {
    let output = coverage()
        .args(["explain", "Something new:first line\nsecond line"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("The raw text is below"), "{text}");
    assert!(
        text.contains("Raw issue text:\n  Something new:first line\n  second line\n"),
        "{text}"
    );
    let conflict = coverage()
        .args([
            "explain",
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found. Conflicts:\nDaemonSet.apps aws-guardduty-agent - .spec.template\nClusterRole.rbac aws-guardduty-agent - .rules",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(conflict.stdout).unwrap();
    assert!(
        text.contains(
            "Conflicts:\n  DaemonSet.apps aws-guardduty-agent - .spec.template\n  ClusterRole.rbac"
        ),
        "{text}"
    );
}

#[test]
fn replay_prints_a_plan_for_coverage_events_and_one_line_for_the_rest() {
    let mut coverage_events = 0;
    for entry in std::fs::read_dir(repo().join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // events/facts/: recorded facts, not events (replayed below).
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for format in ["text", "json"] {
            let output = coverage()
                .args(["replay", "--format", format])
                .arg(&path)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            // Not JSON, or not a coverage event: the Lambda answers with an
            // error and publishes nothing; the replay says why in one line.
            if name == "malformed.not-json.json" || name == "malformed.wrong-detail-type.json" {
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
                    // The chat body is an object, not a string inside a string.
                    assert_eq!(json["alert"]["chat"]["version"], "1.0", "{name}");
                    assert!(json["alert"]["text"].is_string(), "{name}");
                    assert!(!json["alert"]["subject"].as_str().unwrap().is_empty());
                    assert_snake_case(&json, &name);
                } else {
                    let text = String::from_utf8(output.stdout.clone()).unwrap();
                    // The plain-text alert first, what SNS carries after it.
                    let at = |marker: &str| {
                        text.find(marker)
                            .unwrap_or_else(|| panic!("{name}: no {marker:?} in {text}"))
                    };
                    assert!(
                        at("--- Alert (plain text") < at("--- SNS subject"),
                        "{name}"
                    );
                    assert!(
                        at("--- SNS subject") < at("--- SNS message attributes"),
                        "{name}"
                    );
                    assert!(at("--- SNS message attributes") < at("--- SNS message (Amazon Q"));
                }
            }
        }
    }
    assert!(coverage_events >= 27, "{coverage_events}");
}

/// Every key of our JSON is snake_case; only the chat notification keeps
/// its own schema's camelCase.
fn assert_snake_case(value: &Value, name: &str) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                assert!(
                    key.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{name}: key {key:?} is not snake_case"
                );
                if key != "chat" {
                    assert_snake_case(value, name);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_snake_case(v, name)),
        _ => {}
    }
}

#[test]
fn a_malformed_coverage_event_replays_to_the_raw_event_alert_the_lambda_publishes() {
    let path = repo().join("events/malformed.no-detail.json");
    let output = coverage().args(["replay"]).arg(&path).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("issue:    unreadable-event"), "{text}");
    assert!(
        text.contains("note:     the detail cannot be read (missing field `detail`)"),
        "{text}"
    );
    assert!(text.contains("Raw event:\n  | {\"account\""), "{text}");
    let output = coverage()
        .args(["replay", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["issue_id"], "unreadable-event");
    assert!(
        json["alert"]["chat"]["content"]["description"]
            .as_str()
            .unwrap()
            .contains("*Raw event:*"),
        "{json}"
    );
    assert!(json["plan"]["event"]["detail"]["malformed"]["error"].is_string());
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

const CONFLICT_EVENT: &str = "events/unhealthy.addon-configuration-conflict.json";

/// Each sample facts file and the outcome `--mode enforce` replays it to.
const FACTS: [(&str, &str); 8] = [
    ("all-guardrails-hold.json", "would-call-update-addon"),
    (
        "changed-by-controller.json",
        "skipped-changed-by-controller",
    ),
    ("coverage-healthy.json", "skipped-already-healthy"),
    ("coverage-unreadable.json", "skipped-coverage-unreadable"),
    ("addon-status-missing.json", "skipped-addon-status-unknown"),
    ("no-conflict-reported.json", "skipped-no-conflict-reported"),
    ("update-in-flight.json", "skipped-update-in-flight"),
    (
        "function-arn-unparsable.json",
        "skipped-function-unverified",
    ),
];

const EXPECTED_CALL: &str = "aws eks update-addon --cluster-name prod-payments --addon-name aws-guardduty-agent --region us-east-1 --resolve-conflicts OVERWRITE --addon-version v1.10.0-eksbuild.2 --client-request-token 4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37 --configuration-values '{\"priorityClassName\":\"aws-guardduty-agent.priorityclass-high\",\"dnsPolicy\":\"Default\"}'";

fn facts_file(name: &str) -> PathBuf {
    repo().join("events/facts").join(name)
}

/// `coverage replay --format json ARGS... EVENT`, which must succeed.
fn replay_json(args: &[&str], facts: &Path) -> Value {
    let output = coverage()
        .args(["replay", "--format", "json"])
        .args(args)
        .arg("--facts")
        .arg(facts)
        .arg(repo().join(CONFLICT_EVENT))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        facts.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn every_sample_facts_file_replays_to_its_guardrail() {
    let names: Vec<String> = std::fs::read_dir(repo().join("events/facts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        FACTS.len(),
        "a facts file without a test: {names:?}"
    );
    for (name, expected) in FACTS {
        let json = replay_json(&["--mode", "enforce"], &facts_file(name));
        assert_eq!(json["summary"]["outcome"], expected, "{name}");
        assert_eq!(json["summary"]["issue_id"], "addon-configuration-conflict");
        assert_eq!(json["plan"]["mode"], "enforce", "{name}");
    }
}

#[test]
fn when_every_guardrail_holds_the_replay_stops_at_the_exact_call() {
    let json = replay_json(
        &["--mode", "enforce"],
        &facts_file("all-guardrails-hold.json"),
    );
    assert_eq!(json["summary"]["outcome"], "would-call-update-addon");
    assert_eq!(json["summary"]["action"], "overwrite-addon");
    assert_eq!(json["summary"]["update_id"], Value::Null);
    assert_eq!(json["command"], EXPECTED_CALL);
    assert_eq!(json["would_call"]["resolve_conflicts"], "OVERWRITE");
    assert_eq!(json["would_call"]["addon_version"], "v1.10.0-eksbuild.2");
    assert_eq!(json["plan"]["decision"]["decision"], "overwrite");
    // The alert states EKS's answer, which a replay does not have.
    assert!(json.get("alert").is_none() && json.get("outcome").is_none());

    let output = coverage()
        .args(["replay", "--mode", "enforce", "--facts"])
        .arg(facts_file("all-guardrails-hold.json"))
        .arg(repo().join(CONFLICT_EVENT))
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("outcome:  would-call-update-addon\n"),
        "{text}"
    );
    assert!(text.contains("mode:     enforce (facts: "), "{text}");
    assert!(
        text.contains("overwrite-addon: the Lambda would now call UpdateAddon"),
        "{text}"
    );
    assert!(text.contains(&format!("\n{EXPECTED_CALL}\n")), "{text}");
    assert!(text.contains("No alert rendered"), "{text}");
    assert!(!text.contains("--- SNS"), "{text}");
}

#[test]
fn the_mode_and_the_cluster_policy_are_the_lambdas() {
    let holds = facts_file("all-guardrails-hold.json");
    let outcome = |args: &[&str]| replay_json(args, &holds)["summary"]["outcome"].clone();
    assert_eq!(outcome(&["--mode", "off"]), "skipped-mode-off");
    assert_eq!(outcome(&[]), "skipped-dry-run");
    assert_eq!(outcome(&["--mode", "dry-run"]), "skipped-dry-run");
    assert_eq!(
        outcome(&["--mode", "enforce", "--deny-clusters", "legacy,prod-*"]),
        "skipped-cluster-excluded"
    );
    assert_eq!(
        outcome(&["--mode", "enforce", "--allow-clusters", "staging-*"]),
        "skipped-cluster-not-allowed"
    );
    assert_eq!(
        outcome(&["--mode", "enforce", "--allow-clusters", "prod-*"]),
        "would-call-update-addon"
    );

    // An OVERWRITE two hours before the event: within the default day's
    // bound of one, outside a one-hour window, and within a bound of two.
    let mut facts: Value = serde_json::from_str(&std::fs::read_to_string(&holds).unwrap()).unwrap();
    facts["update_history"]["value"] = serde_json::json!([{
        "id": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
        "status": "Successful",
        "created_at": 1_773_480_067 - 2 * 3600,
        "resolve_conflicts": "OVERWRITE",
    }]);
    let bounded = scratch("overwrite-two-hours-ago.json", &facts.to_string());
    let outcome = |args: &[&str]| replay_json(args, &bounded)["summary"]["outcome"].clone();
    assert_eq!(outcome(&["--mode", "enforce"]), "skipped-bound-reached");
    assert_eq!(
        outcome(&["--mode", "enforce", "--window-hours", "1"]),
        "would-call-update-addon"
    );
    assert_eq!(
        outcome(&["--mode", "enforce", "--max-per-window", "2"]),
        "would-call-update-addon"
    );
}

/// A file in this test binary's scratch directory.
fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-facts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `coverage replay ARGS... EVENT`, which must fail; its standard error.
fn replay_error(args: &[&str]) -> String {
    let output = coverage()
        .arg("replay")
        .args(args)
        .arg(repo().join(CONFLICT_EVENT))
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} should fail");
    assert!(output.stdout.is_empty(), "{args:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn bad_flags_and_broken_facts_files_name_the_problem() {
    let stderr = replay_error(&["--mode", "yes"]);
    assert!(
        stderr.contains(r#""yes" is not a remediation mode: use off, dry-run, enforce or approve"#),
        "{stderr}"
    );
    let stderr = replay_error(&["--deny-clusters", "prod;rm"]);
    assert!(
        stderr.contains(r#""prod;rm" is not a cluster name pattern"#),
        "{stderr}"
    );
    let stderr = replay_error(&["--max-per-window", "0"]);
    assert!(
        stderr.contains(r#""0" is not a whole number between 1 and 100"#),
        "{stderr}"
    );

    let not_json = scratch("not-json.json", r#"{"now": 1773480127, "#);
    let stderr = replay_error(&["--facts", not_json.to_str().unwrap()]);
    assert!(
        stderr.starts_with(&format!(
            "coverage: {}: not a facts file",
            not_json.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("EOF while parsing"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");

    let unknown = scratch(
        "unknown-field.json",
        r#"{"now": 1773480127, "adon": {"state": "not-gathered"}}"#,
    );
    let stderr = replay_error(&["--facts", unknown.to_str().unwrap()]);
    assert!(stderr.contains(&unknown.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("at `adon`: unknown field `adon`"),
        "{stderr}"
    );

    let wrong_type = scratch(
        "wrong-type.json",
        r#"{"coverage": {"state": "known", "value": {"covered_nodes": "five"}}}"#,
    );
    let stderr = replay_error(&["--facts", wrong_type.to_str().unwrap()]);
    assert!(
        stderr.contains("at `coverage.value.covered_nodes`: invalid type"),
        "{stderr}"
    );

    let stderr = replay_error(&["--facts", "/nonexistent/facts.json"]);
    assert!(
        stderr.contains("reading /nonexistent/facts.json"),
        "{stderr}"
    );
}

/// The Lambda's handler for one recorded invocation: the function's ARN and
/// clock as the runtime would give them, the facts as its reads would
/// return them. Returns the summary's JSON and the plan's, or, where it
/// would write, the request.
fn as_the_lambda(facts: &Facts) -> (Value, Value) {
    let arn = match facts.function.known() {
        Some(FunctionIdentity {
            partition,
            account,
            region,
            name: Some(name),
        }) => format!("arn:{partition}:lambda:{region}:{account}:function:{name}"),
        Some(unnamed) => panic!("recorded facts name the function: {unnamed:?}"),
        None => "function-arn".to_owned(),
    };
    let now_ms = u64::try_from(facts.now.unwrap()).unwrap() * 1000;
    let invocation = Invocation::lambda(&arn, now_ms, Some(now_ms + 60_000));
    let settings = Settings {
        policy: coverage_core::Policy {
            mode: RemediationMode::Enforce,
            ..coverage_core::Policy::default()
        },
        ..Settings::default()
    };
    let bytes = std::fs::read(repo().join(CONFLICT_EVENT)).unwrap();
    let mut pipeline = Pipeline::from_bytes(&bytes, &settings, invocation).unwrap();
    let mut gathers = 0;
    loop {
        match pipeline.poll() {
            Next::Gather { .. } => {
                gathers += 1;
                assert_eq!(gathers, 1, "the pipeline asks for its reads once");
                pipeline.gathered(facts.clone(), now_ms + 40);
            }
            Next::Write { request, .. } => {
                let plan = serde_json::to_value(pipeline.plan().unwrap()).unwrap();
                return (serde_json::to_value(request).unwrap(), plan);
            }
            Next::Publish { .. } => pipeline.published(Ok("not-published".to_owned()), now_ms + 60),
            Next::Schedule { .. } => panic!("a schedule comes only after a write"),
            Next::Sign { .. } => panic!("only approve mode signs"),
            Next::Done(summary) => {
                let plan = serde_json::to_value(pipeline.plan().unwrap()).unwrap();
                return (serde_json::to_value(summary).unwrap(), plan);
            }
            Next::Failed(undelivered) => panic!("{undelivered:?}"),
        }
    }
}

#[test]
fn the_replay_decides_as_the_lambda_does() {
    for (name, expected) in FACTS {
        let text = std::fs::read_to_string(facts_file(name)).unwrap();
        let facts: Facts = serde_json::from_str(&text).unwrap();
        let (lambda, lambda_plan) = as_the_lambda(&facts);
        let cli = replay_json(&["--mode", "enforce"], &facts_file(name));
        assert_eq!(cli["plan"], lambda_plan, "{name}: the plans differ");
        if expected == "would-call-update-addon" {
            assert_eq!(cli["would_call"], lambda, "{name}: the calls differ");
        } else {
            assert_eq!(cli["summary"], lambda, "{name}: the summaries differ");
            assert_eq!(lambda["outcome"], expected, "{name}");
        }
    }
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
    // GuardDuty's 24 (the catch-all last), then ours (the sweep's).
    assert_eq!(entries.len(), 25);
    assert_eq!(entries[23]["id"], "unrecognized");
    assert_eq!(entries[23]["ours"], false);
    assert_eq!(entries[24]["id"], "partial-coverage");
    assert_eq!(entries[24]["ours"], true);
}
