//! The function's configuration: environment variables read once at start-up,
//! each bad value a clear error naming the variable.

use std::time::Duration;

use crate::tls::TrustStoreSource;
use coverage_core::audit::{AuditSettings, ControllerName};
use coverage_core::follow_up::FollowUpSettings;
use coverage_core::policy::{
    ClusterSelection, OverwriteBound, Policy, RemediationMode, parse_cluster_patterns,
    parse_member_accounts, parse_member_role, parse_number,
};
use coverage_core::{Limits, RoleArn, ScheduleGroupName, Settings};

pub use coverage_core::MessageFormat;

/// A bad environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `None`: the alert is written to standard output (the offline default).
    pub alert_topic_arn: Option<String>,
    pub message_format: MessageFormat,
    pub policy: Policy,
    /// Upper bound on each AWS read; a slow read degrades the alert, never blocks it.
    pub fact_read_timeout: Duration,
    /// Upper bound on the `UpdateAddon` call; past it the outcome is unknown.
    pub update_addon_timeout: Duration,
    /// Upper bound on the SNS `Publish`; past it the invocation fails (and is retried).
    pub publish_timeout: Duration,
    /// Where the HTTPS client's trusted roots come from.
    pub trust_store: TrustStoreSource,
    /// Extra CA certificates (PEM) from the file `AWS_CA_BUNDLE` names.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Make the first AWS call (ListDetectors) during init, before the first
    /// event. Off by default: it saves ~2 ms at full CPU but costs a whole
    /// CPU-quota period at 128 MB (BENCHMARKS.md).
    pub warm_up_at_init: bool,
    /// Where and how often a started OVERWRITE is followed up; `None` when
    /// `FOLLOW_UP_SCHEDULE_GROUP` and `FOLLOW_UP_ROLE_ARN` are unset.
    pub follow_up: Option<FollowUpSettings>,
    /// Upper bound on the audit log query (`StartQuery` to the last
    /// `GetQueryResults`); past it the alert gives the query id.
    pub audit_query_budget: Duration,
    /// Approve mode: the KMS HMAC key that signs and verifies approval
    /// tokens (`APPROVAL_KEY_ID`, required in approve mode).
    pub approval_key_id: Option<String>,
    /// How long an approval token is valid (`APPROVAL_TTL_SECONDS`).
    pub approval_ttl_seconds: u64,
    /// Local testing only (`EMULATOR_FUNCTION_ARN`): the ARN the function
    /// takes as its own when the runtime sends `cargo lambda watch`'s
    /// placeholder instead of one. Ignored under Lambda, which always sends
    /// the real ARN; `infra/` never sets it.
    pub emulator_function_arn: Option<String>,
}

