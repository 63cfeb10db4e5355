//! Identifiers parsed once into types: EKS cluster names, AWS regions,
//! account ids, EventBridge event ids, EKS update ids, Lambda request ids,
//! EventBridge Scheduler schedule and group names, IAM role ARNs and the
//! function's own ARN. A value of one of these types has been validated, so
//! the guardrails, the commands an alert prints, the idempotency token and
//! the follow-up's schedule names never re-check strings: anything that did
//! not parse stays out of them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::{is_account_id, is_eks_cluster_name, is_region};

/// Why a string is not the identifier it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {what}")]
pub struct IdError {
    pub what: &'static str,
    /// The offending value, clipped.
    pub value: String,
}

impl IdError {
    fn new(what: &'static str, value: &str) -> IdError {
        IdError {
            what,
            value: crate::text::clip(value, 128),
        }
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<$name, IdError> {
                let valid: fn(&str) -> bool = $valid;
                if valid(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(IdError::new($what, text))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<$name, IdError> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

identifier!(
    /// An EKS cluster name: a letter or digit, then letters, digits, `-` and
    /// `_`, at most 100 characters. Safe to paste into a shell command.
    ClusterName,
    "an EKS cluster name",
    is_eks_cluster_name
);

identifier!(
    /// An AWS region code such as `us-east-1` or `us-gov-west-1`.
    Region,
    "an AWS region",
    is_region
);

identifier!(
    /// A twelve-digit AWS account id.
    AccountId,
    "a 12-digit AWS account id",
    is_account_id
);

identifier!(
    /// An EventBridge event id: 1 to 64 letters, digits and `-` (EventBridge
    /// uses UUIDs). It is the OVERWRITE's idempotency token as it is, so an
    /// auditor can match the EKS update to the event.
    EventId,
    "an EventBridge event id (1-64 letters, digits and '-')",
    is_event_id
);

fn is_event_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

identifier!(
    /// An EKS update id (EKS uses UUIDs): 1 to 40 letters, digits and `-`.
    /// The follow-up's schedule names start with it, and the longest of them
    /// (`<id>-posted-unknown-update`) must fit Scheduler's 64 characters.
    UpdateId,
    "an EKS update id (1-40 letters, digits and '-')",
    is_update_id
);

/// The longest `UpdateId`: `ScheduleName`s are built from it.
pub const MAX_UPDATE_ID_CHARS: usize = 40;

fn is_update_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_UPDATE_ID_CHARS
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

identifier!(
    /// A Lambda request id (`Lambda-Runtime-Aws-Request-Id`, a UUID): 1 to
    /// 64 letters, digits and `-`. Lambda's own retries of an asynchronous
    /// invocation keep it, so the follow-up's claim records it.
    RequestId,
    "a Lambda request id (1-64 letters, digits and '-')",
    is_event_id
);

identifier!(
    /// An EventBridge Scheduler schedule name: 1 to 64 of `[0-9a-zA-Z-_.]`.
    ScheduleName,
    "a schedule name (1-64 letters, digits, '-', '_' and '.')",
    is_scheduler_name
);

identifier!(
    /// An EventBridge Scheduler schedule group name: 1 to 64 of `[0-9a-zA-Z-_.]`.
    ScheduleGroupName,
    "a schedule group name (1-64 letters, digits, '-', '_' and '.')",
    is_scheduler_name
);

fn is_scheduler_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

identifier!(
    /// An IAM role ARN, `arn:<partition>:iam::<account>:role/<path/><name>`:
    /// the role EventBridge Scheduler assumes to invoke the function.
    RoleArn,
    "an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
    is_role_arn
);

fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts.as_slice() else {
        return false;
    };
    let Some(name) = resource.strip_prefix("role/") else {
        return false;
    };
    // IAM role names and paths: letters, digits and `+=,.@_-`, paths `/`.
    text.len() <= 2048
        && is_partition(partition)
        && is_account_id(account)
        && !name.is_empty()
        && !name.ends_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

identifier!(
    /// An IAM role name (no path): 1 to 64 letters, digits and `+=,.@_-`.
    /// The member role the function assumes in another account
    /// (`MEMBER_ROLE_NAME`); pasted into a role ARN, so nothing else.
    RoleName,
    "an IAM role name (1-64 letters, digits and '+=,.@_-')",
    is_role_name
);

/// The member role's default name, as `infra/member.yaml` creates it.
pub const DEFAULT_MEMBER_ROLE: &str = "GuardDutyCoverageMember";

impl RoleName {
    /// `DEFAULT_MEMBER_ROLE`, a valid role name (a test parses it).
    pub fn default_member_role() -> RoleName {
        RoleName(DEFAULT_MEMBER_ROLE.to_owned())
    }
}

fn is_role_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

identifier!(
    /// A Lambda function name: 1 to 64 letters, digits, `-` and `_`.
    FunctionName,
    "a Lambda function name (1-64 letters, digits, '-' and '_')",
    is_function_name
);

fn is_function_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

identifier!(
    /// An AWS partition: `aws`, `aws-cn`, `aws-us-gov`, ...
    Partition,
    "an AWS partition",
    is_partition
);

fn is_partition(text: &str) -> bool {
    (text == "aws" || text.starts_with("aws-"))
        && text.len() <= 32
        && text.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

/// Where this function runs, from its own ARN: it may only write there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionIdentity {
    #[serde(default = "default_partition")]
    pub partition: Partition,
    pub account: AccountId,
    pub region: Region,
    /// The function's name: the follow-up's schedules invoke it. `None` in
    /// recorded facts that do not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FunctionName>,
}

fn default_partition() -> Partition {
    Partition("aws".to_owned())
}

impl FunctionIdentity {
    /// From `arn:<partition>:lambda:<region>:<account>:function:<name>[:qualifier]`.
    pub fn from_arn(arn: &str) -> Result<FunctionIdentity, IdError> {
        let invalid = || IdError::new("a Lambda function ARN", arn);
        let parts: Vec<&str> = arn.split(':').collect();
        let ([
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
        ]
        | [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
            _,
        ]) = parts.as_slice()
        else {
            return Err(invalid());
        };
        Ok(FunctionIdentity {
            partition: Partition::parse(partition).map_err(|_| invalid())?,
            account: AccountId::parse(account).map_err(|_| invalid())?,
            region: Region::parse(region).map_err(|_| invalid())?,
            name: Some(FunctionName::parse(name).map_err(|_| invalid())?),
        })
    }

    /// The function's unqualified ARN (no version or alias): what its
    /// follow-up schedules invoke, so they always run the code deployed then.
    pub fn unqualified_arn(&self) -> Option<String> {
        let name = self.name.as_ref()?;
        Some(format!(
            "arn:{}:lambda:{}:{}:function:{name}",
            self.partition, self.region, self.account
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_identity_from_its_arn() {
        let identity =
            FunctionIdentity::from_arn("arn:aws:lambda:eu-west-1:111122223333:function:coverage")
                .unwrap();
        assert_eq!(identity.account.as_str(), "111122223333");
        assert_eq!(identity.region.as_str(), "eu-west-1");
        assert_eq!(identity.partition.as_str(), "aws");
        let qualified = FunctionIdentity::from_arn(
            "arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:coverage:live",
        )
        .unwrap();
        assert_eq!(qualified.partition.as_str(), "aws-us-gov");
        // The schedule target drops the qualifier.
        assert_eq!(
            qualified.unqualified_arn().as_deref(),
            Some("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:coverage")
        );
        assert_eq!(
            identity.unqualified_arn().as_deref(),
            Some("arn:aws:lambda:eu-west-1:111122223333:function:coverage")
        );
        let unnamed = FunctionIdentity {
            name: None,
            ..identity.clone()
        };
        assert_eq!(unnamed.unqualified_arn(), None);
        for bad in [
            "garbage",
            "function-arn",
            "",
            "arn:aws:sns:eu-west-1:111122223333:topic",
            "arn:aws:lambda:eu-west-1:111122223333:layer:x",
            "arn:aws:lambda:eu-west-1:111122223333:function:",
            "arn:aws:lambda:eu-west-1:1111:function:f",
            "arn:aws:lambda:EU:111122223333:function:f",
            "arn:evil:lambda:eu-west-1:111122223333:function:f",
            "arn:aws:lambda:eu-west-1:111122223333:function:f:1:extra",
            "arn:aws:lambda:eu-west-1:111122223333:function:a.b",
            "arn:aws:lambda:eu-west-1:111122223333:function:a b",
        ] {
            let error = FunctionIdentity::from_arn(bad).unwrap_err();
            assert_eq!(error.what, "a Lambda function ARN", "{bad}");
        }
    }

    #[test]
    fn identifiers_validate_and_round_trip_through_serde() {
        assert!(EventId::parse("4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37").is_ok());
        assert!(EventId::parse("").is_err());
        assert!(EventId::parse(&"a".repeat(64)).is_ok());
        assert!(EventId::parse(&"a".repeat(65)).is_err());
        assert!(EventId::parse("id with space").is_err());
        assert!(ClusterName::parse("prod-payments").is_ok());
        assert!(ClusterName::parse("x; rm -rf /").is_err());
        assert!(Partition::parse("aws-cn").is_ok());
        assert!(Partition::parse("awsx").is_err());
        assert!(Partition::parse(&format!("aws-{}", "a".repeat(28))).is_ok());
        assert!(Partition::parse(&format!("aws-{}", "a".repeat(29))).is_err());
        let account: AccountId = serde_json::from_str("\"111122223333\"").unwrap();
        assert_eq!(serde_json::to_string(&account).unwrap(), "\"111122223333\"");
        assert!(serde_json::from_str::<AccountId>("\"1234\"").is_err());
        let error = Region::parse(&"x".repeat(1000)).unwrap_err();
        assert!(error.to_string().len() < 200);
    }

    #[test]
    fn follow_up_identifiers_validate() {
        assert!(UpdateId::parse("b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c").is_ok());
        assert!(UpdateId::parse(&"a".repeat(40)).is_ok());
        assert!(UpdateId::parse(&"a".repeat(41)).is_err());
        assert!(UpdateId::parse("").is_err());
        assert!(UpdateId::parse("a/b").is_err());
        assert!(UpdateId::parse("a_b").is_err());
        assert!(RequestId::parse("c6af9ac6-7b61-11e6-9a41-93e8deadbeef").is_ok());
        assert!(RequestId::parse("").is_err());
        for name in ["a", "coverage-follow-ups", "A.b_c-1", &"x".repeat(64)] {
            assert!(ScheduleName::parse(name).is_ok(), "{name}");
            assert!(ScheduleGroupName::parse(name).is_ok(), "{name}");
        }
        for name in ["", "a b", "a/b", "a:b", &"x".repeat(65)] {
            assert!(ScheduleName::parse(name).is_err(), "{name}");
            assert!(ScheduleGroupName::parse(name).is_err(), "{name}");
        }
        for arn in [
            "arn:aws:iam::111122223333:role/follow-up",
            "arn:aws-cn:iam::111122223333:role/service-role/a+b=c,d.e@f_g-h",
        ] {
            assert!(RoleArn::parse(arn).is_ok(), "{arn}");
        }
        for arn in [
            "",
            "role/x",
            "arn:aws:iam::111122223333:user/x",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/path/",
            "arn:aws:iam:us-east-1:111122223333:role/x",
            "arn:aws:iam::1111:role/x",
            "arn:aws:sts::111122223333:role/x",
            "arn:evil:iam::111122223333:role/x",
            "arn:aws:iam::111122223333:role/x y",
            "arn:aws:iam::111122223333:role/x;y",
        ] {
            assert!(RoleArn::parse(arn).is_err(), "{arn}");
        }
        // IAM's limit on an ARN, to the character.
        let prefix = "arn:aws:iam::111122223333:role/";
        let longest = format!("{prefix}{}", "a".repeat(2048 - prefix.len()));
        assert!(RoleArn::parse(&longest).is_ok());
        assert!(RoleArn::parse(&format!("{longest}a")).is_err());
        for name in [
            "GuardDutyCoverageMember",
            "a",
            "a+b=c,d.e@f_g-h",
            &"r".repeat(64),
        ] {
            assert!(RoleName::parse(name).is_ok(), "{name}");
        }
        for name in ["", "a/b", "a b", "a:b", "a*", &"r".repeat(65)] {
            assert!(RoleName::parse(name).is_err(), "{name}");
        }
        assert_eq!(
            RoleName::parse(DEFAULT_MEMBER_ROLE),
            Ok(RoleName::default_member_role())
        );
        assert!(FunctionName::parse(&"f".repeat(64)).is_ok());
        assert!(FunctionName::parse(&"f".repeat(65)).is_err());
    }
}
