//! The sweep's decisions: what each GuardDuty coverage resource means
//! (healthy, unhealthy, partially covered, unknown), the coverage event an
//! unhealthy cluster is run through the pipeline as (its stable id), which
//! clusters get an alert of their own, the sweep's deadlines, and the digest
//! model and the invocation's summary. No I/O: the shell lists coverage and
//! drives one `Pipeline` per unhealthy cluster; `render::digest` renders.
//!
//! Stateless rule: a cluster the sweep finds UNHEALTHY runs through the same
//! pipeline and guardrails as its event would, but its alert is published
//! only when the pipeline attempted the OVERWRITE (`alerts_individually`);
//! otherwise, and for every partially covered cluster, it appears in the
//! digest only, so a cluster already alerted by its event is not re-alerted
//! every sweep. The add-on's update history is the memory: the synthesized
//! event's time is the coverage's `updatedAt`, and the "no update since the
//! event" guardrail and the OVERWRITE bound keep a later sweep from
//! repeating a remediation.

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::catalog::{self, PARTIAL_COVERAGE};
use crate::decide::{Outcome, format_time};
use crate::issue::Issue;
use crate::pipeline::Limits;
use crate::policy::{MemberAccounts, RemediationMode};

/// One EKS coverage resource as `ListCoverage` describes it: every field
/// optional, as AWS may leave any out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoverageResource {
    /// The cluster's account, as GuardDuty gives it (else the account the
    /// listing was made in): an administrator's listing names its members'.
    pub account: String,
    pub cluster: Option<String>,
    /// `HEALTHY`, `UNHEALTHY` or anything else AWS says.
    pub status: Option<String>,
    pub issue: Option<String>,
    /// `updatedAt`, seconds since the Unix epoch.
    pub updated_at: Option<i64>,
    pub covered_nodes: Option<i64>,
    pub compatible_nodes: Option<i64>,
    pub addon_version: Option<String>,
}

/// What the sweep makes of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Healthy,
    Unhealthy,
    /// HEALTHY, yet fewer covered nodes than compatible ones.
    Partial,
    /// A coverage status this code does not know, or none: never counted healthy.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
            Status::Partial => "partial",
            Status::Unknown => "unknown",
        }
    }
}

/// The verdict on one resource. HEALTHY without both node counts is
/// healthy: GuardDuty said so and nothing shows otherwise.
pub fn status_of(resource: &CoverageResource) -> Status {
    match resource.status.as_deref() {
        Some("UNHEALTHY") => Status::Unhealthy,
        Some("HEALTHY") => match (resource.covered_nodes, resource.compatible_nodes) {
            (Some(covered), Some(compatible)) if covered < compatible => Status::Partial,
            _ => Status::Healthy,
        },
        _ => Status::Unknown,
    }
}

/// The catalog entry a cluster is listed under: the issue's for an
/// unhealthy one, ours for a partial one, none otherwise.
pub fn catalog_id(resource: &CoverageResource, status: Status) -> Option<&'static str> {
    match status {
        Status::Unhealthy => {
            Some(catalog::classify(&Issue::parse(resource.issue.as_deref().unwrap_or(""))).id)
        }
        Status::Partial => Some(PARTIAL_COVERAGE.id),
        Status::Healthy | Status::Unknown => None,
    }
}

/// Covered nodes as a whole percentage of compatible nodes, rounded down
/// (99.9 % is not shown as 100 %); `None` without compatible nodes.
pub fn coverage_percent(covered: u64, compatible: u64) -> Option<u64> {
    if compatible == 0 {
        return None;
    }
    Some(covered.min(compatible) * 100 / compatible)
}

