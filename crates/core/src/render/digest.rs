//! The sweep's digest: one line per account (healthy, unhealthy, partial
//! counts and the share of compatible nodes covered, or why it was not
//! listed) and one per cluster that is not healthy (its catalog id and what
//! was done), packed into as many messages as the limits need. Every part
//! carries the same chat thread id and says "part i of n"; nothing is cut:
//! a line never exceeds a part, and every line is in exactly one part.

use std::collections::BTreeMap;

use crate::decide::format_time;
use crate::sweep::{AccountResult, ClusterReport, Digest, Status, coverage_percent};
use crate::text::{clip, code_span, inert_ascii, inert_prose, utf16_len};

use super::chat::{MAX_DESCRIPTION, Notification};
use super::{MAX_SUBJECT_CHARS, Message, MessageFormat};

/// Room kept in each part's description for its "part i of n" heading.
const PART_HEADING_RESERVE: usize = 120;
/// A plain-text part's body, in bytes: well under SNS's 256 KiB.
const MAX_TEXT_PART_BYTES: usize = 128 * 1024;
/// The longest error sentence shown for an unreachable account.
const MAX_WHY_BYTES: usize = 300;
/// The longest cluster name shown (EKS allows 100 characters).
const MAX_NAME_BYTES: usize = 100;

/// The digest's lines, in order: the totals, the accounts, the clusters.
pub fn digest_lines(digest: &Digest) -> Vec<String> {
    let (healthy, unhealthy, partial, unknown) = digest.totals();
    let unreachable = digest.unreachable().len();
    let mut lines = vec![format!(
        "Swept {} account(s) in {}, mode {}: {healthy} healthy, {unhealthy} unhealthy, {partial} partially covered, {unknown} unknown; {unreachable} account(s) unreachable.",
        digest.accounts.len(),
        code_span(&clip(&digest.region, 32)),
        digest.mode.as_str(),
    )];
    if digest.members_not_enumerable {
        lines.push("MEMBER_ACCOUNTS is `*`: member accounts cannot be enumerated without the organization's account list, so only the accounts listed here were swept. List the member account ids to sweep them.".to_owned());
    }
    for account in &digest.accounts {
        lines.push(account_line(&account.account, &account.result));
    }
    for cluster in &digest.clusters {
        lines.push(cluster_line(cluster));
    }
    lines
}

fn account_line(account: &str, result: &AccountResult) -> String {
    let account = code_span(&clip(account, 32));
    match result {
        AccountResult::Listed {
            healthy,
            unhealthy,
            partial,
            unknown,
            covered_nodes,
            compatible_nodes,
        } => {
            let share = match coverage_percent(*covered_nodes, *compatible_nodes) {
                Some(percent) => {
                    format!(
                        "{percent}% of compatible nodes covered ({covered_nodes}/{compatible_nodes})"
                    )
                }
                None => "no compatible nodes reported".to_owned(),
            };
            format!(
                "Account {account}: {healthy} healthy, {unhealthy} unhealthy, {partial} partial, {unknown} unknown; {share}."
            )
        }
        AccountResult::Unreachable { why } => format!(
            "Account {account}: UNREACHABLE, not swept: {}",
            inert_prose(&clip(why, MAX_WHY_BYTES))
        ),
        AccountResult::NotReached => {
            format!("Account {account}: NOT REACHED: the invocation's deadline came first.")
        }
    }
}

fn cluster_line(cluster: &ClusterReport) -> String {
    let status = match cluster.status {
        Status::Unhealthy => "unhealthy",
        Status::Partial => "partially covered",
        Status::Unknown => "unknown status",
        Status::Healthy => "healthy",
    };
    let mut line = format!(
        "- {} in {}: {status}, {}, done: {}",
        code_span(&clip(&cluster.cluster, MAX_NAME_BYTES)),
        code_span(&clip(&cluster.account, 32)),
        cluster
            .catalog_id
            .map_or_else(|| "no catalog entry".to_owned(), code_span),
        code_span(&clip(&cluster.done, 64)),
    );
    if let Some(update) = &cluster.update_id {
        line.push_str(&format!(", update {}", code_span(&clip(update, 64))));
    }
    if cluster.alert.is_some() {
        line.push_str(" (alerted)");
    }
    line
}

/// Lines packed in order into parts of at most `max` units (`measure`);
/// a line longer than `max` (never built here) gets a part of its own.
pub fn pack(lines: &[String], max: usize, measure: impl Fn(&str) -> usize) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && measure(&current) + 1 + measure(line) > max {
            parts.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// The chat thread every part of one sweep shares.
pub fn thread_id(digest: &Digest) -> String {
    let region: String = digest
        .region
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    format!(
        "guardduty-coverage-sweep/{region}/{}",
        digest.started_ms / 1000
    )
}

/// The digest as messages, in order, each within the chat (or SNS) limits.
pub fn digest_messages(digest: &Digest, format: MessageFormat) -> Vec<Message> {
    let lines = digest_lines(digest);
    let parts = match format {
        MessageFormat::Chat => pack(&lines, MAX_DESCRIPTION - PART_HEADING_RESERVE, utf16_len),
        MessageFormat::Text => pack(&lines, MAX_TEXT_PART_BYTES, str::len),
    };
    let count = parts.len();
    let (_, unhealthy, partial, _) = digest.totals();
    let unreachable = digest.unreachable().len();
    let started = format_time(i64::try_from(digest.started_ms / 1000).unwrap_or(0));
    let thread = thread_id(digest);
    parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| {
            let number = index + 1;
            let of = if count > 1 {
                format!(" (part {number} of {count})")
            } else {
                String::new()
            };
            let headline = format!(
                "GuardDuty coverage sweep: {unhealthy} unhealthy, {partial} partial, {unreachable} unreachable{of}"
            );
            let subject = inert_ascii(&headline, MAX_SUBJECT_CHARS);
            let body = match format {
                MessageFormat::Chat => Notification {
                    id: format!("sweep-{}-{number}", digest.started_ms / 1000),
                    title: headline.clone(),
                    description: format!("**Coverage sweep** started {started}{of}\n\n{part}"),
                    next_steps: vec![
                        "Each listed cluster's catalog entry has its steps and commands: `coverage explain` or docs/catalog.md.".to_owned(),
                    ],
                    keywords: vec![
                        "GuardDuty".to_owned(),
                        "coverage-sweep".to_owned(),
                        digest.region.clone(),
                    ],
                    thread_id: thread.clone(),
                    summary: headline.clone(),
                    event_type: "GuardDuty coverage sweep",
                    related_resources: Vec::new(),
                    additional_context: BTreeMap::from([("part", format!("{number}/{count}"))]),
                    enable_custom_actions: false,
                }
                .into_json(),
                MessageFormat::Text => format!("{headline}\nStarted {started}\n\n{part}\n"),
            };
            let attributes = BTreeMap::from([
                ("kind", "sweep-digest".to_owned()),
                ("region", inert_ascii(&digest.region, 32)),
                ("part", format!("{number}/{count}")),
                ("severity", severity(unhealthy, partial, unreachable as u64).to_owned()),
            ]);
            Message {
                subject,
                body,
                attributes,
            }
        })
        .collect()
}

fn severity(unhealthy: u64, partial: u64, unreachable: u64) -> &'static str {
    if unhealthy + unreachable > 0 {
        "high"
    } else if partial > 0 {
        "medium"
    } else {
        "info"
    }
}
