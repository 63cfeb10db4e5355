//! The operator's rules for the automatic OVERWRITE: the mode, which clusters
//! it may touch, and how often. Parsed from text (environment variables in the
//! Lambda, flags in the CLI) with errors that name the bad value.

use serde::Serialize;

use crate::ids::{AccountId, RoleName};

/// Whether the OVERWRITE retry runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemediationMode {
    /// Never plan nor call.
    Off,
    /// Evaluate every guardrail and report the exact call, but never make it.
    #[default]
    DryRun,
    /// Make the call when every guardrail holds.
    Enforce,
    /// When every guardrail holds, ask in chat with a signed token; make the
    /// call only when it is approved and every guardrail holds again.
    Approve,
}

impl RemediationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RemediationMode::Off => "off",
            RemediationMode::DryRun => "dry-run",
            RemediationMode::Enforce => "enforce",
            RemediationMode::Approve => "approve",
        }
    }
}

impl std::str::FromStr for RemediationMode {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(RemediationMode::Off),
            "dry-run" | "dryrun" | "dry_run" => Ok(RemediationMode::DryRun),
            "enforce" => Ok(RemediationMode::Enforce),
            "approve" => Ok(RemediationMode::Approve),
            _ => Err(PolicyError::Mode {
                value: text.to_owned(),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{value:?} is not a remediation mode: use off, dry-run, enforce or approve")]
    Mode { value: String },
    #[error(
        "{pattern:?} is not a cluster name pattern: letters, digits, '-', '_' and '*' only, \
         at most 100 characters"
    )]
    ClusterPattern { pattern: String },
    #[error("{value:?} is not a whole number between {min} and {max}")]
    Number { value: String, min: u64, max: u64 },
    #[error(
        "{list:?} has an empty item (two commas in a row, or a comma at the start or end): \
         separate the names with single commas, e.g. prod-*,staging-web"
    )]
    EmptyListItem { list: String },
    #[error(
        "{value:?} is not a member account: give 12-digit account ids separated by commas, \
         or * for any account that can reach the hub's event bus"
    )]
    MemberAccount { value: String },
    #[error("{value:?} is not an IAM role name: 1-64 letters, digits and +=,.@_- (no path)")]
    MemberRoleName { value: String },
}

/// A cluster name, or a pattern where `*` stands for any run of characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ClusterPattern(String);

impl ClusterPattern {
    pub fn parse(pattern: &str) -> Result<ClusterPattern, PolicyError> {
        let pattern = pattern.trim();
        let valid = !pattern.is_empty()
            && pattern.len() <= 100
            && pattern
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'));
        if valid {
            Ok(ClusterPattern(pattern.to_owned()))
        } else {
            Err(PolicyError::ClusterPattern {
                pattern: pattern.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Glob matching with `*` only. Cluster names cannot contain `*`, so a
    /// full glob library would buy nothing here.
    pub fn matches(&self, name: &str) -> bool {
        let mut parts = self.0.split('*');
        let Some(first) = parts.next() else {
            return false;
        };
        let Some(mut rest) = name.strip_prefix(first) else {
            return false;
        };
        let tail: Vec<&str> = parts.collect();
        let Some((last, middle)) = tail.split_last() else {
            return rest.is_empty();
        };
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

/// Parse a comma-separated list of patterns, each item trimmed. A value that
/// is empty or only blanks is no list at all. An empty item is an error, not
/// skipped: `,` would otherwise be an empty allow list, which allows every
/// cluster, and `a,,b` is more likely a lost name than a style.
pub fn parse_cluster_patterns(list: &str) -> Result<Vec<ClusterPattern>, PolicyError> {
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|item| match item.trim() {
            "" => Err(PolicyError::EmptyListItem {
                list: list.to_owned(),
            }),
            item => ClusterPattern::parse(item),
        })
        .collect()
}

/// Which clusters the OVERWRITE may touch. The deny list wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterSelection {
    /// Empty: every cluster not denied.
    pub allow: Vec<ClusterPattern>,
    pub deny: Vec<ClusterPattern>,
}

/// Why a cluster is not selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ClusterExclusion {
    Denied { pattern: String },
    NotAllowed,
}

impl ClusterSelection {
    pub fn check(&self, cluster: &str) -> Result<(), ClusterExclusion> {
        if let Some(pattern) = self.deny.iter().find(|p| p.matches(cluster)) {
            return Err(ClusterExclusion::Denied {
                pattern: pattern.as_str().to_owned(),
            });
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(cluster)) {
            return Err(ClusterExclusion::NotAllowed);
        }
        Ok(())
    }
}

/// At most `max_updates` OVERWRITE updates per cluster within `window_seconds`,
/// counted from the add-on's own update history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OverwriteBound {
    pub max_updates: u32,
    pub window_seconds: u64,
}

impl Default for OverwriteBound {
    /// One per day: a conflict that returns within a day is being re-applied
    /// by something (GitOps, a script), and fighting it is a human decision.
    fn default() -> Self {
        OverwriteBound {
            max_updates: 1,
            window_seconds: 24 * 3600,
        }
    }
}

/// Parse a whole number within bounds, naming the value when it is not one.
pub fn parse_number(text: &str, min: u64, max: u64) -> Result<u64, PolicyError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| PolicyError::Number {
            value: text.to_owned(),
            min,
            max,
        })
}