pub const ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const ALERT_MESSAGE_FORMAT: &str = "ALERT_MESSAGE_FORMAT";
pub const REMEDIATION_MODE: &str = "REMEDIATION_MODE";
pub const REMEDIATION_ALLOW_CLUSTERS: &str = "REMEDIATION_ALLOW_CLUSTERS";
pub const REMEDIATION_DENY_CLUSTERS: &str = "REMEDIATION_DENY_CLUSTERS";
pub const OVERWRITE_MAX_PER_WINDOW: &str = "OVERWRITE_MAX_PER_WINDOW";
pub const OVERWRITE_WINDOW_HOURS: &str = "OVERWRITE_WINDOW_HOURS";
pub const FACT_READ_TIMEOUT_MS: &str = "FACT_READ_TIMEOUT_MS";
pub const UPDATE_ADDON_TIMEOUT_MS: &str = "UPDATE_ADDON_TIMEOUT_MS";
pub const PUBLISH_TIMEOUT_MS: &str = "PUBLISH_TIMEOUT_MS";
pub const TLS_TRUST_STORE: &str = "TLS_TRUST_STORE";
pub const AWS_CA_BUNDLE: &str = "AWS_CA_BUNDLE";
pub const WARM_UP_AT_INIT: &str = "WARM_UP_AT_INIT";
pub const FOLLOW_UP_SCHEDULE_GROUP: &str = "FOLLOW_UP_SCHEDULE_GROUP";
pub const FOLLOW_UP_ROLE_ARN: &str = "FOLLOW_UP_ROLE_ARN";
pub const FOLLOW_UP_DELAY_MINUTES: &str = "FOLLOW_UP_DELAY_MINUTES";
pub const FOLLOW_UP_MAX_MINUTES: &str = "FOLLOW_UP_MAX_MINUTES";
/// The organization hub: other accounts it may act in, and the role it assumes there.
pub const MEMBER_ACCOUNTS: &str = "MEMBER_ACCOUNTS";
pub const MEMBER_ROLE_NAME: &str = "MEMBER_ROLE_NAME";
pub const AUDIT_QUERY_BUDGET_MS: &str = "AUDIT_QUERY_BUDGET_MS";
pub const AUDIT_WINDOW_DAYS: &str = "AUDIT_WINDOW_DAYS";
pub const RECONCILING_CONTROLLERS: &str = "RECONCILING_CONTROLLERS";
/// Approve mode: the KMS HMAC key (id, ARN or alias) and the token's lifetime.
pub const APPROVAL_KEY_ID: &str = "APPROVAL_KEY_ID";
pub const APPROVAL_TTL_SECONDS: &str = "APPROVAL_TTL_SECONDS";
/// Local testing only: the function ARN that stands in for the emulator's
/// placeholder (`coverage_core::own_function_arn`).
pub const EMULATOR_FUNCTION_ARN: &str = "EMULATOR_FUNCTION_ARN";
/// The longest an approval token may live: a day.
pub const MAX_APPROVAL_TTL_SECONDS: u64 = 86_400;
/// The longest audit window: Logs Insights can look further back, but a
/// week covers the change behind a fresh conflict and keeps the scan cheap.
pub const MAX_AUDIT_WINDOW_DAYS: u64 = 90;

/// Minutes between the OVERWRITE and the first look, then between looks:
/// EKS add-on updates take minutes.
pub const DEFAULT_FOLLOW_UP_DELAY_MINUTES: u32 = 5;
/// How long the looks go on: longer than any add-on update should take.
pub const DEFAULT_FOLLOW_UP_MAX_MINUTES: u32 = 30;
/// The longest the looks may go on (FOLLOW_UP_MAX_MINUTES at most).
pub const MAX_FOLLOW_UP_MINUTES: u64 = 120;

impl Default for Config {
    /// What an empty environment gives: stdout, dry-run, the default bound.
    fn default() -> Config {
        Config {
            alert_topic_arn: None,
            message_format: MessageFormat::default(),
            policy: Policy::default(),
            fact_read_timeout: Duration::from_millis(Limits::default().read_ms),
            update_addon_timeout: Duration::from_millis(Limits::default().write_ms),
            publish_timeout: Duration::from_millis(Limits::default().publish_ms),
            trust_store: TrustStoreSource::default(),
            extra_ca_pem: None,
            warm_up_at_init: false,
            follow_up: None,
            audit_query_budget: Duration::from_millis(Limits::default().audit_ms),
            approval_key_id: None,
            approval_ttl_seconds: coverage_core::approval::DEFAULT_TTL_SECONDS,
            emulator_function_arn: None,
        }
    }
}

impl Config {
    /// From the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup (tests pass a map). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let fail = |variable: &'static str, message: String| ConfigError { variable, message };

