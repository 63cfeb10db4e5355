//! The pure core of the GuardDuty coverage remediator: it decodes coverage
//! events, parses the issue string, classifies it against the remediation
//! catalog, decides what to do under the operator's policy, and renders the
//! alert. No I/O, no clock, no environment, no async: the Lambda and the CLI
//! gather facts and execute the plan; this crate only thinks.

pub mod catalog;
pub mod decide;
pub mod event;
pub mod facts;
pub mod issue;
pub mod policy;
pub mod render;
pub mod text;

pub use catalog::{Actionability, Entry, Severity, classify};
pub use decide::{Decision, Outcome, OverwriteRequest, Plan, SkipReason, Subject, decide};
pub use event::{CoverageEvent, DecodeError, Detail, Transition, decode_event, decode_event_bytes};
pub use facts::{Fact, FactRequest, Facts, facts_needed};
pub use issue::{AddonIssueCode, Issue, IssueType};
pub use policy::{Policy, RemediationMode};
pub use render::{Alert, Message, MessageFormat, Summary, render, render_message, summary};
