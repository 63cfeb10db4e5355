//! `coverage`: the engineer's view of the core. Offline: `explain` classifies
//! one issue string, `replay` drives the Lambda's own `Pipeline` over an event
//! file (with recorded facts from a file, or none) without any AWS call, and
//! `catalog` prints every entry. With the engineer's own AWS credentials:
//! `sweep` runs the scheduled sweep, always dry-run, and prints its digest.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use coverage_core::catalog::{self, CommandKind, Entry};
use coverage_core::policy::{
    ClusterPattern, ClusterSelection, OverwriteBound, PolicyError, parse_cluster_patterns,
    parse_number,
};
use coverage_core::render::{CommandContext, FilledCommand, fill_commands, issue_id};
use coverage_core::{
    Detail, Facts, Invocation, Issue, Next, OverwriteRequest, Pipeline, Plan, Policy,
    RemediationMode, Settings, Summary, render,
};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "coverage",
    version,
    about = "Explain and replay GuardDuty EKS runtime coverage issues offline; sweep a fleet (dry-run)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Classify one `detail.issue` string: what it means and what to do.
    Explain {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Fill the cluster name into the commands (a valid EKS name, or an
        /// error; without it the commands read `$CLUSTER`).
        #[arg(long, value_parser = valid_cluster)]
        cluster: Option<String>,
        /// Fill the region into the commands (a region code, or an error).
        #[arg(long, value_parser = valid_region)]
        region: Option<String>,
        /// Fill the account id into the commands (twelve digits, or an error).
        #[arg(long, value_parser = valid_account)]
        account: Option<String>,
        /// The issue string; `-` reads standard input.
        issue: String,
    },
    /// Run an EventBridge event file through the Lambda's pipeline without
    /// any AWS call and print the alert that would be published, or, when
    /// every guardrail holds in enforce, the exact UpdateAddon call the
    /// Lambda would make.
    ///
    /// Text output: the summary, then the plain-text alert (what a person
    /// reads), then the SNS subject, the message attributes and the chat
    /// notification JSON after it. A coverage event whose detail cannot be
    /// read is replayed too: it shows the raw-event alert the Lambda
    /// publishes. `--format json`: one object with snake_case keys
    /// (`summary`, `plan`, `outcome`, `alert` with `subject`, `attributes`,
    /// `text` and `chat`, the chat notification as an object in its own
    /// camelCase schema).
    Replay(ReplayArgs),
    /// Print every catalog entry.
    Catalog {
        #[arg(long, value_enum, default_value_t = CatalogFormat::Markdown)]
        format: CatalogFormat,
    },
    /// Print, as JSON, every shell command the alerts can print, for every
    /// catalog entry: filled with these values, with the add-on read (with
    /// and without configuration values) and not read, and with nothing
    /// known; then the OVERWRITE call in each form and the update checks.
    /// tests/commands hands each to the AWS CLI's own parser.
    Commands {
        #[arg(long, value_parser = valid_cluster)]
        cluster: String,
        #[arg(long, value_parser = valid_region)]
        region: String,
        #[arg(long, value_parser = valid_account)]
        account: String,
    },
    /// Sweep EKS runtime coverage with your own AWS credentials and region,
    /// as the deployed function's schedule does, and print the digest:
    /// per account healthy / unhealthy / partially covered clusters and the
    /// share of nodes covered, then every cluster that is not healthy with
    /// its catalog entry (`coverage explain` says more) and what the
    /// function would do.
    ///
    /// Always dry-run: it reads (STS GetCallerIdentity, GuardDuty
    /// ListDetectors and ListCoverage, and for each unhealthy cluster the
    /// reads its event would make) and never writes, publishes or
    /// schedules anything. Credentials and region come from the usual
    /// chain (AWS_PROFILE, environment, SSO, ~/.aws); --region overrides.
    /// Member accounts are swept through --member-role, which your
    /// credentials must be allowed to assume; an account that cannot be
    /// read is reported as unreachable and the others go on.
    ///
    /// Exit status: 0 when the sweep ran (whatever it found), 1 when it
    /// could not start (no credentials, no region), 2 for bad arguments.
    Sweep(SweepArgs),
}

