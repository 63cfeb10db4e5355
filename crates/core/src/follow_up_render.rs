//! Rendering a follow-up's message: what became of an OVERWRITE update, in
//! the same chat thread as the alert that started it (the thread id of its
//! account, region and cluster), as the Amazon Q Developer custom
//! notification or as plain text, with the SNS subject and attributes the
//! alerts carry. The chat envelope and its limits are the alert's
//! (`render::chat`). EKS's error codes and messages are untrusted: clipped
//! and rendered only inside inert code spans or blocks.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::catalog::Severity;
use crate::decide::{ADDON_NAME, format_time};
use crate::facts::AddonStatus;
use crate::facts::Fact;
use crate::follow_up::{
    ClaimNote, FollowUpFacts, FollowUpPayload, Report, StillRunning, UpdateDetail,
    UpdateErrorDetail, UpdateLookup,
};
use crate::render::{
    Description, MAX_SUBJECT_CHARS, Message, MessageFormat, Notification, thread_id_for,
};
use crate::text::{
    ascii_ellipsis, clip, clip_utf16, one_line, printable_ascii, push_code_block, push_code_span,
    push_command_block, push_inert_prose,
};

/// At most this many of EKS's errors, resource ids per error, and bytes of
/// each untrusted string: the message stays far below SNS's 256 KiB.
const MAX_ERRORS: usize = 10;
const MAX_RESOURCE_IDS: usize = 10;
const MAX_MESSAGE_BYTES: usize = 2048;
const MAX_NAME_BYTES: usize = 256;

/// Everything a follow-up message is made from.
#[derive(Debug, Clone, Copy)]
pub struct FollowUpView<'a> {
    pub payload: &'a FollowUpPayload,
    pub facts: &'a FollowUpFacts,
    pub report: &'a Report,
    pub claim: &'a ClaimNote,
    /// The follow-up's clock, seconds since the epoch.
    pub now_s: i64,
}

/// What EKS's add-on error codes mean, in words for the person on call.
pub fn error_meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "ConfigurationConflict" => {
            "fields EKS manages on the agent's Kubernetes objects are still, or again, changed outside the add-on: something re-applies them (GitOps, a script, an operator)"
        }
        "AdmissionRequestDenied" => {
            "an admission controller or webhook (Gatekeeper, Kyverno, a policy engine) rejected the agent's objects"
        }
        "InsufficientNumberOfReplicas" => {
            "the agent's pods could not all be scheduled or started (CPU, memory, taints, pod limits)"
        }
        "UnsupportedAddonModification" => {
            "the update changes something EKS does not allow to change on this add-on"
        }
        "K8sResourceNotFound" => {
            "a Kubernetes object the add-on needs is missing (deleted by hand?)"
        }
        "ClusterUnreachable" => "EKS could not reach the cluster's Kubernetes API",
        "AccessDenied" => "EKS was not allowed to act: a role or policy it needs is missing",
        "OperationNotPermitted" => "the operation is not permitted in the cluster's current state",
        "Unknown" => "EKS gave no category: its message is all there is",
        _ => return None,
    })
}

struct Parts {
    severity: Severity,
    emoji: &'static str,
    headline: &'static str,
    subject: &'static str,
    /// What happened, in a sentence (may quote untrusted text: rendered inert).
    said: String,
    steps: Vec<&'static str>,
    commands: Vec<(&'static str, String)>,
}

fn minutes(from: i64, to: i64) -> i64 {
    (to.saturating_sub(from) / 60).max(0)
}

fn after(minutes: i64) -> String {
    match minutes {
        0 => "less than a minute".to_owned(),
        1 => "1 min".to_owned(),
        n => format!("{n} min"),
    }
}

fn update_detail<'a>(view: &FollowUpView<'a>) -> Option<&'a UpdateDetail> {
    match &view.facts.update {
        UpdateLookup::Found(detail) => Some(detail),
        _ => None,
    }
}

