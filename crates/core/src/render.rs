//! Rendering a plan and its outcome into the alert: the Amazon Q Developer in
//! chat applications custom-notification JSON, plain text for email and
//! terminals, the SNS subject and at most ten SNS message attributes. Every
//! string from the event or from AWS is untrusted: it is clipped, stripped of
//! control characters, and rendered only inside inert code spans or blocks.
//! The whole message stays within SNS's 256 KiB whatever the input.

use std::borrow::Cow;
use std::collections::BTreeMap;

use std::fmt::Write as _;

use serde::Serialize;

use crate::catalog::{CommandKind, Entry, Severity};
use crate::decide::{ADDON_NAME, NoAction, Outcome, Plan, Subject, format_time, parse_time};
use crate::event::{CoverageEvent, Resource, Transition};
use crate::facts::{Fact, Facts};
use crate::follow_up::recovered_after;
use crate::ids::UpdateId;
use crate::text::{
    ascii_ellipsis, clip, is_account_id, is_eks_cluster_name, is_region, printable_ascii,
    push_code_block, push_code_span, push_command_block, push_inert_prose,
};

/// SNS's limit on a message, attributes and subject included.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS subjects must be shorter than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// SNS allows at most 10 message attributes.
pub const MAX_ATTRIBUTES: usize = 10;

/// How much of each untrusted string is kept. Halved on each retry when a
/// message would still not fit, which the first budget already guarantees.
#[derive(Debug, Clone, Copy)]
struct Budget {
    name: usize,
    issue: usize,
    fact: usize,
    raw_event: usize,
}

const BUDGET: Budget = Budget {
    name: 256,
    issue: 8 * 1024,
    fact: 2 * 1024,
    raw_event: 32 * 1024,
};

/// The rendered alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub subject: String,
    /// The chat-notification JSON (pretty-printed so it also reads in email).
    pub chat_message: String,
    /// The same alert as plain text.
    pub text_message: String,
    pub attributes: BTreeMap<&'static str, String>,
}

impl Alert {
    /// Bytes SNS counts for a publish with this body.
    pub fn publish_size(&self, body: &str) -> usize {
        publish_size(&self.subject, body, &self.attributes)
    }
}

/// What SNS counts against its limit: body, subject, and each attribute's
/// name, value and data type.
pub(crate) fn publish_size(
    subject: &str,
    body: &str,
    attributes: &BTreeMap<&'static str, String>,
) -> usize {
    body.len()
        + subject.len()
        + attributes
            .iter()
            .map(|(k, v)| k.len() + v.len() + "String".len())
            .sum::<usize>()
}

/// Which rendering is the message body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageFormat {
    /// Amazon Q Developer in chat applications custom-notification JSON.
    #[default]
    Chat,
    /// Plain text, for topics with only email subscribers.
    Text,
}

/// One message as it is published: subject, one body, attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<&'static str, String>,
}

impl Message {
    /// Bytes SNS counts for this publish.
    pub fn publish_size(&self) -> usize {
        publish_size(&self.subject, &self.body, &self.attributes)
    }
}

/// The Lambda's return value and the CLI's summary line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub event_id: String,
    pub issue_id: String,
    pub cluster: Option<String>,
    pub action: &'static str,
    pub outcome: String,
    pub update_id: Option<String>,
    /// After a started OVERWRITE: whether its follow-up was scheduled
    /// (`scheduled`, `already-scheduled`, `not-configured`, `schedule-failed`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<&'static str>,
    /// The SNS message id, or "stdout" when no topic is configured.
    pub message_id: String,
}

pub fn summary(plan: &Plan, outcome: &Outcome, message_id: &str) -> Summary {
    Summary {
        event_id: clip(&plan.event.envelope.id, BUDGET.name),
        issue_id: issue_id(plan).to_owned(),
        cluster: plan.event.cluster_name().map(|c| clip(c, BUDGET.name)),
        action: outcome.action_label(),
        outcome: outcome.label(),
        update_id: outcome.update_id().map(str::to_owned),
        follow_up: outcome.follow_up().map(|f| f.label()),
        message_id: message_id.to_owned(),
    }
}

/// The catalog id, or a pseudo-id for events that have none.
pub fn issue_id(plan: &Plan) -> &'static str {
    match &plan.subject {
        Subject::CoverageLost { entry, .. } => entry.id,
        Subject::CoverageRestored => "recovered",
        Subject::OutOfScope { .. } => "out-of-scope",
        Subject::Unreadable { .. } => "unreadable-event",
    }
}

