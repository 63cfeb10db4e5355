//! Rendering a plan and its outcome into the alert. This module owns the
//! public API (the rendered `Alert` and `Message`, the `Summary`, the
//! command filling) and the size budget that keeps the whole message within
//! SNS's 256 KiB whatever the input; each output lives in its own file:
//! `view` (what every rendering shares), `chat` (the Amazon Q Developer in
//! chat applications custom notification), `plain` (plain text for email
//! and terminals) and `attributes` (the SNS subject and message attributes).
//! Every string from the event or from AWS is untrusted: it is clipped,
//! stripped of control characters, and rendered only inside inert code spans
//! or blocks.

mod attributes;
mod chat;
pub mod digest;
mod plain;
mod view;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::notices;
use crate::decide::{Outcome, Plan, Subject};
use crate::text::clip;

pub(crate) use chat::{Description, Notification, thread_id_for};
pub use chat::{MAX_DESCRIPTION, MAX_KEYWORD, MAX_NEXT_STEP, MAX_TITLE};

use attributes::{attributes, subject};
use chat::chat_message;
use plain::plain_text;
use view::build_view;

/// SNS's limit on a message, attributes and subject included.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS subjects must be shorter than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// SNS allows at most 10 message attributes.
pub const MAX_ATTRIBUTES: usize = 10;

/// How much of each untrusted string is kept. Halved on each retry when a
/// message would still not fit, which the first budget already guarantees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) name: usize,
    pub(crate) issue: usize,
    pub(crate) fact: usize,
    pub(crate) raw_event: usize,
}

const BUDGET: Budget = Budget {
    name: 256,
    issue: 8 * 1024,
    fact: 2 * 1024,
    raw_event: 32 * 1024,
};

/// The rendered alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub subject: String,
    /// The chat-notification JSON (pretty-printed so it also reads in email).
    pub chat_message: String,
    /// The same alert as plain text.
    pub text_message: String,
    pub attributes: BTreeMap<&'static str, String>,
}

impl Alert {
    /// Bytes SNS counts for a publish with this body.
    pub fn publish_size(&self, body: &str) -> usize {
        publish_size(&self.subject, body, &self.attributes)
    }
}

/// What SNS counts against its limit: body, subject, and each attribute's
/// name, value and data type.
pub(crate) fn publish_size(
    subject: &str,
    body: &str,
    attributes: &BTreeMap<&'static str, String>,
) -> usize {
    body.len()
        + subject.len()
        + attributes
            .iter()
            .map(|(k, v)| k.len() + v.len() + "String".len())
            .sum::<usize>()
}

/// Which rendering is the message body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageFormat {
    /// Amazon Q Developer in chat applications custom-notification JSON.
    #[default]
    Chat,
    /// Plain text, for topics with only email subscribers.
    Text,
}

/// One message as it is published: subject, one body, attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<&'static str, String>,
}

impl Message {
    /// Bytes SNS counts for this publish.
    pub fn publish_size(&self) -> usize {
        publish_size(&self.subject, &self.body, &self.attributes)
    }
}

/// The Lambda's return value and the CLI's summary line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub event_id: String,
    pub issue_id: String,
    pub cluster: Option<String>,
    pub action: &'static str,
    pub outcome: String,
    pub update_id: Option<String>,
    /// After a started OVERWRITE: whether its follow-up was scheduled
    /// (`scheduled`, `already-scheduled`, `not-configured`, `schedule-failed`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<&'static str>,
    /// The SNS message id, or "stdout" when no topic is configured.
    pub message_id: String,
}

pub fn summary(plan: &Plan, outcome: &Outcome, message_id: &str) -> Summary {
    Summary {
        event_id: clip(&plan.event.envelope.id, BUDGET.name),
        issue_id: issue_id(plan).to_owned(),
        cluster: plan.event.cluster_name().map(|c| clip(c, BUDGET.name)),
        action: outcome.action_label(),
        outcome: outcome.label(),
        update_id: outcome.update_id().map(str::to_owned),
        follow_up: outcome.follow_up().map(|f| f.label()),
        message_id: message_id.to_owned(),
    }
}

/// The catalog id, or a pseudo-id for events that have none.
pub fn issue_id(plan: &Plan) -> &'static str {
    match &plan.subject {
        Subject::CoverageLost { entry, .. } => entry.id,
        Subject::CoverageRestored => notices::RECOVERED.id,
        Subject::OutOfScope { .. } => notices::OUT_OF_SCOPE.id,
        Subject::Unreadable { .. } => notices::UNREADABLE.id,
    }
}

/// Render the alert for a plan and what came of it.
/// Render both bodies (the CLI shows both; tests check both).
pub fn render(plan: &Plan, outcome: &Outcome) -> Alert {
    within_budget(|budget| {
        let view = build_view(plan, outcome, budget);
        let alert = Alert {
            subject: subject(plan, &view, budget),
            chat_message: chat_message(plan, outcome, &view, budget),
            text_message: plain_text(plan, &view),
            attributes: attributes(plan, outcome, &view, budget),
        };
        let size = alert
            .publish_size(&alert.chat_message)
            .max(alert.publish_size(&alert.text_message));
        (alert, size)
    })
}

/// Render only the body that is published: what the Lambda does per event.
pub fn render_message(plan: &Plan, outcome: &Outcome, format: MessageFormat) -> Message {
    within_budget(|budget| {
        let view = build_view(plan, outcome, budget);
        let message = Message {
            subject: subject(plan, &view, budget),
            body: match format {
                MessageFormat::Chat => chat_message(plan, outcome, &view, budget),
                MessageFormat::Text => plain_text(plan, &view),
            },
            attributes: attributes(plan, outcome, &view, budget),
        };
        let size = message.publish_size();
        (message, size)
    })
}

/// Render with the full budget; in the rare case the result would not fit in
/// SNS, again with every untrusted string's share halved.
fn within_budget<T>(render: impl Fn(Budget) -> (T, usize)) -> T {
    let mut budget = BUDGET;
    loop {
        let (rendered, size) = render(budget);
        if size <= MAX_MESSAGE_BYTES || budget.name <= 16 {
            return rendered;
        }
        budget = Budget {
            name: budget.name / 2,
            issue: budget.issue / 2,
            fact: budget.fact / 2,
            raw_event: budget.raw_event / 2,
        };
    }
}

// The commands (context, filling, quoting) live in `crate::commands`;
// re-exported here, where the renderings and the CLI have always found them.
pub use crate::commands::{CommandContext, FilledCommand, fill_commands};