fn parts(view: &FollowUpView<'_>) -> Parts {
    let payload = view.payload;
    let (cluster, region, update) = (&payload.cluster, &payload.region, &payload.update_id);
    let started = update_detail(view)
        .and_then(|u| u.created_at)
        .unwrap_or(payload.started_at);
    let took = after(minutes(started, view.now_s));
    let describe_update = format!(
        "aws eks describe-update --name {cluster} --addon-name {ADDON_NAME} --update-id {update} --region {region}"
    );
    let describe_addon = format!(
        "aws eks describe-addon --cluster-name {cluster} --addon-name {ADDON_NAME} --region {region}"
    );
    let pods = format!(
        "kubectl -n amazon-guardduty get daemonset,pods -o wide   # context: cluster {cluster}"
    );
    let addon_status = view.facts.addon.known().map(|a| &a.status);
    match view.report {
        Report::Succeeded => Parts {
            severity: Severity::Info,
            emoji: ":white_check_mark:",
            headline: "OVERWRITE update succeeded",
            subject: "OVERWRITE update succeeded",
            said: format!(
                "OVERWRITE update {update} succeeded after {took}; waiting for GuardDuty to report the cluster Healthy (its Healthy event closes this thread)."
            ),
            steps: vec![
                "Nothing to do now: GuardDuty re-evaluates coverage within minutes and its Healthy event lands in this thread.",
                "If no Healthy notice comes within 30 minutes, check the add-on and GuardDuty's coverage (command below).",
                "Find and stop whatever changed the agent directly (the first alert in this thread has the audit-log query), or the conflict comes back.",
            ],
            commands: vec![("The add-on now", describe_addon)],
        },
        Report::Failed => {
            let quoted = if errors(view).is_empty() {
                "EKS gave no error details"
            } else {
                "EKS's errors are quoted below as EKS wrote them"
            };
            let mut said = format!(
                "OVERWRITE update {update} failed (seen {took} after it started). {quoted}. The OVERWRITE is not retried from here."
            );
            if addon_status == Some(&AddonStatus::Active) {
                said.push_str(" The add-on is ACTIVE now: EKS may have converged after the failure; if GuardDuty reports the cluster Healthy, the recovery notice follows in this thread.");
            }
            Parts {
                severity: Severity::High,
                emoji: ":rotating_light:",
                headline: "OVERWRITE update failed",
                subject: "OVERWRITE update failed",
                said,
                steps: vec![
                    "Read EKS's errors above (each with what its code means) and fix what they name.",
                    "Do not repeat the OVERWRITE blindly: once the cause is fixed, update the add-on yourself (aws eks update-addon ... --resolve-conflicts OVERWRITE, as in the first alert) or wait for the next coverage event.",
                    "ConfigurationConflict again means something keeps re-applying the change (GitOps, a script, an operator): find it with the audit-log query in the first alert of this thread.",
                    "OVERWRITE_MAX_PER_WINDOW keeps this function from another OVERWRITE on this cluster within the window.",
                ],
                commands: vec![
                    ("The update and its errors", describe_update),
                    ("The add-on and its health issues", describe_addon),
                    ("The agent's pods", pods),
                ],
            }
        }
        Report::Cancelled => Parts {
            severity: Severity::High,
            emoji: ":rotating_light:",
            headline: "OVERWRITE update cancelled",
            subject: "OVERWRITE update cancelled",
            said: format!(
                "OVERWRITE update {update} was cancelled (seen {took} after it started): the conflict is not resolved. The OVERWRITE is not retried from here."
            ),
            steps: vec![
                "Find out who or what cancelled the update (CloudTrail, and EKS's errors above, if any).",
                "Update the add-on yourself once it is safe (aws eks update-addon ... --resolve-conflicts OVERWRITE, as in the first alert), or wait for the next coverage event.",
            ],
            commands: vec![
                ("The update and its errors", describe_update),
                ("The add-on and its health issues", describe_addon),
            ],
        },
        Report::StillRunning { why } => {
            let status = update_detail(view).map_or("not ended", |u| u.status.as_str());
            let status = if status.is_empty() {
                "without a status"
            } else {
                status
            };
            let why = match why {
                StillRunning::BoundReached { max_minutes } => format!(
                    "the follow-ups stop looking {max_minutes} min after the OVERWRITE (FOLLOW_UP_MAX_MINUTES), so nothing more will be posted"
                ),
                StillRunning::RescheduleFailed { why } => format!(
                    "the next look could not be scheduled ({why}), so nothing more will be posted"
                ),
                StillRunning::NotConfigured => {
                    "follow-ups are no longer configured, so nothing more will be posted".to_owned()
                }
                StillRunning::TargetUnknown => {
                    "the function's own ARN is not known, so the next look cannot be scheduled and nothing more will be posted".to_owned()
                }
                StillRunning::DeadlineTooClose { remaining_ms } => format!(
                    "only {remaining_ms} ms of the invocation were left to schedule the next look, so nothing more will be posted"
                ),
            };
            Parts {
                severity: Severity::Medium,
                emoji: ":warning:",
                headline: "OVERWRITE update still running",
                subject: "OVERWRITE update still running",
                said: format!(
                    "OVERWRITE update {update} is still {} {took} after it started; {why}.",
                    clip(status, 64)
                ),
                steps: vec![
                    "Check the update (command below): add-on updates normally end within minutes.",
                    "An update that stays InProgress usually waits for agent pods that cannot be scheduled or start: check them.",
                    "If it succeeds, GuardDuty's Healthy event closes this thread.",
                ],
                commands: vec![("The update", describe_update), ("The agent's pods", pods)],
            }
        }
        Report::UnknownUpdate { message } => Parts {
            severity: Severity::Medium,
            emoji: ":warning:",
            headline: "OVERWRITE update unknown to EKS",
            subject: "OVERWRITE update unknown to EKS",
            said: format!(
                "EKS does not know OVERWRITE update {update} of {ADDON_NAME} on this cluster (EKS said: {}); the cluster or the add-on may have been deleted since. Its result is unknown; nothing more will be posted.",
                clip(message, MAX_MESSAGE_BYTES)
            ),
            steps: vec![
                "List the add-on's updates (command below) to see what happened to it.",
                "If the cluster or the add-on is gone, nothing is left to do.",
            ],
            commands: vec![(
                "The add-on's updates",
                format!(
                    "aws eks list-updates --name {cluster} --addon-name {ADDON_NAME} --region {region}"
                ),
            )],
        },
        Report::Unreadable { why } => Parts {
            severity: Severity::Medium,
            emoji: ":warning:",
            headline: "OVERWRITE update status unreadable",
            subject: "OVERWRITE update status unreadable",
            said: format!(
                "Could not read the status of OVERWRITE update {update} ({}), so its result is unknown; nothing more will be posted.",
                clip(why, MAX_MESSAGE_BYTES)
            ),
            steps: vec!["Check the update yourself (command below)."],
            commands: vec![("The update", describe_update)],
        },
    }
}