/// Render the alert for a plan and what came of it.
/// Render both bodies (the CLI shows both; tests check both).
pub fn render(plan: &Plan, outcome: &Outcome) -> Alert {
    within_budget(|budget| {
        let view = build_view(plan, outcome, budget);
        let alert = Alert {
            subject: subject(plan, &view, budget),
            chat_message: chat_message(plan, outcome, &view, budget),
            text_message: plain_text(plan, &view),
            attributes: attributes(plan, outcome, &view, budget),
        };
        let size = alert
            .publish_size(&alert.chat_message)
            .max(alert.publish_size(&alert.text_message));
        (alert, size)
    })
}

/// Render only the body that is published: what the Lambda does per event.
pub fn render_message(plan: &Plan, outcome: &Outcome, format: MessageFormat) -> Message {
    within_budget(|budget| {
        let view = build_view(plan, outcome, budget);
        let message = Message {
            subject: subject(plan, &view, budget),
            body: match format {
                MessageFormat::Chat => chat_message(plan, outcome, &view, budget),
                MessageFormat::Text => plain_text(plan, &view),
            },
            attributes: attributes(plan, outcome, &view, budget),
        };
        let size = message.publish_size();
        (message, size)
    })
}

/// Render with the full budget; in the rare case the result would not fit in
/// SNS, again with every untrusted string's share halved.
fn within_budget<T>(render: impl Fn(Budget) -> (T, usize)) -> T {
    let mut budget = BUDGET;
    loop {
        let (rendered, size) = render(budget);
        if size <= MAX_MESSAGE_BYTES || budget.name <= 16 {
            return rendered;
        }
        budget = Budget {
            name: budget.name / 2,
            issue: budget.issue / 2,
            fact: budget.fact / 2,
            raw_event: budget.raw_event / 2,
        };
    }
}

// The commands (context, filling, quoting) live in `crate::commands`;
// re-exported here, where the renderings and the CLI have always found them.
pub use crate::commands::{CommandContext, FilledCommand, fill_commands};
use crate::commands::{describe_update_command, list_updates_command};

/// Everything both renderings share, already clipped.
struct View {
    severity: Severity,
    headline: Cow<'static, str>,
    subject_tail: &'static str,
    emoji: &'static str,
    cluster: Option<String>,
    account: Option<String>,
    region: Option<String>,
    issue_raw: Option<String>,
    addon_code: Option<String>,
    entry: Option<&'static Entry>,
    why: Cow<'static, str>,
    did: String,
    did_command: Option<String>,
    facts: Vec<String>,
    steps: Vec<&'static str>,
    commands: Vec<FilledCommand>,
    links: Vec<(&'static str, &'static str)>,
    raw_event: Option<String>,
    extra_details: Vec<(String, String)>,
    /// The OVERWRITE a recovery followed: its update id and the minutes since.
    recovery: Option<(String, i64)>,
}

