//! `lambda-bench --sweep`: the scheduled sweep at fleet scale. The fake AWS
//! gets a `Fleet` (accounts reached through STS `AssumeRole`, clusters of a
//! fixed mix, `ListCoverage` page by page, a share of the GuardDuty, EKS and
//! STS calls throttled); each run starts a fresh function process as Lambda
//! does (a scheduled sweep runs rarely, so it is mostly a cold start), hands
//! it `{"sweep": {}}` with the function's 30 s deadline, and measures the
//! invocation's wall time, the AWS calls by operation, the peak RSS. Then
//! it checks the outcome: the response is a completed sweep over the whole
//! fleet, and every unhealthy and partial cluster is in the published
//! digest exactly once, with nothing unreachable or not reached. A miss
//! fails the run and the exit status; times are reported, never asserted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::cgroup::CpuQuota;
use crate::fake_aws::FakeAws;
use crate::fleet::{Fleet, FleetSpec, Kind, MAX_PAGE, MEMBER_ROLE, OpCount, RunCalls};
use crate::run::{Event, Launch, Single};
use crate::server::Journal;
use crate::stats::Spread;

/// The sweep's payload, as the stack's `SweepSchedule` sends it.
const PAYLOAD: &str = r#"{"sweep": {}}"#;

/// The sweep benchmark's options (all need `--sweep`).
#[derive(Debug, Args)]
pub struct SweepOptions {
    /// Benchmark the sweep (`{"sweep": {}}`) over a fake fleet instead of the events.
    #[arg(long)]
    pub sweep: bool,
    /// Accounts in the fleet: the function's own plus N-1 members it reaches through STS AssumeRole.
    #[arg(long, default_value_t = 20, requires = "sweep",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub accounts: u16,
    /// EKS clusters per account: 2 unhealthy, 3 partially covered, the rest healthy.
    #[arg(long, default_value_t = 50, requires = "sweep",
          value_parser = clap::value_parser!(u16).range(1..=5000))]
    pub clusters_per_account: u16,
    /// The most resources the fake GuardDuty puts in one ListCoverage page
    /// (GuardDuty's own maximum, 50, is what the function asks for).
    #[arg(long, default_value_t = 50, requires = "sweep",
          value_parser = clap::value_parser!(u16).range(1..=50))]
    pub page_size: u16,
    /// Share of each GuardDuty, EKS and STS operation's calls answered with a throttling error.
    #[arg(long, default_value_t = 10, requires = "sweep",
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub throttle_percent: u32,
    /// Sweeps to measure, each in a fresh function process.
    #[arg(long, default_value_t = 3, requires = "sweep",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub runs: u16,
    /// The digest's format (ALERT_MESSAGE_FORMAT).
    #[arg(long, default_value = "chat", requires = "sweep", value_parser = ["chat", "text"])]
    pub format: String,
}

/// One sweep run: what was measured and what the checks found.
#[derive(Debug, Default, Serialize)]
pub struct SweepRun {
    pub run: usize,
    pub init_ms: Option<f64>,
    /// Hand-out of `{"sweep": {}}` to the function's response.
    pub sweep_ms: Option<f64>,
    pub peak_rss_kb: Option<u64>,
    pub aws_calls: u64,
    pub throttled: u64,
    pub retries: u64,
    /// Calls throttled on the SDK's last attempt (failed for the function).
    pub exhausted: u64,
    pub operations: BTreeMap<&'static str, OpCount>,
    pub digest_parts: usize,
    /// Messages published besides the digest (individual alerts).
    pub other_messages: usize,
    /// TLS connections the function opened (each a handshake).
    pub tls_connections: u64,
    /// What became of the unhealthy and partial clusters (`done`), by count.
    pub outcomes: BTreeMap<String, u64>,
    /// Unhealthy and partial clusters in the fleet, and those found exactly
    /// once in the digest and in the response.
    pub expected_clusters: usize,
    pub found_once: usize,
    /// Every check that failed.
    pub misses: Vec<String>,
    /// Requests the fleet refused because the function got them wrong.
    pub problems: Vec<String>,
    /// GuardDuty reads about another account than the signer's (reported,
    /// not a miss: the digest is still complete).
    pub foreign_reads: u64,
    /// Why the run stopped early.
    pub failure: Option<String>,
}

impl SweepRun {
    fn ok(&self) -> bool {
        self.failure.is_none()
            && self.sweep_ms.is_some()
            && self.misses.is_empty()
            && self.problems.is_empty()
    }
}

