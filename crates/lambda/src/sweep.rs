//! The sweep's shell (`{"sweep": {}}`, the stack's schedule; `coverage
//! sweep` in a terminal): list EKS coverage in the function's own account
//! and every listed member account (GuardDuty `ListDetectors`, then
//! `ListCoverage` filtered to EKS, every page), run each UNHEALTHY cluster
//! through the same `Pipeline` an event takes (its alert published only
//! when the core's `sweep::alerts_individually` says so), and publish the
//! core's digest. Accounts and clusters are worked on by `CONCURRENCY`
//! workers at a time; throttling is retried by the SDK's standard retry
//! (exponential backoff with jitter, 3 attempts) inside each call's
//! deadline; an account that fails is reported, the others go on; nothing
//! starts that cannot end before the invocation's deadline, and what was
//! not reached is named.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_guardduty::types::{
    CoverageFilterCondition, CoverageFilterCriteria, CoverageFilterCriterion,
    CoverageFilterCriterionKey,
};
use coverage_core::render::digest::digest_messages;
use coverage_core::sweep::{
    self, AccountReport, AccountResult, ClusterReport, CoverageResource, Digest, LISTED,
    NOT_REACHED, Status, SweepDeadlines, SweepSummary,
};
use coverage_core::{AccountId, Fact, Invocation};

use crate::gather::{AwsClients, error_text, now_ms, until};
use crate::handler::{App, HandlerError};

/// Accounts listed, and clusters run through the pipeline, at once.
pub const CONCURRENCY: usize = 4;
/// `ListCoverage` page size (its maximum).
const PAGE_SIZE: i32 = 50;
/// What a swept cluster's summary says as its message id when its alert
/// went to the digest only.
pub const DIGEST_ONLY: &str = "digest-only";

/// Run `work` over `items`, at most `CONCURRENCY` at a time, results in order.
async fn bounded<T, R, F, Fut>(items: Vec<T>, work: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate().collect::<VecDeque<_>>());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
    let worker = || async {
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some((index, item)) = next else { break };
            let result = work(item).await;
            if let Ok(mut results) = results.lock()
                && let Some(slot) = results.get_mut(index)
            {
                *slot = Some(result);
            }
        }
    };
    tokio::join!(worker(), worker(), worker(), worker());
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// One account's listing: its resources, or why not.
type Listing = Result<Vec<CoverageResource>, String>;

impl App {
    /// One sweep: list, remediate what an event would, publish the digest.
    pub async fn sweep(&self, invocation: Invocation) -> Result<SweepSummary, HandlerError> {
        let settings = self.settings();
        let deadlines = sweep::deadlines(invocation.deadline_ms, &settings.limits);
        let digest = self.sweep_digest(invocation).await;
        self.publish_digest(&digest, &deadlines).await
    }