fn build_view(plan: &Plan, outcome: &Outcome, budget: Budget) -> View {
    let event = &plan.event;
    let envelope = &event.envelope;
    let cluster = event.cluster_name().map(|c| clip(c, budget.name));
    let account = event.resource_account().map(|a| clip(a, budget.name));
    let region = envelope.region.as_deref().map(|r| clip(r, budget.name));
    let (did, did_command) = describe_outcome(
        outcome,
        envelope.region.as_deref().filter(|r| is_region(r)),
        budget,
    );
    let mut view = View {
        severity: Severity::High,
        headline: Cow::Borrowed(""),
        subject_tail: "",
        emoji: ":rotating_light:",
        cluster,
        account,
        region,
        issue_raw: None,
        addon_code: None,
        entry: None,
        why: Cow::Borrowed(""),
        did,
        did_command,
        facts: [
            describe_facts(event, &plan.facts, budget),
            crate::audit::describe_plan(plan),
        ]
        .concat(),
        steps: Vec::new(),
        commands: Vec::new(),
        links: Vec::new(),
        raw_event: None,
        extra_details: Vec::new(),
        recovery: None,
    };
    match &plan.subject {
        Subject::CoverageLost { entry, issue } => {
            let context =
                CommandContext::for_event(event, &issue.raw).with_addon(plan.facts.addon.known());
            view.severity = entry.severity;
            view.emoji = match entry.severity {
                Severity::High => ":rotating_light:",
                Severity::Medium => ":warning:",
                Severity::Low | Severity::Info => ":information_source:",
            };
            view.headline = Cow::Borrowed(entry.title);
            view.subject_tail = entry.id;
            view.entry = Some(entry);
            view.issue_raw = Some(clip(&issue.raw, budget.issue));
            view.addon_code = issue.addon_code().map(|c| clip(c.as_str(), budget.name));
            view.why = Cow::Borrowed(entry.why);
            view.steps = entry.steps.to_vec();
            view.commands = fill_commands(entry, &context);
            // One OVERWRITE command per alert: the exact call, where it is shown.
            if view.did_command.is_some() {
                view.commands.retain(|c| !c.is_overwrite());
            }
            view.links = entry.links.iter().map(|l| (l.title, l.url)).collect();
        }
        Subject::CoverageRestored => {
            view.severity = Severity::Info;
            view.emoji = ":white_check_mark:";
            view.headline = Cow::Borrowed("GuardDuty runtime coverage restored");
            view.subject_tail = "recovered";
            view.why = Cow::Borrowed(
                "GuardDuty reports the cluster's runtime coverage as Healthy again: the agent is running and reporting.",
            );
            let event_time = envelope.time.as_deref().and_then(parse_time);
            if let (Fact::Known(history), Some(event_time)) =
                (&plan.facts.update_history, event_time)
                && let Some(recovery) = recovered_after(history, event_time)
            {
                let id = clip(&recovery.update.id, 128);
                view.did = format!(
                    "Nothing: coverage is back. It recovered {} after OVERWRITE update {id} ({}), the add-on's latest OVERWRITE before this event.",
                    minutes_phrase(recovery.minutes),
                    clip(recovery.update.status.as_str(), 64)
                );
                view.recovery = Some((id, recovery.minutes));
            }
            view.steps = vec![
                "No action needed.",
                "If an OVERWRITE was made for this cluster, review the direct change it reverted (earlier alert in this thread) so it is not re-applied.",
            ];
            view.links = vec![(
                "GuardDuty: runtime coverage and troubleshooting for Amazon EKS clusters",
                "https://docs.aws.amazon.com/guardduty/latest/ug/eks-runtime-monitoring-coverage.html",
            )];
        }
        Subject::OutOfScope { resource_type } => {
            view.severity = Severity::Medium;
            view.emoji = ":warning:";
            view.headline = Cow::Owned(format!(
                "GuardDuty runtime coverage {} for a {} resource (not handled here)",
                if envelope.transition == Transition::Healthy {
                    "restored"
                } else {
                    "lost"
                },
                if resource_type.is_empty() {
                    "non-EKS".to_owned()
                } else {
                    printable_ascii(&clip(resource_type, 32))
                }
            ));
            view.subject_tail = "out of scope";
            view.why = Cow::Borrowed(
                "This function explains and remediates Amazon EKS clusters only. The event is forwarded so that the coverage change is not lost; the EventBridge rule should filter it out.",
            );
            if let Some(detail) = event.decoded_detail() {
                if let Some(issue) = &detail.issue {
                    view.issue_raw = Some(clip(&issue.raw, budget.issue));
                }
                if let Resource::Ecs(ecs) = &detail.resource {
                    for (index, issue) in ecs.fargate_issues.iter().take(10).enumerate() {
                        view.extra_details.push((
                            format!("Fargate issue {}", index + 1),
                            clip(issue, budget.fact),
                        ));
                    }
                }
            }
            view.steps = vec![
                "Troubleshoot with the GuardDuty ECS runtime coverage page.",
                "Restrict the EventBridge rule to detail.resourceDetails.resourceType EKS.",
            ];
            view.links = vec![(
                "GuardDuty: runtime coverage and troubleshooting for Amazon ECS clusters",
                "https://docs.aws.amazon.com/guardduty/latest/ug/gdu-assess-coverage-ecs.html",
            )];
        }
        Subject::Unreadable { error, raw_event } => {
            view.severity = Severity::High;
            view.emoji = ":warning:";
            view.headline = Cow::Borrowed("Unreadable GuardDuty coverage event");
            view.subject_tail = "unreadable event";
            view.why = Cow::Owned(format!(
                "The event is a GuardDuty coverage event, but its detail could not be read: {}. The raw event is attached so that nothing is lost.",
                clip(error, budget.fact)
            ));
            view.raw_event = Some(clip(raw_event, budget.raw_event));
            view.steps = vec![
                "Read the raw event below for the cluster and the issue.",
                "If GuardDuty changed its event schema, update the decoder (crates/core/src/event.rs).",
            ];
            view.links = vec![(
                "GuardDuty: coverage status EventBridge schema",
                "https://docs.aws.amazon.com/guardduty/latest/ug/eks-runtime-monitoring-coverage.html#coverage-status-eventbridge-schema",
            )];
        }
    }
    view
}

