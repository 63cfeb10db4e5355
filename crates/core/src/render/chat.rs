//! The Amazon Q Developer in chat applications custom notification: the
//! JSON envelope (version, source, content, metadata) that the alert and
//! the follow-ups share, its field limits, the alert's markdown description,
//! title, keywords, summary, and the thread id that keeps every message
//! about one cluster in one chat thread.
//!
//! Limits, whatever the input: `title` ≤ 250, `description` ≤ 3,000 (the
//! size of one Slack section; the notification itself allows 8,000), each
//! `nextSteps` item ≤ 350 and each `keywords` item ≤ 75. They are counted in
//! UTF-16 code units, as Slack and the JavaScript clients count: never fewer
//! than Rust's `chars()`, so the limits hold in characters too. The
//! description leads with what the on-call engineer needs (where, what
//! broke, who changed it, what this function did, the live state, the one
//! command that matters, the docs link); the full runbook is the plain-text
//! rendering's and `coverage explain`'s. Untrusted text is inert in every
//! field: inside code spans or blocks, as inert prose, or, in the fields
//! that are not markdown we lay out (keywords, summary, metadata), as
//! printable ASCII with every mention, link and formatting character
//! replaced.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::catalog::CommandKind;
use crate::decide::{Outcome, Plan, SkipReason};
use crate::ids::{AccountId, ClusterName, Region};
use crate::text::{
    clip_utf16, inert_ascii, push_code_block, push_code_span, push_command_block, push_inert_prose,
    utf16_len,
};

use super::view::View;
use super::{Budget, FilledCommand, issue_id};

/// `content.title`, in UTF-16 code units.
pub const MAX_TITLE: usize = 250;
/// `content.description`: one Slack section.
pub const MAX_DESCRIPTION: usize = 3_000;
/// Each `content.nextSteps` item.
pub const MAX_NEXT_STEP: usize = 350;
/// Each `content.keywords` item.
pub const MAX_KEYWORD: usize = 75;
/// `metadata.summary` (no documented limit: kept to a notification line).
pub const MAX_SUMMARY: usize = 300;

/// Room kept at the end of the description for the note that says what
/// was left out.
const NOTE_RESERVE: usize = 200;
/// The longest share of one untrusted block (GuardDuty's issue string, the
/// raw event) in the chat description; all of it is in the plain text.
const MAX_QUOTE: usize = 700;
/// The longest live-state line and the number of them shown.
const MAX_FACT_LINE: usize = 240;
const MAX_FACT_LINES: usize = 8;
/// The longest cluster name shown (EKS allows 100 characters).
const MAX_NAME: usize = 100;

/// One chat notification, before its limits are applied: the alert and the
/// follow-ups fill it in, `into_json` enforces the limits and the envelope.
pub(crate) struct Notification {
    /// The notification's id (untrusted: made an inert token).
    pub id: String,
    /// Markdown we laid out, untrusted parts already inert.
    pub title: String,
    /// Markdown built with `Description`, untrusted parts already inert.
    pub description: String,
    /// Our own sentences (the catalog's steps).
    pub next_steps: Vec<String>,
    /// Words; made inert ASCII and cut to the keyword limit here.
    pub keywords: Vec<String>,
    pub thread_id: String,
    /// A line; made inert ASCII and cut here.
    pub summary: String,
    pub event_type: &'static str,
    /// ARNs: only those made of ARN characters are kept.
    pub related_resources: Vec<String>,
    /// Values are made inert ASCII here.
    pub additional_context: BTreeMap<&'static str, String>,
    /// `metadata.enableCustomActions`: only the approval alert asks for buttons.
    pub enable_custom_actions: bool,
}

/// The custom notification's schema, in its order.
#[derive(Serialize)]
struct Envelope {
    version: &'static str,
    source: &'static str,
    id: String,
    content: Content,
    metadata: Metadata,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    text_type: &'static str,
    title: String,
    description: String,
    next_steps: Vec<String>,
    keywords: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    thread_id: String,
    summary: String,
    event_type: &'static str,
    related_resources: Vec<String>,
    additional_context: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enable_custom_actions: bool,
}

