//! The sweep benchmark's world (`lambda-bench --sweep`): a fleet of EKS
//! clusters in the function's own account and N-1 member accounts, behind
//! the same fake endpoints as the event benchmark plus STS. It answers what
//! a sweep asks (STS `AssumeRole`; GuardDuty `ListDetectors`, `ListCoverage`
//! over the whole fleet page by page or for one cluster,
//! `GetCoverageStatistics`; EKS `DescribeAddon`; SNS `Publish`, kept so
//! the digest can be checked) for the account whose credentials signed the
//! call, as the services do, and throttles a fixed share of the GuardDuty,
//! EKS and STS calls. What a request gets wrong (another account's detector,
//! a page token it was not given, a role it may not assume) is refused as
//! AWS would and noted as a problem: the run then measures a failure path,
//! so it fails.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderMap;
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::fake_aws::{json_ok, now, respond, xml_ok};

/// The function's own account (its ARN in the Runtime API's headers).
pub const OWN_ACCOUNT: &str = "111122223333";
/// The access key of the function's own credentials (its environment).
pub const OWN_ACCESS_KEY: &str = "AKIDBENCH";
/// The role the function assumes in each member account (`MEMBER_ROLE_NAME`).
pub const MEMBER_ROLE: &str = "GuardDutyCoverageMember";
/// GuardDuty's largest `ListCoverage` page, which the function asks for.
pub const MAX_PAGE: usize = 50;
const ADDON_VERSION: &str = "v1.10.0-eksbuild.2";

/// The documented issue strings (docs/reference/coverage-issues.md) of the
/// two unhealthy clusters in every account.
const CONFLICT_ISSUE: &str = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image";
const CPU_ISSUE: &str = "Addon Update Failed:EKS Addon Issue - InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas. 0/1 nodes are available: 1 Insufficient cpu.";

/// The calls the fleet throttles: every GuardDuty, EKS and STS operation
/// (SNS and CloudWatch Logs are left alone).
const THROTTLED: &[&str] = &[
    "AssumeRole",
    "ListDetectors",
    "ListCoverage",
    "GetCoverageStatistics",
    "DescribeAddon",
    "ListUpdates",
    "DescribeUpdate",
    "UpdateAddon",
];

/// What a cluster of the fleet is. The mix per account is fixed by the
/// cluster's index: 0 a configuration conflict (the automatable issue: a
/// dry-run makes every read, the audit query included), 1 too little CPU
/// for the agent (a manual issue), 2-4 partially covered (HEALTHY, 2 of 3
/// nodes covered), the rest healthy (3 of 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Conflict,
    InsufficientCpu,
    Partial,
    Healthy,
}

impl Kind {
    fn of(index: usize) -> Kind {
        match index {
            0 => Kind::Conflict,
            1 => Kind::InsufficientCpu,
            2..=4 => Kind::Partial,
            _ => Kind::Healthy,
        }
    }

    pub fn unhealthy(self) -> bool {
        matches!(self, Kind::Conflict | Kind::InsufficientCpu)
    }

    /// (covered, compatible) nodes.
    fn nodes(self) -> (u64, u64) {
        match self {
            Kind::Conflict => (0, 3),
            Kind::InsufficientCpu => (1, 3),
            Kind::Partial => (2, 3),
            Kind::Healthy => (3, 3),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub clusters: Vec<Cluster>,
}

impl Account {
    /// (healthy, unhealthy, partial, covered nodes, compatible nodes), as
    /// the digest's account line counts them.
    pub fn tally(&self) -> (u64, u64, u64, u64, u64) {
        self.clusters.iter().fold((0, 0, 0, 0, 0), |t, c| {
            let (covered, compatible) = c.kind.nodes();
            let (h, u, p) = match c.kind {
                Kind::Healthy => (1, 0, 0),
                Kind::Partial => (0, 0, 1),
                Kind::Conflict | Kind::InsufficientCpu => (0, 1, 0),
            };
            (t.0 + h, t.1 + u, t.2 + p, t.3 + covered, t.4 + compatible)
        })
    }
}

/// The fleet's shape, from the command line.
#[derive(Debug, Clone, Serialize)]
pub struct FleetSpec {
    /// The own account plus `accounts - 1` members.
    pub accounts: usize,
    pub clusters_per_account: usize,
    /// The most resources a `ListCoverage` page holds (GuardDuty: 50).
    pub page_size: usize,
    /// The share of GuardDuty/EKS/STS calls throttled, per operation.
    pub throttle_percent: u32,
}

/// One operation's calls in a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OpCount {
    /// Requests received, throttled ones included.
    pub calls: u64,
    pub throttled: u64,
    /// Requests that were a retry (`amz-sdk-request: attempt=n`, n > 1).
    pub retries: u64,
    /// Throttled on the SDK's last attempt: the call failed for the function.
    pub exhausted: u64,
}

/// One SNS `Publish` the fleet received.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub message_id: String,
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

/// What one run did to the fleet.
#[derive(Debug, Default)]
pub struct RunCalls {
    pub operations: BTreeMap<&'static str, OpCount>,
    pub published: Vec<Published>,
    /// Requests refused because the function got them wrong.
    pub problems: Vec<String>,
    /// GuardDuty reads filtered on an `ACCOUNT_ID` other than the signer's:
    /// a member's cluster read with another account's role (answered, since
    /// GuardDuty answers them too, with nothing or that account's own data).
    pub foreign_reads: u64,
}

/// A request as the fleet sees it.
#[derive(Debug)]
pub struct Call<'a> {
    pub segments: &'a [&'a str],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The fleet and what the current run did to it.