/// What the function did, in a sentence, and the exact call when there is one.
fn describe_outcome(
    outcome: &Outcome,
    region: Option<&str>,
    budget: Budget,
) -> (String, Option<String>) {
    let region = region.unwrap_or("<region>");
    match outcome {
        Outcome::NoAction { why } => (
            match why {
                NoAction::Recovered => "Nothing: coverage is back.".to_owned(),
                NoAction::OutOfScope => "Nothing: out of scope for this function.".to_owned(),
                NoAction::Unreadable => "Nothing: the event could not be read; it is attached raw.".to_owned(),
                NoAction::NotAutomatable(actionability) => match actionability {
                    crate::catalog::Actionability::Manual => {
                        "Nothing automatic: this issue needs an engineer (steps below).".to_owned()
                    }
                    crate::catalog::Actionability::NotActionable => {
                        "Nothing: this is unsupported by design, not a fault.".to_owned()
                    }
                    crate::catalog::Actionability::Transient => {
                        "Nothing: this clears by itself; act only if it persists.".to_owned()
                    }
                    crate::catalog::Actionability::AutomaticOverwrite => {
                        "Nothing: the issue text does not carry a ConfigurationConflict code, so no OVERWRITE is made.".to_owned()
                    }
                },
            },
            None,
        ),
        Outcome::Skipped { reason, would_call, unchecked } => {
            let mut sentence = format!("OVERWRITE retry not made: {}.", clip(&reason.explain(), budget.fact));
            if !unchecked.is_empty() {
                let unchecked: Vec<&str> = unchecked.iter().map(|e| e.describe()).collect();
                sentence.push_str(&format!(" Facts this function did not have (not read, or the read failed; see the live state), so the guardrails that need them were not checked: {}.", unchecked.join("; ")));
            }
            if would_call.is_some() {
                sentence.push_str(" The call it would make:");
            }
            (sentence, would_call.as_ref().map(|r| clip(&r.as_cli(region), budget.issue)))
        }
        Outcome::UpdateStarted { request, update_id, status, follow_up } => {
            let mut sentence = format!(
                "Retried the add-on update with conflict resolution OVERWRITE, keeping version {} and its configuration values: EKS update {} ({}), idempotency token {}. Follow-up: {}",
                request.addon_version.as_deref().unwrap_or("?"),
                clip(update_id, 128),
                clip(status, 64),
                request.client_request_token,
                clip(&follow_up.explain(), budget.fact)
            );
            // Only a parsed update id goes into a command.
            match UpdateId::parse(update_id) {
                Ok(id) if !follow_up.is_scheduled() => sentence.push_str(&format!(
                    "; check it with: {}",
                    describe_update_command(&request.cluster_name, id.as_str(), region)
                )),
                _ => sentence.push('.'),
            }
            (sentence, Some(clip(&request.as_cli(region), budget.issue)))
        }
        Outcome::UpdateInFlight { request, message } => (
            format!(
                "Tried the OVERWRITE retry, but EKS reports an update already in flight (ResourceInUseException), so it was not retried: {}",
                clip(message, 512)
            ),
            Some(clip(&request.as_cli(region), budget.issue)),
        ),
        Outcome::UpdateFailed { request, error } => (
            format!("The OVERWRITE retry failed: {}. Follow the steps below.", clip(error, 1024)),
            Some(clip(&request.as_cli(region), budget.issue)),
        ),
        Outcome::UpdateOutcomeUnknown { request, why } => (
            format!(
                "Called UpdateAddon with conflict resolution OVERWRITE, but the outcome is unknown: {}. EKS may or may not have started the update; check with `{}`. A retry is safe: the same idempotency token ({}) lets EKS start at most one update. The call:",
                clip(why, 512),
                list_updates_command(&request.cluster_name, region),
                request.client_request_token
            ),
            Some(clip(&request.as_cli(region), budget.issue)),
        ),
    }
}

fn minutes_phrase(minutes: i64) -> String {
    if minutes == 1 {
        "1 minute".to_owned()
    } else {
        format!("{minutes} minutes")
    }
}