        let alert_topic_arn = match get(ALERT_TOPIC_ARN) {
            None => None,
            Some(arn) if is_sns_topic_arn(&arn) => Some(arn),
            Some(arn) => {
                return Err(fail(
                    ALERT_TOPIC_ARN,
                    format!(
                        "{arn:?} is not an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)"
                    ),
                ));
            }
        };
        let message_format = match get(ALERT_MESSAGE_FORMAT)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("chat") => MessageFormat::Chat,
            Some("text") => MessageFormat::Text,
            Some(other) => {
                return Err(fail(
                    ALERT_MESSAGE_FORMAT,
                    format!("{other:?} is not a message format: use chat or text"),
                ));
            }
        };
        let mode = match get(REMEDIATION_MODE) {
            None => RemediationMode::default(),
            Some(text) => text
                .parse()
                .map_err(|e| fail(REMEDIATION_MODE, format!("{e}")))?,
        };
        let patterns = |variable: &'static str| match get(variable) {
            None => Ok(Vec::new()),
            Some(list) => parse_cluster_patterns(&list).map_err(|e| fail(variable, e.to_string())),
        };
        let clusters = ClusterSelection {
            allow: patterns(REMEDIATION_ALLOW_CLUSTERS)?,
            deny: patterns(REMEDIATION_DENY_CLUSTERS)?,
        };
        let default_bound = OverwriteBound::default();
        let max_updates = match get(OVERWRITE_MAX_PER_WINDOW) {
            None => default_bound.max_updates,
            Some(text) => u32::try_from(
                parse_number(&text, 1, 100)
                    .map_err(|e| fail(OVERWRITE_MAX_PER_WINDOW, e.to_string()))?,
            )
            .unwrap_or(default_bound.max_updates),
        };
        let window_seconds = match get(OVERWRITE_WINDOW_HOURS) {
            None => default_bound.window_seconds,
            Some(text) => {
                parse_number(&text, 1, 24 * 90)
                    .map_err(|e| fail(OVERWRITE_WINDOW_HOURS, e.to_string()))?
                    * 3600
            }
        };
        let millis = |variable: &'static str, default: u64, min: u64| match get(variable) {
            None => Ok(Duration::from_millis(default)),
            Some(text) => parse_number(&text, min, 60_000)
                .map(Duration::from_millis)
                .map_err(|e| fail(variable, e.to_string())),
        };
        let limits = Limits::default();
        let fact_read_timeout = millis(FACT_READ_TIMEOUT_MS, limits.read_ms, 100)?;
        let update_addon_timeout = millis(UPDATE_ADDON_TIMEOUT_MS, limits.write_ms, 1_000)?;
        let publish_timeout = millis(PUBLISH_TIMEOUT_MS, limits.publish_ms, 1_000)?;
        let trust_store = match get(TLS_TRUST_STORE)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => TrustStoreSource::default(),
            Some("system") => TrustStoreSource::System,
            Some("embedded") => TrustStoreSource::Embedded,
            Some(other) => {
                return Err(fail(
                    TLS_TRUST_STORE,
                    format!("{other:?} is not a trust store: use system or embedded"),
                ));
            }
        };
        let extra_ca_pem = match get(AWS_CA_BUNDLE) {
            None => None,
            Some(path) => {
                let pem = std::fs::read(&path)
                    .map_err(|e| fail(AWS_CA_BUNDLE, format!("cannot read {path:?}: {e}")))?;
                if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                    return Err(fail(
                        AWS_CA_BUNDLE,
                        format!("{path:?} holds no PEM certificate"),
                    ));
                }
                Some(pem)
            }
        };
        let warm_up_at_init = match get(WARM_UP_AT_INIT)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(other) => {
                return Err(fail(
                    WARM_UP_AT_INIT,
                    format!("{other:?} is not a boolean: use true or false"),
                ));
            }
        };
        let follow_up = follow_up(&get)?;
        let members = parse_member_accounts(&get(MEMBER_ACCOUNTS).unwrap_or_default())
            .map_err(|e| fail(MEMBER_ACCOUNTS, e.to_string()))?;
        let member_role = parse_member_role(&get(MEMBER_ROLE_NAME).unwrap_or_default())
            .map_err(|e| fail(MEMBER_ROLE_NAME, e.to_string()))?;
        let audit_query_budget = millis(AUDIT_QUERY_BUDGET_MS, limits.audit_ms, 500)?;
        let audit = AuditSettings {
            window_seconds: match get(AUDIT_WINDOW_DAYS) {
                None => AuditSettings::default().window_seconds,
                Some(text) => {
                    parse_number(&text, 1, MAX_AUDIT_WINDOW_DAYS)
                        .map_err(|e| fail(AUDIT_WINDOW_DAYS, e.to_string()))?
                        * 86_400
                }
            },
            controllers: match get(RECONCILING_CONTROLLERS) {
                None => Vec::new(),
                Some(list) => ControllerName::parse_list(&list)
                    .map_err(|e| fail(RECONCILING_CONTROLLERS, e.to_string()))?,
            },
        };
        let approval_key_id = match get(APPROVAL_KEY_ID) {
            None => None,
            Some(key) if is_kms_key_id(&key) => Some(key),
            Some(key) => {
                return Err(fail(
                    APPROVAL_KEY_ID,
                    format!("{key:?} is not a KMS key id, key ARN or alias"),
                ));
            }
        };
        if mode == RemediationMode::Approve && approval_key_id.is_none() {
            return Err(fail(
                APPROVAL_KEY_ID,
                "unset while REMEDIATION_MODE=approve: approval tokens need the stack's KMS HMAC key"
                    .to_owned(),
            ));
        }
        let approval_ttl_seconds = match get(APPROVAL_TTL_SECONDS) {
            None => coverage_core::approval::DEFAULT_TTL_SECONDS,
            Some(text) => parse_number(&text, 60, MAX_APPROVAL_TTL_SECONDS)
                .map_err(|e| fail(APPROVAL_TTL_SECONDS, e.to_string()))?,
        };
        let emulator_function_arn = match get(EMULATOR_FUNCTION_ARN) {
            None => None,
            Some(arn) => match coverage_core::ids::FunctionIdentity::from_arn(&arn) {
                Ok(_) => Some(arn),
                Err(_) => {
                    return Err(fail(
                        EMULATOR_FUNCTION_ARN,
                        format!(
                            "{arn:?} is not a Lambda function ARN \
                             (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
                        ),
                    ));
                }
            },
        };
        Ok(Config {
            alert_topic_arn,
            message_format,
            policy: Policy {
                mode,
                clusters,
                bound: OverwriteBound {
                    max_updates,
                    window_seconds,
                },
                members,
                member_role,
                audit,
            },
            fact_read_timeout,
            update_addon_timeout,
            publish_timeout,
            trust_store,
            extra_ca_pem,
            warm_up_at_init,
            follow_up,
            audit_query_budget,
            approval_key_id,
            approval_ttl_seconds,
            emulator_function_arn,
        })
    }
}