impl Notification {
    /// The JSON body SNS carries, every field within its limit and inert.
    pub(crate) fn into_json(self) -> String {
        let envelope = Envelope {
            version: "1.0",
            source: "custom",
            id: inert_token(&self.id, 128),
            content: Content {
                text_type: "client-markdown",
                title: clip_utf16(&self.title, MAX_TITLE),
                description: clip_description(&self.description),
                next_steps: self.next_steps.iter().map(|s| fit_step(s)).collect(),
                keywords: self
                    .keywords
                    .iter()
                    .map(|k| inert_ascii(k, MAX_KEYWORD))
                    .filter(|k| !k.is_empty())
                    .collect(),
            },
            metadata: Metadata {
                thread_id: self.thread_id,
                summary: inert_ascii(&self.summary, MAX_SUMMARY),
                event_type: self.event_type,
                related_resources: self
                    .related_resources
                    .into_iter()
                    .filter(|arn| is_arn_like(arn))
                    .collect(),
                additional_context: self
                    .additional_context
                    .into_iter()
                    // The approval token may use a custom action variable's 1,024.
                    .map(|(key, value)| {
                        let max = if key == "approvalToken" {
                            crate::approval::MAX_TOKEN_CHARS
                        } else {
                            256
                        };
                        (key, inert_ascii(&value, max))
                    })
                    .collect(),
                enable_custom_actions: self.enable_custom_actions,
            },
        };
        // Serializing plain structs of strings cannot fail; the fallback is never taken.
        serde_json::to_string_pretty(&envelope).unwrap_or_default()
    }
}

/// An id-like token: ASCII letters, digits and `-_.:`, else `?`; never empty.
fn inert_token(text: &str, max: usize) -> String {
    let token: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
                c
            } else {
                '?'
            }
        })
        .collect();
    if token.is_empty() {
        "unknown".to_owned()
    } else {
        token
    }
}

fn is_arn_like(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn.len() <= 512
        && arn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=,".contains(c))
}

/// A step within the item limit: whole sentences while they fit, then `…`.
/// The plain text and `coverage explain` carry the step in full.
pub(crate) fn fit_step(step: &str) -> String {
    if utf16_len(step) <= MAX_NEXT_STEP {
        return step.to_owned();
    }
    // Room for the " …" that ends a cut step.
    let cut = clip_utf16(step, MAX_NEXT_STEP - 1);
    let kept = cut.trim_end_matches('…');
    // The last sentence end (or, failing that, word end) in what fits.
    let end = kept
        .rfind(". ")
        .map(|at| at + 1)
        .or_else(|| kept.rfind(' '))
        .filter(|&at| at > 0)
        .unwrap_or(kept.len());
    format!("{} …", kept[..end].trim_end())
}

/// The last guard on a description: within the limit, with an open code
/// fence closed so that what follows a cut is not swallowed. Descriptions
/// built with `Description` never reach it.
fn clip_description(description: &str) -> String {
    if utf16_len(description) <= MAX_DESCRIPTION {
        return description.to_owned();
    }
    let mut cut = clip_utf16(description, MAX_DESCRIPTION - 4);
    if cut.matches("```").count() % 2 == 1 {
        cut.push_str("\n```");
    }
    cut
}

/// A chat description assembled section by section within the limit: a
/// section that does not fit is shortened when it has an untrusted part
/// that can be (the part is clipped), else left out; the note at the end
/// says that something was left out and where to read it all.
pub(crate) struct Description {
    out: String,
    left_out: bool,
}

impl Description {
    pub(crate) fn new() -> Self {
        Description {
            out: String::with_capacity(MAX_DESCRIPTION * 2),
            left_out: false,
        }
    }