/// The other accounts of the organization this function may act in, through
/// the member role (`MEMBER_ACCOUNTS`). An event from any other account is
/// alerted and never acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "accounts")]
pub enum MemberAccounts {
    /// Only the function's own account (the single-account deployment).
    #[default]
    None,
    /// These accounts.
    Listed(Vec<AccountId>),
    /// `*`: any account whose events reach the function (the hub's bus
    /// admits only the organization's accounts).
    Any,
}

impl MemberAccounts {
    pub fn allows(&self, account: &AccountId) -> bool {
        match self {
            MemberAccounts::None => false,
            MemberAccounts::Listed(accounts) => accounts.contains(account),
            MemberAccounts::Any => true,
        }
    }

    /// Whether any member account is configured at all.
    pub fn is_configured(&self) -> bool {
        !matches!(self, MemberAccounts::None)
    }
}

/// Parse `MEMBER_ACCOUNTS`: empty (no member), `*` (any), or 12-digit
/// account ids separated by commas, each item trimmed. An empty item is an
/// error, as in the cluster lists: `a,,b` is more likely a lost id.
pub fn parse_member_accounts(list: &str) -> Result<MemberAccounts, PolicyError> {
    match list.trim() {
        "" => return Ok(MemberAccounts::None),
        "*" => return Ok(MemberAccounts::Any),
        _ => {}
    }
    list.split(',')
        .map(|item| match item.trim() {
            "" => Err(PolicyError::EmptyListItem {
                list: list.to_owned(),
            }),
            item => AccountId::parse(item).map_err(|_| PolicyError::MemberAccount {
                value: crate::text::clip(item, 64),
            }),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(MemberAccounts::Listed)
}

pub use crate::ids::DEFAULT_MEMBER_ROLE;

/// Parse `MEMBER_ROLE_NAME` (empty: the default).
pub fn parse_member_role(text: &str) -> Result<RoleName, PolicyError> {
    let text = text.trim();
    let text = if text.is_empty() {
        DEFAULT_MEMBER_ROLE
    } else {
        text
    };
    RoleName::parse(text).map_err(|_| PolicyError::MemberRoleName {
        value: crate::text::clip(text, 128),
    })
}

/// The whole remediation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub mode: RemediationMode,
    pub clusters: ClusterSelection,
    pub bound: OverwriteBound,
    /// The audit log's window and the operator's reconciling controllers.
    pub audit: crate::audit::AuditSettings,
    /// The other accounts it may act in (`MEMBER_ACCOUNTS`); none by default.
    pub members: MemberAccounts,
    /// The role it assumes in them (`MEMBER_ROLE_NAME`).
    pub member_role: RoleName,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            mode: RemediationMode::default(),
            clusters: ClusterSelection::default(),
            bound: OverwriteBound::default(),
            audit: crate::audit::AuditSettings::default(),
            members: MemberAccounts::default(),
            member_role: RoleName::default_member_role(),
        }
    }
}