/// The gathered facts as short lines (untrusted values clipped, rendered later as code).
fn describe_facts(event: &CoverageEvent, facts: &Facts, budget: Budget) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(cluster) = event.eks_cluster() {
        let count = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
        let mut line = format!(
            "Nodes (event): {} available of {} desired",
            count(cluster.available_nodes),
            count(cluster.desired_nodes)
        );
        if let Some(version) = &cluster.addon_version {
            line.push_str(&format!("; agent version {}", clip(version, budget.name)));
        }
        lines.push(line);
    }
    match &facts.addon {
        Fact::Known(addon) => {
            let mut line = format!(
                "Add-on {ADDON_NAME}: {}, version {}",
                clip(addon.status.as_str(), budget.name),
                addon
                    .version
                    .as_deref()
                    .map_or("?".to_owned(), |v| clip(v, budget.name))
            );
            if addon
                .configuration_values
                .as_deref()
                .is_some_and(|v| !v.trim().is_empty())
            {
                line.push_str(", custom configuration values kept");
            }
            lines.push(line);
            for issue in addon.health_issues.iter().take(5) {
                lines.push(format!(
                    "Add-on health issue {}: {}",
                    clip(&issue.code, budget.name),
                    clip(&issue.message, budget.fact)
                ));
            }
        }
        Fact::Unavailable(why) => lines.push(format!(
            "Add-on: could not be read ({})",
            clip(why, budget.fact)
        )),
        Fact::NotGathered => {}
    }
    match &facts.coverage {
        Fact::Known(coverage) => {
            let mut line = format!(
                "GuardDuty coverage now: {}",
                coverage
                    .coverage_status
                    .as_ref()
                    .map_or("?".to_owned(), |s| clip(s.as_str(), budget.name))
            );
            if let (Some(covered), Some(compatible)) =
                (coverage.covered_nodes, coverage.compatible_nodes)
            {
                line.push_str(&format!(
                    ", {covered} of {compatible} compatible nodes covered"
                ));
            }
            if let Some(management) = &coverage.management_type {
                line.push_str(&format!(", agent {}", clip(management, budget.name)));
            }
            if let Some(updated) = coverage.updated_at {
                line.push_str(&format!(", updated {}", format_time(updated)));
            }
            lines.push(line);
            if let Some(issue) = coverage.issue.as_deref().filter(|i| !i.is_empty()) {
                lines.push(format!(
                    "GuardDuty's current issue: {}",
                    clip(issue, budget.fact)
                ));
            }
        }
        Fact::Unavailable(why) => lines.push(format!(
            "GuardDuty coverage: could not be read ({})",
            clip(why, budget.fact)
        )),
        Fact::NotGathered => {}
    }
    match &facts.statistics {
        Fact::Known(stats) => lines.push(format!(
            "Account coverage in this region: {} healthy, {} unhealthy",
            stats.healthy.map_or("?".to_owned(), |n| n.to_string()),
            stats.unhealthy.map_or("?".to_owned(), |n| n.to_string())
        )),
        Fact::Unavailable(why) => lines.push(format!(
            "Coverage statistics: could not be read ({})",
            clip(why, budget.fact)
        )),
        Fact::NotGathered => {}
    }
    match &facts.update_history {
        Fact::Known(history) => lines.push(format!(
            "Add-on update history: {} update(s), {} with OVERWRITE",
            history.len(),
            history.iter().filter(|u| u.is_overwrite()).count()
        )),
        Fact::Unavailable(why) => lines.push(format!(
            "Add-on update history: could not be read ({})",
            clip(why, budget.fact)
        )),
        Fact::NotGathered => {}
    }
    if let Fact::Unavailable(why) = &facts.detector_id {
        lines.push(format!(
            "GuardDuty detector: could not be read ({})",
            clip(why, budget.fact)
        ));
    }
    lines
}

fn push_where_line(out: &mut String, view: &View) {
    let mut first = true;
    let mut part = |out: &mut String, label: &str, value: &str| {
        if !first {
            out.push_str(" · ");
        }
        first = false;
        out.push_str(label);
        push_code_span(out, value);
    };
    if let Some(cluster) = &view.cluster {
        part(out, "cluster ", cluster);
    }
    if let Some(account) = &view.account {
        part(out, "account ", account);
    }
    if let Some(region) = &view.region {
        part(out, "", region);
    }
}

fn thread_id(view: &View) -> String {
    thread_id_for(
        view.account.as_deref(),
        view.region.as_deref(),
        view.cluster.as_deref(),
    )
}

