//! The organization hub's member accounts: for an event the core says is
//! from an allowed member account (`Next::Gather`/`Next::Write` carry a
//! `MemberAccess`), the AWS clients that act there, built from the member
//! role's credentials. One `AssumeRole` per account, cached until shortly
//! before the credentials expire: the first event from an account pays the
//! call, later ones none. The clients are `AwsClients::new` over the
//! function's own SDK configuration with only the credentials replaced, so
//! every client added there acts in the member account too. Credentials are
//! never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use coverage_core::guardrails::MemberAccess;
use coverage_core::ids::AccountId;
use coverage_core::{Fact, FactRequest, Facts};

use crate::gather::{AwsClients, error_text};

/// Credentials this close to their expiry are replaced before use, so that
/// no read or write of an event runs with credentials that lapse under it.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// What the hub holds for one member account.
#[derive(Debug)]
pub struct MemberClients {
    pub account: AccountId,
    /// Every client, signing with the member role's credentials.
    pub clients: AwsClients,
    /// The member's GuardDuty detector id, cached as the own account's is.
    pub detector_cache: std::sync::Mutex<Option<String>>,
    /// When the credentials expire.
    pub expires_at: SystemTime,
}

impl MemberClients {
    /// Whether these credentials may still be used at `now`.
    pub fn fresh_at(&self, now: SystemTime) -> bool {
        now + REFRESH_BEFORE < self.expires_at
    }
}

/// The member accounts' clients, one entry per account.
#[derive(Debug)]
pub struct Members {
    sts: aws_sdk_sts::Client,
    /// The function's own SDK configuration; member clients replace its credentials.
    base: SdkConfig,
    /// Held across the `AssumeRole`, so two events from a new account pay one call.
    cache: tokio::sync::Mutex<HashMap<AccountId, Arc<MemberClients>>>,
}

impl Members {
    /// `sts` assumes the member roles (with the function's own role);
    /// `base` is what member clients are built from.
    pub fn new(sts: aws_sdk_sts::Client, base: SdkConfig) -> Members {
        Members {
            sts,
            base,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// From the function's own SDK configuration.
    pub fn from_sdk(sdk: &SdkConfig) -> Members {
        Members::new(aws_sdk_sts::Client::new(sdk), sdk.clone())
    }

    /// The clients for `member`: cached ones while fresh, else one
    /// `AssumeRole` within `limit`. The error is a sentence for the alert.
    pub async fn clients(
        &self,
        member: &MemberAccess,
        limit: Duration,
    ) -> Result<Arc<MemberClients>, String> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.get(&member.account)
            && cached.fresh_at(SystemTime::now())
        {
            return Ok(cached.clone());
        }
        let assumed = match tokio::time::timeout(limit, self.assume(member)).await {
            Ok(assumed) => assumed?,
            Err(_) => {
                return Err(format!(
                    "STS did not answer AssumeRole within {} ms",
                    limit.as_millis()
                ));
            }
        };
        tracing::info!(
            account = %member.account,
            role_arn = %member.role_arn,
            session = %member.session_name,
            "assumed the member role"
        );
        let assumed = Arc::new(assumed);
        cache.insert(member.account.clone(), assumed.clone());
        Ok(assumed)
    }

    async fn assume(&self, member: &MemberAccess) -> Result<MemberClients, String> {
        let output = self
            .sts
            .assume_role()
            .role_arn(member.role_arn.as_str())
            .role_session_name(&member.session_name)
            .send()
            .await
            .map_err(|error| format!("AssumeRole failed: {}", error_text(&error)))?;
        let Some(credentials) = output.credentials() else {
            return Err("AssumeRole returned no credentials".to_owned());
        };
        let expires_at = SystemTime::try_from(*credentials.expiration())
            .map_err(|_| "AssumeRole returned an expiry that is not a time".to_owned())?;
        let credentials = Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            Some(expires_at),
            "member-role",
        );
        let sdk = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok(MemberClients {
            account: member.account.clone(),
            clients: AwsClients::new(&sdk),
            detector_cache: std::sync::Mutex::new(None),
            expires_at,
        })
    }
}

/// The facts of an event whose member role could not be assumed: every
/// read asked for is unavailable for that reason, and the core reports it
/// as its own skip reason.
pub fn not_assumed(request: FactRequest, member: &MemberAccess, why: &str) -> Facts {
    let why_read = format!("the member role {} was not assumed", member.role_arn);
    Facts {
        detector_id: unavailable(request.needs_detector(), &why_read),
        addon: unavailable(request.addon, &why_read),
        update_history: unavailable(request.update_history, &why_read),
        coverage: unavailable(request.coverage, &why_read),
        statistics: unavailable(request.statistics, &why_read),
        audit_log: unavailable(request.audit_log, &why_read),
        role_not_assumed: Some(why.to_owned()),
        ..Facts::default()
    }
}

fn unavailable<T>(asked: bool, why: &str) -> Fact<T> {
    if asked {
        Fact::Unavailable(why.to_owned())
    } else {
        Fact::NotGathered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_five_minutes_before_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let entry = |expires_in: u64| MemberClients {
            account: AccountId::parse("444455556666").unwrap(),
            clients: AwsClients::new(&SdkConfig::builder().build()),
            detector_cache: std::sync::Mutex::new(None),
            expires_at: now + Duration::from_secs(expires_in),
        };
        assert!(entry(3600).fresh_at(now));
        assert!(entry(301).fresh_at(now));
        assert!(!entry(300).fresh_at(now));
        assert!(!entry(0).fresh_at(now));
    }
}
