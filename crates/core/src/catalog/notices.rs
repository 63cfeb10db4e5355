//! The catalog's data for the alerts that have no catalog row: coverage
//! restored (a Healthy event), an event about a resource this function does
//! not handle (ECS, EC2), and a coverage event whose detail cannot be read.
//! Their headline, explanation, steps and links are data, kept here next to
//! the rows, so that changing an alert's words never touches the renderer.

use super::{Link, Severity};

/// The fixed text of one alert that is not a catalog row.
#[derive(Debug, Clone, Copy)]
pub struct Notice {
    /// The pseudo-id the alert carries as its issue id.
    pub id: &'static str,
    pub severity: Severity,
    pub emoji: &'static str,
    /// The headline; in the out-of-scope one the renderer fills
    /// `{transition}` (restored or lost) and `{resource}` (the resource type).
    pub title: &'static str,
    /// The tail of the SNS subject.
    pub subject_tail: &'static str,
    /// What it means; in the unreadable one the renderer fills `{error}`
    /// (the decoder's error, untrusted: clipped and rendered inert).
    pub why: &'static str,
    pub steps: &'static [&'static str],
    pub links: &'static [Link],
}

/// GuardDuty reports the cluster Healthy again.
pub const RECOVERED: Notice = Notice {
    id: "recovered",
    severity: Severity::Info,
    emoji: ":white_check_mark:",
    title: "GuardDuty runtime coverage restored",
    subject_tail: "recovered",
    why: "GuardDuty reports the cluster's runtime coverage as Healthy again: the agent is running and reporting.",
    steps: &[
        "No action needed.",
        "If an OVERWRITE was made for this cluster, review the direct change it reverted (earlier alert in this thread) so it is not re-applied.",
    ],
    links: &[Link {
        title: "GuardDuty: runtime coverage and troubleshooting for Amazon EKS clusters",
        url: "https://docs.aws.amazon.com/guardduty/latest/ug/eks-runtime-monitoring-coverage.html",
    }],
};

/// A coverage event about a resource other than an EKS cluster.
pub const OUT_OF_SCOPE: Notice = Notice {
    id: "out-of-scope",
    severity: Severity::Medium,
    emoji: ":warning:",
    title: "GuardDuty runtime coverage {transition} for a {resource} resource (not handled here)",
    subject_tail: "out of scope",
    why: "This function explains and remediates Amazon EKS clusters only. The event is forwarded so that the coverage change is not lost; the EventBridge rule should filter it out.",
    steps: &[
        "Troubleshoot with the GuardDuty ECS runtime coverage page.",
        "Restrict the EventBridge rule to detail.resourceDetails.resourceType EKS.",
    ],
    links: &[Link {
        title: "GuardDuty: runtime coverage and troubleshooting for Amazon ECS clusters",
        url: "https://docs.aws.amazon.com/guardduty/latest/ug/gdu-assess-coverage-ecs.html",
    }],
};

/// A GuardDuty coverage event whose detail cannot be decoded.
pub const UNREADABLE: Notice = Notice {
    id: "unreadable-event",
    severity: Severity::High,
    emoji: ":warning:",
    title: "Unreadable GuardDuty coverage event",
    subject_tail: "unreadable event",
    why: "The event is a GuardDuty coverage event, but its detail could not be read: {error}. The raw event is attached so that nothing is lost.",
    steps: &[
        "Read the raw event below for the cluster and the issue.",
        "If GuardDuty changed its event schema, update the decoder (crates/core/src/event.rs).",
    ],
    links: &[Link {
        title: "GuardDuty: coverage status EventBridge schema",
        url: "https://docs.aws.amazon.com/guardduty/latest/ug/eks-runtime-monitoring-coverage.html#coverage-status-eventbridge-schema",
    }],
};
