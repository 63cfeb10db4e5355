//! The alert as plain text, for email subscribers and terminals: the same
//! view as the chat notification, with the full runbook (every step and
//! command) laid out to be read and pasted. No untrusted value can start a
//! line: single values have their line breaks (including `\r`, U+0085,
//! U+2028, U+2029) made spaces, the raw event is quoted line by line. Only
//! our own commands (catalog templates with parsed ids, the OVERWRITE call)
//! span lines, as they must to be pasted.

use std::fmt::Write as _;

use crate::catalog::CommandKind;
use crate::decide::Plan;
use crate::text::{clip, is_line_break, one_line};

use super::FilledCommand;
use super::view::View;

pub(crate) fn plain_text(plan: &Plan, view: &View) -> String {
    let mut out = String::with_capacity(6 * 1024);
    let _ = writeln!(
        out,
        "{} [{}]",
        one_line(&view.headline),
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
        out.push_str(&one_line(value));
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
    let _ = writeln!(out, "\nWhy: {}", one_line(&view.why));
    if let Some(raw) = &view.issue_raw {
        let _ = writeln!(out, "\nGuardDuty said:\n  {}", one_line(raw));
    }
    for (label, value) in &view.extra_details {
        let _ = writeln!(out, "{label}: {}", one_line(value));
    }
    if !view.who_changed.is_empty() {
        out.push_str("\nWho changed it:\n");
        for line in &view.who_changed {
            let _ = writeln!(out, "  - {}", one_line(line));
        }
    }
    let _ = writeln!(out, "\nWhat this function did: {}", one_line(&view.did));
    if let Some(command) = &view.did_command {
        // AWS's values in it are shell-quoted with their line breaks escaped.
        out.push_str("  ");
        push_command(&mut out, command);
        out.push('\n');
    }
    if let Some(command) = &view.approve_command {
        out.push_str("\nApprove from a terminal (instead of the chat button):\n  ");
        push_command(&mut out, command);
        out.push('\n');
    }
    if !view.facts.is_empty() {
        out.push_str("\nLive state:\n");
        for fact in &view.facts {
            let _ = writeln!(out, "  - {}", one_line(fact));
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
        out.push_str("\nRaw event:\n");
        push_quoted(&mut out, raw);
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
        one_line(&clip(&plan.event.envelope.id, 128)),
        plan.event.envelope.transition.detail_type()
    );
    if let Some(time) = plan.event.envelope.time.as_deref() {
        let _ = write!(out, " at {}", one_line(&clip(time, 64)));
    }
    out.push('\n');
    out
}

/// Append untrusted multi-line text (the raw event) as a quote: every line,
/// whatever ends it (`\n`, `\r`, U+2028, ...), starts with `  | `, so none
/// can pass for a line of the alert's own.
pub(crate) fn push_quoted(out: &mut String, text: &str) {
    for line in text.split(is_line_break) {
        out.push_str("  | ");
        out.push_str(line);
        out.push('\n');
    }
}

/// Append one of our commands: indented like the rest, except that a
/// command with a heredoc keeps its lines as they are, so that its body and
/// its closing delimiter still work when pasted.
///
/// AWS's values in a command are shell-quoted with every line break escaped
/// (`commands::shell_quote`), so a command's own lines are the catalog's.
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
