//! `lambda-bench`: runs the Lambda binary as AWS Lambda does (a local Runtime
//! API, Lambda's environment, fake EKS/GuardDuty/SNS behind TLS, optionally a
//! CPU quota) over several cold starts, and reports init, first-event and
//! warm latencies and peak RSS. This file owns the command line, the run
//! loop and the report; speed goals live in reports, never in this code.
//! `--sweep` benchmarks the scheduled sweep over a fleet instead (`sweep`).

mod cgroup;
mod fake_aws;
mod fleet;
mod run;
mod runtime_api;
mod server;
mod stats;
mod sweep;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Serialize;

use crate::cgroup::CpuQuota;
use crate::fake_aws::FakeAws;
use crate::run::{EventSet, RunSamples, Setup};
use crate::server::{Journal, Server};
use crate::stats::{Spread, median, percentile};

/// Benchmark the Lambda binary as AWS Lambda runs it.
#[derive(Debug, Parser)]
#[command(name = "lambda-bench", version)]
struct Cli {
    /// The function binary (build it with `cargo build --release`).
    #[arg(long)]
    binary: PathBuf,
    /// The EventBridge events to hand out.
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// How many fresh processes to start and measure.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..),
          conflicts_with = "sweep")]
    cold_starts: u16,
    /// Events handed out after the first one, per cold start.
    #[arg(long, default_value_t = 200, conflicts_with = "sweep")]
    warm_events: usize,
    /// Run the function with this share of one CPU (a 128 MB Lambda gets about 7%).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    cpu_quota_percent: Option<u32>,
    /// A name for this measurement in the report.
    #[arg(long)]
    label: Option<String>,
    /// Also write every sample and the summary to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Extra (or overriding) environment for the function.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Where the function's stdout and stderr go (appended).
    #[arg(long, default_value = "/dev/null")]
    function_log: PathBuf,
    #[command(flatten)]
    sweep: sweep::SweepOptions,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match bench(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("lambda-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Everything the JSON file holds.
#[derive(Debug, Serialize)]
struct Output<'a> {
    summary: Summary,
    first_event: &'a str,
    warm_events: Vec<&'a str>,
    skipped_events: &'a [(String, String)],
    runs: &'a [RunSamples],
}

#[derive(Debug, Serialize)]
struct Summary {
    label: String,
    binary: PathBuf,
    binary_bytes: u64,
    cold_starts: usize,
    warm_events_per_run: usize,
    cpu_quota_percent: Option<u32>,
    init_ms: Option<Spread>,
    first_event_ms: Option<Spread>,
    warm_count: usize,
    warm_p50_ms: Option<f64>,
    warm_p90_ms: Option<f64>,
    warm_median_of_run_p50_ms: Option<f64>,
    peak_rss_mb: Option<Spread>,
    /// Invocation errors and responses that are not a summary.
    errors: usize,
    failed_runs: usize,
    /// Requests the fake AWS or the Runtime API could not answer, and failed TLS handshakes.
    harness_errors: Vec<String>,
    fake_aws_operations: BTreeMap<&'static str, u64>,
    /// Connections per fake AWS endpoint (each one a TLS handshake).
    tls_connections: BTreeMap<String, u64>,
}

impl Summary {
    fn ok(&self) -> bool {
        self.errors == 0 && self.failed_runs == 0 && self.harness_errors.is_empty()
    }
}

async fn bench(cli: Cli) -> Result<bool> {
    let binary = std::fs::canonicalize(&cli.binary)
        .with_context(|| format!("no function binary at {}", cli.binary.display()))?;
    let binary_bytes = std::fs::metadata(&binary)
        .with_context(|| format!("cannot stat {}", binary.display()))?
        .len();
    if cli.sweep.sweep {
        return sweep::bench(&cli, binary, binary_bytes).await;
    }
    let events = EventSet::load(&cli.events)?;

    let pki = tls::Pki::generate()?;
    let journal = Arc::new(Journal::default());
    let fake = Arc::new(FakeAws::new(journal.clone()));
    let endpoints = pki.serve_fake_aws(&fake, &journal, 3).await?;
    let [eks, guardduty, sns] = endpoints.as_slice() else {
        bail!("expected three fake AWS endpoints");
    };
    let env = function_env(
        [eks, guardduty, sns],
        &pki.system_bundle_path,
        &pki.ca_pem_path,
        &cli.env,
    );

    let quota = cli.cpu_quota_percent.map(CpuQuota::create).transpose()?;
    // With 7% of a CPU everything takes ~15x longer; the timeouts only catch hangs.
    let slowdown = if quota.is_some() { 20 } else { 1 };
    let setup = Setup {
        binary: &binary,
        env: &env,
        function_log: &cli.function_log,
        quota: quota.as_ref(),
        events: &events,
        journal: &journal,
        warm_events: cli.warm_events,
        init_timeout: Duration::from_secs(60 * slowdown),
        event_timeout: Duration::from_secs(30 * slowdown),
    };
    let cold_starts = usize::from(cli.cold_starts);
    let mut runs = Vec::new();
    let interrupted = tokio::select! {
        () = run_all(&setup, cold_starts, &mut runs) => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    // Dropping the interrupted run killed its process; the group can go now.
    let quota_text = quota.as_ref().map(CpuQuota::describe);
    if let Some(quota) = quota {
        quota.remove()?;
    }
    if interrupted {
        bail!("interrupted after {} cold starts", runs.len());
    }

    let mut harness_errors = fake.unknown_requests();
    for server in &endpoints {
        for failure in server.stats.handshake_failures() {
            harness_errors.push(format!(
                "TLS handshake on {} failed: {failure}",
                server.addr
            ));
        }
    }
    for run in &runs {
        for mark in run.timeline.iter().filter(|mark| mark.what == "unexpected") {
            harness_errors.push(format!(
                "Runtime API request it does not have: {}",
                mark.detail.as_deref().unwrap_or_default()
            ));
        }
    }
    let summary = summarize(SummaryInput {
        label: cli.label.unwrap_or_else(|| binary.display().to_string()),
        binary,
        binary_bytes,
        warm_events: cli.warm_events,
        cpu_quota_percent: cli.cpu_quota_percent,
        runs: &runs,
        harness_errors,
        fake_aws_operations: fake.operations(),
        tls_connections: endpoints
            .iter()
            .map(|server| (server.addr.to_string(), server.stats.connections()))
            .collect(),
    });
    print_report(&summary, quota_text.as_deref(), &runs, &events);
    if let Some(path) = &cli.json {
        let output = Output {
            summary,
            first_event: &events.first.name,
            warm_events: events
                .warm
                .iter()
                .map(|event| event.name.as_str())
                .collect(),
            skipped_events: &events.skipped,
            runs: &runs,
        };
        let text = serde_json::to_string_pretty(&output).context("cannot serialize the report")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(output.summary.ok());
    }
    Ok(summary.ok())
}

/// Lambda's environment for a 128 MB function in us-east-1, pointed at the
/// fake endpoints (EKS, GuardDuty, SNS), then the `--env` overrides. The
/// Runtime API address is added per cold start.
fn function_env(
    [eks, guardduty, sns]: [&Server; 3],
    system_bundle: &Path,
    ca_pem: &Path,
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    let ca = ca_pem.display().to_string();
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_FUNCTION_NAME", "coverage-bench".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCH".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "bench-token".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL_EKS", format!("https://{}", eks.addr)),
        (
            "AWS_ENDPOINT_URL_GUARDDUTY",
            format!("https://{}", guardduty.addr),
        ),
        ("AWS_ENDPOINT_URL_SNS", format!("https://{}", sns.addr)),
        // The audit log query: answered by the same fake as EKS.
        (
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
            format!("https://{}", eks.addr),
        ),
        // rustls-native-certs (the SDK's system store) honours SSL_CERT_FILE:
        // the whole system bundle plus the throwaway CA, so the system store
        // costs what it costs on Lambda. AWS_CA_BUNDLE adds the CA alone to
        // either store (the embedded one needs it).
        ("SSL_CERT_FILE", system_bundle.display().to_string()),
        ("AWS_CA_BUNDLE", ca),
        (
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:111122223333:coverage-alerts".to_owned(),
        ),
        ("REMEDIATION_MODE", "enforce".to_owned()),
        ("PATH", "/usr/bin:/bin".to_owned()),
        ("HOME", "/tmp".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    for (key, value) in overrides {
        match env.iter_mut().find(|(existing, _)| existing == key) {
            Some(entry) => entry.1.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

async fn run_all(setup: &Setup<'_>, cold_starts: usize, runs: &mut Vec<RunSamples>) {
    for run in 1..=cold_starts {
        runs.push(run::cold_start(setup, run).await);
    }
}

struct SummaryInput<'a> {
    label: String,
    binary: PathBuf,
    binary_bytes: u64,
    warm_events: usize,
    cpu_quota_percent: Option<u32>,
    runs: &'a [RunSamples],
    harness_errors: Vec<String>,
    fake_aws_operations: BTreeMap<&'static str, u64>,
    tls_connections: BTreeMap<String, u64>,
}

fn summarize(input: SummaryInput<'_>) -> Summary {
    let runs = input.runs;
    let collect = |pick: fn(&RunSamples) -> Option<f64>| -> Vec<f64> {
        runs.iter().filter_map(pick).collect()
    };
    let warm: Vec<f64> = runs
        .iter()
        .flat_map(|run| run.warm_ms.iter().copied())
        .collect();
    let run_p50s: Vec<f64> = runs
        .iter()
        .filter_map(|run| percentile(&run.warm_ms, 50.0))
        .collect();
    // "MB" as Lambda's "Max Memory Used": MiB, from the kernel's kB (KiB).
    let rss_mb: Vec<f64> = runs
        .iter()
        .filter_map(|run| run.peak_rss_kb)
        .map(|kb| kb as f64 / 1024.0)
        .collect();
    // A run fails when it stopped early or did not answer every event; the
    // first event must also have been answered with a summary.
    let failed_runs = runs
        .iter()
        .filter(|run| {
            run.failure.is_some()
                || run.first_event_ms.is_none()
                || run.warm_answered < input.warm_events
        })
        .count();
    Summary {
        label: input.label,
        binary: input.binary,
        binary_bytes: input.binary_bytes,
        cold_starts: runs.len(),
        warm_events_per_run: input.warm_events,
        cpu_quota_percent: input.cpu_quota_percent,
        init_ms: Spread::of(&collect(|run| run.init_ms)),
        first_event_ms: Spread::of(&collect(|run| run.first_event_ms)),
        warm_count: warm.len(),
        warm_p50_ms: percentile(&warm, 50.0),
        warm_p90_ms: percentile(&warm, 90.0),
        warm_median_of_run_p50_ms: median(&run_p50s),
        peak_rss_mb: Spread::of(&rss_mb),
        errors: runs.iter().map(|run| run.errors.len()).sum(),
        failed_runs,
        harness_errors: input.harness_errors,
        fake_aws_operations: input.fake_aws_operations,
        tls_connections: input.tls_connections,
    }
}

fn print_report(summary: &Summary, quota: Option<&str>, runs: &[RunSamples], events: &EventSet) {
    let num = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let spread = |name: &str, value: Option<Spread>| {
        println!(
            "  {name:<18} {:>10} {:>10} {:>10}",
            num(value.map(|s| s.median)),
            num(value.map(|s| s.min)),
            num(value.map(|s| s.max)),
        );
    };
    println!("lambda-bench: {}", summary.label);
    println!(
        "  binary             {} ({} bytes, {:.2} MB)",
        summary.binary.display(),
        summary.binary_bytes,
        summary.binary_bytes as f64 / (1024.0 * 1024.0)
    );
    println!("  cpu quota          {}", quota.unwrap_or("none"));
    println!(
        "  cold starts        {} (first event {}, then {} warm events each from {} files; skipped: {})",
        summary.cold_starts,
        events.first.name,
        summary.warm_events_per_run,
        events.warm.len(),
        skipped(events),
    );
    println!("  {:<18} {:>10} {:>10} {:>10}", "", "median", "min", "max");
    spread("init (ms)", summary.init_ms);
    spread("first event (ms)", summary.first_event_ms);
    spread("peak RSS (MB)", summary.peak_rss_mb);
    println!(
        "  warm events        {} answered: p50 {} ms, p90 {} ms, median of per-run p50 {} ms",
        summary.warm_count,
        num(summary.warm_p50_ms),
        num(summary.warm_p90_ms),
        num(summary.warm_median_of_run_p50_ms),
    );
    let outcomes: Vec<String> = runs
        .iter()
        .map(|run| {
            run.first_event_summary
                .as_ref()
                .and_then(|summary| summary["outcome"].as_str())
                .unwrap_or("-")
                .to_owned()
        })
        .collect();
    println!("  first outcomes     {}", outcomes.join(", "));
    let operations: Vec<String> = summary
        .fake_aws_operations
        .iter()
        .map(|(operation, count)| format!("{operation} {count}"))
        .collect();
    let operations = if operations.is_empty() {
        "none".to_owned()
    } else {
        operations.join(", ")
    };
    println!("  fake AWS calls     {operations}");
    let connections: Vec<String> = summary
        .tls_connections
        .iter()
        .map(|(addr, count)| format!("{addr} {count}"))
        .collect();
    println!("  TLS connections    {}", connections.join(", "));
    println!(
        "  errors             {} (failed runs {}, harness errors {})",
        summary.errors,
        summary.failed_runs,
        summary.harness_errors.len()
    );
    for run in runs {
        if let Some(failure) = &run.failure {
            println!("    run {}: FAILED: {failure}", run.run);
        }
        for error in run.errors.iter().take(5) {
            println!("    run {}: {error}", run.run);
        }
    }
    for error in summary.harness_errors.iter().take(10) {
        println!("    harness: {error}");
    }
    println!(
        "  result             {}",
        if summary.ok() { "ok" } else { "FAILED" }
    );
}

fn skipped(events: &EventSet) -> String {
    if events.skipped.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = events
        .skipped
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    names.join(", ")
}