    fn room(&self, separator: usize) -> usize {
        (MAX_DESCRIPTION - NOTE_RESERVE).saturating_sub(utf16_len(&self.out) + separator)
    }

    fn separator(&self) -> usize {
        if self.out.is_empty() { 0 } else { 2 }
    }

    fn append(&mut self, section: &str) {
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
        }
        self.out.push_str(section);
    }

    /// A section with nothing to shorten: in whole or not at all.
    pub(crate) fn section(&mut self, section: &str) -> bool {
        if section.is_empty() {
            return true;
        }
        if utf16_len(section) <= self.room(self.separator()) {
            self.append(section);
            true
        } else {
            self.left_out = true;
            false
        }
    }

    /// A section rendered by `render(max)`, whose untrusted part is cut to
    /// at most `max` UTF-16 units (`usize::MAX`: whole).
    pub(crate) fn shortened(&mut self, render: impl Fn(usize) -> String) -> bool {
        let whole = render(usize::MAX);
        let room = self.room(self.separator());
        if utf16_len(&whole) <= room {
            self.append(&whole);
            return true;
        }
        let frame = utf16_len(&render(0));
        let mut share = room.saturating_sub(frame);
        // Escaping keeps lengths, clipping adds its marker: a few tries at most.
        while share >= 40 {
            let section = render(share);
            if utf16_len(&section) <= room {
                self.append(&section);
                self.left_out = true;
                return true;
            }
            share = share.saturating_sub(share / 4 + 8);
        }
        self.left_out = true;
        false
    }

    /// The description, with the note when anything was cut or left out.
    pub(crate) fn finish(mut self, note: &str) -> String {
        if self.left_out {
            let room = MAX_DESCRIPTION.saturating_sub(utf16_len(&self.out) + 2);
            let note = clip_utf16(note, room);
            self.append(&note);
        }
        clip_description(&self.out)
    }
}

/// A quoted untrusted block within `max` UTF-16 units; a cut says so and
/// how long the whole is (the plain text carries it).
fn clip_quote(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_owned();
    }
    let marker = format!(" …[truncated: {} characters in all]", text.chars().count());
    let mut out = clip_utf16(text, max.saturating_sub(utf16_len(&marker)) + 1);
    out.pop();
    out.push_str(&marker);
    out
}

/// Untrusted text clipped to `max` UTF-16 units, as a code span.
fn span(out: &mut String, text: &str, max: usize) {
    push_code_span(out, &clip_utf16(text, max));
}