impl Policy {
    /// The policy of the offline replay: dry-run, every cluster.
    pub fn offline() -> Policy {
        Policy::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_reject() {
        assert_eq!(
            "Enforce".parse::<RemediationMode>(),
            Ok(RemediationMode::Enforce)
        );
        assert_eq!(
            " dry-run ".parse::<RemediationMode>(),
            Ok(RemediationMode::DryRun)
        );
        assert!(matches!(
            "yes".parse::<RemediationMode>(),
            Err(PolicyError::Mode { .. })
        ));
    }

    #[test]
    fn glob_patterns() {
        let p = |s: &str| ClusterPattern::parse(s).unwrap();
        assert!(p("prod-*").matches("prod-payments"));
        assert!(!p("prod-*").matches("staging-prod"));
        assert!(p("*-eu").matches("data-eu"));
        assert!(p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("axxbyy"));
        assert!(p("exact").matches("exact"));
        assert!(!p("exact").matches("exactly"));
        assert!(p("*").matches("anything"));
        assert!(!p("ab*ba").matches("aba"));
        assert!(ClusterPattern::parse("bad name").is_err());
    }

    #[test]
    fn deny_wins_over_allow() {
        let selection = ClusterSelection {
            allow: parse_cluster_patterns("prod-*, staging-web").unwrap(),
            deny: parse_cluster_patterns("prod-legacy").unwrap(),
        };
        assert_eq!(selection.check("prod-payments"), Ok(()));
        assert_eq!(
            selection.check("prod-legacy"),
            Err(ClusterExclusion::Denied {
                pattern: "prod-legacy".into()
            })
        );
        assert_eq!(selection.check("dev"), Err(ClusterExclusion::NotAllowed));
    }

    #[test]
    fn lists_split_on_commas_and_trim_each_item() {
        let names = |list: &str| -> Vec<String> {
            parse_cluster_patterns(list)
                .unwrap()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect()
        };
        assert_eq!(names("prod-*"), ["prod-*"]);
        assert_eq!(names("prod-*,staging-web"), ["prod-*", "staging-web"]);
        assert_eq!(names(" prod-* ,\tstaging-web "), ["prod-*", "staging-web"]);
        assert!(names("").is_empty());
        assert!(names(" \t\n").is_empty());
    }

    #[test]
    fn an_empty_item_is_an_error_naming_the_list() {
        for list in [",", "a,,b", "a,", ", a", " , ", "a, ,b", ",,"] {
            let error = parse_cluster_patterns(list).unwrap_err();
            assert_eq!(
                error,
                PolicyError::EmptyListItem {
                    list: list.to_owned()
                },
                "{list:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains("empty item") && message.contains("single commas"),
                "{message}"
            );
        }
    }

    #[test]
    fn items_with_blanks_inside_are_invalid_patterns() {
        for list in ["prod a", "prod-a staging-b", "a,b c"] {
            assert!(
                matches!(
                    parse_cluster_patterns(list),
                    Err(PolicyError::ClusterPattern { .. })
                ),
                "{list:?}"
            );
        }
    }

    #[test]
    fn numbers_are_bounded() {
        assert_eq!(parse_number("3", 1, 10), Ok(3));
        assert!(parse_number("0", 1, 10).is_err());
        assert!(parse_number("x", 1, 10).is_err());
    }
}