/// The chat thread of an account, region and cluster: every message about
/// one cluster (the alert, the follow-ups, the recovery notice) lands in it.
pub(crate) fn thread_id_for(
    account: Option<&str>,
    region: Option<&str>,
    cluster: Option<&str>,
) -> String {
    let part = |value: Option<&str>| {
        let cleaned: String = value
            .unwrap_or("unknown")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .take(100)
            .collect();
        if cleaned.is_empty() {
            "unknown".to_owned()
        } else {
            cleaned
        }
    };
    format!(
        "guardduty-coverage/{}/{}/{}",
        part(account),
        part(region),
        part(cluster)
    )
}

/// The Amazon Q Developer in chat applications custom notification, in the
/// schema's order.
#[derive(Serialize)]
struct ChatNotification<'a> {
    version: &'static str,
    source: &'static str,
    id: String,
    content: ChatContent<'a>,
    metadata: ChatMetadata,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatContent<'a> {
    text_type: &'static str,
    title: String,
    description: String,
    next_steps: &'a [&'static str],
    keywords: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatMetadata {
    thread_id: String,
    summary: String,
    event_type: &'static str,
    related_resources: Vec<String>,
    additional_context: BTreeMap<&'static str, String>,
}

/// The chat description: markdown, untrusted text only inside inert code or prose.
fn chat_description(view: &View) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let section = |out: &mut String| {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    push_where_line(&mut out, view);
    if let Some(entry) = view.entry {
        section(&mut out);
        out.push_str("*Issue* ");
        push_code_span(&mut out, entry.id);
        let _ = write!(
            out,
            " · severity *{}* · {}",
            entry.severity.as_str(),
            entry.actionability.as_str()
        );
    }
    section(&mut out);
    out.push_str("*Why:* ");
    push_inert_prose(&mut out, &view.why);
    if let Some(raw) = &view.issue_raw {
        section(&mut out);
        out.push_str("*GuardDuty said:*\n");
        push_code_block(&mut out, raw);
    }
    for (label, value) in &view.extra_details {
        section(&mut out);
        let _ = write!(out, "*{label}:* ");
        push_code_span(&mut out, value);
    }
    section(&mut out);
    out.push_str("*What this function did:* ");
    push_inert_prose(&mut out, &view.did);
    if let Some(command) = &view.did_command {
        out.push('\n');
        push_code_block(&mut out, command);
    }
    if !view.facts.is_empty() {
        section(&mut out);
        out.push_str("*Live state:*");
        for fact in &view.facts {
            out.push_str("\n• ");
            push_code_span(&mut out, fact);
        }
    }
    for FilledCommand {
        purpose,
        kind,
        command,
    } in &view.commands
    {
        section(&mut out);
        match kind {
            CommandKind::Shell => {
                let _ = writeln!(out, "*{purpose}:*");
            }
            CommandKind::LogsInsights => {
                let _ = writeln!(out, "*{purpose}* (CloudWatch Logs Insights):");
            }
        }
        push_command_block(&mut out, command);
    }
    if let Some(raw) = &view.raw_event {
        section(&mut out);
        out.push_str("*Raw event:*\n");
        push_code_block(&mut out, raw);
    }
    if !view.links.is_empty() {
        section(&mut out);
        out.push_str("*Docs:*");
        for (title, url) in &view.links {
            let _ = write!(out, "\n• {title}: {url}");
        }
    }
    out
}

