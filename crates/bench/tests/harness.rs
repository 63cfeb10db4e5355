//! The harness end to end against the debug `coverage-lambda` binary: every
//! event answered, no errors, and every figure present; and the sweep
//! benchmark over a small fleet, every cluster in the digest once. Functional
//! checks only: speed goals live in benchmark reports, never in assertions.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The debug function binary, built first when missing.
fn function_binary() -> Result<PathBuf, String> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let binary = target.join("debug/coverage-lambda");
    if !binary.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "coverage-lambda", "--bin", "coverage-lambda"])
            .current_dir(repo())
            .status()
            .map_err(|error| format!("cannot run cargo to build coverage-lambda: {error}"))?;
        if !status.success() {
            return Err(format!(
                "cargo build -p coverage-lambda --bin coverage-lambda failed ({status})"
            ));
        }
    }
    if !binary.exists() {
        return Err(format!("no function binary at {}", binary.display()));
    }
    Ok(binary)
}

#[test]
fn two_cold_starts_answer_every_event_without_errors() {
    let binary = function_binary().unwrap_or_else(|error| panic!("{error}"));
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lambda-bench");
    std::fs::create_dir_all(&scratch).unwrap();
    let json = scratch.join("report.json");
    let log = scratch.join("function.log");
    let _ = std::fs::remove_file(&json);

    let output = Command::new(env!("CARGO_BIN_EXE_lambda-bench"))
        .arg("--binary")
        .arg(&binary)
        .arg("--events")
        .arg(repo().join("events"))
        .args([
            "--cold-starts",
            "2",
            "--warm-events",
            "20",
            "--label",
            "test",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--function-log")
        .arg(&log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "lambda-bench failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("init (ms)"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["cold_starts"], 2);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["failed_runs"], 0);
    assert_eq!(summary["harness_errors"], Value::Array(vec![]));
    assert_eq!(summary["warm_count"], 40);
    // The first event went all the way to the OVERWRITE and the alert.
    assert!(
        summary["fake_aws_operations"]["UpdateAddon"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert!(summary["fake_aws_operations"]["Publish"].as_u64().unwrap() >= 2);

    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["failure"], Value::Null, "{run}");
        assert_eq!(run["errors"], Value::Array(vec![]), "{run}");
        assert!(run["init_ms"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["first_event_ms"].as_f64().unwrap() > 0.0, "{run}");
        assert_eq!(run["first_event_summary"]["outcome"], "update-started");
        assert_eq!(run["warm_answered"], 20);
        let warm = run["warm_ms"].as_array().unwrap();
        assert_eq!(warm.len(), 20);
        assert!(warm.iter().all(|ms| ms.as_f64().unwrap() > 0.0));
        assert!(run["peak_rss_kb"].as_u64().unwrap() > 0, "{run}");
    }
}

/// The sweep benchmark on a small fleet: three accounts (two of them members
/// reached through AssumeRole), twenty clusters each listed five per page,
/// every tenth GuardDuty/EKS/STS call throttled. The report must be ok, with
/// every unhealthy and partial cluster found exactly once in the digest.
#[test]
fn a_small_sweep_reaches_the_digest_with_every_cluster_once() {
    let binary = function_binary().unwrap_or_else(|error| panic!("{error}"));
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lambda-bench-sweep");
    std::fs::create_dir_all(&scratch).unwrap();
    let json = scratch.join("report.json");
    let log = scratch.join("function.log");
    let _ = std::fs::remove_file(&json);

    let output = Command::new(env!("CARGO_BIN_EXE_lambda-bench"))
        .arg("--binary")
        .arg(&binary)
        .args([
            "--sweep",
            "--accounts",
            "3",
            "--clusters-per-account",
            "20",
            "--page-size",
            "5",
            "--throttle-percent",
            "10",
            "--runs",
            "2",
            "--label",
            "test sweep",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--function-log")
        .arg(&log)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "lambda-bench --sweep failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sweep (ms)"), "{stdout}");
    assert!(stdout.contains("result             ok"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["runs"], 2);
    assert_eq!(summary["clusters"], 60);
    assert_eq!(summary["remediation_mode"], "dry-run");
    assert_eq!(summary["failed_runs"], 0, "{stdout}");
    assert_eq!(summary["harness_errors"], Value::Array(vec![]));

    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["failure"], Value::Null, "{run}");
        assert_eq!(run["misses"], Value::Array(vec![]), "{run}");
        assert_eq!(run["problems"], Value::Array(vec![]), "{run}");
        // Two unhealthy and three partial clusters in each of three accounts.
        assert_eq!(run["expected_clusters"], 15, "{run}");
        assert_eq!(run["found_once"], 15, "{run}");
        assert!(run["digest_parts"].as_u64().unwrap() >= 1, "{run}");
        assert!(run["throttled"].as_u64().unwrap() > 0, "{run}");
        assert!(run["sweep_ms"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["peak_rss_kb"].as_u64().unwrap() > 0, "{run}");
        let operations = &run["operations"];
        // Both members' roles assumed (a throttled AssumeRole is retried).
        assert!(
            operations["AssumeRole"]["calls"].as_u64().unwrap() >= 2,
            "{run}"
        );
        // Four pages per account, then each unhealthy cluster's own read.
        assert!(
            operations["ListCoverage"]["calls"].as_u64().unwrap() >= 12,
            "{run}"
        );
        // Dry-run: nothing written.
        assert!(operations.get("UpdateAddon").is_none(), "{run}");
    }
}