/// The id of the coverage event a swept cluster is run as: the SHA-256 of
/// `guardduty-coverage-sweep`, the account, the cluster and `updatedAt`,
/// formatted as a UUID (version 8, RFC 9562 variant). Stable: the same
/// coverage state gives the same id, hence the same `clientRequestToken`,
/// in every sweep, so EKS itself returns the first update for a repeat.
pub fn event_id(account: &str, cluster: &str, updated_at: Option<i64>) -> String {
    let updated = updated_at.map_or_else(|| "-".to_owned(), |t| t.to_string());
    let hash = Sha256::digest(format!(
        "guardduty-coverage-sweep\n{account}\n{cluster}\n{updated}"
    ));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The coverage event GuardDuty would have sent for an unhealthy cluster,
/// as the pipeline decodes it: the cluster's account in the envelope and as
/// the resource account (a member's event reaches the hub with its own
/// account in the envelope; an envelope of the hub's with a member's
/// resource is an administrator's copy, which the guardrails never act
/// on), time the coverage's `updatedAt` (none when AWS gave none: the
/// pipeline then refuses to act, "time does not parse"). `None` without a
/// cluster name.
pub fn synthesized_event(resource: &CoverageResource, region: &str) -> Option<Value> {
    let cluster = resource.cluster.as_deref()?;
    let time = resource.updated_at.map(format_time);
    Some(json!({
        "version": "0",
        "id": event_id(&resource.account, cluster, resource.updated_at),
        "detail-type": "GuardDuty Runtime Protection Unhealthy",
        "source": "aws.guardduty",
        "account": resource.account,
        "time": time,
        "region": region,
        "resources": [],
        "detail": {
            "schemaVersion": "1.0",
            "resourceAccountId": resource.account,
            "currentStatus": "UNHEALTHY",
            "resourceDetails": {
                "resourceType": "EKS",
                "eksClusterDetails": {
                    "clusterName": cluster,
                    "addonVersion": resource.addon_version,
                }
            },
            "issue": resource.issue,
            "lastUpdatedAt": time,
        }
    }))
}

/// Whether a swept cluster's own alert is published: only when the pipeline
/// attempted the write (started, in flight, failed or unanswered), or, in
/// approve mode, offered the signed approval. Anything else (dry-run, a
/// guardrail's skip, a manual issue) is in the digest only.
pub fn alerts_individually(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::UpdateStarted { .. }
            | Outcome::UpdateInFlight { .. }
            | Outcome::UpdateFailed { .. }
            | Outcome::UpdateOutcomeUnknown { .. }
            // Approve mode: the signed offer is the alert the button hangs on;
            // in the digest alone nobody could click it.
            | Outcome::Skipped {
                reason: crate::decide::SkipReason::ApprovalOffered { .. },
                ..
            }
    )
}

/// The sweep's time plan, from the invocation's deadline: listing and
/// clusters stop at `work_deadline_ms`, which leaves the digest's publish
/// (`publish_ms`) and the margin; a cluster's pipeline starts only with
/// `min_cluster_ms` left (its reads and its own alert's publish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepDeadlines {
    /// What each cluster's pipeline is given as its invocation's deadline.
    pub work_deadline_ms: Option<u64>,
    /// The digest's publish ends by this.
    pub publish_deadline_ms: Option<u64>,
    pub min_cluster_ms: u64,
}

pub fn deadlines(deadline_ms: Option<u64>, limits: &Limits) -> SweepDeadlines {
    SweepDeadlines {
        work_deadline_ms: deadline_ms
            .map(|d| d.saturating_sub(limits.margin_ms + limits.publish_ms)),
        publish_deadline_ms: deadline_ms.map(|d| d.saturating_sub(limits.margin_ms)),
        min_cluster_ms: limits.read_ms + limits.publish_ms + limits.margin_ms,
    }
}

impl SweepDeadlines {
    /// Whether another cluster's pipeline may start at `now_ms`.
    pub fn may_start_cluster(&self, now_ms: u64) -> bool {
        match self.work_deadline_ms {
            None => true,
            Some(deadline) => now_ms + self.min_cluster_ms <= deadline,
        }
    }

    /// Whether another account's listing may start at `now_ms` (one read).
    pub fn may_start_listing(&self, now_ms: u64, read_ms: u64) -> bool {
        match self.work_deadline_ms {
            None => true,
            Some(deadline) => now_ms + read_ms <= deadline,
        }
    }
}

