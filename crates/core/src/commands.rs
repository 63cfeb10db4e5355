//! The shell commands the alerts print, filled in so that each runs as
//! pasted: the catalog's templates with the cluster, region, account and VPC
//! filled in, the OVERWRITE call, and the shell quoting they share.
//!
//! Only well-formed identifiers are pasted as they are. A value the alert
//! does not know becomes a shell variable, and the command starts with the
//! line that sets it: a read (`DETECTOR_ID=$(aws guardduty list-detectors
//! ...)`, `VERSION=$(aws eks describe-addon ...)`) where AWS can say, or a
//! `${NAME:?...}` check that stops with a sentence where only the person
//! pasting knows. No `<placeholder>` is ever left for the shell to send.
//! Values from AWS (the add-on's version and configuration values) are
//! quoted, never trusted to be words.

use serde::Serialize;

use crate::catalog::{CommandKind, Entry};
use crate::decide::ADDON_NAME;
use crate::event::CoverageEvent;
use crate::facts::AddonState;
use crate::text::{
    find_owner_account_id, find_vpc_id, is_account_id, is_eks_cluster_name, is_region,
};

/// A value a command is filled with: known (a validated identifier), or a
/// shell variable set by a line the command starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Known(String),
    Variable(&'static str),
}

/// What the add-on looked like when it was read (DescribeAddon), for the
/// commands that must keep its version and configuration values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddonSettings {
    pub version: Option<String>,
    pub configuration_values: Option<String>,
}

impl AddonSettings {
    pub fn of(addon: &AddonState) -> Self {
        AddonSettings {
            version: addon.version.clone().filter(|v| !v.trim().is_empty()),
            configuration_values: addon.configuration_values.clone(),
        }
    }
}

/// The values commands are filled in with: only well-formed ones; anything
/// else becomes a shell variable, so nothing from the event can inject into
/// a shell.
#[derive(Debug, Clone)]
pub struct CommandContext {
    cluster: Value,
    region: Value,
    account: Value,
    vpc: Value,
    owner_account: Option<String>,
    /// `None`: the add-on was not read; its version and values are fetched.
    addon: Option<AddonSettings>,
}

