//! Gathering the facts the pipeline (or a follow-up) asked for, concurrently,
//! each read failing soft: a failed or slow read becomes `Fact::Unavailable`
//! with the reason, and the alert says what could not be read. Every read
//! ends by the pipeline's deadline.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

pub use crate::aws_error::error_text;
use aws_sdk_eks::types::UpdateParamType;
use aws_sdk_guardduty::types::{
    CoverageFilterCondition, CoverageFilterCriteria, CoverageFilterCriterion,
    CoverageFilterCriterionKey, CoverageStatisticsType, CoverageStatus,
};
use coverage_core::decide::ADDON_NAME;
use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatistics, CoverageStatus as Coverage,
    Fact, FactRequest, Facts, LiveCoverage, UpdateRecord, UpdateStatus,
};
use coverage_core::follow_up::{FollowUpFacts, UpdateDetail, UpdateErrorDetail, UpdateLookup};

/// The most add-on updates read for the OVERWRITE bound. More than this and
/// the history is reported unreadable: the bound must not be judged on part of it.
pub const MAX_UPDATES_READ: usize = 100;
/// How many `DescribeUpdate` calls run at once.
const DESCRIBE_CONCURRENCY: usize = 10;

/// The AWS clients, built once per process.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub eks: aws_sdk_eks::Client,
    pub guardduty: aws_sdk_guardduty::Client,
    pub sns: aws_sdk_sns::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// CloudWatch Logs: the cluster's audit log (Logs Insights).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// KMS: approval tokens' HMAC (`GenerateMac`/`VerifyMac`, approve mode only).
    pub kms: aws_sdk_kms::Client,
}

impl AwsClients {
    pub fn new(sdk: &aws_config::SdkConfig) -> AwsClients {
        AwsClients {
            eks: aws_sdk_eks::Client::new(sdk),
            guardduty: aws_sdk_guardduty::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            scheduler: aws_sdk_scheduler::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
        }
    }
}

/// Milliseconds since the Unix epoch: the clock the pipeline's deadlines use.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How long until `deadline_ms` on that clock (zero once it has passed).
pub fn until(deadline_ms: u64) -> Duration {
    Duration::from_millis(deadline_ms.saturating_sub(now_ms()))
}

/// Reads for one event.
#[derive(Debug)]
pub struct Gatherer<'a> {
    pub clients: &'a AwsClients,
    /// Upper bound on each read.
    pub timeout: Duration,
    /// No read goes past this (milliseconds since the epoch).
    pub deadline_ms: u64,
    /// The detector id survives between invocations of a warm function.
    pub detector_cache: &'a Mutex<Option<String>>,
}

