//! The approval token of `REMEDIATION_MODE=approve`: what it binds (the
//! event, where the cluster is, the add-on's version and a hash of its
//! configuration values, the expiry), its encoding and parsing, the expiry
//! check, the comparison of what was approved with what the guardrails see
//! now, the event an approval re-runs the pipeline on, and the alert for a
//! refused approval. Pure: the shell signs and verifies the token's signed
//! part with a KMS HMAC key (`GenerateMac`/`VerifyMac`, HMAC_SHA_256); this
//! module never sees a key.
//!
//! A token is `<signed>.<mac>`: `signed` is the base64url (no padding) of
//! nine lines (`v1`, event id, account, region, cluster, event time, add-on
//! version, configuration hash, expiry), `mac` the base64url of the 32-byte
//! HMAC over `signed`'s ASCII. Both alphabets are `A-Za-z0-9-_`, so the token
//! is inert in JSON, shell quotes and chat, and at most ~600 characters.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::decide::{OverwriteRequest, SkipReason};
use crate::event::CoverageEvent;
use crate::ids::{AccountId, ClusterName, EventId, Region};
use crate::render::{Message, MessageFormat, Notification, thread_id_for};

/// How long a token is valid by default (`APPROVAL_TTL_SECONDS`).
pub const DEFAULT_TTL_SECONDS: u64 = 3_600;
/// A custom action's variable values are at most 1,024 characters.
pub const MAX_TOKEN_CHARS: usize = 1_024;
/// An HMAC_SHA_256 tag.
pub const MAC_BYTES: usize = 32;
const VERSION: &str = "v1";
/// The issue the rebuilt event carries: the catalog's configuration-conflict
/// row, the only one an approval can be for.
const CONFLICT_ISSUE: &str = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: \
     (rebuilt from an approval token: the original event's issue text is in its alert)";

/// What a token binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalClaims {
    pub event_id: EventId,
    pub account: AccountId,
    pub region: Region,
    pub cluster: ClusterName,
    /// The event's time, seconds since the epoch: "no update since the event".
    pub event_time: i64,
    pub addon_version: String,
    /// Hex SHA-256 of the configuration values (`-` hashed when there are none).
    pub config_hash: String,
    /// Seconds since the epoch; the token is refused from then on.
    pub expires_at: i64,
}

/// Why an approval was refused before any AWS read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the approval token is malformed ({why})")]
    Malformed { why: &'static str },
    #[error("the approval token's signature does not match (tampered, or signed by another key)")]
    BadSignature,
    #[error("the approval token's signature could not be verified ({why})")]
    NotVerified { why: String },
    #[error("the approval token expired at {} (now {})", time(*expired_at), time(*now))]
    Expired { expired_at: i64, now: i64 },
    #[error("approvals are accepted only in approve mode (REMEDIATION_MODE=approve)")]
    NotApproveMode,
}

impl Rejection {
    pub fn label(&self) -> &'static str {
        match self {
            Rejection::Malformed { .. } => "approval-malformed",
            Rejection::BadSignature => "approval-bad-signature",
            Rejection::NotVerified { .. } => "approval-not-verified",
            Rejection::Expired { .. } => "approval-expired",
            Rejection::NotApproveMode => "approval-not-approve-mode",
        }
    }
}

/// What KMS `VerifyMac` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Valid,
    /// `KMSInvalidMacException`, or `MacValid: false`.
    Invalid,
    /// No answer, or another error: not verified, so refused.
    Failed(String),
}

/// A parsed, not yet verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    signed: String,
    mac: Vec<u8>,
    claims: ApprovalClaims,
}

impl Token {
    /// The bytes the MAC is over (`VerifyMac`'s message).
    pub fn signed(&self) -> &str {
        &self.signed
    }

    pub fn mac(&self) -> &[u8] {
        &self.mac
    }

    /// What the token says, before its signature is checked: for the
    /// refusal's thread only, never for a decision.
    pub fn unverified_claims(&self) -> &ApprovalClaims {
        &self.claims
    }