#[derive(clap::Args, Debug)]
struct SweepArgs {
    /// text: the digest's lines; json: the digest as one object.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The region to sweep (default: AWS_REGION or your profile's).
    #[arg(long, value_parser = valid_region)]
    region: Option<String>,
    /// The AWS CLI profile to use (default: AWS_PROFILE or `default`).
    #[arg(long)]
    profile: Option<String>,
    /// MEMBER_ACCOUNTS as the function reads it: comma-separated account
    /// ids to sweep besides your own (`*` cannot be enumerated and sweeps
    /// only your own account, saying so).
    #[arg(long, value_name = "IDS", value_parser = member_accounts, default_value = "")]
    members: MemberList,
    /// MEMBER_ROLE_NAME: the role assumed in each member account.
    #[arg(long, value_name = "NAME", value_parser = member_role,
          default_value = coverage_core::policy::DEFAULT_MEMBER_ROLE)]
    member_role: coverage_core::ids::RoleName,
    /// Stop listing and reading after this many seconds (1-3600); what was
    /// not reached is named in the digest.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = |text: &str| parse_number(text, 1, 3600))]
    timeout_seconds: u64,
}

/// A parsed member list as one flag value.
#[derive(Clone, Debug)]
struct MemberList(coverage_core::policy::MemberAccounts);

fn member_accounts(list: &str) -> Result<MemberList, PolicyError> {
    coverage_core::policy::parse_member_accounts(list).map(MemberList)
}

fn member_role(name: &str) -> Result<coverage_core::ids::RoleName, PolicyError> {
    coverage_core::policy::parse_member_role(name)
}

fn valid_cluster(value: &str) -> Result<String, String> {
    coverage_core::ClusterName::parse(value)
        .map(|_| value.to_owned())
        .map_err(|_| "not a valid EKS cluster name (a letter or digit, then letters, digits, - and _, at most 100)".to_owned())
}

fn valid_region(value: &str) -> Result<String, String> {
    coverage_core::Region::parse(value)
        .map(|_| value.to_owned())
        .map_err(|_| "not an AWS region code such as us-east-1".to_owned())
}

fn valid_account(value: &str) -> Result<String, String> {
    coverage_core::AccountId::parse(value)
        .map(|_| value.to_owned())
        .map_err(|_| "not a twelve-digit AWS account id".to_owned())
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// REMEDIATION_MODE as the Lambda reads it: off, dry-run, enforce or approve
    /// (approve prints the token body and how to sign and invoke it).
    #[arg(long, default_value = "dry-run", value_parser = RemediationMode::from_str)]
    mode: RemediationMode,
    /// Recorded facts (JSON of `coverage_core::Facts`): the function's
    /// identity, the time and what the reads returned. Without it nothing
    /// is known, as in an offline dry-run.
    #[arg(long, value_name = "FILE")]
    facts: Option<PathBuf>,
    /// REMEDIATION_ALLOW_CLUSTERS: comma-separated names or `*` patterns.
    #[arg(long, value_name = "PATTERNS", value_parser = cluster_patterns)]
    allow_clusters: Option<Patterns>,
    /// REMEDIATION_DENY_CLUSTERS: comma-separated names or `*` patterns.
    #[arg(long, value_name = "PATTERNS", value_parser = cluster_patterns)]
    deny_clusters: Option<Patterns>,
    /// OVERWRITE_MAX_PER_WINDOW (1-100; default 1).
    #[arg(long, value_name = "N", value_parser = |text: &str| parse_number(text, 1, 100))]
    max_per_window: Option<u64>,
    /// OVERWRITE_WINDOW_HOURS (1-2160; default 24).
    #[arg(long, value_name = "H", value_parser = |text: &str| parse_number(text, 1, 24 * 90))]
    window_hours: Option<u64>,
    /// The event file; `-` reads standard input.
    event_file: PathBuf,
}