impl Gatherer<'_> {
    /// One read, within its own timeout and the pipeline's deadline.
    async fn bounded<T>(&self, read: impl Future<Output = Fact<T>>) -> Fact<T> {
        let left = until(self.deadline_ms);
        let (limit, why) = if left < self.timeout {
            (
                left,
                "no answer before the invocation's deadline".to_owned(),
            )
        } else {
            (
                self.timeout,
                format!("no answer within {} ms", self.timeout.as_millis()),
            )
        };
        match tokio::time::timeout(limit, read).await {
            Ok(fact) => fact,
            Err(_) => Fact::Unavailable(why),
        }
    }

    /// Make the requested reads concurrently, for `cluster` (validated by the
    /// core) in `account` (the coverage filters; `None` when the event names
    /// no valid one).
    pub async fn gather(
        &self,
        cluster: &str,
        account: Option<&str>,
        request: FactRequest,
    ) -> Facts {
        let account = account.unwrap_or_default();
        let addon = async {
            if request.addon {
                self.bounded(self.describe_addon(cluster)).await
            } else {
                Fact::NotGathered
            }
        };
        let history = async {
            if request.update_history {
                self.bounded(self.update_history(cluster)).await
            } else {
                Fact::NotGathered
            }
        };
        let guardduty = async {
            if !request.needs_detector() {
                return (Fact::NotGathered, Fact::NotGathered, Fact::NotGathered);
            }
            let detector = self.bounded(self.detector_id()).await;
            let Fact::Known(detector_id) = &detector else {
                let why = match &detector {
                    Fact::Unavailable(why) => format!("no GuardDuty detector: {why}"),
                    _ => "no GuardDuty detector".to_owned(),
                };
                let coverage = if request.coverage {
                    Fact::Unavailable(why.clone())
                } else {
                    Fact::NotGathered
                };
                let statistics = if request.statistics {
                    Fact::Unavailable(why)
                } else {
                    Fact::NotGathered
                };
                return (detector.clone(), coverage, statistics);
            };
            let coverage = async {
                if request.coverage {
                    self.bounded(self.coverage(detector_id, cluster, account))
                        .await
                } else {
                    Fact::NotGathered
                }
            };
            let statistics = async {
                if request.statistics {
                    self.bounded(self.statistics(detector_id, account)).await
                } else {
                    Fact::NotGathered
                }
            };
            let (coverage, statistics) = tokio::join!(coverage, statistics);
            (detector.clone(), coverage, statistics)
        };
        let (addon, update_history, (detector_id, coverage, statistics)) =
            tokio::join!(addon, history, guardduty);
        Facts {
            now: None,
            function: Fact::NotGathered,
            detector_id,
            addon,
            update_history,
            coverage,
            statistics,
            role_not_assumed: None,
            audit_log: Fact::NotGathered,
        }
    }

    /// `gather`, and alongside it the audit log query when the pipeline asks
    /// for one (within its own deadline, never past the reads').
    pub async fn gather_with_audit(
        &self,
        cluster: &str,
        account: Option<&str>,
        request: FactRequest,
        audit: Option<coverage_core::AuditRead<'_>>,
    ) -> Facts {
        let audit_log = async {
            match audit {
                Some(read) if request.audit_log => {
                    let read = coverage_core::AuditRead {
                        deadline_ms: read.deadline_ms.min(self.deadline_ms),
                        ..read
                    };
                    // Boxed: the SDK's futures are large, and the handler's
                    // future holds every read at once.
                    Box::pin(crate::audit_log::read(&self.clients.logs, read)).await
                }
                _ => Fact::NotGathered,
            }
        };
        let (mut facts, audit_log) =
            tokio::join!(Box::pin(self.gather(cluster, account, request)), audit_log);
        facts.audit_log = audit_log;
        facts
    }

    /// A follow-up's reads: the update and the add-on, concurrently.
    pub async fn follow_up(&self, cluster: &str, update_id: &str) -> FollowUpFacts {
        let update = async {
            match self.bounded(self.describe_update(cluster, update_id)).await {
                Fact::Known(lookup) => lookup,
                Fact::Unavailable(why) => UpdateLookup::Unavailable { why },
                Fact::NotGathered => UpdateLookup::NotGathered,
            }
        };
        let addon = self.bounded(self.describe_addon(cluster));
        let (update, addon) = tokio::join!(update, addon);
        FollowUpFacts { update, addon }
    }

    /// `DescribeUpdate` with its `errors[]`. `ResourceNotFoundException`
    /// means EKS does not know the update (or the cluster or add-on is gone).
    async fn describe_update(&self, cluster: &str, update_id: &str) -> Fact<UpdateLookup> {
        let described = self
            .clients
            .eks
            .describe_update()
            .name(cluster)
            .addon_name(ADDON_NAME)
            .update_id(update_id)
            .send()
            .await;
        let output = match described {
            Ok(output) => output,
            Err(error) => {
                let not_found = error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                return Fact::Known(if not_found {
                    UpdateLookup::NotFound {
                        message: error_text(&error),
                    }
                } else {
                    UpdateLookup::Unavailable {
                        why: format!("DescribeUpdate failed: {}", error_text(&error)),
                    }
                });
            }
        };
        let Some(update) = output.update() else {
            return Fact::Unavailable("DescribeUpdate returned no update".to_owned());
        };
        Fact::Known(UpdateLookup::Found(UpdateDetail {
            status: UpdateStatus::parse(update.status().map_or("", |s| s.as_str())),
            created_at: update.created_at().map(|t| t.secs()),
            errors: update
                .errors()
                .iter()
                .map(|e| UpdateErrorDetail {
                    code: e.error_code().map_or("", |c| c.as_str()).to_owned(),
                    message: e.error_message().unwrap_or_default().to_owned(),
                    resource_ids: e.resource_ids().to_vec(),
                })
                .collect(),
        }))
    }

    async fn describe_addon(&self, cluster: &str) -> Fact<AddonState> {
        let response = match self
            .clients
            .eks
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(ADDON_NAME)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                let not_found = error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                return Fact::Unavailable(if not_found {
                    format!(
                        "{ADDON_NAME} is not installed on the cluster ({})",
                        error_text(&error)
                    )
                } else {
                    format!("DescribeAddon failed: {}", error_text(&error))
                });
            }
        };
        let Some(addon) = response.addon() else {
            return Fact::Unavailable("DescribeAddon returned no add-on".to_owned());
        };
        Fact::Known(AddonState {
            // No status is a status this code does not know: never eligible.
            status: AddonStatus::parse(addon.status().map_or("", |s| s.as_str())),
            version: addon.addon_version().map(str::to_owned),
            configuration_values: addon
                .configuration_values()
                .map(str::to_owned)
                .filter(|v| !v.trim().is_empty()),
            health_issues: addon
                .health()
                .map(|health| {
                    health
                        .issues()
                        .iter()
                        .map(|issue| AddonHealthIssue {
                            code: issue.code().map_or("unknown", |c| c.as_str()).to_owned(),
                            message: issue.message().unwrap_or_default().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            arn: addon.addon_arn().map(str::to_owned),
        })
    }

    async fn update_history(&self, cluster: &str) -> Fact<Vec<UpdateRecord>> {
        let listed = self
            .clients
            .eks
            .list_updates()
            .name(cluster)
            .addon_name(ADDON_NAME)
            .max_results(i32::try_from(MAX_UPDATES_READ).unwrap_or(100))
            .send()
            .await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(error) => {
                return Fact::Unavailable(format!("ListUpdates failed: {}", error_text(&error)));
            }
        };
        if listed.next_token().is_some() {
            return Fact::Unavailable(format!(
                "the add-on has more than {MAX_UPDATES_READ} updates"
            ));
        }
        let ids: Vec<String> = listed.update_ids().to_vec();
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(DESCRIBE_CONCURRENCY) {
            let mut tasks = tokio::task::JoinSet::new();
            for id in chunk {
                let eks = self.clients.eks.clone();
                let (cluster, id) = (cluster.to_owned(), id.clone());
                tasks.spawn(async move {
                    let described = eks
                        .describe_update()
                        .name(&cluster)
                        .addon_name(ADDON_NAME)
                        .update_id(&id)
                        .send()
                        .await;
                    (id, described)
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let (id, described) = match joined {
                    Ok(pair) => pair,
                    Err(error) => {
                        return Fact::Unavailable(format!("DescribeUpdate task failed: {error}"));
                    }
                };
                let update = match described {
                    Ok(output) => output.update().cloned(),
                    Err(error) => {
                        return Fact::Unavailable(format!(
                            "DescribeUpdate {id} failed: {}",
                            error_text(&error)
                        ));
                    }
                };
                let Some(update) = update else {
                    return Fact::Unavailable(format!("DescribeUpdate {id} returned no update"));
                };
                records.push(UpdateRecord {
                    id: update.id().unwrap_or(&id).to_owned(),
                    // No status is not "ended": the guardrails then hold back.
                    status: UpdateStatus::parse(update.status().map_or("", |s| s.as_str())),
                    created_at: update.created_at().map(|t| t.secs()),
                    resolve_conflicts: update
                        .params()
                        .iter()
                        .find(|p| p.r#type() == Some(&UpdateParamType::ResolveConflicts))
                        .and_then(|p| p.value())
                        .map(str::to_owned),
                });
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        Fact::Known(records)
    }

    /// The account's detector id, within the read timeout (cached once read).
    pub async fn detector(&self) -> Fact<String> {
        self.bounded(self.detector_id()).await
    }

    async fn detector_id(&self) -> Fact<String> {
        if let Some(cached) = self
            .detector_cache
            .lock()
            .ok()
            .and_then(|cache| cache.clone())
        {
            return Fact::Known(cached);
        }
        match self.clients.guardduty.list_detectors().send().await {
            Ok(output) => match output.detector_ids().first() {
                Some(id) => {
                    if let Ok(mut cache) = self.detector_cache.lock() {
                        *cache = Some(id.clone());
                    }
                    Fact::Known(id.clone())
                }
                None => Fact::Unavailable("GuardDuty has no detector in this region".to_owned()),
            },
            Err(error) => {
                Fact::Unavailable(format!("ListDetectors failed: {}", error_text(&error)))
            }
        }
    }

    async fn coverage(
        &self,
        detector_id: &str,
        cluster: &str,
        account: &str,
    ) -> Fact<LiveCoverage> {
        let criterion = |key: CoverageFilterCriterionKey, value: &str| {
            CoverageFilterCriterion::builder()
                .criterion_key(key)
                .filter_condition(CoverageFilterCondition::builder().equals(value).build())
                .build()
        };
        let mut criteria = CoverageFilterCriteria::builder()
            .filter_criterion(criterion(CoverageFilterCriterionKey::ClusterName, cluster));
        if !account.is_empty() {
            criteria = criteria
                .filter_criterion(criterion(CoverageFilterCriterionKey::AccountId, account));
        }
        let output = match self
            .clients
            .guardduty
            .list_coverage()
            .detector_id(detector_id)
            .filter_criteria(criteria.build())
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return Fact::Unavailable(format!("ListCoverage failed: {}", error_text(&error)));
            }
        };
        let Some(resource) = output.resources().first() else {
            return Fact::Unavailable("GuardDuty lists no coverage for this cluster".to_owned());
        };
        let eks = resource
            .resource_details()
            .and_then(|d| d.eks_cluster_details());
        Fact::Known(LiveCoverage {
            // What the answer is about, so the core can check it is this cluster.
            cluster_name: eks.and_then(|e| e.cluster_name()).map(str::to_owned),
            account_id: resource.account_id().map(str::to_owned),
            coverage_status: resource
                .coverage_status()
                .map(|s| Coverage::parse(s.as_str())),
            issue: resource.issue().map(str::to_owned),
            covered_nodes: eks.and_then(|e| e.covered_nodes()),
            compatible_nodes: eks.and_then(|e| e.compatible_nodes()),
            management_type: eks
                .and_then(|e| e.management_type())
                .map(|m| m.as_str().to_owned()),
            addon_version: eks
                .and_then(|e| e.addon_details())
                .and_then(|a| a.addon_version())
                .map(str::to_owned),
            addon_status: eks
                .and_then(|e| e.addon_details())
                .and_then(|a| a.addon_status())
                .map(str::to_owned),
            updated_at: resource.updated_at().map(|t| t.secs()),
        })
    }

    async fn statistics(&self, detector_id: &str, account: &str) -> Fact<CoverageStatistics> {
        let mut criteria = CoverageFilterCriteria::builder().filter_criterion(
            CoverageFilterCriterion::builder()
                .criterion_key(CoverageFilterCriterionKey::ResourceType)
                .filter_condition(CoverageFilterCondition::builder().equals("EKS").build())
                .build(),
        );
        if !account.is_empty() {
            criteria = criteria.filter_criterion(
                CoverageFilterCriterion::builder()
                    .criterion_key(CoverageFilterCriterionKey::AccountId)
                    .filter_condition(CoverageFilterCondition::builder().equals(account).build())
                    .build(),
            );
        }
        let output = match self
            .clients
            .guardduty
            .get_coverage_statistics()
            .detector_id(detector_id)
            .statistics_type(CoverageStatisticsType::CountByCoverageStatus)
            .filter_criteria(criteria.build())
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return Fact::Unavailable(format!(
                    "GetCoverageStatistics failed: {}",
                    error_text(&error)
                ));
            }
        };
        let counts = output
            .coverage_statistics()
            .and_then(|s| s.count_by_coverage_status());
        Fact::Known(CoverageStatistics {
            healthy: counts.and_then(|c| c.get(&CoverageStatus::Healthy).copied()),
            unhealthy: counts.and_then(|c| c.get(&CoverageStatus::Unhealthy).copied()),
        })
    }
}
