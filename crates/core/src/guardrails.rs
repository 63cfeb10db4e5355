//! May we act? The one check that guards the OVERWRITE, used twice: before
//! any read, to say which facts the decision depends on (`reads_needed`), and
//! after them, to decide (`check`). It allows the write only on positive
//! evidence: a fact that was not read, a status this code does not know or a
//! value that does not parse is a reason not to act, each with its own
//! `SkipReason`. The first unmet condition is the reason.

use crate::audit::{Actor, AuditTrail, ControllerName, last_change, one_line};
use crate::catalog::{Actionability, Entry};
use crate::decide::{Evidence, SkipReason, Subject, parse_time};
use crate::event::CoverageEvent;
use crate::facts::{
    AddonState, AddonStatus, CoverageStatus, Fact, FactRequest, Facts, UpdateRecord, UpdateStatus,
};
use crate::ids::{AccountId, ClusterName, EventId, FunctionIdentity, Region};
use crate::issue::{AddonIssueCode, Issue};
use crate::policy::{ClusterExclusion, Policy, RemediationMode};

/// The only source whose events may lead to a write.
pub const TRUSTED_SOURCE: &str = "aws.guardduty";

/// The add-on states from which an OVERWRITE is meaningful: the two a
/// configuration conflict leaves behind. `UPDATE_FAILED`: an update (often
/// GuardDuty's own, on a new agent version) stopped at the conflict.
/// `DEGRADED`: the add-on runs but EKS reports it unhealthy, with the
/// conflict among its health issues. Not `ACTIVE` (nothing to repair), not
/// `CREATE_FAILED` (an add-on that never existed needs creating, not
/// updating), not `DELETE_FAILED` (someone is removing it), and not the
/// transitional states (another change is under way).
pub const OVERWRITE_STATUSES: [AddonStatus; 2] = [AddonStatus::Degraded, AddonStatus::UpdateFailed];

/// Whether the catalog allows automation for this issue at all. The catalog
/// row must say so **and**, independently of the catalog's data, the issue
/// must be an add-on failure carrying the `ConfigurationConflict` code.
pub fn is_automatable(entry: &Entry, issue: &Issue) -> bool {
    entry.actionability == Actionability::AutomaticOverwrite
        && issue.issue_type.is_addon_failure()
        && issue.addon_code() == Some(&AddonIssueCode::ConfigurationConflict)
}

/// What the check established: the values the write is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearance<'f> {
    pub cluster: ClusterName,
    pub event_id: EventId,
    /// `None` only where the add-on was not read (a dry-run or the planning pass).
    pub addon: Option<&'f AddonState>,
}

/// The result of the check and the evidence it could not look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'f> {
    pub result: Result<Clearance<'f>, SkipReason>,
    /// Facts that were not gathered (or, in a dry-run's decision, could not
    /// be read), in the order the check needed them. In `enforce` the first
    /// of them is already the skip reason, except the soft audit log, which
    /// is listed without stopping the write.
    pub unchecked: Vec<Evidence>,
}

/// Which pass the check runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Before any read: a fact not yet gathered is noted as needed.
    Plan,
    /// After the reads: a fact not gathered or not readable is a reason not
    /// to act, except in a dry-run, which reports it as unchecked and goes on.
    Decide,
}

/// The OVERWRITE check for an event whose issue `is_automatable`.
pub fn check<'f>(event: &CoverageEvent, policy: &Policy, facts: &'f Facts) -> Verdict<'f> {
    run(event, policy, facts, Pass::Decide)
}