#[derive(Debug)]
pub struct Fleet {
    pub spec: FleetSpec,
    pub accounts: Vec<Account>,
    /// Every resource's `updatedAt`: fixed, so a cluster's synthesized event
    /// id is the same in every run.
    updated_at: u64,
    run: Mutex<RunCalls>,
}

impl Fleet {
    pub fn new(spec: FleetSpec) -> Fleet {
        let accounts = (0..spec.accounts)
            .map(|index| Account {
                id: account_id(index),
                // The same names in every account, as real fleets have
                // (`prod`, `staging`): the digest must say which account.
                clusters: (0..spec.clusters_per_account)
                    .map(|i| Cluster {
                        name: format!("cluster-{i:03}"),
                        kind: Kind::of(i),
                    })
                    .collect(),
            })
            .collect();
        Fleet {
            spec,
            accounts,
            updated_at: now().saturating_sub(600),
            run: Mutex::new(RunCalls::default()),
        }
    }

    /// The member accounts (every account but the own one), for `MEMBER_ACCOUNTS`.
    pub fn members(&self) -> Vec<&str> {
        self.accounts
            .iter()
            .filter(|a| a.id != OWN_ACCOUNT)
            .map(|a| a.id.as_str())
            .collect()
    }

    /// Start counting afresh (each run's counts are its own, and the
    /// throttling pattern starts over, so runs are alike).
    pub fn begin_run(&self) {
        if let Ok(mut run) = self.run.lock() {
            *run = RunCalls::default();
        }
    }

    /// What the run did.
    pub fn end_run(&self) -> RunCalls {
        self.run
            .lock()
            .map(|mut run| std::mem::take(&mut *run))
            .unwrap_or_default()
    }

    /// The fleet's answer to `operation`, or `None` for the canned one.
    pub fn answer(
        &self,
        operation: &'static str,
        call: &Call<'_>,
    ) -> Option<Response<Full<Bytes>>> {
        let attempt = sdk_attempt(call.headers);
        let mut run = self.run.lock().ok()?;
        let count = run.operations.entry(operation).or_default();
        count.calls += 1;
        if attempt.is_some_and(|(n, _)| n > 1) {
            count.retries += 1;
        }
        // Deterministic: call n of an operation is throttled when n·P/100
        // passes an integer, i.e. every k-th call at P = 100/k, and exactly
        // P% of each operation's calls in any case.
        let n = count.calls;
        let p = u64::from(self.spec.throttle_percent);
        if THROTTLED.contains(&operation) && n * p / 100 > (n - 1) * p / 100 {
            count.throttled += 1;
            if attempt.is_some_and(|(n, max)| n >= max) {
                count.exhausted += 1;
            }
            return Some(throttled(operation));
        }
        let account = match self.signer(call.headers) {
            Ok(account) => account,
            Err(problem) => {
                run.problems.push(format!("{operation}: {problem}"));
                return Some(rest_error(
                    StatusCode::FORBIDDEN,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                ));
            }
        };
        let answer = match operation {
            "AssumeRole" => self.assume_role(&form_fields(call.body)),
            "ListDetectors" => Ok(json_ok(&json!({"detectorIds": [detector_of(&account)]}))),
            "ListCoverage" => self.list_coverage(&account, call, &mut run),
            "GetCoverageStatistics" => self.statistics(&account, call, &mut run),
            "DescribeAddon" => Ok(self.describe_addon(&account, call.segments)),
            "Publish" => Ok(publish(&mut run, call.body)),
            // The rest (no update history, the audit query) as canned.
            _ => return None,
        };
        Some(match answer {
            Ok(response) => response,
            Err(refused) => {
                let (problem, response) = *refused;
                run.problems.push(format!("{operation}: {problem}"));
                response
            }
        })
    }