impl CommandContext {
    /// From loose values (the event's); invalid ones become shell variables.
    pub fn new(
        cluster: Option<&str>,
        region: Option<&str>,
        account: Option<&str>,
        issue_text: &str,
    ) -> Self {
        let valid = |value: Option<&str>, check: fn(&str) -> bool, variable: &'static str| {
            value
                .filter(|v| check(v))
                .map_or(Value::Variable(variable), |v| Value::Known(v.to_owned()))
        };
        CommandContext {
            cluster: valid(cluster, is_eks_cluster_name, "CLUSTER"),
            region: valid(region, is_region, "AWS_REGION"),
            account: valid(account, is_account_id, "ACCOUNT_ID"),
            vpc: find_vpc_id(issue_text)
                .map_or(Value::Variable("VPC_ID"), |v| Value::Known(v.to_owned())),
            owner_account: find_owner_account_id(issue_text).map(str::to_owned),
            addon: None,
        }
    }

    /// From the event: its cluster, region and owner account.
    pub fn for_event(event: &CoverageEvent, issue_text: &str) -> Self {
        Self::new(
            event.cluster_name(),
            event.envelope.region.as_deref(),
            event.resource_account(),
            issue_text,
        )
    }

    /// The add-on as it was read: its version and values are then filled in.
    #[must_use]
    pub fn with_addon(mut self, addon: Option<&AddonState>) -> Self {
        self.addon = addon.map(AddonSettings::of);
        self
    }

    /// The add-on's settings given directly (the CLI's `commands` listing).
    #[must_use]
    pub fn with_addon_settings(mut self, addon: Option<AddonSettings>) -> Self {
        self.addon = addon;
        self
    }

    /// A template filled in for prose (purposes): unknown values are named
    /// in angle brackets, which no shell ever sees.
    pub fn fill(&self, template: &str) -> String {
        let prose = |value: &Value, placeholder: &str| match value {
            Value::Known(v) => v.clone(),
            Value::Variable(_) => placeholder.to_owned(),
        };
        let owner = self
            .owner_account
            .clone()
            .unwrap_or_else(|| "named in the message".to_owned());
        let pairs = [
            ("{cluster}", prose(&self.cluster, "<cluster-name>")),
            ("{region}", prose(&self.region, "<region>")),
            ("{account}", prose(&self.account, "<account-id>")),
            ("{vpc}", prose(&self.vpc, "<vpc-id>")),
            ("{owner_account}", owner),
        ];
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            match pairs.iter().find(|(name, _)| tail.starts_with(name)) {
                Some((name, value)) => {
                    out.push_str(value);
                    rest = &tail[name.len()..];
                }
                None => {
                    out.push('{');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// A shell template filled in: known values pasted, unknown ones as
    /// shell variables quoted for where they stand (inside `'...'` the quote
    /// is closed and reopened around `"$NAME"`), each set by a line the
    /// command then starts with. `{detector_id}`, `{addon_version}` and
    /// `{keep_addon_settings}` (`--addon-version ... [--configuration-values
    /// ...]`) are filled here too. Other braces (JSON, JMESPath) stay.
    pub fn fill_shell(&self, template: &str) -> String {
        let mut needed: Vec<&'static str> = Vec::new();
        let mut out = String::with_capacity(template.len() + 64);
        let mut quote = Quote::None;
        let mut rest = template;
        while let Some(c) = rest.chars().next() {
            if c == '{'
                && let Some((name, filled)) = self.placeholder(rest, quote, &mut needed)
            {
                out.push_str(&filled);
                rest = &rest[name.len()..];
                continue;
            }
            quote = quote.after(c);
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        // The lines that read a value name the cluster and region themselves.
        for read in ["ACCOUNT_ID", "VPC_ID", "DETECTOR_ID", "VERSION", "CONFIG"] {
            if needed.contains(&read) {
                if matches!(read, "VPC_ID" | "VERSION" | "CONFIG")
                    && let Value::Variable(name) = self.cluster
                {
                    need(&mut needed, name);
                }
                if let Value::Variable(name) = self.region {
                    need(&mut needed, name);
                }
            }
        }
        let mut lines = Vec::new();
        for variable in ORDER {
            if needed.contains(&variable) {
                lines.push(self.setter(variable));
            }
        }
        if lines.is_empty() {
            out
        } else {
            lines.push(out);
            lines.join("\n")
        }
    }

    /// The placeholder `rest` starts with, if any, and its filling.
    fn placeholder(
        &self,
        rest: &str,
        quote: Quote,
        needed: &mut Vec<&'static str>,
    ) -> Option<(&'static str, String)> {
        let mut use_value = |value: &Value| match value {
            Value::Known(v) => v.clone(),
            Value::Variable(name) => {
                need(needed, name);
                quote.variable(name)
            }
        };
        let simple = [
            ("{cluster}", &self.cluster),
            ("{region}", &self.region),
            ("{account}", &self.account),
            ("{vpc}", &self.vpc),
        ];
        if let Some((name, value)) = simple.into_iter().find(|(name, _)| rest.starts_with(name)) {
            return Some((name, use_value(value)));
        }
        if rest.starts_with("{detector_id}") {
            need(needed, "DETECTOR_ID");
            return Some(("{detector_id}", quote.variable("DETECTOR_ID")));
        }
        let version = self.addon.as_ref().and_then(|a| a.version.as_deref());
        if rest.starts_with("{addon_version}") {
            return Some((
                "{addon_version}",
                match version {
                    Some(version) => shell_quote(version),
                    None => {
                        need(needed, "VERSION");
                        quote.variable("VERSION")
                    }
                },
            ));
        }
        if rest.starts_with("{configuration_values_flag}") {
            return Some((
                "{configuration_values_flag}",
                self.configuration_values_flag(needed),
            ));
        }
        if rest.starts_with("{keep_addon_settings}") {
            let mut flags = String::from("--addon-version ");
            match version {
                Some(version) => flags.push_str(&shell_quote(version)),
                None => {
                    need(needed, "VERSION");
                    flags.push_str(&Quote::None.variable("VERSION"));
                }
            }
            flags.push_str(&self.configuration_values_flag(needed));
            return Some(("{keep_addon_settings}", flags));
        }
        None
    }

    /// ` --configuration-values ...` as read, nothing when the add-on has
    /// none, or the variable a line before the command fetches.
    fn configuration_values_flag(&self, needed: &mut Vec<&'static str>) -> String {
        match &self.addon {
            Some(AddonSettings {
                configuration_values: Some(values),
                ..
            }) => format!(" --configuration-values {}", shell_quote(values)),
            // Read, and none set: nothing to keep.
            Some(_) => String::new(),
            None => {
                need(needed, "CONFIG");
                format!(" --configuration-values {}", Quote::None.variable("CONFIG"))
            }
        }
    }

    /// The line that sets a variable the command uses.
    fn setter(&self, variable: &'static str) -> String {
        let value = |value: &Value| match value {
            Value::Known(v) => v.clone(),
            Value::Variable(name) => Quote::None.variable(name),
        };
        let (cluster, region) = (value(&self.cluster), value(&self.region));
        let describe_addon = format!(
            "aws eks describe-addon --cluster-name {cluster} --addon-name {ADDON_NAME} --region {region}"
        );
        match variable {
            "CLUSTER" => ": \"${CLUSTER:?set CLUSTER to the EKS cluster name}\"".to_owned(),
            "AWS_REGION" => {
                ": \"${AWS_REGION:?set AWS_REGION to the region of the cluster}\"".to_owned()
            }
            "ACCOUNT_ID" => format!(
                "ACCOUNT_ID=$(aws sts get-caller-identity --region {region} --query Account --output text)"
            ),
            "VPC_ID" => format!(
                "VPC_ID=$(aws eks describe-cluster --name {cluster} --region {region} --query cluster.resourcesVpcConfig.vpcId --output text)"
            ),
            "DETECTOR_ID" => format!(
                "DETECTOR_ID=$(aws guardduty list-detectors --region {region} --query 'DetectorIds[0]' --output text)"
            ),
            "VERSION" => {
                format!("VERSION=$({describe_addon} --query addon.addonVersion --output text)")
            }
            // No values set: `{}`, the add-on's defaults, which is what it has.
            _ => format!(
                "CONFIG=$({describe_addon} --query \"addon.configurationValues || '{{}}'\" --output text)"
            ),
        }
    }
}

/// The order in which the lines that set variables come: each may use the
/// ones before it.
const ORDER: [&str; 7] = [
    "CLUSTER",
    "AWS_REGION",
    "ACCOUNT_ID",
    "VPC_ID",
    "DETECTOR_ID",
    "VERSION",
    "CONFIG",
];

fn need(needed: &mut Vec<&'static str>, name: &'static str) {
    if !needed.contains(&name) {
        needed.push(name);
    }
}

/// Where in the shell's quoting a template character stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

impl Quote {
    fn after(self, c: char) -> Quote {
        match (self, c) {
            (Quote::None, '\'') => Quote::Single,
            (Quote::None, '"') => Quote::Double,
            (Quote::Single, '\'') | (Quote::Double, '"') => Quote::None,
            (state, _) => state,
        }
    }

    /// `$NAME` as one word, wherever it stands.
    fn variable(self, name: &str) -> String {
        match self {
            Quote::None => format!("\"${name}\""),
            Quote::Double => format!("${name}"),
            Quote::Single => format!("'\"${name}\"'"),
        }
    }
}

/// Quote for POSIX shells: words of safe characters as they are, anything
/// else in single quotes (`'` as `'\''`). Text with a line break or another
/// control character is ANSI-C quoted (`$'...'`, bash and zsh), so that the
/// command stays on one line and no renderer's indentation can change it.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '+' | '=' | ',')
        })
    {
        return text.to_owned();
    }
    // U+2028/U+2029 are not control characters but end a line for many
    // readers: escaped too, so no quoted value starts a line of an alert.
    let breaks_line = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(breaks_line) {
        return format!("'{}'", text.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\r' => out.push_str(r"\r"),
            '\u{2028}' => out.push_str(r"\u2028"),
            '\u{2029}' => out.push_str(r"\u2029"),
            c if c.is_control() => {
                let mut buffer = [0u8; 4];
                for byte in c.encode_utf8(&mut buffer).bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The OVERWRITE call as an AWS CLI command: the exact `UpdateAddon` with the
/// add-on's version and configuration values (`addon`: as read; `None`: not
/// read, so they are fetched first by the lines the command starts with).
pub fn overwrite_command(
    cluster: &str,
    region: &str,
    addon: Option<&AddonSettings>,
    client_request_token: Option<&str>,
) -> String {
    let context = CommandContext::new(Some(cluster), Some(region), None, "")
        .with_addon_settings(addon.cloned());
    // The token is an EventBridge event id (letters, digits, `-`): quoted
    // anyway, it cannot be read as a placeholder.
    let token = client_request_token
        .map(|t| format!(" --client-request-token {}", shell_quote(t)))
        .filter(|t| !t.contains('{'))
        .unwrap_or_default();
    context.fill_shell(&format!(
        "aws eks update-addon --cluster-name {{cluster}} --addon-name {ADDON_NAME} --region {{region}} --resolve-conflicts OVERWRITE --addon-version {{addon_version}}{token}{{configuration_values_flag}}"
    ))
}

/// A catalog command with its placeholders filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilledCommand {
    pub purpose: String,
    pub kind: CommandKind,
    pub command: String,
}

impl FilledCommand {
    /// The runbook's OVERWRITE retry: left out where the alert already
    /// shows the exact call, so that an alert shows one OVERWRITE command.
    pub fn is_overwrite(&self) -> bool {
        self.kind == CommandKind::Shell && self.command.contains("--resolve-conflicts OVERWRITE")
    }
}

pub fn fill_commands(entry: &Entry, context: &CommandContext) -> Vec<FilledCommand> {
    entry
        .commands
        .iter()
        .map(|c| FilledCommand {
            purpose: context.fill(c.purpose),
            kind: c.kind,
            command: match c.kind {
                CommandKind::Shell => context.fill_shell(c.template),
                // Not shell: pasted into the Logs Insights console.
                CommandKind::LogsInsights => context.fill(c.template),
            },
        })
        .collect()
}

/// Commands the alert states in its sentences about an update.
pub fn describe_update_command(cluster: &str, update_id: &str, region: &str) -> String {
    format!(
        "aws eks describe-update --name {cluster} --addon-name {ADDON_NAME} --update-id {update_id} --region {region}"
    )
}

pub fn list_updates_command(cluster: &str, region: &str) -> String {
    format!("aws eks list-updates --name {cluster} --addon-name {ADDON_NAME} --region {region}")
}
