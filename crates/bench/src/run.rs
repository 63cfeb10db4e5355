//! One cold start as Lambda runs it: spawn the binary with Lambda's
//! environment against a fresh Runtime API, measure init (spawn to first
//! `/next`), the first event, the warm events and the peak RSS, then kill it.
//! Also owns the event set the runs hand out.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::cgroup::CpuQuota;
use crate::runtime_api::{Invocation, Report, RuntimeApi};
use crate::server::Journal;

/// The first event of every cold start: it makes every AWS call, the
/// UpdateAddon write included.
pub const FIRST_EVENT: &str = "unhealthy.addon-configuration-conflict.json";
/// A coverage-shaped envelope the function rightly rejects: an invocation
/// error by design, so not part of the warm set.
const NOT_A_COVERAGE_EVENT: &str = "malformed.wrong-detail-type.json";

/// One event file.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub body: Bytes,
}

/// The events of a benchmark and the files left out, with why.
#[derive(Debug)]
pub struct EventSet {
    pub first: Event,
    pub warm: Vec<Event>,
    pub skipped: Vec<(String, String)>,
}

impl EventSet {
    /// Every GuardDuty Runtime Protection event in `dir` (sorted by name),
    /// except the one that is not a coverage event.
    pub fn load(dir: &Path) -> Result<EventSet> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the events directory {}", dir.display()))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot list {}", dir.display()))?;
        paths.sort();
        let mut warm = Vec::new();
        let mut skipped = Vec::new();
        for path in paths {
            if path.extension().is_none_or(|extension| extension != "json") {
                continue;
            }
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let Ok(value) = serde_json::from_slice::<Value>(&text) else {
                skipped.push((name, "not JSON".to_owned()));
                continue;
            };
            let detail_type = value["detail-type"].as_str().unwrap_or_default();
            if name == NOT_A_COVERAGE_EVENT
                || value["source"] != "aws.guardduty"
                || !detail_type.starts_with("GuardDuty Runtime Protection")
            {
                skipped.push((
                    name,
                    format!("not a coverage event (detail-type {detail_type:?})"),
                ));
                continue;
            }
            warm.push(Event {
                name,
                body: Bytes::from(text),
            });
        }
        let first = warm
            .iter()
            .find(|event| event.name == FIRST_EVENT)
            .cloned()
            .with_context(|| format!("{} has no {FIRST_EVENT}", dir.display()))?;
        Ok(EventSet {
            first,
            warm,
            skipped,
        })
    }
}

/// How one cold start is run.
#[derive(Debug)]
pub struct Setup<'a> {
    pub binary: &'a Path,
    /// The environment, except `AWS_LAMBDA_RUNTIME_API` (per run).
    pub env: &'a [(String, String)],
    pub function_log: &'a Path,
    pub quota: Option<&'a CpuQuota>,
    pub events: &'a EventSet,
    /// What the fake AWS saw, merged into each run's timeline.
    pub journal: &'a Journal,
    pub warm_events: usize,
    pub init_timeout: Duration,
    pub event_timeout: Duration,
}

impl Setup<'_> {
    pub fn launch(&self) -> Launch<'_> {
        Launch {
            binary: self.binary,
            env: self.env,
            function_log: self.function_log,
            quota: self.quota,
        }
    }
}

/// How a function process is started: the same for the event benchmark's
/// cold starts and the sweep's runs, so both measure the same thing.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    pub binary: &'a Path,
    /// The environment, except `AWS_LAMBDA_RUNTIME_API` (per process).
    pub env: &'a [(String, String)],
    pub function_log: &'a Path,
    pub quota: Option<&'a CpuQuota>,
}

/// One process that gets one invocation (the sweep benchmark's run): init,
/// the invocation's latency and raw response, the peak RSS after it.
#[derive(Debug, Default)]
pub struct Single {
    pub init_ms: Option<f64>,
    /// Hand-out to `/response` (or `/error`).
    pub latency_ms: Option<f64>,
    /// The response body, or the invocation error's.
    pub response: Option<Result<Bytes, String>>,
    pub peak_rss_kb: Option<u64>,
    /// Why the run stopped early (timeout, exit, init error).
    pub failure: Option<String>,
    /// Runtime API requests it does not have.
    pub unexpected: Vec<String>,
}