    /// The sweep without its publish: every account listed, every unhealthy
    /// cluster through the pipeline (its own alert only when
    /// `sweep::alerts_individually`), the digest's model returned. `coverage
    /// sweep` prints it; the scheduled sweep publishes it.
    pub async fn sweep_digest(&self, invocation: Invocation) -> Digest {
        let started_ms = invocation.now_ms.unwrap_or_else(now_ms);
        let settings = self.settings();
        let deadlines = sweep::deadlines(invocation.deadline_ms, &settings.limits);
        let function = match &invocation.function {
            Fact::Known(function) => Some(function.clone()),
            _ => None,
        };
        let own = function
            .as_ref()
            .map_or_else(|| "own-account".to_owned(), |f| f.account.to_string());
        let region = function.as_ref().map_or_else(
            || {
                self.clients()
                    .guardduty
                    .config()
                    .region()
                    .map_or_else(|| "unknown".to_owned(), |r| r.to_string())
            },
            |f| f.region.to_string(),
        );
        let policy = &settings.policy;
        let accounts = sweep::accounts_to_sweep(&own, &policy.members);
        tracing::info!(accounts = accounts.len(), "sweep started");
        let swept = accounts.clone();

        // Listing, account by account.
        let listings: Vec<(String, Option<Listing>)> = bounded(accounts, |account| {
            let function = function.clone();
            let own = own.clone();
            async move {
                if !deadlines.may_start_listing(now_ms(), settings.limits.read_ms) {
                    return (account, None);
                }
                let listing = self
                    .list_account(&account, &own, function.as_ref(), started_ms, &deadlines)
                    .await;
                (account, Some(listing))
            }
        })
        .await;

        let mut reports = Vec::new();
        let mut unhealthy = Vec::new();
        let mut clusters = Vec::new();
        for (account, listing) in listings {
            match listing {
                None => reports.push(AccountReport {
                    account,
                    result: AccountResult::NotReached,
                }),
                Some(Err(why)) => {
                    tracing::warn!(account, why, "sweep: account not listed");
                    reports.push(AccountReport {
                        account,
                        result: AccountResult::Unreachable { why },
                    });
                }
                Some(Ok(resources)) => {
                    let resources = sweep::own_view(&account, resources, &swept);
                    reports.push(AccountReport::listed(&account, &resources));
                    for resource in resources {
                        let status = sweep::status_of(&resource);
                        match status {
                            Status::Healthy => {}
                            Status::Unhealthy => unhealthy.push(resource),
                            Status::Partial | Status::Unknown => clusters.push(ClusterReport {
                                account: resource.account.clone(),
                                cluster: resource.cluster.clone().unwrap_or_default(),
                                status,
                                catalog_id: sweep::catalog_id(&resource, status),
                                done: LISTED.to_owned(),
                                alert: None,
                                update_id: None,
                            }),
                        }
                    }
                }
            }
        }

        // Every unhealthy cluster through the event's pipeline, in an order
        // that changes from sweep to sweep (what a deadline leaves out, too).
        let unhealthy = sweep::fair_order(unhealthy, started_ms);
        let ran: Vec<ClusterReport> = bounded(unhealthy, |resource| {
            let invocation = Invocation {
                now_ms: None,
                deadline_ms: deadlines.work_deadline_ms,
                unusable_deadline_ms: None,
                ..invocation.clone()
            };
            let region = region.clone();
            async move {
                self.run_cluster(resource, &region, invocation, &deadlines)
                    .await
            }
        })
        .await;
        clusters.extend(ran);
        clusters.sort_by(|a, b| (&a.account, &a.cluster).cmp(&(&b.account, &b.cluster)));

        Digest {
            region,
            mode: policy.mode,
            started_ms,
            members_not_enumerable: matches!(
                policy.members,
                coverage_core::policy::MemberAccounts::Any
            ),
            accounts: reports,
            clusters,
        }
    }

    /// Publish the digest's parts, then count and log the sweep.
    async fn publish_digest(
        &self,
        digest: &Digest,
        deadlines: &SweepDeadlines,
    ) -> Result<SweepSummary, HandlerError> {
        let settings = self.settings();
        let started_ms = digest.started_ms;
        let mut ids = Vec::new();
        for message in digest_messages(digest, settings.format) {
            let deadline = deadlines.publish_deadline_ms.unwrap_or(u64::MAX);
            let published = self.publish_message(&message, deadline).await;
            crate::emf::record(&[coverage_core::metrics::of_publish(published.is_ok())]);
            match published {
                Ok(id) => ids.push(id),
                Err(why) => {
                    let error = HandlerError::Publish {
                        event_id: format!("sweep-{}", started_ms / 1000),
                        issue_id: "sweep-digest".to_owned(),
                        destination: self.destination_name(),
                        why,
                    };
                    tracing::error!(error = %error, "sweep digest not published; Lambda will retry the sweep");
                    return Err(error);
                }
            }
        }
        let summary = digest.summary(ids);
        crate::emf::record(&coverage_core::metrics::of_sweep(
            coverage_core::metrics::SweepTally {
                healthy: summary.healthy,
                unhealthy: summary.unhealthy,
                partial: summary.partial,
                accounts_unreachable: summary.unreachable_accounts.len() as u64,
            },
        ));
        tracing::info!(
            healthy = summary.healthy,
            unhealthy = summary.unhealthy,
            partial = summary.partial,
            unreachable = summary.unreachable_accounts.len(),
            not_reached = summary.not_reached_clusters.len(),
            "sweep done"
        );
        Ok(summary)
    }