/// The add-on as the follow-up read it, as short lines (untrusted values clipped).
fn addon_lines(facts: &FollowUpFacts) -> Vec<String> {
    match &facts.addon {
        Fact::Known(addon) => {
            let mut lines = vec![format!(
                "Add-on {ADDON_NAME} now: {}, version {}",
                clip(addon.status.as_str(), MAX_NAME_BYTES),
                addon
                    .version
                    .as_deref()
                    .map_or("?".to_owned(), |v| clip(v, MAX_NAME_BYTES))
            )];
            for issue in addon.health_issues.iter().take(5) {
                lines.push(format!(
                    "Add-on health issue {}: {}",
                    clip(&issue.code, MAX_NAME_BYTES),
                    clip(&issue.message, MAX_MESSAGE_BYTES)
                ));
            }
            lines
        }
        Fact::Unavailable(why) => vec![format!(
            "Add-on: could not be read ({})",
            clip(why, MAX_MESSAGE_BYTES)
        )],
        Fact::NotGathered => Vec::new(),
    }
}

fn errors<'a>(view: &FollowUpView<'a>) -> &'a [UpdateErrorDetail] {
    match &view.facts.update {
        UpdateLookup::Found(detail) => &detail.errors,
        _ => &[],
    }
}

fn claim_sentence(claim: &ClaimNote) -> Option<String> {
    match claim {
        ClaimNote::Claimed | ClaimNote::Retried => None,
        ClaimNote::NotRecorded { why } => Some(format!(
            "This message could not be recorded as posted ({}): a second delivery of this follow-up may post it again.",
            clip(why, 512)
        )),
    }
}

fn update_line(view: &FollowUpView<'_>) -> String {
    let payload = view.payload;
    let mut line = format!(
        "OVERWRITE update {} of {ADDON_NAME}, look {}",
        payload.update_id, payload.attempt
    );
    if let Some(detail) = update_detail(view) {
        let status = detail.status.as_str();
        let _ = write!(
            line,
            ", status {}",
            if status.is_empty() { "missing" } else { status }
        );
        if let Some(created) = detail.created_at {
            let _ = write!(line, ", started {}", format_time(created));
        }
    }
    let _ = write!(line, ", checked {}", format_time(view.now_s));
    line
}