    /// Parse `<signed>.<mac>`; anything else is `Malformed`.
    pub fn parse(text: &str) -> Result<Token, Rejection> {
        let malformed = |why| Rejection::Malformed { why };
        if text.len() > MAX_TOKEN_CHARS {
            return Err(malformed("longer than 1,024 characters"));
        }
        let (signed, mac) = text
            .split_once('.')
            .ok_or(malformed("no '.' between its two parts"))?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| malformed("its MAC is not base64url"))?;
        if mac.len() != MAC_BYTES {
            return Err(malformed("its MAC is not 32 bytes"));
        }
        let body = URL_SAFE_NO_PAD
            .decode(signed)
            .map_err(|_| malformed("its body is not base64url"))?;
        let body = String::from_utf8(body).map_err(|_| malformed("its body is not text"))?;
        let claims = ApprovalClaims::from_body(&body)?;
        Ok(Token {
            signed: signed.to_owned(),
            mac,
            claims,
        })
    }

    /// The claims, once KMS verified the MAC and the token has not expired.
    pub fn accept(self, verification: Verification, now: i64) -> Result<ApprovalClaims, Rejection> {
        match verification {
            Verification::Valid => {}
            Verification::Invalid => return Err(Rejection::BadSignature),
            Verification::Failed(why) => {
                return Err(Rejection::NotVerified {
                    why: crate::text::clip(&why, 512),
                });
            }
        }
        if now >= self.claims.expires_at {
            return Err(Rejection::Expired {
                expired_at: self.claims.expires_at,
                now,
            });
        }
        Ok(self.claims)
    }
}