/// The follow-up's settings: the group and the role together or neither,
/// the delay and the bound in minutes, the bound at least one delay.
fn follow_up(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<FollowUpSettings>, ConfigError> {
    let fail = |variable: &'static str, message: String| ConfigError { variable, message };
    let minutes = |variable: &'static str, default: u32, min: u64| match get(variable) {
        None => Ok(default),
        Some(text) => parse_number(&text, min, MAX_FOLLOW_UP_MINUTES)
            .map(|n| u32::try_from(n).unwrap_or(default))
            .map_err(|e| fail(variable, e.to_string())),
    };
    let delay_minutes = minutes(FOLLOW_UP_DELAY_MINUTES, DEFAULT_FOLLOW_UP_DELAY_MINUTES, 1)?;
    let max_minutes = minutes(FOLLOW_UP_MAX_MINUTES, DEFAULT_FOLLOW_UP_MAX_MINUTES, 1)?;
    if max_minutes < delay_minutes {
        return Err(fail(
            FOLLOW_UP_MAX_MINUTES,
            format!(
                "{max_minutes} is less than {FOLLOW_UP_DELAY_MINUTES} ({delay_minutes}): the first look would already be past it"
            ),
        ));
    }
    let group = get(FOLLOW_UP_SCHEDULE_GROUP)
        .map(|text| {
            ScheduleGroupName::parse(&text)
                .map_err(|e| fail(FOLLOW_UP_SCHEDULE_GROUP, e.to_string()))
        })
        .transpose()?;
    let role_arn = get(FOLLOW_UP_ROLE_ARN)
        .map(|text| RoleArn::parse(&text).map_err(|e| fail(FOLLOW_UP_ROLE_ARN, e.to_string())))
        .transpose()?;
    match (group, role_arn) {
        (None, None) => Ok(None),
        (Some(group), Some(role_arn)) => Ok(Some(FollowUpSettings {
            group,
            role_arn,
            delay_minutes,
            max_minutes,
        })),
        (Some(_), None) => Err(fail(
            FOLLOW_UP_ROLE_ARN,
            format!("unset while {FOLLOW_UP_SCHEDULE_GROUP} is set: follow-ups need both"),
        )),
        (None, Some(_)) => Err(fail(
            FOLLOW_UP_SCHEDULE_GROUP,
            format!("unset while {FOLLOW_UP_ROLE_ARN} is set: follow-ups need both"),
        )),
    }
}

