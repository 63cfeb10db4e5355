//! The view every rendering of an alert shares: the plan and its outcome
//! turned into headline, place, why, what the function did, the live state,
//! steps, commands and links, each untrusted value already clipped to the
//! budget. The chat, plain-text and attribute renderings only lay it out.

use std::borrow::Cow;

use crate::catalog::notices::{self, Notice};
use crate::catalog::{Entry, Severity};
use crate::decide::{ADDON_NAME, NoAction, Outcome, Plan, Subject, format_time, parse_time};
use crate::event::{CoverageEvent, Resource, Transition};
use crate::facts::{Fact, Facts};
use crate::follow_up::recovered_after;
use crate::ids::UpdateId;
use crate::text::{clip, is_region, printable_ascii};

use super::{Budget, CommandContext, FilledCommand, fill_commands};
use crate::commands::{describe_update_command, list_updates_command};

/// Everything both renderings share, already clipped.
pub(crate) struct View {
    pub(crate) severity: Severity,
    pub(crate) headline: Cow<'static, str>,
    pub(crate) subject_tail: &'static str,
    pub(crate) emoji: &'static str,
    pub(crate) cluster: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) issue_raw: Option<String>,
    pub(crate) addon_code: Option<String>,
    pub(crate) entry: Option<&'static Entry>,
    pub(crate) why: Cow<'static, str>,
    pub(crate) did: String,
    pub(crate) did_command: Option<String>,
    /// Approve mode's offer: the approval invocation from a terminal (the
    /// plain-text alert prints it; in chat the button does it).
    pub(crate) approve_command: Option<String>,
    pub(crate) facts: Vec<String>,
    pub(crate) steps: Vec<&'static str>,
    pub(crate) commands: Vec<FilledCommand>,
    pub(crate) links: Vec<(&'static str, &'static str)>,
    pub(crate) raw_event: Option<String>,
    pub(crate) extra_details: Vec<(String, String)>,
    /// The OVERWRITE a recovery followed: its update id and the minutes since.
    pub(crate) recovery: Option<(String, i64)>,
    /// Who changed the conflicting objects last (the audit log), as short
    /// lines: untrusted, rendered as code. Filled by `describe_who_changed`.
    pub(crate) who_changed: Vec<String>,
}

impl View {
    /// The fixed texts of an alert that has no catalog row.
    fn apply_notice(&mut self, notice: &'static Notice) {
        self.severity = notice.severity;
        self.emoji = notice.emoji;
        self.headline = Cow::Borrowed(notice.title);
        self.subject_tail = notice.subject_tail;
        self.why = Cow::Borrowed(notice.why);
        self.steps = notice.steps.to_vec();
        self.links = notice.links.iter().map(|l| (l.title, l.url)).collect();
    }
}

/// The terminal's approval command for an offered token.
fn approve_command(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Skipped {
            reason:
                crate::decide::SkipReason::ApprovalOffered {
                    token, function, ..
                },
            ..
        } => {
            let region = crate::ids::FunctionIdentity::from_arn(function)
                .map(|f| f.region.to_string())
                .unwrap_or_else(|_| "\"$AWS_REGION\"".to_owned());
            Some(crate::approval::cli_command(function, &region, token))
        }
        _ => None,
    }
}