    /// The account whose credentials signed the call: a member's
    /// (`ASIA<account>`, as `AssumeRole` hands out) or the function's own.
    fn signer(&self, headers: &HeaderMap) -> Result<String, String> {
        let key = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split("Credential=").nth(1))
            .and_then(|credential| credential.split('/').next())
            .unwrap_or_default();
        if key == OWN_ACCESS_KEY {
            return Ok(OWN_ACCOUNT.to_owned());
        }
        match key.strip_prefix("ASIA") {
            Some(account) if self.accounts.iter().any(|a| a.id == account) => {
                Ok(account.to_owned())
            }
            _ => Err(format!(
                "signed with an access key no one handed out: {key:?}"
            )),
        }
    }

    fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    fn assume_role(&self, form: &HashMap<String, String>) -> Answer {
        let arn = form.get("RoleArn").map_or("", String::as_str);
        let session = form.get("RoleSessionName").map_or("", String::as_str);
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let account = match parts.as_slice() {
            ["arn", "aws", "iam", "", account, role]
                if *role == format!("role/{MEMBER_ROLE}") && *account != OWN_ACCOUNT =>
            {
                self.account(account).map(|a| a.id.clone())
            }
            _ => None,
        };
        let Some(account) = account else {
            return Err(Box::new((
                format!("may not assume {arn:?}"),
                sts_error(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "not authorized to perform sts:AssumeRole",
                ),
            )));
        };
        let session_ok = (2..=64).contains(&session.len())
            && session
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !session_ok {
            return Err(Box::new((
                format!("RoleSessionName {session:?}"),
                sts_error(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    "invalid RoleSessionName",
                ),
            )));
        }
        let expiration = iso8601(now() + 3600);
        Ok(xml_ok(format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIA{account}</AccessKeyId><SecretAccessKey>bench-secret-{account}</SecretAccessKey><SessionToken>bench-token-{account}</SessionToken><Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROABENCH:{session}</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{MEMBER_ROLE}/{session}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></AssumeRoleResponse>"#
        )))
    }

    /// The path's detector must be the signing account's, as GuardDuty requires.
    fn check_detector(&self, account: &str, call: &Call<'_>) -> Result<(), Refused> {
        let detector = call.segments.get(1).copied().unwrap_or_default();
        if detector == detector_of(account) {
            return Ok(());
        }
        Err(Box::new((
            format!("detector {detector} is not account {account}'s"),
            rest_error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "The request is rejected because the input detectorId is not owned by the current account.",
            ),
        )))
    }

    /// The whole fleet's EKS resources page by page (`RESOURCE_TYPE` EKS),
    /// or one cluster's (`CLUSTER_NAME`, `ACCOUNT_ID`).
    fn list_coverage(&self, account: &str, call: &Call<'_>, run: &mut RunCalls) -> Answer {
        self.check_detector(account, call)?;
        let request: Value = serde_json::from_slice(call.body).unwrap_or(Value::Null);
        let criteria = criteria(&request);
        let bad = |why: String| -> Refused {
            let response = rest_error(StatusCode::BAD_REQUEST, "BadRequestException", &why);
            Box::new((why, response))
        };
        let clusters = self.account(account).map_or(&[][..], |a| &a.clusters[..]);
        let other_account = criteria.get("ACCOUNT_ID").is_some_and(|id| id != account);
        if other_account {
            run.foreign_reads += 1;
        }
        if let Some(name) = criteria.get("CLUSTER_NAME") {
            let resources: Vec<Value> = clusters
                .iter()
                .filter(|c| !other_account && c.name == *name)
                .map(|c| self.resource(account, c))
                .collect();
            return Ok(json_ok(&json!({"resources": resources})));
        }
        if criteria.get("RESOURCE_TYPE").map(String::as_str) != Some("EKS") {
            return Err(bad(format!("unexpected filter {criteria:?}")));
        }
        let max = match request["maxResults"].as_u64() {
            None => MAX_PAGE,
            Some(n @ 1..=50) => usize::try_from(n).unwrap_or(MAX_PAGE),
            Some(n) => return Err(bad(format!("maxResults {n} is not in 1..50"))),
        };
        let from = match request["nextToken"].as_str() {
            None => 0,
            Some(token) => match parse_token(token, account) {
                Some(from) if from < clusters.len() => from,
                _ => return Err(bad(format!("nextToken {token:?} was not handed out"))),
            },
        };
        let to = (from + max.min(self.spec.page_size)).min(clusters.len());
        let resources: Vec<Value> = clusters[from..to]
            .iter()
            .map(|c| self.resource(account, c))
            .collect();
        let mut page = json!({"resources": resources});
        if to < clusters.len() {
            page["nextToken"] = json!(token(to, account));
        }
        Ok(json_ok(&page))
    }

    fn statistics(&self, account: &str, call: &Call<'_>, run: &mut RunCalls) -> Answer {
        self.check_detector(account, call)?;
        let request: Value = serde_json::from_slice(call.body).unwrap_or(Value::Null);
        if criteria(&request)
            .get("ACCOUNT_ID")
            .is_some_and(|id| id != account)
        {
            run.foreign_reads += 1;
        }
        let (healthy, unhealthy, partial, ..) = self
            .account(account)
            .map(Account::tally)
            .unwrap_or_default();
        Ok(json_ok(
            &json!({"coverageStatistics": {"countByCoverageStatus": {
            "HEALTHY": healthy + partial, "UNHEALTHY": unhealthy}}}),
        ))
    }

    fn describe_addon(&self, account: &str, segments: &[&str]) -> Response<Full<Bytes>> {
        let (cluster, addon) = match segments {
            ["clusters", cluster, "addons", addon] => (*cluster, *addon),
            _ => ("", ""),
        };
        let Some(found) = self
            .account(account)
            .and_then(|a| a.clusters.iter().find(|c| c.name == cluster))
        else {
            return rest_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!("No cluster found for name: {cluster}."),
            );
        };
        let (status, issues) = match found.kind {
            Kind::Conflict => (
                "DEGRADED",
                json!([{"code": "ConfigurationConflict", "message": "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode."}]),
            ),
            Kind::InsufficientCpu => (
                "DEGRADED",
                json!([{"code": "InsufficientNumberOfReplicas", "message": "The add-on is unhealthy because it doesn't have the desired number of replicas."}]),
            ),
            Kind::Partial | Kind::Healthy => ("ACTIVE", json!([])),
        };
        json_ok(&json!({"addon": {
            "addonName": addon,
            "clusterName": cluster,
            "status": status,
            "addonVersion": ADDON_VERSION,
            "addonArn": format!("arn:aws:eks:us-east-1:{account}:addon/{cluster}/{addon}/2ec7"),
            "configurationValues": r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high"}"#,
            "health": {"issues": issues}
        }}))
    }

    /// One EKS coverage resource as `ListCoverage` returns it.
    fn resource(&self, account: &str, cluster: &Cluster) -> Value {
        let (covered, compatible) = cluster.kind.nodes();
        let (status, issue, addon_status) = match cluster.kind {
            Kind::Conflict => ("UNHEALTHY", Some(CONFLICT_ISSUE), "DEGRADED"),
            Kind::InsufficientCpu => ("UNHEALTHY", Some(CPU_ISSUE), "DEGRADED"),
            Kind::Partial | Kind::Healthy => ("HEALTHY", None, "ACTIVE"),
        };
        json!({
            "resourceId": cluster.name, "detectorId": detector_of(account), "accountId": account,
            "coverageStatus": status, "issue": issue,
            "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
                "clusterName": cluster.name, "coveredNodes": covered, "compatibleNodes": compatible,
                "addonDetails": {"addonVersion": ADDON_VERSION, "addonStatus": addon_status},
                "managementType": "AUTO_MANAGED"}},
            "updatedAt": self.updated_at
        })
    }
}