fn push_where_line(out: &mut String, view: &View) {
    let mut first = true;
    let mut part = |out: &mut String, label: &str, value: &str| {
        if !first {
            out.push_str(" · ");
        }
        first = false;
        out.push_str(label);
        span(out, value, MAX_NAME);
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

/// The one command the chat alert shows: the catalog lists an entry's
/// commands most useful first, so the first that runs on its own (not the
/// kubeconfig setup, not one that needs `$DETECTOR_ID` set by another).
fn key_command(commands: &[FilledCommand]) -> Option<&FilledCommand> {
    let standalone = |c: &&FilledCommand| {
        c.kind == CommandKind::Shell
            && !c.command.contains("DETECTOR_ID")
            && !c.command.starts_with("aws eks update-kubeconfig")
    };
    commands
        .iter()
        .find(standalone)
        .or_else(|| commands.first())
}

fn command_section(command: &FilledCommand) -> String {
    let mut out = String::new();
    match command.kind {
        CommandKind::Shell => {
            let _ = writeln!(out, "*{}:*", command.purpose);
        }
        CommandKind::LogsInsights => {
            let _ = writeln!(out, "*{}* (CloudWatch Logs Insights):", command.purpose);
        }
    }
    push_command_block(&mut out, &command.command);
    out
}

/// The chat description: what the on-call engineer reads first, in order,
/// within the limit; untrusted text only inside inert code or prose.
fn chat_description(view: &View) -> String {
    let mut description = Description::new();
    let mut place = String::new();
    push_where_line(&mut place, view);
    description.section(&place);
    // What broke.
    let mut broke = String::new();
    if let Some(entry) = view.entry {
        broke.push_str("*Issue* ");
        push_code_span(&mut broke, entry.id);
        let _ = writeln!(
            broke,
            " · severity *{}* · {}",
            entry.severity.as_str(),
            entry.actionability.as_str()
        );
    }
    broke.push_str("*Why:* ");
    push_inert_prose(&mut broke, &view.why);
    description.section(&broke);
    if let Some(raw) = &view.issue_raw {
        description.shortened(|max| {
            let mut out = String::from("*GuardDuty said:*\n");
            push_code_block(&mut out, &clip_quote(raw, max.min(MAX_QUOTE)));
            out
        });
    }
    for (label, value) in view.extra_details.iter().take(3) {
        let mut out = format!("*{label}:* ");
        span(&mut out, value, MAX_FACT_LINE);
        description.section(&out);
    }
    // Who changed it.
    if !view.who_changed.is_empty() {
        let mut out = String::from("*Who changed it:*");
        for line in view.who_changed.iter().take(MAX_FACT_LINES) {
            out.push_str("\n• ");
            span(&mut out, line, MAX_FACT_LINE);
        }
        description.section(&out);
    }
    // What this function did, and the exact call: together when they fit.
    let did = |max: usize, command: Option<&String>| {
        let mut out = String::from("*What this function did:* ");
        push_inert_prose(&mut out, &clip_utf16(&view.did, max));
        if let Some(command) = command {
            out.push('\n');
            push_command_block(&mut out, command);
        }
        out
    };
    let with_call = view.did_command.is_some()
        && description.shortened(|max| did(max, view.did_command.as_ref()));
    if !with_call {
        description.shortened(|max| did(max, None));
        if view.did_command.is_some() {
            description.section("(The exact call is in the plain-text alert.)");
        }
    }
    // The live state.
    if !view.facts.is_empty() {
        let mut out = String::from("*Live state:*");
        for fact in view.facts.iter().take(MAX_FACT_LINES) {
            out.push_str("\n• ");
            span(&mut out, fact, MAX_FACT_LINE);
        }
        if view.facts.len() > MAX_FACT_LINES {
            let _ = write!(
                out,
                "\n• {} more in the plain-text alert",
                view.facts.len() - MAX_FACT_LINES
            );
        }
        description.section(&out);
    }
    // The one command that matters.
    if let Some(command) = key_command(&view.commands) {
        description.section(&command_section(command));
    }
    if let Some(raw) = &view.raw_event {
        description.shortened(|max| {
            let mut out = String::from("*Raw event:*\n");
            push_code_block(&mut out, &clip_quote(raw, max.min(MAX_QUOTE)));
            out
        });
    }
    // The docs link.
    if let Some((title, url)) = view.links.first() {
        description.section(&format!("*Docs:* {title}: {url}"));
    }
    let shown = usize::from(key_command(&view.commands).is_some());
    let mut runbook = String::new();
    // Only a catalog row has a runbook that `coverage explain` shows.
    if view.entry.is_some() && (view.commands.len() > shown || view.steps.len() > 1) {
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        runbook = format!(
            "The full runbook ({}, {}) is in the plain-text alert (email) and in `coverage explain`.",
            count(view.steps.len(), "step", "steps"),
            count(view.commands.len(), "command", "commands")
        );
        if !description.section(&runbook) {
            runbook.clear();
        }
    }
    let note = if runbook.is_empty() {
        "Cut to fit the chat: the plain-text alert (email) and `coverage explain` have all of it."
    } else {
        "Cut to fit the chat: the plain-text alert (email) has all of it."
    };
    description.finish(note)
}

/// The alert's notification. The budget has already clipped the view; the
/// chat limits cut further.
pub(crate) fn chat_message(plan: &Plan, outcome: &Outcome, view: &View, _budget: Budget) -> String {
    let mut title = String::with_capacity(160);
    title.push_str(view.emoji);
    title.push(' ');
    push_inert_prose(&mut title, &view.headline);
    if let Some(cluster) = &view.cluster {
        title.push_str(" on ");
        span(&mut title, cluster, MAX_NAME);
    }
    // Only a valid cluster name is a keyword: keywords are words, not quotes.
    let cluster = plan
        .event
        .cluster_name()
        .and_then(|c| ClusterName::parse(c).ok());
    let account = plan
        .event
        .resource_account()
        .and_then(|a| AccountId::parse(a).ok());
    let region = plan
        .event
        .envelope
        .region
        .as_deref()
        .and_then(|r| Region::parse(r).ok());
    let mut keywords = vec!["GuardDuty".to_owned(), view.severity.as_str().to_owned()];
    match view.entry {
        Some(entry) => keywords.push(entry.id.to_owned()),
        None => keywords.push(issue_id(plan).to_owned()),
    }
    if let Some(cluster) = &cluster {
        keywords.push(cluster.to_string());
    }
    let mut related = Vec::new();
    if let (Some(cluster), Some(account), Some(region)) = (&cluster, &account, &region) {
        related.push(format!("arn:aws:eks:{region}:{account}:cluster/{cluster}"));
    }
    if let Some(arn) = plan.facts.addon.known().and_then(|a| a.arn.as_deref()) {
        related.push(arn.to_owned());
    }
    let mut context = BTreeMap::new();
    context.insert("eventId", plan.event.envelope.id.clone());
    context.insert("issueId", issue_id(plan).to_owned());
    context.insert("severity", view.severity.as_str().to_owned());
    context.insert("remediationMode", plan.mode.as_str().to_owned());
    context.insert("action", outcome.action_label().to_owned());
    context.insert("outcome", outcome.label());
    if let Some(update_id) = outcome.update_id() {
        context.insert("updateId", update_id.to_owned());
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
    // Approve mode: the values the "Approve OVERWRITE" custom action picks up.
    let offer = match outcome {
        Outcome::Skipped {
            reason:
                SkipReason::ApprovalOffered {
                    token,
                    function,
                    expires_at,
                },
            ..
        } => {
            context.insert("approvalToken", token.clone());
            context.insert("approveFunction", function.clone());
            context.insert("approvalExpiresAt", crate::approval::time(*expires_at));
            true
        }
        _ => false,
    };
    let place = match (&cluster, &region) {
        (Some(cluster), Some(region)) => format!("{cluster} ({region}): "),
        (Some(cluster), None) => format!("{cluster}: "),
        (None, _) if view.cluster.is_some() => "(invalid cluster name): ".to_owned(),
        _ => String::new(),
    };
    Notification {
        id: plan.event.envelope.id.clone(),
        title,
        description: chat_description(view),
        next_steps: view.steps.iter().map(|s| (*s).to_owned()).collect(),
        keywords,
        thread_id: thread_id(view),
        summary: format!("{place}{}. Action: {}", view.headline, outcome.label()),
        event_type: plan.event.envelope.transition.detail_type(),
        related_resources: related,
        additional_context: context,
        enable_custom_actions: offer,
    }
    .into_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_cut_at_a_sentence_or_word_within_the_limit() {
        let sentences = format!("{} Second sentence here.", "word ".repeat(80).trim_end());
        let spaceless = "x".repeat(400);
        for step in [sentences.as_str(), spaceless.as_str()] {
            let fitted = fit_step(step);
            assert!(
                utf16_len(&fitted) <= MAX_NEXT_STEP,
                "{}",
                utf16_len(&fitted)
            );
            assert!(fitted.ends_with(" …"), "{fitted}");
        }
        let long = format!("First sentence. {}", "more words ".repeat(40));
        assert_eq!(fit_step(&long), "First sentence. …");
        assert_eq!(fit_step("short"), "short");
    }
}