pub(crate) fn build_view(plan: &Plan, outcome: &Outcome, budget: Budget) -> View {
    let event = &plan.event;
    let envelope = &event.envelope;
    let cluster = event.cluster_name().map(|c| clip(c, budget.name));
    let account = event.resource_account().map(|a| clip(a, budget.name));
    let region = envelope.region.as_deref().map(|r| clip(r, budget.name));
    let (mut did, did_command) = describe_outcome(
        outcome,
        envelope.region.as_deref().filter(|r| is_region(r)),
        budget,
    );
    // In approve mode a call is only ever made on a verified approval.
    if plan.mode == crate::policy::RemediationMode::Approve && outcome.update_id().is_some() {
        did = format!("Approved in chat (or from the CLI) and re-checked: {did}");
    }
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
        approve_command: approve_command(outcome),
        facts: describe_facts(event, &plan.facts, budget),
        steps: Vec::new(),
        commands: Vec::new(),
        links: Vec::new(),
        raw_event: None,
        extra_details: Vec::new(),
        recovery: None,
        who_changed: describe_who_changed(plan, budget),
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
            view.apply_notice(&notices::RECOVERED);
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
        }
        Subject::OutOfScope { resource_type } => {
            let notice = &notices::OUT_OF_SCOPE;
            view.apply_notice(notice);
            let transition = if envelope.transition == Transition::Healthy {
                "restored"
            } else {
                "lost"
            };
            let resource = if resource_type.is_empty() {
                "non-EKS".to_owned()
            } else {
                printable_ascii(&clip(resource_type, 32))
            };
            view.headline = Cow::Owned(
                notice
                    .title
                    .replace("{transition}", transition)
                    .replace("{resource}", &resource),
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
        }
        Subject::Unreadable { error, raw_event } => {
            let notice = &notices::UNREADABLE;
            view.apply_notice(notice);
            view.why = Cow::Owned(notice.why.replace("{error}", &clip(error, budget.fact)));
            view.raw_event = Some(clip(raw_event, budget.raw_event));
        }
    }
    view
}

/// Who changed it: the last writers of the conflicting objects, from the
/// cluster's audit log (`audit::describe_plan`), or why they could not be
/// checked. The chat alert shows these lines right after what broke, the
/// plain text after the issue. When every AWS read failed the same way (no
/// credentials), the audit log's failure is that one too: it is said once,
/// in the live state.
fn describe_who_changed(plan: &Plan, budget: Budget) -> Vec<String> {
    let lines = crate::audit::describe_plan(plan);
    match every_read_failed_alike(&plan.facts, budget) {
        Some((_, cause)) if lines.iter().any(|l| l.contains(&cause)) => vec![
            "Last writer: could not be checked: every AWS read failed the same way (live state)"
                .to_owned(),
        ],
        _ => lines,
    }
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

/// When every read that was made failed, and for the same reason (no
/// credentials, no route to AWS), that reason once instead of once per read.
/// The live-state line and the shared cause.
fn every_read_failed_alike(facts: &Facts, budget: Budget) -> Option<(String, String)> {
    fn why<T>(fact: &Fact<T>) -> Option<Option<&str>> {
        match fact {
            Fact::NotGathered => None,
            Fact::Known(_) => Some(None),
            Fact::Unavailable(why) => Some(Some(why.as_str())),
        }
    }
    let reads = [
        ("add-on", why(&facts.addon)),
        ("update history", why(&facts.update_history)),
        ("GuardDuty coverage", why(&facts.coverage)),
        ("coverage statistics", why(&facts.statistics)),
        ("GuardDuty detector", why(&facts.detector_id)),
    ];
    let made: Vec<(&str, Option<&str>)> = reads
        .into_iter()
        .filter_map(|(name, why)| why.map(|why| (name, why)))
        .collect();
    // The shell words each failure "<Operation> failed: <cause>" (a
    // coverage read without a detector: "no GuardDuty detector: ...").
    let cause = |why: &str| -> String {
        why.split_once(" failed: ")
            .map_or(why, |(_, cause)| cause)
            .to_owned()
    };
    let mut causes = made.iter().map(|(_, why)| why.map(cause));
    let first = causes.next()??;
    if made.len() < 2 || !causes.all(|c| c.as_deref() == Some(first.as_str())) {
        return None;
    }
    let names: Vec<&str> = made.iter().map(|(name, _)| *name).collect();
    let line = format!(
        "Every AWS read failed the same way ({}): {}",
        names.join(", "),
        clip(&first, budget.fact)
    );
    Some((line, first))
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
    if let Some((line, _)) = every_read_failed_alike(facts, budget) {
        lines.push(line);
        return lines;
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