/// The accounts a sweep covers: its own, then every listed member. `*`
/// cannot be enumerated without the organization's account list (a sweep
/// does not call Organizations): the digest says so.
pub fn accounts_to_sweep(own: &str, members: &MemberAccounts) -> Vec<String> {
    let mut accounts = vec![own.to_owned()];
    if let MemberAccounts::Listed(listed) = members {
        for account in listed {
            if account.as_str() != own && !accounts.iter().any(|a| a == account.as_str()) {
                accounts.push(account.as_str().to_owned());
            }
        }
    }
    accounts
}

/// A listing's resources without those another listing of this sweep
/// answers for. A GuardDuty administrator's `ListCoverage` includes its
/// members' clusters; a member that is swept itself is counted and acted on
/// from its own listing only, so no cluster is run or counted twice. A
/// member the sweep does not list stays in the administrator's view.
pub fn own_view(
    listed_account: &str,
    resources: Vec<CoverageResource>,
    swept: &[String],
) -> Vec<CoverageResource> {
    resources
        .into_iter()
        .filter(|r| r.account == listed_account || !swept.contains(&r.account))
        .collect()
}

/// The order a sweep runs its unhealthy clusters in: the listing's,
/// rotated by a hash of the sweep's start second. When the deadline cuts a
/// large fleet short, the clusters not reached then differ from sweep to
/// sweep instead of being the same tail every time (a plain `start % n`
/// would repeat whenever `n` divides the schedule's period).
pub fn fair_order<T>(mut items: Vec<T>, started_ms: u64) -> Vec<T> {
    let len = items.len() as u64;
    if len > 0 {
        // splitmix64's finalizer: consecutive seconds spread over all of u64.
        let mut x = (started_ms / 1000).wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        items.rotate_left(usize::try_from(x % len).unwrap_or(0));
    }
    items
}

/// What became of one unhealthy, partial or unknown cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterReport {
    pub account: String,
    pub cluster: String,
    pub status: Status,
    pub catalog_id: Option<&'static str>,
    /// The pipeline's outcome label (`update-started`, `skipped-dry-run`,
    /// `manual`, ...), `listed` (partial, unknown), `not-reached` (the
    /// deadline came first) or `failed` (the pipeline's error).
    pub done: String,
    /// The individual alert's message id, when one was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_id: Option<String>,
}

/// What one account's listing produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum AccountResult {
    Listed {
        healthy: u64,
        unhealthy: u64,
        partial: u64,
        unknown: u64,
        covered_nodes: u64,
        compatible_nodes: u64,
    },
    /// The role was not assumed or a listing failed: the why.
    Unreachable { why: String },
    /// The deadline came before this account was listed.
    NotReached,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountReport {
    pub account: String,
    #[serde(flatten)]
    pub result: AccountResult,
}

impl AccountReport {
    /// The report of a listed account, counted from its resources.
    pub fn listed(account: &str, resources: &[CoverageResource]) -> AccountReport {
        let (mut healthy, mut unhealthy, mut partial, mut unknown) = (0, 0, 0, 0);
        let (mut covered, mut compatible) = (0u64, 0u64);
        for resource in resources {
            match status_of(resource) {
                Status::Healthy => healthy += 1,
                Status::Unhealthy => unhealthy += 1,
                Status::Partial => partial += 1,
                Status::Unknown => unknown += 1,
            }
            if let (Some(c), Some(k)) = (resource.covered_nodes, resource.compatible_nodes) {
                covered += u64::try_from(c).unwrap_or(0);
                compatible += u64::try_from(k).unwrap_or(0);
            }
        }
        AccountReport {
            account: account.to_owned(),
            result: AccountResult::Listed {
                healthy,
                unhealthy,
                partial,
                unknown,
                covered_nodes: covered,
                compatible_nodes: compatible,
            },
        }
    }
}

/// Everything the digest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub region: String,
    pub mode: RemediationMode,
    /// When the sweep started, milliseconds since the Unix epoch (its
    /// thread id and title).
    pub started_ms: u64,
    /// `MEMBER_ACCOUNTS` is `*`: members could not be enumerated.
    pub members_not_enumerable: bool,
    pub accounts: Vec<AccountReport>,
    /// Unhealthy, partial and unknown clusters, by account then name.
    pub clusters: Vec<ClusterReport>,
}

