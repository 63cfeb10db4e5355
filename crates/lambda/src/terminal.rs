//! `coverage sweep`'s shell: the scheduled sweep, run from a terminal with
//! the engineer's own credentials and region. Always dry-run (the policy is
//! built here, with no way to ask for another mode), nothing published: the
//! digest's model comes back for the command line to print. Who "the
//! function" is comes from STS `GetCallerIdentity`: its account is the own
//! account swept, its partition names the member roles.

use std::time::Duration;

use aws_config::SdkConfig;
use coverage_core::ids::RoleName;
use coverage_core::policy::{MemberAccounts, Policy, RemediationMode};
use coverage_core::sweep::Digest;
use coverage_core::{Invocation, Limits};

use crate::config::Config;
use crate::gather::{error_text, now_ms};
use crate::handler::App;

/// The name a terminal sweep goes by where the function's would appear:
/// member-role session names (`<name>.sweep-<seconds>`) in CloudTrail.
pub const TERMINAL_NAME: &str = "coverage-sweep-terminal";

/// What the engineer chose.
#[derive(Debug, Clone)]
pub struct TerminalSweep {
    /// Member accounts to sweep besides the caller's own.
    pub members: MemberAccounts,
    /// The role assumed in each member account.
    pub member_role: RoleName,
    /// The whole sweep's deadline, from its start.
    pub timeout: Duration,
}

/// Why a terminal sweep did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminalError {
    #[error("no AWS region: pass --region or set AWS_REGION (or a profile's region)")]
    NoRegion,
    #[error("who am I? STS GetCallerIdentity failed: {0}")]
    Identity(String),
    #[error("STS GetCallerIdentity answered without {0}")]
    IdentityIncomplete(&'static str),
    #[error("the caller's identity does not make a usable ARN: {0}")]
    IdentityUnusable(String),
}

/// The caller's partition and account, from STS within `limit`.
async fn caller(sdk: &SdkConfig, limit: Duration) -> Result<(String, String), TerminalError> {
    let sts = aws_sdk_sts::Client::new(sdk);
    let identity = tokio::time::timeout(limit, sts.get_caller_identity().send())
        .await
        .map_err(|_| TerminalError::Identity(format!("no answer within {} ms", limit.as_millis())))?
        .map_err(|e| TerminalError::Identity(error_text(&e)))?;
    let account = identity
        .account()
        .ok_or(TerminalError::IdentityIncomplete("Account"))?
        .to_owned();
    let partition = identity
        .arn()
        .and_then(|arn| arn.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .ok_or(TerminalError::IdentityIncomplete("an ARN with a partition"))?
        .to_owned();
    Ok((partition, account))
}

/// The sweep, dry-run, with `sdk`'s credentials and region; its digest.
pub async fn sweep(sdk: &SdkConfig, options: TerminalSweep) -> Result<Digest, TerminalError> {
    let region = sdk
        .region()
        .map(ToString::to_string)
        .ok_or(TerminalError::NoRegion)?;
    let limits = Limits::default();
    let (partition, account) = caller(sdk, Duration::from_millis(limits.read_ms)).await?;
    let arn = format!("arn:{partition}:lambda:{region}:{account}:function:{TERMINAL_NAME}");
    let config = Config {
        alert_topic_arn: None,
        policy: Policy {
            mode: RemediationMode::DryRun,
            members: options.members,
            member_role: options.member_role,
            ..Policy::default()
        },
        ..Config::default()
    };
    let started = now_ms();
    let timeout_ms = u64::try_from(options.timeout.as_millis()).unwrap_or(u64::MAX);
    let invocation = Invocation::lambda(&arn, started, Some(started.saturating_add(timeout_ms)));
    if !matches!(invocation.function, coverage_core::Fact::Known(_)) {
        return Err(TerminalError::IdentityUnusable(arn));
    }
    let app = App::new(config, sdk);
    Ok(app.sweep_digest(invocation).await)
}