/// The follow-up's message: subject, the body in `format`, attributes.
pub fn render_follow_up(view: &FollowUpView<'_>, format: MessageFormat) -> Message {
    let parts = parts(view);
    Message {
        subject: subject(view, &parts),
        body: match format {
            MessageFormat::Chat => chat(view, &parts),
            MessageFormat::Text => text(view, &parts),
        },
        attributes: attributes(view, &parts),
    }
}

fn outcome_label(view: &FollowUpView<'_>) -> String {
    format!("follow-up-{}", view.report.kind().as_str())
}

fn subject(view: &FollowUpView<'_>, parts: &Parts) -> String {
    let text = format!(
        "[{}] {} on {} ({})",
        parts.severity.as_str().to_ascii_uppercase(),
        parts.subject,
        view.payload.cluster,
        view.payload.region
    );
    ascii_ellipsis(&printable_ascii(&text), MAX_SUBJECT_CHARS)
}

fn attributes(view: &FollowUpView<'_>, parts: &Parts) -> BTreeMap<&'static str, String> {
    let payload = view.payload;
    let mut attributes = BTreeMap::new();
    attributes.insert("severity", parts.severity.as_str().to_owned());
    attributes.insert("issue_id", "overwrite-follow-up".to_owned());
    attributes.insert("transition", "follow-up".to_owned());
    attributes.insert("cluster", payload.cluster.to_string());
    attributes.insert("account", payload.account.to_string());
    attributes.insert("region", payload.region.to_string());
    attributes.insert("action", "follow-up".to_owned());
    attributes.insert("outcome", outcome_label(view));
    attributes.insert("resource_type", "EKS".to_owned());
    attributes.insert("event_id", payload.event_id.to_string());
    attributes
}

fn chat(view: &FollowUpView<'_>, parts: &Parts) -> String {
    let payload = view.payload;
    let mut title = format!("{} {} on ", parts.emoji, parts.headline);
    push_code_span(&mut title, payload.cluster.as_str());

    // The same order and limits as the alert: where, what happened, EKS's
    // errors, the live state, the commands; what does not fit is cut and
    // the note says the plain text has it all.
    let mut description = Description::new();
    let mut place = String::from("cluster ");
    push_code_span(&mut place, payload.cluster.as_str());
    place.push_str(" · account ");
    push_code_span(&mut place, payload.account.as_str());
    place.push_str(" · ");
    push_code_span(&mut place, payload.region.as_str());
    description.section(&place);
    description.shortened(|max| {
        let mut out = String::from("*What happened:* ");
        push_inert_prose(&mut out, &clip_utf16(&parts.said, max));
        out
    });
    let mut update = String::from("*Update:* ");
    push_code_span(&mut update, &update_line(view));
    description.section(&update);
    let errors = errors(view);
    if !errors.is_empty() {
        description.section("*EKS's errors:*");
    }
    for error in errors.iter().take(MAX_ERRORS) {
        let code = clip(&error.code, MAX_NAME_BYTES);
        description.shortened(|max| {
            let mut out = String::from("• ");
            push_code_span(&mut out, &clip_utf16(&code, 100));
            out.push_str(": ");
            push_inert_prose(
                &mut out,
                error_meaning(&error.code)
                    .unwrap_or("a code this function does not know: EKS's message is all there is"),
            );
            out.push('\n');
            push_code_block(
                &mut out,
                &clip_utf16(&clip(&error.message, MAX_MESSAGE_BYTES), max.min(600)),
            );
            if !error.resource_ids.is_empty() {
                out.push_str("\nResources: ");
                for (index, id) in error.resource_ids.iter().take(MAX_RESOURCE_IDS).enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    push_code_span(&mut out, &clip_utf16(id, 100));
                }
            }
            out
        });
    }
    let addon = addon_lines(view.facts);
    if !addon.is_empty() {
        let mut out = String::from("*Live state:*");
        for line in &addon {
            out.push_str("\n• ");
            push_code_span(&mut out, &clip_utf16(line, 240));
        }
        description.section(&out);
    }
    if let Some(sentence) = claim_sentence(view.claim) {
        let mut out = String::from("*Note:* ");
        push_inert_prose(&mut out, &sentence);
        description.section(&out);
    }
    for (purpose, command) in &parts.commands {
        let mut out = format!("*{purpose}:*\n");
        push_command_block(&mut out, command);
        description.section(&out);
    }

    let mut context = BTreeMap::new();
    context.insert("eventId", payload.event_id.to_string());
    context.insert("issueId", "overwrite-follow-up".to_owned());
    context.insert("severity", parts.severity.as_str().to_owned());
    context.insert("action", "follow-up".to_owned());
    context.insert("outcome", outcome_label(view));
    context.insert("updateId", payload.update_id.to_string());
    context.insert("followUpAttempt", payload.attempt.to_string());
    if let Some(detail) = update_detail(view) {
        context.insert("updateStatus", clip(detail.status.as_str(), 64));
    }
    Notification {
        id: format!("{}-{}", payload.update_id, view.report.kind().as_str()),
        title,
        description: description
            .finish("Cut to fit the chat: the plain-text message (email) has all of it."),
        next_steps: parts.steps.iter().map(|s| (*s).to_owned()).collect(),
        keywords: vec![
            "GuardDuty".to_owned(),
            parts.severity.as_str().to_owned(),
            "overwrite-follow-up".to_owned(),
            payload.cluster.to_string(),
        ],
        thread_id: thread_id_for(
            Some(payload.account.as_str()),
            Some(payload.region.as_str()),
            Some(payload.cluster.as_str()),
        ),
        summary: format!(
            "{} ({}): {}. Update {}",
            payload.cluster, payload.region, parts.headline, payload.update_id
        ),
        event_type: "GuardDuty OVERWRITE follow-up",
        related_resources: vec![format!(
            "arn:aws:eks:{}:{}:cluster/{}",
            payload.region, payload.account, payload.cluster
        )],
        additional_context: context,
        enable_custom_actions: false,
    }
    .into_json()
}