/// Start a fresh process, hand it `event` as its first invocation, wait for
/// the answer and for its next `/next`, read its peak RSS, kill it.
/// Failures are recorded, never returned, as in `cold_start`.
pub async fn single_invocation(
    launch: Launch<'_>,
    event: &Event,
    request_id: String,
    init_timeout: Duration,
    timeout: Duration,
) -> Single {
    let mut single = Single::default();
    let mut slot = None;
    let result = async {
        let driver = slot.insert(Driver::spawn(launch).await?);
        let first_next = driver
            .wait_for_next(init_timeout, "reach /next (init)")
            .await?;
        single.init_ms = Some(ms(first_next - driver.spawned));
        let (latency, response) = driver.invoke_raw(event, request_id, timeout).await?;
        single.latency_ms = Some(ms(latency));
        single.response = Some(response);
        driver
            .wait_for_next(timeout, "ask for the next event")
            .await?;
        single.peak_rss_kb = Some(driver.peak_rss_kb()?);
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = result {
        single.failure = Some(format!("{error:#}"));
    }
    if let Some(driver) = slot {
        single.unexpected = driver
            .timeline
            .iter()
            .filter(|mark| mark.what == "unexpected")
            .filter_map(|mark| mark.detail.clone())
            .collect();
        if let Err(error) = driver.stop().await
            && single.failure.is_none()
        {
            single.failure = Some(format!("{error:#}"));
        }
    }
    single
}

/// One entry of a run's timeline, in ms since just before `spawn()`: the
/// Runtime API's requests and hand-outs, and the fake AWS's handshakes and
/// requests (`what` = "aws").
#[derive(Debug, Serialize)]
pub struct Mark {
    pub t_ms: f64,
    pub what: &'static str,
    /// The request id, or what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The raw samples of one cold start.
#[derive(Debug, Default, Serialize)]
pub struct RunSamples {
    pub run: usize,
    pub init_ms: Option<f64>,
    pub first_event_ms: Option<f64>,
    /// The function's summary of the first event (the OVERWRITE outcome).
    pub first_event_summary: Option<Value>,
    /// Response arrival - hand-out, per warm event answered with a summary.
    pub warm_ms: Vec<f64>,
    pub warm_answered: usize,
    pub peak_rss_kb: Option<u64>,
    /// Invocation errors and responses that are not a summary.
    pub errors: Vec<String>,
    /// Why the run stopped early (timeout, exit, init error).
    pub failure: Option<String>,
    pub timeline: Vec<Mark>,
}

/// Run one cold start. Failures are recorded in the samples, never returned:
/// the other runs still happen and the report says what went wrong.
pub async fn cold_start(setup: &Setup<'_>, run: usize) -> RunSamples {
    let mut samples = RunSamples {
        run,
        ..RunSamples::default()
    };
    let mut driver = None;
    let result = drive(setup, &mut samples, &mut driver).await;
    if let Err(error) = result {
        samples.failure = Some(format!("{error:#}"));
    }
    if let Some(mut driver) = driver {
        let mut timeline = std::mem::take(&mut driver.timeline);
        for (at, what) in setup.journal.since(driver.spawned) {
            timeline.push(Mark {
                t_ms: ms(at.saturating_duration_since(driver.spawned)),
                what: "aws",
                detail: Some(what),
            });
        }
        timeline.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        samples.timeline = timeline;
        if let Err(error) = driver.stop().await
            && samples.failure.is_none()
        {
            samples.failure = Some(format!("{error:#}"));
        }
    }
    samples
}

async fn drive(
    setup: &Setup<'_>,
    samples: &mut RunSamples,
    slot: &mut Option<Driver>,
) -> Result<()> {
    let driver = slot.insert(Driver::spawn(setup.launch()).await?);
    let spawned = driver.spawned;

    let first_next = driver
        .wait_for_next(setup.init_timeout, "reach /next (init)")
        .await?;
    samples.init_ms = Some(ms(first_next - spawned));

    let first = driver
        .invoke(
            &setup.events.first,
            run_id(samples.run, 0),
            setup.event_timeout,
        )
        .await?;
    match first {
        Answer::Summary { latency, summary } => {
            samples.first_event_ms = Some(ms(latency));
            samples.first_event_summary = Some(summary);
        }
        Answer::Failed(error) => samples.errors.push(error),
    }

    for (index, event) in setup
        .events
        .warm
        .iter()
        .cycle()
        .take(setup.warm_events)
        .enumerate()
    {
        driver
            .wait_for_next(setup.event_timeout, "ask for the next event")
            .await?;
        let answer = driver
            .invoke(event, run_id(samples.run, index + 1), setup.event_timeout)
            .await?;
        match answer {
            Answer::Summary { latency, .. } => {
                samples.warm_ms.push(ms(latency));
                samples.warm_answered += 1;
            }
            Answer::Failed(error) => {
                samples.warm_answered += 1;
                samples.errors.push(error);
            }
        }
    }

    // Blocked in its next `/next`: idle as between invocations in Lambda,
    // with everything it allocated for the events behind it.
    driver
        .wait_for_next(setup.event_timeout, "ask for the next event")
        .await?;
    samples.peak_rss_kb = Some(driver.peak_rss_kb()?);
    Ok(())
}

fn run_id(run: usize, event: usize) -> String {
    format!("bench-{}-{run:02}-{event:05}", std::process::id())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// How one invocation ended.
enum Answer {
    Summary { latency: Duration, summary: Value },
    Failed(String),
}

/// A running function and its Runtime API.
struct Driver {
    api: RuntimeApi,
    child: Child,
    spawned: Instant,
    timeline: Vec<Mark>,
    handed_out: Option<(String, Instant)>,
}

/// What the function did instead of what the harness waited for.
enum Interrupt {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
    Stopped,
}

impl Driver {
    /// A fresh Runtime API and the function started against it.
    async fn spawn(launch: Launch<'_>) -> Result<Driver> {
        let api = RuntimeApi::start().await?;
        let mut command = match launch.quota {
            Some(quota) => {
                let (program, args) = quota.wrap(launch.binary);
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            None => Command::new(launch.binary),
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.function_log)
            .with_context(|| format!("cannot open {}", launch.function_log.display()))?;
        let log_err = log.try_clone().context("cannot share the function log")?;
        command
            .env_clear()
            .envs(launch.env.iter().map(|(key, value)| (key, value)))
            .env("AWS_LAMBDA_RUNTIME_API", api.address().to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);

        let spawned = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", launch.binary.display()))?;
        Ok(Driver {
            api,
            child,
            spawned,
            timeline: Vec::new(),
            handed_out: None,
        })
    }

    /// The next report, or why there is none.
    async fn next_report(&mut self, deadline: tokio::time::Instant) -> Result<Report, Interrupt> {
        tokio::select! {
            report = self.api.report() => report.ok_or(Interrupt::Stopped),
            status = self.child.wait() => Err(Interrupt::Exited(status)),
            () = tokio::time::sleep_until(deadline) => Err(Interrupt::TimedOut),
        }
    }

    /// Wait for a report, recording every one in the timeline. Any report
    /// for which `accept` returns `Some` ends the wait.
    async fn wait<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut accept: impl FnMut(&Report) -> Option<T>,
    ) -> Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let report = match self.next_report(deadline).await {
                Ok(report) => report,
                Err(Interrupt::TimedOut) => {
                    bail!("the function did not {what} within {timeout:?}")
                }
                Err(Interrupt::Exited(status)) => {
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    bail!(
                        "the function exited ({status}) before it could {what}; see --function-log"
                    )
                }
                Err(Interrupt::Stopped) => bail!("the Runtime API stopped"),
            };
            self.record(&report);
            if let Report::InitError { body, .. } = &report {
                bail!("the function reported an init error: {}", clip(body));
            }
            if let Some(found) = accept(&report) {
                return Ok(found);
            }
        }
    }

    fn record(&mut self, report: &Report) {
        let (at, what, detail) = match report {
            Report::Next { at } => (*at, "next", None),
            Report::HandedOut { request_id, at } => {
                self.handed_out = Some((request_id.clone(), *at));
                (*at, "handed-out", Some(request_id.clone()))
            }
            Report::Response { request_id, at, .. } => (*at, "response", Some(request_id.clone())),
            Report::InvocationError { request_id, at, .. } => {
                (*at, "error", Some(request_id.clone()))
            }
            Report::InitError { at, .. } => (*at, "init-error", None),
            Report::Unexpected { at, what } => (*at, "unexpected", Some(what.clone())),
        };
        self.timeline.push(Mark {
            t_ms: ms(at.saturating_duration_since(self.spawned)),
            what,
            detail,
        });
    }

    async fn wait_for_next(&mut self, timeout: Duration, what: &str) -> Result<Instant> {
        self.wait(timeout, what, |report| match report {
            Report::Next { at } => Some(*at),
            _ => None,
        })
        .await
    }

    /// Hand out `event` and wait for its response, which must be an event's summary.
    async fn invoke(
        &mut self,
        event: &Event,
        request_id: String,
        timeout: Duration,
    ) -> Result<Answer> {
        let (latency, response) = self.invoke_raw(event, request_id, timeout).await?;
        Ok(match response.and_then(|body| summary(&body)) {
            Ok(summary) => Answer::Summary { latency, summary },
            Err(error) => Answer::Failed(format!("{}: {error}", event.name)),
        })
    }

    /// Hand out `event` and wait for its response or error: the latency from
    /// hand-out, and the response body (or the error's, as text).
    async fn invoke_raw(
        &mut self,
        event: &Event,
        request_id: String,
        timeout: Duration,
    ) -> Result<(Duration, Result<Bytes, String>)> {
        self.handed_out = None;
        self.api
            .invoke(Invocation {
                request_id: request_id.clone(),
                body: event.body.clone(),
            })
            .await?;
        let what = format!("answer {} ({request_id})", event.name);
        let (at, outcome) = self
            .wait(timeout, &what, |report| match report {
                Report::Response {
                    request_id: id,
                    at,
                    body,
                } if *id == request_id => Some((*at, Ok(body.clone()))),
                Report::InvocationError {
                    request_id: id,
                    at,
                    body,
                } if *id == request_id => {
                    Some((*at, Err(format!("invocation error: {}", clip(body)))))
                }
                _ => None,
            })
            .await?;
        let handed_out = match &self.handed_out {
            Some((id, handed_out)) if *id == request_id => *handed_out,
            _ => bail!("{request_id} was answered before the Runtime API handed it out"),
        };
        Ok((at.saturating_duration_since(handed_out), outcome))
    }

    /// `VmHWM` of the function's process (kB).
    fn peak_rss_kb(&self) -> Result<u64> {
        let pid = self.child.id().context("the function has already exited")?;
        let path = format!("/proc/{pid}/status");
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("{path} has no VmHWM line"))
    }

    /// Kill the function and reap it (the cgroup can only go once it has).
    async fn stop(mut self) -> Result<()> {
        if self.child.try_wait().ok().flatten().is_none() {
            self.child
                .start_kill()
                .context("cannot kill the function")?;
        }
        self.child
            .wait()
            .await
            .context("cannot reap the function")?;
        Ok(())
    }
}

/// The function's return value must be its JSON summary.
fn summary(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("event_id").is_some() => Ok(value),
        _ => Err(format!("the response is not a summary: {}", clip(body))),
    }
}

fn clip(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}
