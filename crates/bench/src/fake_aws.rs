//! The canned AWS answers: the EKS add-on, GuardDuty coverage, CloudWatch
//! Logs Insights (the audit log query, complete on the first look, no
//! change found) and SNS Publish calls the function makes, answered as the real services shape them (a
//! DEGRADED add-on with no update history, so the configuration-conflict
//! event goes all the way to the UpdateAddon write). Stateless, so every
//! cold start sees the same world; it only counts what it was asked. With a
//! `Fleet` (the sweep benchmark) the fleet answers, or throttles, first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::fleet::{Call, Fleet};
use crate::server::Journal;

const ACCOUNT: &str = "111122223333";
const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const DEFAULT_CLUSTER: &str = "prod-payments";
const ADDON_VERSION: &str = "v1.10.0-eksbuild.2";

/// The fake EKS, GuardDuty and SNS endpoint (one handler behind all three hosts).
#[derive(Debug, Default)]
pub struct FakeAws {
    journal: Arc<Journal>,
    operations: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests the fake has no answer for: harness errors, since the
    /// function then measures a failure path instead of the real one.
    unknown: Mutex<Vec<String>>,
    published: AtomicU64,
    /// The sweep benchmark's accounts and clusters (`None`: the event benchmark).
    fleet: Option<Arc<Fleet>>,
}

impl FakeAws {
    /// Requests are noted in `journal` as they arrive and are answered.
    pub fn new(journal: Arc<Journal>) -> FakeAws {
        FakeAws {
            journal,
            ..FakeAws::default()
        }
    }

    /// The sweep benchmark's fake: `fleet` answers what it owns.
    pub fn with_fleet(journal: Arc<Journal>, fleet: Arc<Fleet>) -> FakeAws {
        FakeAws {
            journal,
            fleet: Some(fleet),
            ..FakeAws::default()
        }
    }

    /// How many times each operation was answered.
    pub fn operations(&self) -> BTreeMap<&'static str, u64> {
        self.operations
            .lock()
            .map(|counts| counts.clone())
            .unwrap_or_default()
    }

    pub fn unknown_requests(&self) -> Vec<String> {
        self.unknown
            .lock()
            .map(|unknown| unknown.clone())
            .unwrap_or_default()
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let arrived = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let headers = request.headers().clone();
        // CloudWatch Logs speaks JSON 1.1: the operation is in X-Amz-Target.
        let target = headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                return self.unknown(&method, &path, &format!("unreadable body: {error}"));
            }
        };
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let Some(operation) = operation_of(&method, &segments, &target, &body) else {
            let form = String::from_utf8_lossy(&body);
            let detail = form.chars().take(120).collect::<String>();
            return self.unknown(&method, &path, &detail);
        };
        // The sweep's fleet answers (or throttles) first; what it leaves
        // to the canned world is answered as for the event benchmark.
        let fleet_answer = self.fleet.as_ref().and_then(|fleet| {
            fleet.answer(
                operation,
                &Call {
                    segments: &segments,
                    headers: &headers,
                    body: &body,
                },
            )
        });
        let response = match fleet_answer {
            Some(response) => response,
            None => match self.canned(operation, &segments, &body) {
                Some(response) => response,
                None => {
                    let detail = format!("{operation} has no canned answer");
                    return self.unknown(&method, &path, &detail);
                }
            },
        };
        if let Ok(mut counts) = self.operations.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        self.journal.note(arrived, format!("{operation} arrived"));
        self.journal
            .note(Instant::now(), format!("{operation} answered"));
        response
    }

    /// The event benchmark's answers: one DEGRADED add-on with a
    /// configuration conflict, whatever the cluster.
    fn canned(
        &self,
        operation: &'static str,
        segments: &[&str],
        body: &[u8],
    ) -> Option<Response<Full<Bytes>>> {
        Some(match (operation, segments) {
            ("DescribeAddon", ["clusters", cluster, "addons", addon]) => {
                json_ok(&describe_addon(cluster, addon))
            }
            ("UpdateAddon", _) => json_ok(&json!({"update": update("bench-update")})),
            ("ListUpdates", _) => json_ok(&json!({"updateIds": []})),
            ("DescribeUpdate", ["clusters", _, "updates", id]) => {
                json_ok(&json!({"update": update(id)}))
            }
            ("ListDetectors", _) => json_ok(&json!({"detectorIds": [DETECTOR]})),
            ("ListCoverage", ["detector", detector, "coverage"]) => {
                json_ok(&list_coverage(detector, body))
            }
            ("GetCoverageStatistics", _) => json_ok(
                &json!({"coverageStatistics": {"countByCoverageStatus": {"HEALTHY": 11, "UNHEALTHY": 2}}}),
            ),
            ("StartQuery", _) => json_11_ok(&json!({"queryId": "bench-query-1"})),
            ("GetQueryResults", _) => json_11_ok(&json!({"status": "Complete", "results": [],
                "statistics": {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}})),
            ("Publish", _) => {
                let n = self.published.fetch_add(1, Ordering::Relaxed) + 1;
                xml_ok(publish_response(n))
            }
            _ => return None,
        })
    }

    fn unknown(&self, method: &Method, path: &str, detail: &str) -> Response<Full<Bytes>> {
        let what = format!("{method} {path} ({detail})");
        let text = format!("lambda-bench's fake AWS has no answer for {what}");
        if let Ok(mut unknown) = self.unknown.lock() {
            unknown.push(what);
        }
        respond(StatusCode::BAD_REQUEST, "text/plain", Bytes::from(text))
    }
}

