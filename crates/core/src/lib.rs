//! The pure core of the GuardDuty coverage remediator: it decodes coverage
//! events, parses the issue string, classifies it against the remediation
//! catalog, decides what to do under the operator's policy, and renders the
//! alert. No I/O, no clock, no environment, no async: the Lambda and the CLI
//! drive its `Pipeline`, gathering the facts it asks for and executing the
//! one write it may plan, and its `FollowUp`, which follows a started
//! OVERWRITE to its end; this crate only thinks.

pub mod approval;
pub mod audit;
pub mod catalog;
pub mod commands;
pub mod decide;
pub mod event;
pub mod facts;
pub mod follow_up;
pub mod follow_up_render;
pub mod guardrails;
pub mod ids;
pub mod issue;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod render;
pub mod sweep;
pub mod text;

pub use catalog::{Actionability, Entry, Severity, classify};
pub use decide::{
    Decision, Evidence, Outcome, OverwriteRequest, Plan, SkipReason, Subject, decide,
};
pub use event::{CoverageEvent, DecodeError, Detail, Transition, decode_event, decode_event_bytes};
pub use facts::{Fact, FactRequest, Facts};
pub use follow_up::{
    FollowUp, FollowUpError, FollowUpNext, FollowUpSettings, FollowUpSummary, ScheduleRequest,
    ScheduleResult,
};
pub use ids::{
    AccountId, ClusterName, EventId, FunctionIdentity, Region, RequestId, RoleArn,
    ScheduleGroupName, ScheduleName, UpdateId,
};
pub use issue::{AddonIssueCode, Issue, IssueType};
pub use pipeline::{
    AuditRead, EMULATOR_INVOKED_FUNCTION_ARN, EMULATOR_STAND_IN_TIMEOUT_MS, Invocation, Limits,
    Next, Pipeline, Settings, StandIn, Undelivered, WriteResult,
};
pub use policy::{Policy, RemediationMode};
pub use render::{Alert, Message, MessageFormat, Summary, render, render_message, summary};