    /// One unhealthy cluster through the pipeline, or `not-reached`.
    async fn run_cluster(
        &self,
        resource: CoverageResource,
        region: &str,
        mut invocation: Invocation,
        deadlines: &SweepDeadlines,
    ) -> ClusterReport {
        let mut report = ClusterReport {
            account: resource.account.clone(),
            cluster: resource.cluster.clone().unwrap_or_default(),
            status: Status::Unhealthy,
            catalog_id: sweep::catalog_id(&resource, Status::Unhealthy),
            done: NOT_REACHED.to_owned(),
            alert: None,
            update_id: None,
        };
        let now = now_ms();
        if !deadlines.may_start_cluster(now) {
            return report;
        }
        let Some(event) = sweep::synthesized_event(&resource, region) else {
            report.done = "no-cluster-name".to_owned();
            return report;
        };
        invocation.now_ms = Some(now);
        // Boxed: the pipeline's future is large, and the sweep holds several.
        match Box::pin(self.handle_swept(event, invocation)).await {
            Ok(summary) => {
                report.done = summary.outcome;
                report.update_id = summary.update_id;
                report.alert = (summary.message_id != DIGEST_ONLY).then_some(summary.message_id);
                if let Some(entry) = coverage_core::catalog::entry(&summary.issue_id) {
                    report.catalog_id = Some(entry.id);
                }
            }
            Err(error) => report.done = format!("failed: {error}"),
        }
        report
    }

    /// Every EKS coverage resource of one account, every page.
    async fn list_account(
        &self,
        account: &str,
        own: &str,
        function: Option<&coverage_core::FunctionIdentity>,
        started_ms: u64,
        deadlines: &SweepDeadlines,
    ) -> Listing {
        let deadline = deadlines.work_deadline_ms.unwrap_or(u64::MAX);
        let read = std::time::Duration::from_millis(self.settings().limits.read_ms);
        if account == own {
            let detector = self.own_detector(read, deadline).await;
            return list_coverage(self.clients(), detector, account, deadline).await;
        }
        let Some(function) = function else {
            return Err("the function's own ARN is unknown: no member role to assume".to_owned());
        };
        let id = AccountId::parse(account).map_err(|_| "not an account id".to_owned())?;
        let member = sweep::member_access(
            function,
            &id,
            &self.settings().policy.member_role,
            started_ms,
        )
        .ok_or_else(|| "the member role's ARN does not parse".to_owned())?;
        let clients = self.member_clients_for(&member, deadline).await?;
        let gatherer = crate::gather::Gatherer {
            clients: &clients.clients,
            timeout: read,
            deadline_ms: deadline,
            detector_cache: &clients.detector_cache,
        };
        let detector = gatherer.detector().await;
        list_coverage(&clients.clients, detector, account, deadline).await
    }
}

/// `ListCoverage` filtered to EKS, following `nextToken`, within `deadline_ms`.
async fn list_coverage(
    clients: &AwsClients,
    detector: Fact<String>,
    account: &str,
    deadline_ms: u64,
) -> Listing {
    let detector = match detector {
        Fact::Known(id) => id,
        Fact::Unavailable(why) => return Err(why),
        Fact::NotGathered => return Err("the GuardDuty detector was not read".to_owned()),
    };
    let criteria = CoverageFilterCriteria::builder()
        .filter_criterion(
            CoverageFilterCriterion::builder()
                .criterion_key(CoverageFilterCriterionKey::ResourceType)
                .filter_condition(CoverageFilterCondition::builder().equals("EKS").build())
                .build(),
        )
        .build();
    let pages = async {
        let mut resources = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = clients
                .guardduty
                .list_coverage()
                .detector_id(&detector)
                .filter_criteria(criteria.clone())
                .max_results(PAGE_SIZE)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| format!("ListCoverage failed: {}", error_text(&e)))?;
            for resource in output.resources() {
                let eks = resource
                    .resource_details()
                    .and_then(|d| d.eks_cluster_details());
                resources.push(CoverageResource {
                    account: resource.account_id().unwrap_or(account).to_owned(),
                    cluster: eks.and_then(|e| e.cluster_name()).map(str::to_owned),
                    status: resource.coverage_status().map(|s| s.as_str().to_owned()),
                    issue: resource.issue().map(str::to_owned),
                    updated_at: resource.updated_at().map(|t| t.secs()),
                    covered_nodes: eks.and_then(|e| e.covered_nodes()),
                    compatible_nodes: eks.and_then(|e| e.compatible_nodes()),
                    addon_version: eks
                        .and_then(|e| e.addon_details())
                        .and_then(|a| a.addon_version())
                        .map(str::to_owned),
                });
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(resources),
            }
        }
    };
    let limit = until(deadline_ms);
    match tokio::time::timeout(limit, pages).await {
        Ok(listing) => listing,
        Err(_) => Err(format!(
            "ListCoverage did not finish within {} ms (the sweep's deadline)",
            limit.as_millis()
        )),
    }
}