/// A refused request: what was wrong, and the answer AWS would give
/// (boxed: rarely built, and a response is large).
type Refused = Box<(String, Response<Full<Bytes>>)>;
type Answer = Result<Response<Full<Bytes>>, Refused>;

/// Account `index` of the fleet: 0 is the own account.
fn account_id(index: usize) -> String {
    if index == 0 {
        OWN_ACCOUNT.to_owned()
    } else {
        format!("{:012}", 500_000_000_000usize + index)
    }
}

/// Each account's GuardDuty detector id (32 hex digits, distinct per account).
fn detector_of(account: &str) -> String {
    format!("de7ec7{account:0>26}")
}

/// An opaque-looking page token, valid only for the account it was given to.
fn token(offset: usize, account: &str) -> String {
    format!("AAAB{account}{offset:08x}")
}

fn parse_token(token: &str, account: &str) -> Option<usize> {
    let rest = token.strip_prefix("AAAB")?.strip_prefix(account)?;
    usize::from_str_radix(rest, 16).ok()
}

/// `criterionKey` → the first `equals` value.
fn criteria(request: &Value) -> BTreeMap<String, String> {
    request["filterCriteria"]["filterCriterion"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["criterionKey"].as_str()?.to_owned(),
                c["filterCondition"]["equals"][0].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// `amz-sdk-request: attempt=2; max=3` → (2, 3).
fn sdk_attempt(headers: &HeaderMap) -> Option<(u64, u64)> {
    let value = headers.get("amz-sdk-request")?.to_str().ok()?;
    let mut attempt = None;
    let mut max = None;
    for part in value.split(';') {
        match part.trim().split_once('=') {
            Some(("attempt", n)) => attempt = n.parse().ok(),
            Some(("max", n)) => max = n.parse().ok(),
            _ => {}
        }
    }
    Some((attempt?, max?))
}

/// Throttled as each service says it: STS (awsQuery) with the code
/// `Throttling`, EKS and GuardDuty (REST JSON) with `ThrottlingException`
/// in `x-amzn-ErrorType`; both codes the SDK's standard retry classifies as
/// throttling and backs off from.
fn throttled(operation: &str) -> Response<Full<Bytes>> {
    if operation == "AssumeRole" {
        return sts_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded");
    }
    rest_error(
        StatusCode::TOO_MANY_REQUESTS,
        "ThrottlingException",
        "Rate exceeded",
    )
}

fn rest_error(status: StatusCode, code: &'static str, message: &str) -> Response<Full<Bytes>> {
    let mut response = respond(
        status,
        "application/json",
        Bytes::from(json!({"message": message}).to_string()),
    );
    response.headers_mut().insert(
        "x-amzn-errortype",
        hyper::header::HeaderValue::from_static(code),
    );
    response
}

fn sts_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>bench</RequestId></ErrorResponse>"#
    );
    respond(status, "text/xml", Bytes::from(body))
}

