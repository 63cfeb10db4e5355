//! The Amazon Q Developer in chat applications custom notification: the
//! JSON envelope (version, source, content, metadata), the markdown
//! description, the title, keywords, summary and the thread id that keeps
//! every message about one cluster in one chat thread.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::catalog::CommandKind;
use crate::decide::{Outcome, Plan};
use crate::text::{
    ascii_ellipsis, clip, is_account_id, is_eks_cluster_name, is_region, printable_ascii,
    push_code_block, push_code_span, push_command_block, push_inert_prose,
};

use super::view::View;
use super::{Budget, FilledCommand, issue_id};

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

pub(crate) fn chat_message(plan: &Plan, outcome: &Outcome, view: &View, budget: Budget) -> String {
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