fn chat_message(plan: &Plan, outcome: &Outcome, view: &View, budget: Budget) -> String {
    let mut title = String::with_capacity(160);
    title.push_str(view.emoji);
    title.push(' ');
    push_inert_prose(&mut title, &view.headline);
    if let Some(cluster) = &view.cluster {
        title.push_str(" on ");
        push_code_span(&mut title, cluster);
    }
    let mut keywords = vec!["GuardDuty".to_owned(), view.severity.as_str().to_owned()];
    match view.entry {
        Some(entry) => keywords.push(entry.id.to_owned()),
        None => keywords.push(issue_id(plan).to_owned()),
    }
    if let Some(cluster) = &view.cluster {
        keywords.push(ascii_ellipsis(&printable_ascii(cluster), 64));
    }
    let mut related = Vec::new();
    if let (Some(cluster), Some(account), Some(region)) = (
        plan.event.cluster_name().filter(|c| is_eks_cluster_name(c)),
        plan.event.resource_account().filter(|a| is_account_id(a)),
        plan.event
            .envelope
            .region
            .as_deref()
            .filter(|r| is_region(r)),
    ) {
        related.push(format!("arn:aws:eks:{region}:{account}:cluster/{cluster}"));
    }
    if let Some(arn) = plan.facts.addon.known().and_then(|a| a.arn.as_deref()) {
        related.push(clip(arn, budget.name));
    }
    let mut context = BTreeMap::new();
    context.insert("eventId", clip(&plan.event.envelope.id, budget.name));
    context.insert("issueId", issue_id(plan).to_owned());
    context.insert("severity", view.severity.as_str().to_owned());
    context.insert("remediationMode", plan.mode.as_str().to_owned());
    context.insert("action", outcome.action_label().to_owned());
    context.insert("outcome", outcome.label());
    if let Some(update_id) = outcome.update_id() {
        context.insert("updateId", clip(update_id, budget.name));
    }
    if let Some(follow_up) = outcome.follow_up() {
        context.insert("followUp", follow_up.label().to_owned());
    }
    if let Some((update_id, minutes)) = &view.recovery {
        context.insert("recoveredAfterUpdateId", update_id.clone());
        context.insert("recoveredAfterMinutes", minutes.to_string());
    }
    if let Some(code) = &view.addon_code {
        context.insert("addonIssueCode", code.clone());
    }
    if let Some(entry) = view.entry {
        context.insert("actionability", entry.actionability.as_str().to_owned());
    }
    let notification = ChatNotification {
        version: "1.0",
        source: "custom",
        id: clip(&plan.event.envelope.id, budget.name),
        content: ChatContent {
            text_type: "client-markdown",
            title,
            description: chat_description(view),
            next_steps: &view.steps,
            keywords,
        },
        metadata: ChatMetadata {
            thread_id: thread_id(view),
            summary: summary_line(view, outcome),
            event_type: plan.event.envelope.transition.detail_type(),
            related_resources: related,
            additional_context: context,
        },
    };
    // Serializing plain structs of strings cannot fail; the fallback is never taken.
    serde_json::to_string_pretty(&notification).unwrap_or_default()
}

fn summary_line(view: &View, outcome: &Outcome) -> String {
    let place = match (&view.cluster, &view.region) {
        (Some(cluster), Some(region)) => format!("{cluster} ({region}): "),
        (Some(cluster), None) => format!("{cluster}: "),
        _ => String::new(),
    };
    ascii_ellipsis(
        &printable_ascii(&format!(
            "{place}{}. Action: {}",
            view.headline,
            outcome.label()
        )),
        300,
    )
}

fn subject(plan: &Plan, view: &View, budget: Budget) -> String {
    let badge = match plan.subject {
        Subject::CoverageRestored => "RESOLVED".to_owned(),
        _ => view.severity.as_str().to_ascii_uppercase(),
    };
    let place = match (&view.cluster, &view.region) {
        (Some(cluster), Some(region)) => {
            format!(" on {} ({})", clip(cluster, 60), clip(region, 20))
        }
        (Some(cluster), None) => format!(" on {}", clip(cluster, 60)),
        _ => String::new(),
    };
    let text = match &plan.subject {
        Subject::CoverageLost { .. } => format!(
            "[{badge}] GuardDuty agent unhealthy{place}: {}",
            view.subject_tail
        ),
        Subject::CoverageRestored => format!("[{badge}] GuardDuty coverage healthy again{place}"),
        Subject::OutOfScope { .. } => {
            format!("[{badge}] GuardDuty coverage change{place} - out of scope")
        }
        Subject::Unreadable { .. } => format!(
            "[{badge}] Unreadable GuardDuty coverage event {}",
            clip(&plan.event.envelope.id, budget.name.min(64))
        ),
    };
    let cleaned = printable_ascii(&text);
    if cleaned.is_empty() {
        "GuardDuty coverage alert".to_owned()
    } else {
        ascii_ellipsis(&cleaned, MAX_SUBJECT_CHARS)
    }
}