/// Keep the message and its attributes; answer as SNS does.
fn publish(run: &mut RunCalls, body: &[u8]) -> Response<Full<Bytes>> {
    let form = form_fields(body);
    let message_id = format!("bench-sweep-{}", run.published.len() + 1);
    let mut attributes = BTreeMap::new();
    for index in 1..=10 {
        if let Some(name) = form.get(&format!("MessageAttributes.entry.{index}.Name")) {
            let value = form
                .get(&format!(
                    "MessageAttributes.entry.{index}.Value.StringValue"
                ))
                .cloned()
                .unwrap_or_default();
            attributes.insert(name.clone(), value);
        }
    }
    run.published.push(Published {
        message_id: message_id.clone(),
        message: form.get("Message").cloned().unwrap_or_default(),
        attributes,
    });
    xml_ok(format!(
        r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>{message_id}</MessageId></PublishResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></PublishResponse>"#
    ))
}

/// An `application/x-www-form-urlencoded` body's fields.
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Seconds since the epoch as ISO 8601 UTC (STS's `Expiration`).
fn iso8601(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn form_fields_are_decoded() {
        let form = form_fields(b"Action=Publish&Message=%7B%22a%22%3A+1%7D&Bad=%zz&End=%4");
        assert_eq!(form["Action"], "Publish");
        assert_eq!(form["Message"], "{\"a\": 1}");
        assert_eq!(form["Bad"], "%zz");
        assert_eq!(form["End"], "%4");
        assert_eq!(form.len(), 4);
    }

    #[test]
    fn page_tokens_belong_to_their_account() {
        let t = token(50, "500000000001");
        assert_eq!(parse_token(&t, "500000000001"), Some(50));
        assert_eq!(parse_token(&t, "500000000002"), None);
    }

    #[test]
    fn ten_percent_is_every_tenth_call() {
        let throttled: Vec<u64> = (1..=30u64)
            .filter(|n| n * 10 / 100 > (n - 1) * 10 / 100)
            .collect();
        assert_eq!(throttled, vec![10, 20, 30]);
    }
}