/// The token from its signed part and the MAC KMS returned.
pub fn token(signed: &str, mac: &[u8]) -> String {
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// Hex SHA-256 of the configuration values; none hash as `-`.
pub fn config_hash(values: Option<&str>) -> String {
    let digest = Sha256::digest(values.unwrap_or("-").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_version(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 100
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

fn is_hash(text: &str) -> bool {
    text.len() == 64
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

impl ApprovalClaims {
    /// The claims for a planned OVERWRITE of `event`: `None` when a bound
    /// value is missing or not a safe identifier (no token is then issued).
    pub fn for_request(
        event: &CoverageEvent,
        request: &OverwriteRequest,
        now: i64,
        ttl_seconds: u64,
    ) -> Option<ApprovalClaims> {
        let version = request.addon_version.as_deref().filter(|v| is_version(v))?;
        Some(ApprovalClaims {
            event_id: EventId::parse(&event.envelope.id).ok()?,
            account: AccountId::parse(event.resource_account()?).ok()?,
            region: Region::parse(event.envelope.region.as_deref()?).ok()?,
            cluster: ClusterName::parse(&request.cluster_name).ok()?,
            event_time: crate::decide::parse_time(event.envelope.time.as_deref()?)?,
            addon_version: version.to_owned(),
            config_hash: config_hash(request.configuration_values.as_deref()),
            expires_at: now.checked_add(i64::try_from(ttl_seconds).ok()?)?,
        })
    }

    fn body(&self) -> String {
        [
            VERSION.to_owned(),
            self.event_id.to_string(),
            self.account.to_string(),
            self.region.to_string(),
            self.cluster.to_string(),
            self.event_time.to_string(),
            self.addon_version.clone(),
            self.config_hash.clone(),
            self.expires_at.to_string(),
        ]
        .join("\n")
    }

    fn from_body(body: &str) -> Result<ApprovalClaims, Rejection> {
        let malformed = |why| Rejection::Malformed { why };
        let lines: Vec<&str> = body.split('\n').collect();
        let [
            version,
            event_id,
            account,
            region,
            cluster,
            event_time,
            addon,
            hash,
            expires,
        ] = lines.as_slice()
        else {
            return Err(malformed("its body does not have nine lines"));
        };
        if *version != VERSION {
            return Err(malformed("unknown token version"));
        }
        let number = |text: &str| {
            text.parse::<i64>()
                .map_err(|_| malformed("a time is not a number"))
        };
        if !is_version(addon) {
            return Err(malformed("the add-on version is not a version"));
        }
        if !is_hash(hash) {
            return Err(malformed("the configuration hash is not a SHA-256"));
        }
        Ok(ApprovalClaims {
            event_id: EventId::parse(event_id).map_err(|_| malformed("bad event id"))?,
            account: AccountId::parse(account).map_err(|_| malformed("bad account id"))?,
            region: Region::parse(region).map_err(|_| malformed("bad region"))?,
            cluster: ClusterName::parse(cluster).map_err(|_| malformed("bad cluster name"))?,
            event_time: number(event_time)?,
            addon_version: (*addon).to_owned(),
            config_hash: (*hash).to_owned(),
            expires_at: number(expires)?,
        })
    }

    /// The part `GenerateMac` signs (base64url of the body).
    pub fn signed(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.body())
    }

    /// The add-on as the guardrails see it now must be the one approved: a
    /// token for version A never overwrites version B, nor other values.
    pub fn check_binding(&self, request: &OverwriteRequest) -> Result<(), SkipReason> {
        let now_version = request.addon_version.as_deref().unwrap_or("(unknown)");
        if now_version != self.addon_version {
            return Err(SkipReason::ApprovalStale {
                what: "add-on version",
                approved: self.addon_version.clone(),
                now: now_version.to_owned(),
            });
        }
        let now_hash = config_hash(request.configuration_values.as_deref());
        if now_hash != self.config_hash {
            return Err(SkipReason::ApprovalStale {
                what: "configuration values (SHA-256)",
                approved: self.config_hash.clone(),
                now: now_hash,
            });
        }
        if request.client_request_token != self.event_id.as_str() {
            return Err(SkipReason::ApprovalStale {
                what: "event id",
                approved: self.event_id.to_string(),
                now: request.client_request_token.clone(),
            });
        }
        Ok(())
    }

    /// The event an approval re-runs the pipeline on: the original event's
    /// id, time, account, region and cluster, and a configuration-conflict
    /// issue (the only kind a token is issued for).
    pub fn event(&self) -> Value {
        json!({
            "version": "0",
            "id": self.event_id.as_str(),
            "detail-type": "GuardDuty Runtime Protection Unhealthy",
            "source": "aws.guardduty",
            "account": self.account.as_str(),
            "time": time(self.event_time),
            "region": self.region.as_str(),
            "resources": [],
            "detail": {
                "schemaVersion": "1.0",
                "resourceAccountId": self.account.as_str(),
                "currentStatus": "UNHEALTHY",
                "previousStatus": "HEALTHY",
                "resourceDetails": {
                    "resourceType": "EKS",
                    "eksClusterDetails": {
                        "clusterName": self.cluster.as_str(),
                        "addonVersion": self.addon_version,
                    }
                },
                "issue": CONFLICT_ISSUE,
            }
        })
    }
}

/// RFC 3339 (UTC, seconds) of a time in seconds since the epoch.
pub fn time(seconds: i64) -> String {
    let at = u64::try_from(seconds)
        .ok()
        .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s)));
    match at {
        Some(at) => humantime::format_rfc3339_seconds(at).to_string(),
        None => seconds.to_string(),
    }
}

/// The approval invocation's payload.
pub fn payload(token: &str) -> String {
    json!({ "approve": token }).to_string()
}

/// The approval from a terminal, runnable as pasted with AWS CLI v1 and v2:
/// the payload goes through a file (`fileb://` sends its bytes as they are
/// in both; v2's `--cli-binary-format` is unknown to v1). `function` is a
/// parsed function ARN or name and the token's alphabet needs no quoting.
pub fn cli_command(function: &str, region: &str, token: &str) -> String {
    format!(
        "printf %s '{}' > approve-payload.json && \
         aws lambda invoke --region {region} --function-name {function} \
         --payload fileb://approve-payload.json /dev/stdout",
        payload(token)
    )
}

/// The alert for a refused approval, in the alert's chat thread when the
/// token names a cluster (a tampered token's thread is the one it claims:
/// only typed identifiers, so at worst another cluster's thread).
pub fn refusal_message(
    rejection: &Rejection,
    claims: Option<&ApprovalClaims>,
    request_id: Option<&str>,
    format: MessageFormat,
) -> Message {
    let why = rejection.to_string();
    let request = request_id.map(|id| crate::text::inert_ascii(id, 64));
    let mut sentence = format!("Approval refused: {why}. No AWS call was made.");
    if let Some(id) = &request {
        sentence.push_str(&format!(" Lambda request id {id}."));
    }
    let subject = format!(
        "GuardDuty coverage: approval refused ({})",
        rejection.label()
    );
    let mut context = BTreeMap::new();
    context.insert("outcome", rejection.label().to_owned());
    context.insert("action", "none".to_owned());
    if let Some(claims) = claims {
        context.insert("eventId", claims.event_id.to_string());
    }
    if let Some(id) = &request {
        context.insert("requestId", id.clone());
    }
    let body = match format {
        MessageFormat::Text => format!("{subject}\n\n{sentence}\n"),
        MessageFormat::Chat => Notification {
            id: claims.map_or_else(|| "approval".to_owned(), |c| c.event_id.to_string()),
            title: ":no_entry: Approval refused".to_owned(),
            description: sentence.clone(),
            next_steps: vec![
                "Nothing was changed. Wait for the next alert, or approve a fresh token."
                    .to_owned(),
            ],
            keywords: vec!["GuardDuty".to_owned(), rejection.label().to_owned()],
            thread_id: thread_id_for(
                claims.map(|c| c.account.as_str()),
                claims.map(|c| c.region.as_str()),
                claims.map(|c| c.cluster.as_str()),
            ),
            summary: sentence,
            event_type: "GuardDuty Runtime Protection Unhealthy",
            related_resources: Vec::new(),
            additional_context: context,
            enable_custom_actions: false,
        }
        .into_json(),
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("outcome", rejection.label().to_owned());
    Message {
        subject,
        body,
        attributes,
    }
}

/// An approval invocation's payload: `{"approve": ...}`.
pub fn is_approval(payload: &Value) -> bool {
    payload
        .as_object()
        .is_some_and(|object| object.contains_key("approve"))
}

/// The token an approval payload carries.
pub fn token_text(payload: &Value) -> Result<&str, Rejection> {
    payload
        .get("approve")
        .and_then(Value::as_str)
        .ok_or(Rejection::Malformed {
            why: "the payload's \"approve\" is not a string",
        })
}

/// For a terminal without the alert's token (`coverage replay --mode
/// approve`): sign `signed` with the stack's key yourself, then invoke. Needs
/// `kms:GenerateMac` on the key, which the stack grants only the function:
/// the token in the alert is the usual way.
pub fn terminal_commands(signed: &str, function: Option<&str>, region: &str) -> String {
    let function = function.unwrap_or("\"$APPROVE_FUNCTION\"");
    let mut lines =
        vec![": \"${APPROVAL_KEY_ID:?set it to the ApprovalKeyArn stack output}\"".to_owned()];
    if function.starts_with('"') {
        lines.push(": \"${APPROVE_FUNCTION:?set it to the FunctionArn stack output}\"".to_owned());
    }
    lines.push(format!("printf %s '{signed}' > approval-body.txt"));
    lines.push(format!(
        "MAC=$(aws kms generate-mac --region {region} --key-id \"$APPROVAL_KEY_ID\" \
         --mac-algorithm HMAC_SHA_256 --message fileb://approval-body.txt \
         --query Mac --output text | tr '+/' '-_' | tr -d '=')"
    ));
    lines.push(format!(
        "printf %s \"{{\\\"approve\\\":\\\"{signed}.$MAC\\\"}}\" > approve-payload.json"
    ));
    lines.push(format!(
        "aws lambda invoke --region {region} --function-name {function} \
         --payload fileb://approve-payload.json /dev/stdout"
    ));
    lines.join("\n")
}