impl Config {
    /// What the core's pipeline needs of this configuration.
    pub fn settings(&self) -> Settings {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Settings {
            policy: self.policy.clone(),
            format: self.message_format,
            limits: Limits {
                read_ms: ms(self.fact_read_timeout),
                write_ms: ms(self.update_addon_timeout),
                publish_ms: ms(self.publish_timeout),
                audit_ms: ms(self.audit_query_budget),
                approval_ttl_seconds: self.approval_ttl_seconds,
                ..Limits::default()
            },
            follow_up: self.follow_up.clone(),
        }
    }
}

/// A key id, key ARN or alias (name or ARN): what KMS accepts as `KeyId`.
fn is_kms_key_id(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 2048
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'))
}

fn is_sns_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && !parts[5].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_offline_and_dry_run() {
        let config = config(&[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.alert_topic_arn, None);
        assert_eq!(config.policy.mode, RemediationMode::DryRun);
        assert_eq!(config.policy.bound, OverwriteBound::default());
        assert_eq!(config.message_format, MessageFormat::Chat);
        assert_eq!(config.fact_read_timeout, Duration::from_secs(3));
    }

    #[test]
    fn every_variable_is_read() {
        let config = config(&[
            (ALERT_TOPIC_ARN, "arn:aws:sns:us-east-1:111122223333:alerts"),
            (ALERT_MESSAGE_FORMAT, "TEXT"),
            (REMEDIATION_MODE, "enforce"),
            (REMEDIATION_ALLOW_CLUSTERS, "prod-*, staging-web"),
            (REMEDIATION_DENY_CLUSTERS, "prod-legacy"),
            (OVERWRITE_MAX_PER_WINDOW, "2"),
            (OVERWRITE_WINDOW_HOURS, "6"),
            (FACT_READ_TIMEOUT_MS, "1500"),
        ])
        .unwrap();
        assert_eq!(
            config.alert_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:111122223333:alerts")
        );
        assert_eq!(config.message_format, MessageFormat::Text);
        assert_eq!(config.policy.mode, RemediationMode::Enforce);
        assert_eq!(config.policy.clusters.allow.len(), 2);
        assert_eq!(config.policy.clusters.deny.len(), 1);
        assert_eq!(
            config.policy.bound,
            OverwriteBound {
                max_updates: 2,
                window_seconds: 6 * 3600
            }
        );
        assert_eq!(config.fact_read_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn the_emulator_stand_in_must_be_a_function_arn() {
        assert_eq!(config(&[]).unwrap().emulator_function_arn, None);
        let arn = "arn:aws:lambda:us-east-1:111122223333:function:coverage-local";
        let set = config(&[(EMULATOR_FUNCTION_ARN, arn)]).unwrap();
        assert_eq!(set.emulator_function_arn.as_deref(), Some(arn));
        let error = config(&[(EMULATOR_FUNCTION_ARN, "function-arn")]).unwrap_err();
        assert_eq!(error.variable, EMULATOR_FUNCTION_ARN);
        assert!(
            error.message.contains("not a Lambda function ARN"),
            "{error}"
        );
    }

    #[test]
    fn member_accounts_and_role_are_read() {
        use coverage_core::policy::{DEFAULT_MEMBER_ROLE, MemberAccounts};
        let none = config(&[]).unwrap();
        assert_eq!(none.policy.members, MemberAccounts::None);
        assert_eq!(none.policy.member_role.as_str(), DEFAULT_MEMBER_ROLE);
        let listed = config(&[
            (MEMBER_ACCOUNTS, "444455556666, 777788889999"),
            (MEMBER_ROLE_NAME, "CoverageMember"),
        ])
        .unwrap();
        let MemberAccounts::Listed(accounts) = &listed.policy.members else {
            panic!("{:?}", listed.policy.members);
        };
        let ids: Vec<&str> = accounts.iter().map(|a| a.as_str()).collect();
        assert_eq!(ids, ["444455556666", "777788889999"]);
        assert_eq!(listed.policy.member_role.as_str(), "CoverageMember");
        let any = config(&[(MEMBER_ACCOUNTS, " * ")]).unwrap();
        assert_eq!(any.policy.members, MemberAccounts::Any);
    }

    /// The template's parameter default for both lists is "" (all clusters,
    /// none denied); only an empty item inside a list is an error.
    #[test]
    fn an_empty_or_blank_cluster_list_is_unset() {
        for value in ["", "  ", "\t"] {
            let config = config(&[
                (REMEDIATION_ALLOW_CLUSTERS, value),
                (REMEDIATION_DENY_CLUSTERS, value),
            ])
            .unwrap();
            assert_eq!(config.policy.clusters, ClusterSelection::default());
        }
    }

    #[test]
    fn call_timeouts_are_read_and_bounded() {
        let config = config(&[
            (UPDATE_ADDON_TIMEOUT_MS, "2500"),
            (PUBLISH_TIMEOUT_MS, "4000"),
            (FACT_READ_TIMEOUT_MS, "700"),
        ])
        .unwrap();
        let limits = config.settings().limits;
        assert_eq!(
            (limits.read_ms, limits.write_ms, limits.publish_ms),
            (700, 2500, 4000)
        );
        let defaults = Config::default().settings().limits;
        assert_eq!(defaults, Limits::default());
        for (variable, value) in [
            (UPDATE_ADDON_TIMEOUT_MS, "999"),
            (UPDATE_ADDON_TIMEOUT_MS, "60001"),
            (PUBLISH_TIMEOUT_MS, "0"),
            (PUBLISH_TIMEOUT_MS, "soon"),
        ] {
            assert_eq!(config_error(variable, value), variable);
        }
    }

    #[test]
    fn follow_ups_need_a_group_and_a_role() {
        let both = config(&[
            (FOLLOW_UP_SCHEDULE_GROUP, "coverage-follow-ups"),
            (
                FOLLOW_UP_ROLE_ARN,
                "arn:aws:iam::111122223333:role/follow-up",
            ),
        ])
        .unwrap();
        let follow_up = both.follow_up.clone().unwrap();
        assert_eq!(follow_up.group.as_str(), "coverage-follow-ups");
        assert_eq!(
            follow_up.role_arn.as_str(),
            "arn:aws:iam::111122223333:role/follow-up"
        );
        assert_eq!(
            (follow_up.delay_minutes, follow_up.max_minutes),
            (
                DEFAULT_FOLLOW_UP_DELAY_MINUTES,
                DEFAULT_FOLLOW_UP_MAX_MINUTES
            )
        );
        assert_eq!(both.settings().follow_up, Some(follow_up));
        assert_eq!(config(&[]).unwrap().settings().follow_up, None);
        let tuned = config(&[
            (FOLLOW_UP_SCHEDULE_GROUP, "g"),
            (FOLLOW_UP_ROLE_ARN, "arn:aws:iam::111122223333:role/r"),
            (FOLLOW_UP_DELAY_MINUTES, "10"),
            (FOLLOW_UP_MAX_MINUTES, "10"),
        ])
        .unwrap()
        .follow_up
        .unwrap();
        assert_eq!((tuned.delay_minutes, tuned.max_minutes), (10, 10));
        let longest = config(&[(FOLLOW_UP_MAX_MINUTES, "120")]).unwrap();
        assert_eq!(longest.follow_up, None, "minutes alone configure nothing");
        for (pairs, variable) in [
            (vec![(FOLLOW_UP_SCHEDULE_GROUP, "g")], FOLLOW_UP_ROLE_ARN),
            (
                vec![(FOLLOW_UP_ROLE_ARN, "arn:aws:iam::111122223333:role/r")],
                FOLLOW_UP_SCHEDULE_GROUP,
            ),
            (
                vec![(FOLLOW_UP_SCHEDULE_GROUP, "a/b")],
                FOLLOW_UP_SCHEDULE_GROUP,
            ),
            (vec![(FOLLOW_UP_ROLE_ARN, "role/x")], FOLLOW_UP_ROLE_ARN),
            (
                vec![(FOLLOW_UP_DELAY_MINUTES, "0")],
                FOLLOW_UP_DELAY_MINUTES,
            ),
            (
                vec![(FOLLOW_UP_DELAY_MINUTES, "121")],
                FOLLOW_UP_DELAY_MINUTES,
            ),
            (vec![(FOLLOW_UP_MAX_MINUTES, "121")], FOLLOW_UP_MAX_MINUTES),
            (vec![(FOLLOW_UP_MAX_MINUTES, "4")], FOLLOW_UP_MAX_MINUTES),
            (
                vec![
                    (FOLLOW_UP_DELAY_MINUTES, "11"),
                    (FOLLOW_UP_MAX_MINUTES, "10"),
                ],
                FOLLOW_UP_MAX_MINUTES,
            ),
        ] {
            let error = config(&pairs).unwrap_err();
            assert_eq!(error.variable, variable, "{pairs:?}: {error}");
        }
    }

    #[test]
    fn the_audit_log_settings_are_read_and_bounded() {
        let read = config(&[
            (AUDIT_QUERY_BUDGET_MS, "2500"),
            (AUDIT_WINDOW_DAYS, "3"),
            (
                RECONCILING_CONTROLLERS,
                "system:serviceaccount:cattle-fleet-system:fleet-agent, rancher",
            ),
        ])
        .unwrap();
        assert_eq!(read.settings().limits.audit_ms, 2500);
        assert_eq!(read.policy.audit.window_seconds, 3 * 86_400);
        let names: Vec<&str> = read
            .policy
            .audit
            .controllers
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "system:serviceaccount:cattle-fleet-system:fleet-agent",
                "rancher"
            ]
        );
        let defaults = Config::default();
        assert_eq!(defaults.settings().limits.audit_ms, 4_000);
        assert_eq!(defaults.policy.audit, AuditSettings::default());
        assert_eq!(defaults.policy.audit.window_seconds, 7 * 86_400);
        for (variable, value) in [
            (AUDIT_QUERY_BUDGET_MS, "499"),
            (AUDIT_QUERY_BUDGET_MS, "60001"),
            (AUDIT_WINDOW_DAYS, "0"),
            (AUDIT_WINDOW_DAYS, "91"),
            (RECONCILING_CONTROLLERS, "a,,b"),
            (RECONCILING_CONTROLLERS, "two words"),
        ] {
            assert_eq!(config_error(variable, value), variable, "{value}");
        }
        assert_eq!(
            config(&[(AUDIT_WINDOW_DAYS, "90")])
                .unwrap()
                .policy
                .audit
                .window_seconds,
            90 * 86_400
        );
        assert_eq!(
            config(&[(AUDIT_QUERY_BUDGET_MS, "500")])
                .unwrap()
                .audit_query_budget,
            Duration::from_millis(500)
        );
    }

    fn config_error(variable: &str, value: &str) -> &'static str {
        config(&[(variable, value)]).unwrap_err().variable
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (variable, value) in [
            (ALERT_TOPIC_ARN, "my-topic"),
            (ALERT_MESSAGE_FORMAT, "html"),
            (REMEDIATION_MODE, "yes"),
            (REMEDIATION_ALLOW_CLUSTERS, "prod cluster;rm"),
            (REMEDIATION_ALLOW_CLUSTERS, ","),
            (REMEDIATION_ALLOW_CLUSTERS, "prod-*,,staging"),
            (REMEDIATION_ALLOW_CLUSTERS, "prod-*,"),
            (REMEDIATION_DENY_CLUSTERS, "a/b"),
            (REMEDIATION_DENY_CLUSTERS, ","),
            (REMEDIATION_DENY_CLUSTERS, "prod-*,,staging"),
            (REMEDIATION_DENY_CLUSTERS, "prod-*,"),
            (OVERWRITE_MAX_PER_WINDOW, "0"),
            (OVERWRITE_WINDOW_HOURS, "forever"),
            (FACT_READ_TIMEOUT_MS, "5"),
            (TLS_TRUST_STORE, "mine"),
            // Both inside the repository: a missing file, then one with no PEM.
            (
                AWS_CA_BUNDLE,
                concat!(env!("CARGO_MANIFEST_DIR"), "/no-such-ca.pem"),
            ),
            (
                AWS_CA_BUNDLE,
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ),
            (WARM_UP_AT_INIT, "maybe"),
            (MEMBER_ACCOUNTS, "4444"),
            (MEMBER_ACCOUNTS, "444455556666,,777788889999"),
            (MEMBER_ACCOUNTS, "444455556666 777788889999"),
            (MEMBER_ROLE_NAME, "path/role"),
        ] {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("environment variable {variable}: ")),
                "{error}"
            );
        }
    }
}