fn attributes(
    plan: &Plan,
    outcome: &Outcome,
    view: &View,
    budget: Budget,
) -> BTreeMap<&'static str, String> {
    // SNS rejects empty attribute values.
    let value = |text: Option<&str>| {
        let cleaned = printable_ascii(text.unwrap_or(""));
        if cleaned.is_empty() {
            "unknown".to_owned()
        } else {
            ascii_ellipsis(&cleaned, budget.name)
        }
    };
    let resource_type = match plan.event.decoded_detail().map(|d| &d.resource) {
        Some(Resource::Eks(_)) => "EKS".to_owned(),
        Some(Resource::Ecs(_)) => "ECS".to_owned(),
        Some(Resource::Other { resource_type }) => value(Some(resource_type)),
        None => "unknown".to_owned(),
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("severity", view.severity.as_str().to_owned());
    attributes.insert("issue_id", issue_id(plan).to_owned());
    attributes.insert(
        "transition",
        plan.event.envelope.transition.as_str().to_owned(),
    );
    attributes.insert("cluster", value(view.cluster.as_deref()));
    attributes.insert("account", value(view.account.as_deref()));
    attributes.insert("region", value(view.region.as_deref()));
    attributes.insert("action", outcome.action_label().to_owned());
    attributes.insert("outcome", outcome.label());
    attributes.insert("resource_type", resource_type);
    attributes.insert("event_id", value(Some(&plan.event.envelope.id)));
    debug_assert!(attributes.len() <= MAX_ATTRIBUTES);
    attributes
}

fn plain_text(plan: &Plan, view: &View) -> String {
    let mut out = String::with_capacity(6 * 1024);
    let _ = writeln!(
        out,
        "{} [{}]",
        view.headline,
        view.severity.as_str().to_ascii_uppercase()
    );
    let places = [
        view.cluster.as_deref().map(|c| ("cluster ", c)),
        view.account.as_deref().map(|a| ("account ", a)),
        view.region.as_deref().map(|r| ("", r)),
    ];
    let mut first = true;
    for (label, value) in places.into_iter().flatten() {
        out.push_str(if first { "Where: " } else { ", " });
        first = false;
        out.push_str(label);
        out.push_str(value);
    }
    if !first {
        out.push('\n');
    }
    if let Some(entry) = view.entry {
        let _ = writeln!(
            out,
            "Issue: {} ({})",
            entry.id,
            entry.actionability.as_str()
        );
    }
    let _ = writeln!(out, "\nWhy: {}", view.why);
    if let Some(raw) = &view.issue_raw {
        out.push_str("\nGuardDuty said:\n  ");
        push_indented(&mut out, raw);
        out.push('\n');
    }
    for (label, value) in &view.extra_details {
        let _ = writeln!(out, "{label}: {value}");
    }
    let _ = writeln!(out, "\nWhat this function did: {}", view.did);
    if let Some(command) = &view.did_command {
        out.push_str("  ");
        push_indented(&mut out, command);
        out.push('\n');
    }
    if !view.facts.is_empty() {
        out.push_str("\nLive state:\n");
        for fact in &view.facts {
            let _ = writeln!(out, "  - {fact}");
        }
    }
    if !view.steps.is_empty() {
        out.push_str("\nNext steps:\n");
        for (index, step) in view.steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {step}", index + 1);
        }
    }
    if !view.commands.is_empty() {
        out.push_str("\nCommands:\n");
        for FilledCommand {
            purpose,
            kind,
            command,
        } in &view.commands
        {
            let note = if *kind == CommandKind::LogsInsights {
                " (CloudWatch Logs Insights)"
            } else {
                ""
            };
            let _ = write!(out, "  # {purpose}{note}\n  ");
            push_command(&mut out, command);
            out.push('\n');
        }
    }
    if let Some(raw) = &view.raw_event {
        out.push_str("\nRaw event:\n  ");
        push_indented(&mut out, raw);
        out.push('\n');
    }
    if !view.links.is_empty() {
        out.push_str("\nDocs:\n");
        for (title, url) in &view.links {
            let _ = writeln!(out, "  - {title}: {url}");
        }
    }
    let _ = write!(
        out,
        "\nEvent {} ({})",
        clip(&plan.event.envelope.id, 128),
        plan.event.envelope.transition.detail_type()
    );
    if let Some(time) = plan.event.envelope.time.as_deref() {
        let _ = write!(out, " at {}", clip(time, 64));
    }
    out.push('\n');
    out
}

/// Append one of our commands: indented like the rest, except that a
/// command with a heredoc keeps its lines as they are, so that its body and
/// its closing delimiter still work when pasted.
fn push_command(out: &mut String, command: &str) {
    if command.contains("<<") {
        out.push_str(command);
    } else {
        push_indented(out, command);
    }
}

/// Append text with every line after the first indented by two spaces.
pub(crate) fn push_indented(out: &mut String, text: &str) {
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for line in lines {
        out.push_str("\n  ");
        out.push_str(line);
    }
}