/// The reads worth making for an event, given where the function runs:
/// those the alert shows (live coverage and statistics for any EKS cluster,
/// the add-on where this function can read it, and for a recovery the
/// update history, which names the OVERWRITE it followed) and those the
/// check depends on.
pub fn reads_needed(
    event: &CoverageEvent,
    subject: &Subject,
    policy: &Policy,
    function: &Fact<FunctionIdentity>,
) -> FactRequest {
    let about_eks = matches!(
        subject,
        Subject::CoverageLost { .. } | Subject::CoverageRestored
    );
    if !about_eks || cluster_name(event).is_err() {
        return FactRequest::default();
    }
    let readable_here = function
        .known()
        .is_some_and(|function| check_location(event, function).is_ok());
    let mut request = FactRequest {
        addon: readable_here,
        // A recovery notice names the OVERWRITE it followed, from the history.
        update_history: readable_here && matches!(subject, Subject::CoverageRestored),
        coverage: true,
        statistics: true,
        // The alert says who changed the cluster where a change in it is the cause.
        audit_log: readable_here
            && matches!(subject, Subject::CoverageLost { entry, .. } if crate::audit::wanted(entry)),
    };
    if let Subject::CoverageLost { entry, issue } = subject
        && is_automatable(entry, issue)
    {
        let planning = Facts {
            function: function.clone(),
            ..Facts::default()
        };
        for evidence in run(event, policy, &planning, Pass::Plan).unchecked {
            match evidence {
                Evidence::UpdateHistory => request.update_history = true,
                Evidence::Addon => request.addon = true,
                Evidence::Coverage => request.coverage = true,
                Evidence::AuditLog => request.audit_log = true,
                Evidence::FunctionIdentity => {}
            }
        }
    }
    request
}

/// The event's cluster name, parsed.
pub fn cluster_name(event: &CoverageEvent) -> Result<ClusterName, SkipReason> {
    let name = event.cluster_name().unwrap_or_default();
    ClusterName::parse(name).map_err(|_| SkipReason::InvalidClusterName {
        cluster: crate::text::clip(name, 128),
    })
}

/// The event's cluster, account and region against where this function runs.
pub fn check_location(
    event: &CoverageEvent,
    function: &FunctionIdentity,
) -> Result<(), SkipReason> {
    let resource_account = event
        .resource_account()
        .and_then(|a| AccountId::parse(a).ok())
        .ok_or(SkipReason::AccountUnknown)?;
    if resource_account != function.account {
        return Err(SkipReason::OtherAccount {
            resource_account: resource_account.to_string(),
            function_account: function.account.to_string(),
        });
    }
    let region = event
        .envelope
        .region
        .as_deref()
        .and_then(|r| Region::parse(r).ok())
        .ok_or(SkipReason::RegionUnknown)?;
    if region != function.region {
        return Err(SkipReason::OtherRegion {
            event_region: region.to_string(),
            function_region: function.region.to_string(),
        });
    }
    Ok(())
}

/// The cluster's account, which the event must name validly; and where it
/// names two, the cluster's owner and the one whose bus delivered it, they
/// must agree (they differ on a GuardDuty administrator's copy of a member's
/// event, which is never acted on from here).
fn check_accounts(event: &CoverageEvent) -> Result<AccountId, SkipReason> {
    let owner = event
        .resource_account()
        .and_then(|a| AccountId::parse(a).ok())
        .ok_or(SkipReason::AccountUnknown)?;
    match event.envelope.account.as_deref() {
        Some(delivering) if owner != *delivering => Err(SkipReason::MemberAccount {
            resource_account: owner.to_string(),
            delivering_account: crate::text::clip(delivering, 64),
        }),
        _ => Ok(owner),
    }
}

/// How a fact the check does not have is taken.
#[derive(Debug, Clone, Copy)]
struct Leniency {
    /// Not gathered: noted as unchecked (planning, dry-run).
    not_gathered: bool,
    /// Gathered but unreadable: noted as unchecked too (a dry-run's
    /// decision, which never writes and so states "dry-run" as its reason,
    /// the read's failure shown with the live state).
    unreadable: bool,
}

/// A fact the check depends on: known, or why not, or (planning, dry-run)
/// noted as unchecked with `Ok(None)`.
fn evidence<'f, T>(
    fact: &'f Fact<T>,
    what: Evidence,
    lenient: Leniency,
    unchecked: &mut Vec<Evidence>,
    unreadable: impl FnOnce(String) -> SkipReason,
) -> Result<Option<&'f T>, SkipReason> {
    match fact {
        Fact::Known(value) => Ok(Some(value)),
        Fact::Unavailable(_) if lenient.unreadable => {
            unchecked.push(what);
            Ok(None)
        }
        Fact::Unavailable(why) => Err(unreadable(why.clone())),
        Fact::NotGathered if lenient.not_gathered => {
            unchecked.push(what);
            Ok(None)
        }
        Fact::NotGathered => Err(unreadable("it was not read".to_owned())),
    }
}

fn run<'f>(event: &CoverageEvent, policy: &Policy, facts: &'f Facts, pass: Pass) -> Verdict<'f> {
    let mut unchecked = Vec::new();
    let result = guard(event, policy, facts, pass, &mut unchecked);
    Verdict { result, unchecked }
}