/// A parsed pattern list as one flag value (clap would read a bare `Vec` as
/// a repeated flag).
#[derive(Clone, Debug)]
struct Patterns(Vec<ClusterPattern>);

fn cluster_patterns(list: &str) -> Result<Patterns, PolicyError> {
    parse_cluster_patterns(list).map(Patterns)
}

impl ReplayArgs {
    /// The policy the Lambda's configuration would build from the same values.
    fn policy(&self) -> Policy {
        let patterns = |list: &Option<Patterns>| list.as_ref().map_or(Vec::new(), |p| p.0.clone());
        let default_bound = OverwriteBound::default();
        Policy {
            mode: self.mode,
            clusters: ClusterSelection {
                allow: patterns(&self.allow_clusters),
                deny: patterns(&self.deny_clusters),
            },
            bound: OverwriteBound {
                max_updates: self
                    .max_per_window
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(default_bound.max_updates),
                window_seconds: self
                    .window_hours
                    .map_or(default_bound.window_seconds, |hours| hours * 3600),
            },
            // The Lambda's defaults: recorded facts carry the audit log as it was read.
            audit: coverage_core::audit::AuditSettings::default(),
            ..Policy::default()
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum CatalogFormat {
    Markdown,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain {
            format,
            cluster,
            region,
            account,
            issue,
        } => explain(
            format,
            &issue,
            cluster.as_deref(),
            region.as_deref(),
            account.as_deref(),
        ),
        Command::Replay(args) => replay(&args),
        Command::Catalog { format } => print_catalog(format),
        Command::Commands {
            cluster,
            region,
            account,
        } => every_command(&cluster, &region, &account),
        Command::Sweep(args) => sweep(args),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // One line: the whole chain of context.
            eprintln!("coverage: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn explain(
    format: Format,
    issue: &str,
    cluster: Option<&str>,
    region: Option<&str>,
    account: Option<&str>,
) -> Result<String> {
    let text = if issue == "-" {
        String::from_utf8(read_input(std::path::Path::new("-"))?)
            .context("standard input is not UTF-8")?
    } else {
        issue.to_owned()
    };
    let text = text.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() {
        anyhow::bail!(
            "the issue string is empty: pass GuardDuty's detail.issue text, or - to read it from standard input"
        );
    }
    let issue = Issue::parse(text);
    let entry = catalog::classify(&issue);
    let context = CommandContext::new(cluster, region, account, &issue.raw);
    let commands = fill_commands(entry, &context);
    Ok(match format {
        Format::Json => {
            let value = json!({
                "id": entry.id,
                "title": entry.title,
                "severity": entry.severity,
                "actionability": entry.actionability,
                "issue_type": issue.issue_type.name(),
                "issue_type_known": !matches!(issue.issue_type, coverage_core::IssueType::Unknown(_)),
                "extra_information": issue.extra,
                "addon_issue_code": issue.addon_code().map(|c| c.as_str()),
                "addon_issue_message": issue.addon_issue.as_ref().map(|a| a.message.as_str()),
                "why": entry.why,
                "steps": entry.steps,
                "commands": commands,
                "links": entry.links,
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        Format::Text => explain_text(entry, &issue, &commands),
    })
}

fn explain_text(entry: &Entry, issue: &Issue, commands: &[FilledCommand]) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}  [{}]\n", entry.title, entry.id));
    out.push_str(&format!(
        "severity: {}   actionability: {}\n",
        entry.severity.as_str(),
        entry.actionability.as_str()
    ));
    // Continuation lines (a multi-line conflict list) stay under their label.
    let indented = |text: &str| text.replace('\n', "\n  ");
    out.push_str(&format!(
        "issue type: {}\n",
        indented(issue.issue_type.name())
    ));
    if let Some(addon) = &issue.addon_issue {
        out.push_str(&format!(
            "add-on issue: {} - {}\n",
            addon.code.as_ref().map_or("(no code)", |c| c.as_str()),
            indented(&addon.message)
        ));
    } else if let Some(extra) = &issue.extra {
        out.push_str(&format!("extra information: {}\n", indented(extra)));
    }
    out.push_str(&format!("\nWhy: {}\n", entry.why));
    if entry.id == catalog::UNRECOGNIZED.id {
        // The wording says the raw text is below: here it is, whole.
        out.push_str(&format!("\nRaw issue text:\n  {}\n", indented(&issue.raw)));
    }
    out.push_str("\nSteps:\n");
    for (index, step) in entry.steps.iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", index + 1));
    }
    out.push_str("\nCommands:\n");
    for command in commands {
        let note = if command.kind == CommandKind::LogsInsights {
            " (CloudWatch Logs Insights)"
        } else {
            ""
        };
        // A heredoc's body and closing delimiter must stay as they are.
        let text = if command.command.contains("<<") {
            command.command.clone()
        } else {
            command.command.replace('\n', "\n  ")
        };
        out.push_str(&format!("  # {}{note}\n  {text}\n", command.purpose));
    }
    out.push_str("\nDocs:\n");
    for link in entry.links {
        out.push_str(&format!("  - {}: {}\n", link.title, link.url));
    }
    out
}

/// Where the replay's facts came from, for the `mode:` line.
fn facts_origin(args: &ReplayArgs) -> String {
    match &args.facts {
        Some(path) => format!("facts: {}", path.display()),
        None => "offline: no AWS facts".to_owned(),
    }
}

/// A recorded facts file; a bad one names the file and where in it.
fn read_facts(path: &std::path::Path) -> Result<Facts> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut json = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut json).map_err(|error| {
        let at = error.path().to_string();
        let at = if at == "." {
            "the top level".to_owned()
        } else {
            format!("`{at}`")
        };
        anyhow::anyhow!(
            "{}: not a facts file: at {at}: {}",
            path.display(),
            error.into_inner()
        )
    })
}

/// The invocation the recorded facts describe: the function they were read
/// for and the time they were read at. No deadline: offline, time stands
/// still, so every budget is met.
fn invocation_from(facts: &Facts, path: &std::path::Path) -> Result<Invocation> {
    let now_ms = match facts.now {
        None => None,
        Some(seconds) => Some(
            u64::try_from(seconds)
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .with_context(|| {
                    format!(
                        "{}: now: {seconds} is not a time in seconds since 1970",
                        path.display()
                    )
                })?,
        ),
    };
    Ok(Invocation {
        function: facts.function.clone(),
        now_ms,
        ..Invocation::default()
    })
}

/// How a replay ended: the alert that would be published, or the write the
/// Lambda would make before it can render one.
enum Replayed {
    Published(Summary),
    WouldCall(OverwriteRequest),
    /// Approve mode: the token's signed part, which only KMS can sign.
    WouldSign(String),
}

/// Drive the Lambda's pipeline with the recorded facts instead of AWS.
fn replay(args: &ReplayArgs) -> Result<String> {
    let path = args.event_file.as_path();
    let bytes = read_input(path)?;
    let (facts, invocation) = match &args.facts {
        Some(facts_path) => {
            let facts = read_facts(facts_path)?;
            let invocation = invocation_from(&facts, facts_path)?;
            (facts, invocation)
        }
        None => (Facts::offline(), Invocation::default()),
    };
    // The Lambda's EKS client calls in the function's own region (which the
    // guardrails have matched to the event's before any write).
    let region = facts
        .function
        .known()
        .map(|function| function.region.to_string());
    // Offline the clock does not move: every answer is given at the time the
    // facts were read, as if the reads and the publish took no time.
    let clock_ms = invocation.now_ms.unwrap_or(0);
    let settings = Settings {
        policy: args.policy(),
        ..Settings::default()
    };
    let mut pipeline = Pipeline::from_bytes(&bytes, &settings, invocation)
        .with_context(|| path.display().to_string())?;
    // Handed over once: the pipeline asks for its reads once.
    let mut facts = Some(facts);
    let replayed = loop {
        match pipeline.poll() {
            // The file is handed over whole: the pipeline keeps only what it
            // asked for, so the replay decides on what the Lambda would read.
            Next::Gather { .. } => {
                pipeline.gathered(facts.take().unwrap_or_default(), clock_ms);
            }
            Next::Write { request, .. } => break Replayed::WouldCall(request.clone()),
            // Approve mode: no KMS here; print how to sign and invoke instead.
            Next::Sign { signed, .. } => break Replayed::WouldSign(signed.to_owned()),
            // Only after a write, where the replay has already stopped.
            Next::Schedule { .. } => pipeline.scheduled(
                coverage_core::ScheduleResult::Failed {
                    why: "the replay schedules nothing".to_owned(),
                },
                clock_ms,
            ),
            Next::Publish { .. } => pipeline.published(Ok("not-published".to_owned()), clock_ms),
            Next::Done(summary) => break Replayed::Published(summary),
            Next::Failed(undelivered) => {
                anyhow::bail!("{}: {}", path.display(), undelivered.why)
            }
        }
    };
    let plan = pipeline
        .plan()
        .context("the pipeline ended without a plan; this is a bug")?;
    let origin = facts_origin(args);
    match replayed {
        Replayed::WouldCall(request) => {
            let command = request.as_cli(region.as_deref().unwrap_or("<region>"));
            would_call(args.format, plan, &request, &command, &origin)
        }
        Replayed::WouldSign(signed) => {
            let function = plan
                .facts
                .function
                .known()
                .and_then(coverage_core::FunctionIdentity::unqualified_arn);
            let commands = coverage_core::approval::terminal_commands(
                &signed,
                function.as_deref(),
                region.as_deref().unwrap_or("\"$AWS_REGION\""),
            );
            Ok(match args.format {
                Format::Json => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json!({
                        "plan": plan,
                        "approval_signed_part": signed,
                        "commands": commands,
                    }))?
                ),
                Format::Text => format!(
                    "mode:     approve ({origin})\n\ndecision: awaiting-approval: every guardrail holds; \
                     the Lambda would sign this approval token body with its KMS HMAC key \
                     (GenerateMac) and post the alert with the \"Approve OVERWRITE\" button\n\n\
                     --- Token body (unsigned: this CLI has no KMS key)\n{signed}\n\n\
                     --- Approve from a terminal (needs kms:GenerateMac on the stack's key, \
                     which the stack grants only the function: the alert's own token is the usual way)\n\
                     {commands}\n"
                ),
            })
        }
        Replayed::Published(summary) => {
            let outcome = pipeline
                .outcome()
                .context("the pipeline published without an outcome; this is a bug")?;
            published(args.format, plan, outcome, &summary, &origin)
        }
    }
}

