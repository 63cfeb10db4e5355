//! The alert as plain text, for email subscribers and terminals: the same
//! view as the chat notification, with the full runbook (every step and
//! command) laid out to be read and pasted.

use std::fmt::Write as _;

use crate::catalog::CommandKind;
use crate::decide::Plan;
use crate::text::clip;

use super::FilledCommand;
use super::view::View;

pub(crate) fn plain_text(plan: &Plan, view: &View) -> String {
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
            push_indented(&mut out, command);
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