/// What the JSON file holds.
#[derive(Debug, Serialize)]
struct Output<'a> {
    summary: Summary,
    runs: &'a [SweepRun],
}

#[derive(Debug, Serialize)]
struct Summary {
    label: String,
    binary: PathBuf,
    binary_bytes: u64,
    cpu_quota_percent: Option<u32>,
    fleet: FleetSpec,
    clusters: usize,
    format: String,
    remediation_mode: String,
    /// The deadline each sweep is given (the template's 30 s Timeout).
    deadline_ms: u64,
    /// Each run is a fresh process (a cold start), the sweep its first invocation.
    fresh_process_per_run: bool,
    runs: usize,
    init_ms: Option<Spread>,
    sweep_ms: Option<Spread>,
    peak_rss_mb: Option<Spread>,
    aws_calls: Option<Spread>,
    throttled: Option<Spread>,
    failed_runs: usize,
    harness_errors: Vec<String>,
}

impl Summary {
    fn ok(&self) -> bool {
        self.failed_runs == 0 && self.harness_errors.is_empty()
    }
}

/// Run the sweep benchmark; `Ok(false)` when a run failed its checks.
pub async fn bench(cli: &crate::Cli, binary: PathBuf, binary_bytes: u64) -> Result<bool> {
    let options = &cli.sweep;
    let spec = FleetSpec {
        accounts: usize::from(options.accounts),
        clusters_per_account: usize::from(options.clusters_per_account),
        page_size: usize::from(options.page_size),
        throttle_percent: options.throttle_percent,
    };
    let fleet = Arc::new(Fleet::new(spec.clone()));
    let pki = crate::tls::Pki::generate()?;
    let journal = Arc::new(Journal::default());
    let fake = Arc::new(FakeAws::with_fleet(journal.clone(), fleet.clone()));
    let endpoints = pki.serve_fake_aws(&fake, &journal, 4).await?;
    let [eks, guardduty, sns, sts] = endpoints.as_slice() else {
        bail!("expected four fake AWS endpoints");
    };
    // Dry-run: the sweep reads everything an event would and writes nothing
    // (no UpdateAddon), which is how a sweep is first deployed. `--env`
    // comes last and may override any of these.
    let mut overrides: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL_STS", format!("https://{}", sts.addr)),
        ("MEMBER_ACCOUNTS", fleet.members().join(",")),
        ("MEMBER_ROLE_NAME", MEMBER_ROLE.to_owned()),
        ("REMEDIATION_MODE", "dry-run".to_owned()),
        ("ALERT_MESSAGE_FORMAT", options.format.clone()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    overrides.extend(cli.env.iter().cloned());
    let env = crate::function_env(
        [eks, guardduty, sns],
        &pki.system_bundle_path,
        &pki.ca_pem_path,
        &overrides,
    );
    let setting = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let format = setting("ALERT_MESSAGE_FORMAT");
    let remediation_mode = setting("REMEDIATION_MODE");

    let quota = cli.cpu_quota_percent.map(CpuQuota::create).transpose()?;
    let launch = Launch {
        binary: &binary,
        env: &env,
        function_log: &cli.function_log,
        quota: quota.as_ref(),
    };
    // The function answers by its own 30 s deadline; these only catch hangs.
    let slowdown = if quota.is_some() { 20 } else { 1 };
    let init_timeout = Duration::from_secs(60 * slowdown);
    let timeout = Duration::from_secs(90 * slowdown.min(4));
    let event = Event {
        name: PAYLOAD.to_owned(),
        body: Bytes::from_static(PAYLOAD.as_bytes()),
    };

    let mut runs = Vec::new();
    let all = async {
        for run in 1..=usize::from(options.runs) {
            fleet.begin_run();
            let before: u64 = endpoints.iter().map(|s| s.stats.connections()).sum();
            let request_id = format!("bench-sweep-{}-{run:02}", std::process::id());
            let single =
                crate::run::single_invocation(launch, &event, request_id, init_timeout, timeout)
                    .await;
            let calls = fleet.end_run();
            let after: u64 = endpoints.iter().map(|s| s.stats.connections()).sum();
            runs.push(check_run(
                run,
                single,
                calls,
                &fleet,
                &format,
                after - before,
            ));
        }
    };
    let interrupted = tokio::select! {
        () = all => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    let quota_text = quota.as_ref().map(CpuQuota::describe);
    if let Some(quota) = quota {
        quota.remove()?;
    }
    if interrupted {
        bail!("interrupted after {} sweep runs", runs.len());
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
    let spread = |pick: &dyn Fn(&SweepRun) -> Option<f64>| -> Option<Spread> {
        Spread::of(&runs.iter().filter_map(pick).collect::<Vec<_>>())
    };
    let summary = Summary {
        label: cli
            .label
            .clone()
            .unwrap_or_else(|| binary.display().to_string()),
        binary: binary.clone(),
        binary_bytes,
        cpu_quota_percent: cli.cpu_quota_percent,
        clusters: spec.accounts * spec.clusters_per_account,
        fleet: spec,
        format,
        remediation_mode,
        deadline_ms: u64::try_from(crate::runtime_api::DEADLINE_MS).unwrap_or(u64::MAX),
        fresh_process_per_run: true,
        runs: runs.len(),
        init_ms: spread(&|r| r.init_ms),
        sweep_ms: spread(&|r| r.sweep_ms),
        peak_rss_mb: spread(&|r| r.peak_rss_kb.map(|kb| kb as f64 / 1024.0)),
        aws_calls: spread(&|r| Some(r.aws_calls as f64)),
        throttled: spread(&|r| Some(r.throttled as f64)),
        failed_runs: runs.iter().filter(|r| !r.ok()).count(),
        harness_errors,
    };
    print_report(&summary, quota_text.as_deref(), &runs);
    if let Some(path) = &cli.json {
        let output = Output {
            summary,
            runs: &runs,
        };
        let text = serde_json::to_string_pretty(&output).context("cannot serialize the report")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(output.summary.ok());
    }
    Ok(summary.ok())
}

/// The run's figures, and every check of its outcome against the fleet.
fn check_run(
    run: usize,
    single: Single,
    calls: RunCalls,
    fleet: &Fleet,
    format: &str,
    tls_connections: u64,
) -> SweepRun {
    let mut result = SweepRun {
        run,
        init_ms: single.init_ms,
        sweep_ms: single.latency_ms,
        peak_rss_kb: single.peak_rss_kb,
        aws_calls: calls.operations.values().map(|c| c.calls).sum(),
        throttled: calls.operations.values().map(|c| c.throttled).sum(),
        retries: calls.operations.values().map(|c| c.retries).sum(),
        exhausted: calls.operations.values().map(|c| c.exhausted).sum(),
        operations: calls.operations,
        tls_connections,
        problems: calls.problems,
        foreign_reads: calls.foreign_reads,
        failure: single.failure,
        ..SweepRun::default()
    };
    for unexpected in single.unexpected {
        result.misses.push(format!(
            "Runtime API request it does not have: {unexpected}"
        ));
    }
    let mut misses = Vec::new();

    // The response: a sweep summary over the whole fleet.
    let response = match single.response {
        Some(Ok(body)) => match serde_json::from_slice::<Value>(&body) {
            Ok(value) if value.get("accounts_swept").is_some() => Some(value),
            _ => {
                misses.push(format!(
                    "the response is not a sweep summary: {}",
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ));
                None
            }
        },
        Some(Err(error)) => {
            misses.push(format!("the sweep did not complete: {error}"));
            None
        }
        None => None,
    };
    let (mut healthy, mut unhealthy, mut partial) = (0, 0, 0);
    for account in &fleet.accounts {
        let (h, u, p, ..) = account.tally();
        (healthy, unhealthy, partial) = (healthy + h, unhealthy + u, partial + p);
    }
    let expected: Vec<(&str, &str, Kind)> = fleet
        .accounts
        .iter()
        .flat_map(|a| {
            a.clusters
                .iter()
                .filter(|c| c.kind != Kind::Healthy)
                .map(|c| (a.id.as_str(), c.name.as_str(), c.kind))
        })
        .collect();
    result.expected_clusters = expected.len();
    let mut in_response = BTreeMap::new();
    if let Some(summary) = &response {
        let want = [
            ("healthy", healthy),
            ("unhealthy", unhealthy),
            ("partial", partial),
            ("unknown", 0),
            ("accounts_swept", fleet.accounts.len() as u64),
        ];
        for (field, want) in want {
            if summary[field].as_u64() != Some(want) {
                misses.push(format!(
                    "the response says {field} {}, the fleet has {want}",
                    summary[field]
                ));
            }
        }
        for field in [
            "unreachable_accounts",
            "not_reached_accounts",
            "not_reached_clusters",
        ] {
            if summary[field]
                .as_array()
                .is_none_or(|list| !list.is_empty())
            {
                misses.push(format!("the response's {field} is {}", summary[field]));
            }
        }
        for cluster in summary["clusters"].as_array().into_iter().flatten() {
            let key = (
                cluster["account"].as_str().unwrap_or_default().to_owned(),
                cluster["cluster"].as_str().unwrap_or_default().to_owned(),
            );
            let done = cluster["done"].as_str().unwrap_or_default().to_owned();
            if done == "not-reached" || done.starts_with("failed") || done == "no-cluster-name" {
                misses.push(format!("{} in {}: done {done}", key.1, key.0));
            }
            *result.outcomes.entry(done).or_default() += 1;
            *in_response.entry(key).or_insert(0) += 1;
        }
    }

    // The digest: every part published, numbered, in the response's ids.
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut texts = Vec::new();
    for message in &calls.published {
        if message.attributes.get("kind").map(String::as_str) != Some("sweep-digest") {
            result.other_messages += 1;
            continue;
        }
        let text = if format == "chat" {
            match serde_json::from_str::<Value>(&message.message) {
                Ok(chat) => chat["content"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                Err(error) => {
                    misses.push(format!("a digest part is not chat JSON: {error}"));
                    String::new()
                }
            }
        } else {
            message.message.clone()
        };
        parts.push((
            message.message_id.clone(),
            message.attributes.get("part").cloned().unwrap_or_default(),
        ));
        texts.push(text);
    }
    result.digest_parts = parts.len();
    let count = parts.len();
    let numbered: Vec<String> = (1..=count).map(|i| format!("{i}/{count}")).collect();
    let mut labels: Vec<String> = parts.iter().map(|(_, part)| part.clone()).collect();
    labels.sort_by_key(|label| {
        label
            .split('/')
            .next()
            .and_then(|n| n.parse::<usize>().ok())
    });
    if count == 0 {
        misses.push("no digest was published".to_owned());
    } else if labels != numbered {
        misses.push(format!("the digest's parts are numbered {labels:?}"));
    }
    if let Some(summary) = &response {
        let ids: Vec<&str> = summary["digest_messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let published: Vec<&str> = parts.iter().map(|(id, _)| id.as_str()).collect();
        if ids != published {
            misses.push(format!(
                "the response's digest message ids {ids:?} are not the parts published {published:?}"
            ));
        }
    }
    let all = texts.join("\n");
    let occurrences = |needle: &str| all.matches(needle).count();
    for word in ["UNREACHABLE", "NOT REACHED", "`not-reached`"] {
        if occurrences(word) > 0 {
            misses.push(format!("the digest says {word}"));
        }
    }
    let headline = format!("Swept {} account(s) in", fleet.accounts.len());
    if occurrences(&headline) != 1 {
        misses.push(format!("the digest does not say {headline:?} once"));
    }
    for account in &fleet.accounts {
        let (h, u, p, ..) = account.tally();
        let line = format!(
            "Account `{}`: {h} healthy, {u} unhealthy, {p} partial, 0 unknown;",
            account.id
        );
        let n = occurrences(&line);
        if n != 1 {
            misses.push(format!("{line:?} is in the digest {n} times"));
        }
        for cluster in account.clusters.iter().filter(|c| c.kind == Kind::Healthy) {
            let line = format!("- `{}` in `{}`:", cluster.name, account.id);
            if occurrences(&line) > 0 {
                misses.push(format!(
                    "healthy {} in {} is in the digest",
                    cluster.name, account.id
                ));
            }
        }
    }
    for (account, name, kind) in &expected {
        let status = if kind.unhealthy() {
            "unhealthy"
        } else {
            "partially covered"
        };
        let in_digest = occurrences(&format!("- `{name}` in `{account}`: {status},"));
        let in_reply = in_response
            .get(&((*account).to_owned(), (*name).to_owned()))
            .copied()
            .unwrap_or(0);
        if in_digest == 1 && (response.is_none() || in_reply == 1) {
            result.found_once += 1;
        } else {
            misses.push(format!(
                "{name} in {account} ({status}): {in_digest} times in the digest, {in_reply} in the response"
            ));
        }
    }
    result.misses.extend(misses);
    result
}

fn print_report(summary: &Summary, quota: Option<&str>, runs: &[SweepRun]) {
    let num = |value: Option<f64>, places: usize| {
        value.map_or_else(|| "-".to_owned(), |v| format!("{v:.places$}"))
    };
    let spread = |name: &str, value: Option<Spread>, places: usize| {
        println!(
            "  {name:<18} {:>10} {:>10} {:>10}",
            num(value.map(|s| s.median), places),
            num(value.map(|s| s.min), places),
            num(value.map(|s| s.max), places),
        );
    };
    let fleet = &summary.fleet;
    println!("lambda-bench sweep: {}", summary.label);
    println!(
        "  binary             {} ({} bytes, {:.2} MB)",
        summary.binary.display(),
        summary.binary_bytes,
        summary.binary_bytes as f64 / (1024.0 * 1024.0)
    );
    println!("  cpu quota          {}", quota.unwrap_or("none"));
    let per = fleet.clusters_per_account;
    let mix = |range: std::ops::Range<usize>| range.end.min(per).saturating_sub(range.start);
    println!(
        "  fleet              {} accounts (own + {} members through AssumeRole) x {per} clusters = {}; per account {} unhealthy, {} partial, {} healthy",
        fleet.accounts,
        fleet.accounts - 1,
        summary.clusters,
        mix(0..2),
        mix(2..5),
        per.saturating_sub(5),
    );
    println!(
        "  ListCoverage       pages of at most {} (the function asks for {MAX_PAGE})",
        fleet.page_size
    );
    let every = match fleet.throttle_percent {
        0 => String::new(),
        p if 100 % p == 0 => format!(": every {}th call", 100 / p),
        _ => String::new(),
    };
    println!(
        "  throttling         {}% of each GuardDuty, EKS and STS operation's calls{every}",
        fleet.throttle_percent,
    );
    println!(
        "  invocation         {PAYLOAD}, REMEDIATION_MODE={}, {} digest, {} ms deadline; a fresh process per run",
        summary.remediation_mode, summary.format, summary.deadline_ms
    );
    println!("  runs               {}", summary.runs);
    println!("  {:<18} {:>10} {:>10} {:>10}", "", "median", "min", "max");
    spread("init (ms)", summary.init_ms, 2);
    spread("sweep (ms)", summary.sweep_ms, 1);
    spread("peak RSS (MB)", summary.peak_rss_mb, 2);
    spread("AWS calls", summary.aws_calls, 0);
    spread("throttled", summary.throttled, 0);
    for run in runs {
        println!(
            "  run {:<14} {} ms, {} calls ({} throttled, {} retries, {} exhausted), {} TLS connections, {} digest parts (+{} other), {}/{} clusters exactly once, RSS {} MB: {}",
            run.run,
            num(run.sweep_ms, 1),
            run.aws_calls,
            run.throttled,
            run.retries,
            run.exhausted,
            run.tls_connections,
            run.digest_parts,
            run.other_messages,
            run.found_once,
            run.expected_clusters,
            num(run.peak_rss_kb.map(|kb| kb as f64 / 1024.0), 2),
            if run.ok() { "ok" } else { "FAILED" },
        );
    }
    if let Some(first) = runs.first() {
        let operations: Vec<String> = first
            .operations
            .iter()
            .map(|(op, c)| format!("{op} {} ({} throttled)", c.calls, c.throttled))
            .collect();
        println!("  calls, run 1       {}", operations.join(", "));
        let outcomes: Vec<String> = first
            .outcomes
            .iter()
            .map(|(done, n)| format!("{done} {n}"))
            .collect();
        println!("  outcomes, run 1    {}", outcomes.join(", "));
        if first.foreign_reads > 0 {
            println!(
                "  warning            run 1: {} GuardDuty reads named another account than the one whose credentials signed them (a member's cluster read with the wrong role)",
                first.foreign_reads
            );
        }
    }
    println!(
        "  errors             failed runs {}, harness errors {}",
        summary.failed_runs,
        summary.harness_errors.len()
    );
    for run in runs {
        if let Some(failure) = &run.failure {
            println!("    run {}: FAILED: {failure}", run.run);
        }
        for miss in run.misses.iter().take(10) {
            println!("    run {}: MISS: {miss}", run.run);
        }
        for problem in run.problems.iter().take(5) {
            println!("    run {}: refused: {problem}", run.run);
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
