//! The canned AWS answers: the EKS add-on, GuardDuty coverage, CloudWatch
//! Logs Insights (the audit log query, complete on the first look, no
//! change found) and SNS Publish calls the function makes, answered as the real services shape them (a
//! DEGRADED add-on with no update history, so the configuration-conflict
//! event goes all the way to the UpdateAddon write). Stateless, so every
//! cold start sees the same world; it only counts what it was asked.

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
}

impl FakeAws {
    /// Requests are noted in `journal` as they arrive and are answered.
    pub fn new(journal: Arc<Journal>) -> FakeAws {
        FakeAws {
            journal,
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
        // CloudWatch Logs speaks JSON 1.1: the operation is in X-Amz-Target.
        let target = request
            .headers()
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
        let (operation, response) = match (&method, segments.as_slice()) {
            (&Method::GET, ["clusters", cluster, "addons", addon]) => {
                ("DescribeAddon", json_ok(&describe_addon(cluster, addon)))
            }
            (&Method::POST, ["clusters", _, "addons", _, "update"]) => (
                "UpdateAddon",
                json_ok(&json!({"update": update("bench-update")})),
            ),
            (&Method::GET, ["clusters", _, "updates"]) => {
                ("ListUpdates", json_ok(&json!({"updateIds": []})))
            }
            (&Method::GET, ["clusters", _, "updates", id]) => {
                ("DescribeUpdate", json_ok(&json!({"update": update(id)})))
            }
            (&Method::GET, ["detector"]) => (
                "ListDetectors",
                json_ok(&json!({"detectorIds": [DETECTOR]})),
            ),
            (&Method::POST, ["detector", detector, "coverage"]) => {
                ("ListCoverage", json_ok(&list_coverage(detector, &body)))
            }
            (&Method::POST, ["detector", _, "coverage", "statistics"]) => (
                "GetCoverageStatistics",
                json_ok(
                    &json!({"coverageStatistics": {"countByCoverageStatus": {"HEALTHY": 11, "UNHEALTHY": 2}}}),
                ),
            ),
            (&Method::POST, [""]) if target == "Logs_20140328.StartQuery" => (
                "StartQuery",
                json_11_ok(&json!({"queryId": "bench-query-1"})),
            ),
            (&Method::POST, [""]) if target == "Logs_20140328.GetQueryResults" => (
                "GetQueryResults",
                json_11_ok(&json!({"status": "Complete", "results": [],
                    "statistics": {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}})),
            ),
            (&Method::POST, [""]) if is_publish(&body) => {
                let n = self.published.fetch_add(1, Ordering::Relaxed) + 1;
                ("Publish", xml_ok(publish_response(n)))
            }
            _ => {
                let form = String::from_utf8_lossy(&body);
                let detail = form.chars().take(120).collect::<String>();
                return self.unknown(&method, &path, &detail);
            }
        };
        if let Ok(mut counts) = self.operations.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        self.journal.note(arrived, format!("{operation} arrived"));
        self.journal
            .note(Instant::now(), format!("{operation} answered"));
        response
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

fn now() -> u64 {
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

/// An awsQuery form body whose action is Publish.
fn is_publish(body: &[u8]) -> bool {
    body.split(|byte| *byte == b'&')
        .any(|field| field == b"Action=Publish")
}

fn publish_response(n: u64) -> String {
    format!(
        r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>bench-{n}</MessageId></PublishResult><ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></PublishResponse>"#
    )
}

fn json_ok(body: &Value) -> Response<Full<Bytes>> {
    respond(
        StatusCode::OK,
        "application/json",
        Bytes::from(body.to_string()),
    )
}

fn json_11_ok(body: &Value) -> Response<Full<Bytes>> {
    respond(
        StatusCode::OK,
        "application/x-amz-json-1.1",
        Bytes::from(body.to_string()),
    )
}

fn xml_ok(body: String) -> Response<Full<Bytes>> {
    respond(StatusCode::OK, "text/xml", Bytes::from(body))
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