/// The operation a request is, by the route (REST JSON: EKS, GuardDuty),
/// `X-Amz-Target` (JSON 1.1: CloudWatch Logs) or the form's `Action`
/// (awsQuery: SNS, STS).
fn operation_of(
    method: &Method,
    segments: &[&str],
    target: &str,
    body: &[u8],
) -> Option<&'static str> {
    Some(match (method, segments) {
        (&Method::GET, ["clusters", _, "addons", _]) => "DescribeAddon",
        (&Method::POST, ["clusters", _, "addons", _, "update"]) => "UpdateAddon",
        (&Method::GET, ["clusters", _, "updates"]) => "ListUpdates",
        (&Method::GET, ["clusters", _, "updates", _]) => "DescribeUpdate",
        (&Method::GET, ["detector"]) => "ListDetectors",
        (&Method::POST, ["detector", _, "coverage"]) => "ListCoverage",
        (&Method::POST, ["detector", _, "coverage", "statistics"]) => "GetCoverageStatistics",
        (&Method::POST, [""]) if target == "Logs_20140328.StartQuery" => "StartQuery",
        (&Method::POST, [""]) if target == "Logs_20140328.GetQueryResults" => "GetQueryResults",
        (&Method::POST, [""]) if has_action(body, "Publish") => "Publish",
        (&Method::POST, [""]) if has_action(body, "AssumeRole") => "AssumeRole",
        _ => return None,
    })
}

/// Whether an awsQuery form body's action is `action`.
fn has_action(body: &[u8], action: &str) -> bool {
    let field = format!("Action={action}");
    body.split(|byte| *byte == b'&')
        .any(|pair| pair == field.as_bytes())
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

fn describe_addon(cluster: &str, addon: &str) -> Value {
    json!({"addon": {
        "addonName": addon,
        "clusterName": cluster,
        "status": "DEGRADED",
        "addonVersion": ADDON_VERSION,
        "addonArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:addon/{cluster}/{addon}/2ec7"),
        "configurationValues": r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high"}"#,
        // EKS's own word that there is a conflict: the guardrails require it.
        "health": {"issues": [{"code": "ConfigurationConflict", "message": "Conflicts found when trying to apply."}]}
    }})
}

fn update(id: &str) -> Value {
    json!({
        "id": id,
        "status": "InProgress",
        "type": "AddonUpdate",
        "params": [{"type": "ResolveConflicts", "value": "OVERWRITE"}],
        "createdAt": now(),
        "errors": []
    })
}

/// One UNHEALTHY resource for the cluster the request filters on.
fn list_coverage(detector: &str, body: &[u8]) -> Value {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let cluster = request["filterCriteria"]["filterCriterion"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|criterion| criterion["criterionKey"] == "CLUSTER_NAME")
        .and_then(|criterion| criterion["filterCondition"]["equals"][0].as_str())
        .unwrap_or(DEFAULT_CLUSTER);
    json!({"resources": [{
        "resourceId": cluster,
        "detectorId": detector,
        "accountId": ACCOUNT,
        "coverageStatus": "UNHEALTHY",
        "issue": "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply.",
        "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
            "clusterName": cluster,
            "coveredNodes": 0,
            "compatibleNodes": 6,
            "addonDetails": {"addonVersion": ADDON_VERSION, "addonStatus": "DEGRADED"},
            "managementType": "AUTO_MANAGED"
        }},
        "updatedAt": now().saturating_sub(120)
    }]})
}

pub fn publish_response(n: u64) -> String {
    format!(
        r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>bench-{n}</MessageId></PublishResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></PublishResponse>"#
    )
}

pub fn json_ok(body: &Value) -> Response<Full<Bytes>> {
    respond(
        StatusCode::OK,
        "application/json",
        Bytes::from(body.to_string()),
    )
}

pub fn json_11_ok(body: &Value) -> Response<Full<Bytes>> {
    respond(
        StatusCode::OK,
        "application/x-amz-json-1.1",
        Bytes::from(body.to_string()),
    )
}

pub fn xml_ok(body: String) -> Response<Full<Bytes>> {
    respond(StatusCode::OK, "text/xml", Bytes::from(body))
}

pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