/// The guardrails in order.
fn guard<'f>(
    event: &CoverageEvent,
    policy: &Policy,
    facts: &'f Facts,
    pass: Pass,
    unchecked: &mut Vec<Evidence>,
) -> Result<Clearance<'f>, SkipReason> {
    if policy.mode == RemediationMode::Off {
        return Err(SkipReason::ModeOff);
    }
    // A fact not gathered stops the write, except while planning (it is then
    // what to read) and in a dry-run (which reports it and goes on); so does
    // one that could not be read, except in a dry-run's decision.
    let lenient = Leniency {
        not_gathered: pass == Pass::Plan || policy.mode == RemediationMode::DryRun,
        unreadable: pass == Pass::Decide && policy.mode == RemediationMode::DryRun,
    };

    // What the event itself says.
    if event.envelope.source != TRUSTED_SOURCE {
        return Err(SkipReason::UntrustedSource {
            source: crate::text::clip(&event.envelope.source, 128),
        });
    }
    let event_id = EventId::parse(&event.envelope.id).map_err(|_| SkipReason::InvalidEventId {
        id: crate::text::clip(&event.envelope.id, 128),
    })?;
    let event_time = event
        .envelope
        .time
        .as_deref()
        .and_then(parse_time)
        .ok_or_else(|| SkipReason::EventTimeUnreadable {
            time: event
                .envelope
                .time
                .as_deref()
                .map(|t| crate::text::clip(t, 64)),
        })?;
    let cluster = cluster_name(event)?;
    check_accounts(event)?;

    // Where the function runs: it writes only in its own account and region.
    let function = evidence(
        &facts.function,
        Evidence::FunctionIdentity,
        lenient,
        unchecked,
        |why| SkipReason::FunctionUnverified { why },
    )?;
    if let Some(function) = function {
        check_location(event, function)?;
    }

    // What the operator allows.
    match policy.clusters.check(cluster.as_str()) {
        Ok(()) => {}
        Err(ClusterExclusion::Denied { pattern }) => {
            return Err(SkipReason::ClusterExcluded { pattern });
        }
        Err(ClusterExclusion::NotAllowed) => {
            return Err(SkipReason::ClusterNotAllowed {
                cluster: cluster.to_string(),
            });
        }
    }

    // The add-on's update history: nothing running, nothing since the event.
    let history = evidence(
        &facts.update_history,
        Evidence::UpdateHistory,
        lenient,
        unchecked,
        |why| SkipReason::HistoryUnreadable { why },
    )?;
    if let Some(history) = history {
        check_history(history, event_time)?;
    }

    // The add-on as EKS reports it now.
    let addon = evidence(&facts.addon, Evidence::Addon, lenient, unchecked, |why| {
        SkipReason::AddonUnreadable { why }
    })?;
    if let Some(addon) = addon {
        check_addon(addon)?;
    }

    // GuardDuty's live coverage of this very cluster.
    let coverage = evidence(
        &facts.coverage,
        Evidence::Coverage,
        lenient,
        unchecked,
        |why| SkipReason::CoverageUnreadable { why },
    )?;
    if let Some(coverage) = coverage {
        let about_this_cluster = coverage.cluster_name.as_deref() == Some(cluster.as_str())
            && coverage.account_id.is_some()
            && coverage.account_id.as_deref() == event.resource_account();
        if !about_this_cluster {
            return Err(SkipReason::CoverageMismatch {
                cluster: coverage
                    .cluster_name
                    .as_deref()
                    .map(|c| crate::text::clip(c, 128)),
                account: coverage
                    .account_id
                    .as_deref()
                    .map(|a| crate::text::clip(a, 64)),
            });
        }
        match &coverage.coverage_status {
            Some(CoverageStatus::Unhealthy) => {}
            Some(CoverageStatus::Healthy) => return Err(SkipReason::AlreadyHealthy),
            Some(CoverageStatus::Unknown(status)) => {
                return Err(SkipReason::CoverageStatusUnknown {
                    status: Some(status.clone()),
                });
            }
            None => return Err(SkipReason::CoverageStatusUnknown { status: None }),
        }
    }

    // Who changed it last: a reconciling controller would re-apply its
    // version and the two would fight. Soft evidence: a log that could not be
    // read does not stop the write (the alert says the writer is unchecked).
    match &facts.audit_log {
        Fact::Known(trail) => check_last_writer(trail, &policy.audit.controllers)?,
        Fact::Unavailable(_) => {}
        Fact::NotGathered => unchecked.push(Evidence::AuditLog),
    }

    // The bound: a conflict that keeps coming back needs a person.
    if let Some(history) = history {
        let window = i64::try_from(policy.bound.window_seconds).unwrap_or(i64::MAX);
        let in_window = |created: Option<i64>| match (created, facts.now) {
            (Some(created), Some(now)) => now.saturating_sub(created) < window,
            // Without a date, count it: the bound errs on the side of not writing.
            _ => true,
        };
        let count = history
            .iter()
            .filter(|u| u.is_overwrite() && in_window(u.created_at))
            .count();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if count >= policy.bound.max_updates {
            return Err(SkipReason::BoundReached {
                count,
                max: policy.bound.max_updates,
                window_seconds: policy.bound.window_seconds,
            });
        }
    }

    Ok(Clearance {
        cluster,
        event_id,
        addon,
    })
}

