//! The SNS subject (printable ASCII, under 100 characters) and the SNS
//! message attributes (at most ten, never empty) that subscription filter
//! policies match on. Untrusted parts (cluster, region, event id, resource
//! type) are inert ASCII there too: no `<!channel>`, `@here` or link syntax
//! survives in a subject an email client or a forwarder might render.

use std::collections::BTreeMap;

use crate::decide::{Outcome, Plan, Subject};
use crate::event::Resource;
use crate::text::{ascii_ellipsis, clip, inert_ascii, printable_ascii};

use super::view::View;
use super::{Budget, MAX_ATTRIBUTES, MAX_SUBJECT_CHARS, issue_id};

pub(crate) fn subject(plan: &Plan, view: &View, budget: Budget) -> String {
    let badge = match plan.subject {
        Subject::CoverageRestored => "RESOLVED".to_owned(),
        _ => view.severity.as_str().to_ascii_uppercase(),
    };
    let inert = |text: &str, max: usize| inert_ascii(&clip(text, max * 4), max);
    let place = match (&view.cluster, &view.region) {
        (Some(cluster), Some(region)) => {
            format!(" on {} ({})", inert(cluster, 60), inert(region, 20))
        }
        (Some(cluster), None) => format!(" on {}", inert(cluster, 60)),
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
            inert(&plan.event.envelope.id, budget.name.min(64))
        ),
    };
    let cleaned = printable_ascii(&text);
    if cleaned.is_empty() {
        "GuardDuty coverage alert".to_owned()
    } else {
        ascii_ellipsis(&cleaned, MAX_SUBJECT_CHARS)
    }
}

pub(crate) fn attributes(
    plan: &Plan,
    outcome: &Outcome,
    view: &View,
    budget: Budget,
) -> BTreeMap<&'static str, String> {
    // SNS rejects empty attribute values.
    let value = |text: Option<&str>| {
        let cleaned = inert_ascii(text.unwrap_or(""), budget.name);
        if cleaned.is_empty() {
            "unknown".to_owned()
        } else {
            cleaned
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