/// The summary lines every replay starts with.
fn summary_lines(plan: &Plan, summary: &Summary, origin: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "event:    {} ({})\n",
        summary.event_id,
        plan.event.envelope.transition.detail_type()
    ));
    out.push_str(&format!("issue:    {}\n", summary.issue_id));
    out.push_str(&format!("action:   {}\n", summary.action));
    out.push_str(&format!("outcome:  {}\n", summary.outcome));
    out.push_str(&format!("mode:     {} ({origin})\n", plan.mode.as_str()));
    out
}

/// The pipeline reached the write: the Lambda would call EKS now, and its
/// alert would state EKS's answer, which a replay cannot know.
fn would_call(
    format: Format,
    plan: &Plan,
    request: &OverwriteRequest,
    command: &str,
    origin: &str,
) -> Result<String> {
    // The core's `summary` needs an outcome, and there is none before EKS
    // answers; clipped as it clips.
    let summary = Summary {
        event_id: coverage_core::text::clip(&plan.event.envelope.id, 256),
        issue_id: issue_id(plan).to_owned(),
        cluster: plan
            .event
            .cluster_name()
            .map(|c| coverage_core::text::clip(c, 256)),
        action: "overwrite-addon",
        outcome: "would-call-update-addon".to_owned(),
        update_id: None,
        follow_up: None,
        message_id: "not-published".to_owned(),
    };
    Ok(match format {
        Format::Json => {
            let value = json!({
                "summary": summary,
                "plan": plan,
                "would_call": request,
                "command": command,
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        Format::Text => {
            let mut out = summary_lines(plan, &summary, origin);
            out.push_str(
                "\ndecision: overwrite-addon: the Lambda would now call UpdateAddon (every guardrail holds)\n",
            );
            out.push_str("\n--- UpdateAddon call\n");
            out.push_str(command);
            out.push_str(
                "\n\n--- No alert rendered: the Lambda renders it after the call, from EKS's answer \
                 (update started, already in flight, failed, or no answer in time)\n",
            );
            out
        }
    })
}

/// The pipeline published (to nowhere): the alert, both bodies.
fn published(
    format: Format,
    plan: &Plan,
    outcome: &coverage_core::Outcome,
    summary: &Summary,
    origin: &str,
) -> Result<String> {
    let alert = render(plan, outcome);
    Ok(match format {
        Format::Json => {
            let value = json!({
                "summary": summary,
                "plan": plan,
                "outcome": outcome,
                "alert": {
                    "subject": alert.subject,
                    "attributes": alert.attributes,
                    "text": alert.text_message,
                    // The published body, as the object it is (its keys are
                    // the notification schema's, camelCase).
                    "chat": serde_json::from_str::<serde_json::Value>(&alert.chat_message)
                        .context("the chat notification is not JSON; this is a bug")?,
                },
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        Format::Text => {
            // What a person reads first; what SNS carries after it.
            let mut out = summary_lines(plan, summary, origin);
            if let Detail::Malformed { error, .. } = &plan.event.detail {
                out.push_str(&format!(
                    "note:     the detail cannot be read ({error}): the Lambda publishes this raw-event alert\n"
                ));
            }
            out.push_str(
                "\n--- Alert (plain text: email subscribers, ALERT_MESSAGE_FORMAT=text)\n",
            );
            out.push_str(&alert.text_message);
            out.push_str("\n--- SNS subject\n");
            out.push_str(&alert.subject);
            out.push_str("\n\n--- SNS message attributes\n");
            for (name, value) in &alert.attributes {
                out.push_str(&format!("{name} = {value}\n"));
            }
            out.push_str(
                "\n--- SNS message (Amazon Q Developer custom notification, the default body)\n",
            );
            out.push_str(&alert.chat_message);
            out.push('\n');
            out
        }
    })
}

/// Configuration values as GuardDuty tunes the agent, with a single quote
/// and a line break to prove the quoting.
const SAMPLE_CONFIGURATION_VALUES: &str =
    "{\"priorityClassName\":\"aws-guardduty-agent.priorityclass-high\",\n \"note\":\"it's tuned\"}";
const SAMPLE_VERSION: &str = "v1.10.0-eksbuild.2";
const SAMPLE_UPDATE_ID: &str = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e";
const SAMPLE_EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
/// An approval token's shape (base64url body, `.`, base64url MAC).
const SAMPLE_SIGNED: &str = "eyJ2IjoxLCJlIjoiNGYxYzJhOWUifQ";
const SAMPLE_APPROVAL_TOKEN: &str =
    "eyJ2IjoxLCJlIjoiNGYxYzJhOWUifQ.q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c";

/// `coverage commands`: every command of every entry in every form.
fn every_command(cluster: &str, region: &str, account: &str) -> Result<String> {
    use coverage_core::commands::{
        AddonSettings, describe_update_command, list_updates_command, overwrite_command,
    };
    let with_values = AddonSettings {
        version: Some(SAMPLE_VERSION.to_owned()),
        configuration_values: Some(SAMPLE_CONFIGURATION_VALUES.to_owned()),
    };
    let without_values = AddonSettings {
        version: Some(SAMPLE_VERSION.to_owned()),
        configuration_values: None,
    };
    // The issue text carries the VPC and the owner account some entries use.
    let issue_text = "shared VPC vpc-0a1b2c3d4e5f67890, owner account ID 444455556666";
    let known = CommandContext::new(Some(cluster), Some(region), Some(account), issue_text);
    let variants = [
        ("addon-not-read", known.clone()),
        (
            "addon-read-with-values",
            known.clone().with_addon_settings(Some(with_values.clone())),
        ),
        (
            "addon-read-without-values",
            known
                .clone()
                .with_addon_settings(Some(without_values.clone())),
        ),
        ("nothing-known", CommandContext::new(None, None, None, "")),
    ];
    let mut commands = Vec::new();
    for entry in catalog::all_entries() {
        for (variant, context) in &variants {
            for filled in fill_commands(entry, context) {
                if filled.kind == CommandKind::Shell {
                    commands.push(json!({
                        "entry": entry.id,
                        "variant": variant,
                        "purpose": filled.purpose,
                        "command": filled.command,
                    }));
                }
            }
        }
    }
    let overwrite = [
        ("overwrite-with-values", Some(&with_values)),
        ("overwrite-without-values", Some(&without_values)),
        ("overwrite-addon-not-read", None),
    ];
    for (variant, addon) in overwrite {
        commands.push(json!({
            "entry": "overwrite",
            "variant": variant,
            "purpose": "the OVERWRITE call (dry-run, started, failed, in flight, outcome unknown)",
            "command": overwrite_command(cluster, region, addon, Some(SAMPLE_EVENT_ID)),
            "configuration_values": addon.and_then(|a| a.configuration_values.as_deref()),
        }));
    }
    commands.push(json!({
        "entry": "update-started",
        "variant": "describe-update",
        "purpose": "check a started update",
        "command": describe_update_command(cluster, SAMPLE_UPDATE_ID, region),
    }));
    commands.push(json!({
        "entry": "update-outcome-unknown",
        "variant": "list-updates",
        "purpose": "check whether an update started",
        "command": list_updates_command(cluster, region),
    }));
    // Approve mode: the terminal approval the alert prints, and the sign-it-
    // yourself form `coverage replay --mode approve` prints.
    let function = format!("arn:aws:lambda:{region}:{account}:function:coverage-remediation");
    commands.push(json!({
        "entry": "approval",
        "variant": "approve-with-token",
        "purpose": "approve from a terminal with the alert's token",
        "command": coverage_core::approval::cli_command(&function, region, SAMPLE_APPROVAL_TOKEN),
        "token": SAMPLE_APPROVAL_TOKEN,
    }));
    for (variant, function) in [
        ("sign-and-approve-named", Some(function.as_str())),
        ("sign-and-approve-unnamed", None),
    ] {
        commands.push(json!({
            "entry": "approval",
            "variant": variant,
            "purpose": "sign an approval with the stack's key, then approve",
            "command": coverage_core::approval::terminal_commands(SAMPLE_SIGNED, function, region),
        }));
    }
    Ok(format!("{}\n", serde_json::to_string_pretty(&commands)?))
}

fn print_catalog(format: CatalogFormat) -> Result<String> {
    Ok(match format {
        CatalogFormat::Json => {
            let entries: Vec<_> = catalog::all_entries()
                .map(|entry| {
                    json!({
                        "id": entry.id,
                        "ours": catalog::our_entries().any(|ours| ours == entry),
                        "title": entry.title,
                        "issue_types": entry.types.names(),
                        "addon_issue_codes": entry.codes.names(),
                        "phrases": entry.phrases,
                        "severity": entry.severity,
                        "actionability": entry.actionability,
                        "why": entry.why,
                        "steps": entry.steps,
                        "commands": entry.commands,
                        "links": entry.links,
                    })
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&entries)?)
        }
        CatalogFormat::Markdown => catalog_markdown(),
    })
}

fn catalog_markdown() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::from(
        "# Remediation catalog\n\n\
         Generated by `cargo run -q --bin coverage -- catalog --format markdown`; do not edit by hand.\n\
         Rows are tried in order; the first match wins. Phrases are compared without case, spaces or punctuation.\n\n\
         | id | issue type | add-on issue code | text contains | severity | actionability | title |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for entry in catalog::entries() {
        let types = entry
            .types
            .names()
            .map_or("any".to_owned(), |t| t.join(", "));
        let codes = entry
            .codes
            .names()
            .map_or("any".to_owned(), |c| c.join(", "));
        let phrases = if entry.phrases.is_empty() {
            "anything".to_owned()
        } else {
            entry
                .phrases
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                })
                .collect::<Vec<_>>()
                .join(" and ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            entry.id,
            cell(&types),
            cell(&codes),
            cell(&phrases),
            entry.severity.as_str(),
            entry.actionability.as_str(),
            cell(entry.title)
        ));
    }
    out.push_str(
        "\nEntries of our own: not in GuardDuty's table (no issue string carries them, `classify` never returns them); the sweep finds them.\n\n\
         | id (ours) | found by | severity | actionability | title |\n\
         |---|---|---|---|---|\n",
    );
    for entry in catalog::our_entries() {
        out.push_str(&format!(
            "| `{}` | the sweep | {} | {} | {} |\n",
            entry.id,
            entry.severity.as_str(),
            entry.actionability.as_str(),
            cell(entry.title)
        ));
    }
    out.push_str("\n## Entries\n");
    for entry in catalog::all_entries() {
        let ours = if catalog::our_entries().any(|ours| ours == entry) {
            " (ours)"
        } else {
            ""
        };
        out.push_str(&format!(
            "\n### `{}`{ours}: {}\n\n{}\n\n",
            entry.id, entry.title, entry.why
        ));
        for (index, step) in entry.steps.iter().enumerate() {
            out.push_str(&format!("{}. {step}\n", index + 1));
        }
        out.push_str("\nCommands:\n\n");
        for command in entry.commands {
            let language = if command.kind == CommandKind::LogsInsights {
                ""
            } else {
                "sh"
            };
            out.push_str(&format!(
                "- {}\n\n  ```{language}\n  {}\n  ```\n",
                command.purpose,
                command.template.replace('\n', "\n  ")
            ));
        }
        out.push_str("\nDocs:\n\n");
        for link in entry.links {
            out.push_str(&format!("- [{}]({})\n", link.title, link.url));
        }
    }
    out
}

/// `coverage sweep`: load the engineer's SDK configuration, run the
/// Lambda's own sweep in dry-run, print the digest.
fn sweep(args: SweepArgs) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let format = args.format;
    let digest = runtime.block_on(async {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &args.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        let sdk = loader.load().await;
        let options = coverage_lambda::terminal::TerminalSweep {
            members: args.members.0,
            member_role: args.member_role,
            timeout: std::time::Duration::from_secs(args.timeout_seconds),
        };
        coverage_lambda::terminal::sweep(&sdk, options).await
    })?;
    Ok(match format {
        Format::Text => {
            let mut text = coverage_core::render::digest::digest_lines(&digest).join("\n");
            text.push('\n');
            text
        }
        Format::Json => {
            let (healthy, unhealthy, partial, unknown) = digest.totals();
            let mut object = serde_json::to_value(&digest).context("serializing the digest")?;
            object["totals"] = json!({
                "healthy": healthy, "unhealthy": unhealthy,
                "partial": partial, "unknown": unknown,
            });
            format!("{}\n", serde_json::to_string_pretty(&object)?)
        }
    })
}