/// The most recent change that took effect did not come from a reconciling controller.
fn check_last_writer(trail: &AuditTrail, controllers: &[ControllerName]) -> Result<(), SkipReason> {
    match last_change(trail) {
        Some(change) => match change.actor(controllers) {
            Actor::Controller(controller) => Err(SkipReason::ChangedByController {
                controller: one_line(&controller),
                user: one_line(change.user.as_deref().unwrap_or("unnamed")),
                object: one_line(&change.object()),
                at: change.at,
            }),
            _ => Ok(()),
        },
        None => Ok(()),
    }
}

/// No update whose start or status is unknown, none in progress, and none
/// started at or after the event (an OVERWRITE then means this event was
/// already handled; any other update means the event is stale).
fn check_history(history: &[UpdateRecord], event_time: i64) -> Result<(), SkipReason> {
    if let Some(undated) = history.iter().find(|u| u.created_at.is_none()) {
        return Err(SkipReason::UpdateTimeUnknown {
            update_id: crate::text::clip(&undated.id, 128),
        });
    }
    let since_event = |u: &&UpdateRecord| u.created_at.is_some_and(|t| t >= event_time);
    if let Some(done) = history
        .iter()
        .filter(since_event)
        .find(|u| u.is_overwrite())
    {
        return Err(SkipReason::AlreadyRemediated {
            update_id: crate::text::clip(&done.id, 128),
            status: done.status.as_str().to_owned(),
        });
    }
    if let Some(running) = history
        .iter()
        .find(|u| u.status == UpdateStatus::InProgress)
    {
        return Err(SkipReason::UpdateInFlight {
            update_id: crate::text::clip(&running.id, 128),
        });
    }
    if let Some(unknown) = history.iter().find(|u| !u.status.is_final()) {
        return Err(SkipReason::UpdateStatusUnknown {
            update_id: crate::text::clip(&unknown.id, 128),
            status: unknown.status.as_str().to_owned(),
        });
    }
    if let Some(changed) = history.iter().find(since_event) {
        return Err(SkipReason::ChangedSinceEvent {
            update_id: crate::text::clip(&changed.id, 128),
        });
    }
    Ok(())
}

/// A status from which OVERWRITE makes sense, a version to keep, and EKS's
/// own word that there is a configuration conflict.
fn check_addon(addon: &AddonState) -> Result<(), SkipReason> {
    let status = &addon.status;
    if status.is_transitional() {
        return Err(SkipReason::AddonBusy {
            status: status.as_str().to_owned(),
        });
    }
    if let AddonStatus::Unknown(status) = status {
        return Err(SkipReason::AddonStatusUnknown {
            status: status.clone(),
        });
    }
    if !OVERWRITE_STATUSES.contains(status) {
        return Err(SkipReason::AddonStatusNotEligible {
            status: status.as_str().to_owned(),
        });
    }
    if addon.version.as_deref().is_none_or(str::is_empty) {
        return Err(SkipReason::AddonUnreadable {
            why: "DescribeAddon returned no addonVersion".to_owned(),
        });
    }
    if !addon.reports_conflict() {
        return Err(SkipReason::NoConflictReported {
            codes: addon
                .health_issues
                .iter()
                .take(5)
                .map(|i| crate::text::clip(&i.code, 64))
                .collect(),
        });
    }
    Ok(())
}