/// An account the sweep did not list, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreachable {
    pub account: String,
    pub why: String,
}

/// The sweep invocation's return value (and the metrics' source): counts
/// per status, the accounts not listed, what happened to every cluster
/// that is not healthy, the digest's message ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    pub healthy: u64,
    pub unhealthy: u64,
    pub partial: u64,
    pub unknown: u64,
    pub accounts_swept: u64,
    pub unreachable_accounts: Vec<Unreachable>,
    pub not_reached_accounts: Vec<String>,
    pub not_reached_clusters: Vec<ClusterReport>,
    pub members_not_enumerable: bool,
    pub clusters: Vec<ClusterReport>,
    pub digest_messages: Vec<String>,
}

impl Digest {
    /// Counts over every listed account: (healthy, unhealthy, partial, unknown).
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.accounts
            .iter()
            .fold((0, 0, 0, 0), |(h, u, p, k), account| {
                match &account.result {
                    AccountResult::Listed {
                        healthy,
                        unhealthy,
                        partial,
                        unknown,
                        ..
                    } => (h + healthy, u + unhealthy, p + partial, k + unknown),
                    _ => (h, u, p, k),
                }
            })
    }

    pub fn unreachable(&self) -> Vec<Unreachable> {
        self.accounts
            .iter()
            .filter_map(|a| match &a.result {
                AccountResult::Unreachable { why } => Some(Unreachable {
                    account: a.account.clone(),
                    why: why.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The invocation's summary, with the digest's message ids.
    pub fn summary(&self, digest_messages: Vec<String>) -> SweepSummary {
        let (healthy, unhealthy, partial, unknown) = self.totals();
        SweepSummary {
            healthy,
            unhealthy,
            partial,
            unknown,
            accounts_swept: self
                .accounts
                .iter()
                .filter(|a| matches!(a.result, AccountResult::Listed { .. }))
                .count() as u64,
            unreachable_accounts: self.unreachable(),
            not_reached_accounts: self
                .accounts
                .iter()
                .filter(|a| a.result == AccountResult::NotReached)
                .map(|a| a.account.clone())
                .collect(),
            not_reached_clusters: self
                .clusters
                .iter()
                .filter(|c| c.done == NOT_REACHED)
                .cloned()
                .collect(),
            members_not_enumerable: self.members_not_enumerable,
            clusters: self.clusters.clone(),
            digest_messages,
        }
    }
}

/// `ClusterReport::done` for a cluster the deadline kept from its pipeline.
pub const NOT_REACHED: &str = "not-reached";
/// `ClusterReport::done` for a partial or unknown cluster: listed only.
pub const LISTED: &str = "listed";

/// The payload key of a sweep invocation (`{"sweep": {}}`, the schedule's).
pub const SWEEP_KEY: &str = "sweep";

/// Whether a payload asks for a sweep.
pub fn is_sweep(payload: &Value) -> bool {
    payload
        .as_object()
        .is_some_and(|object| object.contains_key(SWEEP_KEY))
}

/// The member role the sweep lists a member account's coverage with; its
/// session name says `<function>.sweep-<start seconds>` in CloudTrail.
/// `None` when the role's ARN would not parse.
pub fn member_access(
    function: &crate::ids::FunctionIdentity,
    account: &crate::ids::AccountId,
    role: &crate::ids::RoleName,
    started_ms: u64,
) -> Option<crate::guardrails::MemberAccess> {
    let role_arn = crate::ids::RoleArn::parse(&format!(
        "arn:{}:iam::{}:role/{}",
        function.partition, account, role
    ))
    .ok()?;
    let id = crate::ids::EventId::parse(&format!("sweep-{}", started_ms / 1000)).ok()?;
    Some(crate::guardrails::MemberAccess {
        account: account.clone(),
        role_arn,
        session_name: crate::guardrails::session_name(function, &id),
    })
}