fn text(view: &FollowUpView<'_>, parts: &Parts) -> String {
    let payload = view.payload;
    let mut out = String::with_capacity(4 * 1024);
    let _ = writeln!(
        out,
        "{} [{}]",
        parts.headline,
        parts.severity.as_str().to_ascii_uppercase()
    );
    let _ = writeln!(
        out,
        "Where: cluster {}, account {}, {}",
        payload.cluster, payload.account, payload.region
    );
    let _ = writeln!(out, "\nWhat happened: {}", one_line(&parts.said));
    let _ = writeln!(out, "Update: {}", one_line(&update_line(view)));
    let errors = errors(view);
    if !errors.is_empty() {
        out.push_str("\nEKS's errors:\n");
        for error in errors.iter().take(MAX_ERRORS) {
            let code = clip(&error.code, MAX_NAME_BYTES);
            let _ = writeln!(
                out,
                "  - {}: {}",
                one_line(&code),
                error_meaning(&error.code)
                    .unwrap_or("a code this function does not know: EKS's message is all there is")
            );
            let _ = writeln!(
                out,
                "    {}",
                one_line(&clip(&error.message, MAX_MESSAGE_BYTES))
            );
            if !error.resource_ids.is_empty() {
                let ids: Vec<String> = error
                    .resource_ids
                    .iter()
                    .take(MAX_RESOURCE_IDS)
                    .map(|id| one_line(&clip(id, MAX_NAME_BYTES)).into_owned())
                    .collect();
                let _ = writeln!(out, "    resources: {}", ids.join(", "));
            }
        }
    }
    let addon = addon_lines(view.facts);
    if !addon.is_empty() {
        out.push_str("\nLive state:\n");
        for line in &addon {
            let _ = writeln!(out, "  - {}", one_line(line));
        }
    }
    if let Some(sentence) = claim_sentence(view.claim) {
        let _ = writeln!(out, "\nNote: {}", one_line(&sentence));
    }
    out.push_str("\nNext steps:\n");
    for (index, step) in parts.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {step}", index + 1);
    }
    out.push_str("\nCommands:\n");
    for (purpose, command) in &parts.commands {
        let _ = writeln!(out, "  # {purpose}\n  {command}");
    }
    let _ = writeln!(
        out,
        "\nFollow-up {} of event {}",
        payload.attempt, payload.event_id
    );
    out
}
