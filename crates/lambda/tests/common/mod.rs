//! Local AWS endpoints for the tests, over real HTTP on loopback:
//! `FakeAws`, a stateful HTTP mock of the EKS add-on, GuardDuty coverage,
//! EventBridge Scheduler, CloudWatch Logs Insights (the audit log query) and SNS Publish APIs (moto has no EKS add-ons or
//! GuardDuty coverage), which records every request so tests can assert the
//! exact bodies, and refuses a `CreateSchedule` Scheduler would refuse; and
//! `Moto`, a moto server process for the SNS → SQS round trip.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_eks::config::Credentials;
use coverage_lambda::gather::AwsClients;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

pub const CLUSTER: &str = "prod-payments";
pub const ACCOUNT: &str = "111122223333";
pub const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
pub const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:guardduty-coverage-alerts";
/// The follow-ups' schedule group and the role Scheduler assumes.
pub const GROUP: &str = "coverage-follow-ups";
pub const SCHEDULER_ROLE: &str = "arn:aws:iam::111122223333:role/coverage-follow-up-scheduler";
pub const CONFIG_VALUES: &str =
    r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high","dnsPolicy":"Default"}"#;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The sample event files in `events/` (not the recorded facts in `events/facts/`), sorted.
pub fn event_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() > 25, "the samples are missing: {files:?}");
    files
}

/// A sample event as if GuardDuty emitted it just now.
pub fn fresh_event(name: &str) -> Value {
    let mut value = event(name);
    value["time"] = Value::String(coverage_core::decide::format_time(now()));
    value
}

/// The function's own ARN in the tests: the account and region of the samples.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:coverage";

/// An invocation of the function in its own account and region, with
/// Lambda's 30 s timeout ahead of it.
pub fn home() -> coverage_core::Invocation {
    invocation_with_deadline(FUNCTION_ARN, 30_000)
}

/// An invocation with `deadline_in_ms` left before its deadline.
pub fn invocation_with_deadline(arn: &str, deadline_in_ms: u64) -> coverage_core::Invocation {
    let now_ms = coverage_lambda::gather::now_ms();
    coverage_core::Invocation::lambda(arn, now_ms, Some(now_ms + deadline_in_ms))
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub operation: &'static str,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    /// The access key id in the SigV4 `Authorization` header: whose
    /// credentials signed the call.
    pub access_key: Option<String>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The form fields of a query-protocol (SNS) request.
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

/// An injected failure: HTTP status, error code, and how many times (None: always).
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
    pub times: Option<usize>,
}

#[derive(Debug)]
pub struct FakeState {
    /// `None`: the add-on is not installed.
    pub addon_status: Option<&'static str>,
    pub addon_version: &'static str,
    pub configuration_values: Option<&'static str>,
    pub updates: Vec<Value>,
    pub tokens: HashMap<String, String>,
    pub coverage_status: &'static str,
    /// The cluster GuardDuty's coverage answer names (`None`: the event's).
    pub coverage_cluster: Option<&'static str>,
    /// The codes of the add-on's `health.issues`.
    pub health_codes: Vec<&'static str>,
    /// `DescribeAddon` answers without a `status` field.
    pub addon_status_missing: bool,
    /// Answer an operation with this raw HTTP status and body (garbage).
    pub raw: HashMap<&'static str, (u16, &'static str)>,
    pub failures: HashMap<&'static str, VecDeque<Failure>>,
    pub delays: HashMap<&'static str, Duration>,
    pub requests: Vec<Recorded>,
    /// The schedule groups that exist.
    pub schedule_groups: Vec<&'static str>,
    /// Created schedules by (group, name): the `CreateSchedule` body.
    pub schedules: HashMap<(String, String), Value>,
    /// How long the credentials STS `AssumeRole` hands out last, in seconds.
    pub credential_seconds: i64,
    /// CloudWatch Logs Insights over the cluster's audit log.
    pub logs: LogsState,
    /// The sweep's fleet: each account's EKS coverage resources, answered
    /// to a `ListCoverage` filtered on `RESOURCE_TYPE` `EKS`, `page_size` at
    /// a time with `nextToken` (the index of the next resource).
    pub fleet: HashMap<String, Vec<Value>>,
    pub page_size: usize,
    /// Accounts whose member role `AssumeRole` refuses (AccessDenied).
    pub unreachable: Vec<String>,
    /// Throttle every n-th GuardDuty or EKS request (0: never): a
    /// `ThrottlingException` the SDK's standard retry backs off from.
    pub throttle_every: usize,
    /// How many requests `throttle_every` throttled.
    pub throttled: usize,
}

/// The fake Logs Insights: the rows a completed query returns, how many
/// `GetQueryResults` answer `Running` first, and what the `StartQuery` body
/// must hold.
#[derive(Debug, Default)]
pub struct LogsState {
    /// Each row: `[{"field", "value"}, ...]`, newest first (the query sorts so).
    pub rows: Vec<Value>,
    /// `GetQueryResults` answers `Running` this many times before `Complete`.
    pub running_polls: usize,
    /// Never complete: every `GetQueryResults` answers `Running`.
    pub never_completes: bool,
    /// End the query with this status (`Failed`, `Cancelled`, `Timeout`).
    pub ends: Option<&'static str>,
    /// Object names the query must filter on besides the agent DaemonSet.
    pub expected_names: Vec<&'static str>,
    /// Why a `StartQuery` body was refused (a test asserts it stays empty).
    pub refused: Vec<String>,
    /// The query ids started.
    pub started: Vec<String>,
}

impl Default for FakeState {
    fn default() -> Self {
        FakeState {
            addon_status: Some("DEGRADED"),
            addon_version: "v1.10.0-eksbuild.2",
            configuration_values: Some(CONFIG_VALUES),
            updates: Vec::new(),
            tokens: HashMap::new(),
            coverage_status: "UNHEALTHY",
            coverage_cluster: None,
            health_codes: vec!["ConfigurationConflict"],
            addon_status_missing: false,
            raw: HashMap::new(),
            failures: HashMap::new(),
            delays: HashMap::new(),
            requests: Vec::new(),
            schedule_groups: vec![GROUP],
            schedules: HashMap::new(),
            credential_seconds: 3600,
            logs: LogsState::default(),
            fleet: HashMap::new(),
            page_size: 2,
            unreachable: Vec::new(),
            throttle_every: 0,
            throttled: 0,
        }
    }
}

/// The access key id the fake STS hands out for a role in `account`:
/// distinct per account, so a call's signature says which role made it.
pub fn assumed_key(account: &str) -> String {
    format!("ASIA{account}")
}

/// The account whose assumed credentials signed a call, if any.
fn signing_member(access_key: Option<&str>) -> Option<String> {
    let account = access_key?.strip_prefix("ASIA")?;
    (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then(|| account.to_owned())
}

/// The access key id of a SigV4 `Authorization` header.
fn access_key_of(request: &Request) -> Option<String> {
    let header = request.headers.get("authorization")?.to_str().ok()?;
    let credential = header.split("Credential=").nth(1)?;
    Some(credential.split('/').next()?.to_owned())
}

/// What STS itself refuses in an `AssumeRole` body (a ValidationError).
fn assume_role_problem(form: &HashMap<String, String>) -> Option<String> {
    let arn = form.get("RoleArn")?;
    let session = form.get("RoleSessionName")?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let arn_ok = matches!(parts.as_slice(), ["arn", "aws", "iam", "", account, role]
        if account.len() == 12 && role.starts_with("role/") && role.len() > 5);
    if !arn_ok {
        return Some(format!("RoleArn {arn:?} is not a role ARN"));
    }
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !session_ok {
        return Some(format!(
            "RoleSessionName {session:?} must be 2-64 of [\\w+=,.@-]"
        ));
    }
    None
}

/// What Logs Insights itself (or this test's expectations) refuses in a
/// `StartQuery` body: the cluster's log group, a window in epoch seconds that
/// ends now, and a query over the audit streams selecting the fields the
/// alert needs and naming every conflicting object.
fn start_query_problem(body: &Value, expected_names: &[&str]) -> Option<String> {
    let group = format!("/aws/eks/{CLUSTER}/cluster");
    let named = body["logGroupName"].as_str() == Some(group.as_str())
        || body["logGroupNames"]
            .as_array()
            .is_some_and(|groups| groups.iter().any(|g| g.as_str() == Some(group.as_str())));
    if !named {
        return Some(format!("log group is not {group}: {body}"));
    }
    let (Some(start), Some(end)) = (body["startTime"].as_i64(), body["endTime"].as_i64()) else {
        return Some("startTime and endTime are required".to_owned());
    };
    if end > 100_000_000_000 || (end - now()).abs() > 120 {
        return Some(format!("endTime {end} is not now in epoch seconds"));
    }
    if start >= end {
        return Some(format!("startTime {start} is not before endTime {end}"));
    }
    let query = body["queryString"].as_str().unwrap_or_default();
    for needed in [
        "@timestamp",
        "verb",
        "user.username",
        "userAgent",
        "requestURI",
        "responseStatus.code",
        "objectRef.name",
        "filter @logStream like /^kube-apiserver-audit/",
        "sort @timestamp desc",
        "objectRef.resource = \"daemonsets\" and objectRef.namespace = \"amazon-guardduty\" and objectRef.name = \"aws-guardduty-agent\"",
    ] {
        if !query.contains(needed) {
            return Some(format!("queryString lacks {needed:?}: {query}"));
        }
    }
    for name in expected_names {
        if !query.contains(&format!("objectRef.name = \"{name}\"")) {
            return Some(format!("queryString does not cover {name}: {query}"));
        }
    }
    None
}

/// The approval key the fake KMS holds (`APPROVAL_KEY_ID`) and its secret.
pub const KMS_KEY_ID: &str =
    "arn:aws:kms:us-east-1:111122223333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const KMS_SECRET: &[u8] = b"the fake KMS's HMAC_256 key material, never in the function";

/// HMAC-SHA256 (RFC 2104) over sha2, as KMS computes it for an HMAC_256 key.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// The MAC the fake KMS gives `message` (for tests that forge or check tokens).
pub fn kms_mac_of(message: &[u8]) -> Vec<u8> {
    hmac_sha256(KMS_SECRET, message)
}

/// KMS `GenerateMac` and `VerifyMac` (JSON 1.1): the key id and algorithm
/// must be the approval key's, the MAC is really computed and compared.
fn kms_mac(op: &str, body: &[u8], delay: Duration) -> ResponseTemplate {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let error = |code: &'static str, message: &'static str| {
        json_error(&Failure {
            status: 400,
            code,
            message,
            times: None,
        })
        .set_delay(delay)
    };
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if body["KeyId"] != KMS_KEY_ID {
        return error("NotFoundException", "the fake KMS has no such key");
    }
    if body["MacAlgorithm"] != "HMAC_SHA_256" {
        return error(
            "InvalidKeyUsageException",
            "the key is HMAC_256: HMAC_SHA_256 only",
        );
    }
    let Some(message) = body["Message"]
        .as_str()
        .and_then(|m| STANDARD.decode(m).ok())
    else {
        return error("ValidationException", "Message is not base64");
    };
    let mac = kms_mac_of(&message);
    let ok = |value: Value| {
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/x-amz-json-1.1")
            .set_body_json(value)
            .set_delay(delay)
    };
    if op == "GenerateMac" {
        return ok(
            json!({"Mac": STANDARD.encode(&mac), "KeyId": KMS_KEY_ID, "MacAlgorithm": "HMAC_SHA_256"}),
        );
    }
    match body["Mac"].as_str().and_then(|m| STANDARD.decode(m).ok()) {
        Some(given) if given == mac => {
            ok(json!({"MacValid": true, "KeyId": KMS_KEY_ID, "MacAlgorithm": "HMAC_SHA_256"}))
        }
        _ => error("KMSInvalidMacException", "the MAC does not match"),
    }
}

fn json_error(failure: &Failure) -> ResponseTemplate {
    ResponseTemplate::new(failure.status)
        .insert_header("content-type", "application/x-amz-json-1.1")
        .set_body_json(json!({"__type": failure.code, "message": failure.message}))
}

/// An audit log row as Logs Insights returns it.
pub fn audit_row(at: i64, verb: &str, user: &str, user_agent: &str, code: u16) -> Value {
    let time = coverage_core::decide::format_time(at)
        .replace('T', " ")
        .replace('Z', ".000");
    json!([
        {"field": "@timestamp", "value": time},
        {"field": "verb", "value": verb},
        {"field": "user.username", "value": user},
        {"field": "userAgent", "value": user_agent},
        {"field": "requestURI", "value": "/apis/apps/v1/namespaces/amazon-guardduty/daemonsets/aws-guardduty-agent"},
        {"field": "objectRef.resource", "value": "daemonsets"},
        {"field": "objectRef.namespace", "value": "amazon-guardduty"},
        {"field": "objectRef.name", "value": "aws-guardduty-agent"},
        {"field": "responseStatus.code", "value": code.to_string()},
        {"field": "@ptr", "value": "CmAKJgoiMTExMTIyMjIzMzMzOi9hd3MvZWtz"}
    ])
}

#[derive(Clone)]
struct Responder(Arc<Mutex<FakeState>>);

fn operation(method: &str, path: &str, body: &[u8]) -> &'static str {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["clusters", _, "addons", _]) => "DescribeAddon",
        ("POST", ["clusters", _, "addons", _, "update"]) => "UpdateAddon",
        ("GET", ["clusters", _, "updates"]) => "ListUpdates",
        ("GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
        ("GET", ["detector"]) => "ListDetectors",
        ("POST", ["detector", _, "coverage"]) => "ListCoverage",
        ("POST", ["detector", _, "coverage", "statistics"]) => "GetCoverageStatistics",
        ("POST", ["schedules", _]) => "CreateSchedule",
        ("GET", ["schedules", _]) => "GetSchedule",
        ("POST", [""]) if String::from_utf8_lossy(body).contains("Action=Publish") => "Publish",
        ("POST", [""]) if String::from_utf8_lossy(body).contains("Action=AssumeRole") => {
            "AssumeRole"
        }
        ("POST", [""]) if String::from_utf8_lossy(body).contains("Action=GetCallerIdentity") => {
            "GetCallerIdentity"
        }
        _ => "Unknown",
    }
}

fn rest_error(failure: &Failure) -> ResponseTemplate {
    ResponseTemplate::new(failure.status)
        .insert_header("x-amzn-errortype", failure.code)
        .insert_header("content-type", "application/json")
        .set_body_json(json!({"message": failure.message}))
}

fn query_error(failure: &Failure) -> ResponseTemplate {
    let body = format!(
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"#,
        failure.code, failure.message
    );
    ResponseTemplate::new(failure.status)
        .insert_header("content-type", "text/xml")
        .set_body_string(body)
}

/// What Scheduler itself refuses in a `CreateSchedule` body (a
/// ValidationException), so a malformed request fails here as it would there.
fn schedule_body_problem(name: &str, body: &Value) -> Option<String> {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !valid_name(name) {
        return Some(format!("invalid schedule name {name:?}"));
    }
    let expression = body["ScheduleExpression"].as_str().unwrap_or_default();
    let at = expression
        .strip_prefix("at(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_default();
    let at_ok = at.len() == 19
        && at.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
    if !at_ok {
        return Some(format!("invalid schedule expression {expression:?}"));
    }
    if body["FlexibleTimeWindow"]["Mode"].as_str().is_none() {
        return Some("FlexibleTimeWindow.Mode is required".to_owned());
    }
    let target = &body["Target"];
    for field in ["Arn", "RoleArn"] {
        if target[field].as_str().is_none_or(str::is_empty) {
            return Some(format!("Target.{field} is required"));
        }
    }
    if let Some(input) = target["Input"].as_str()
        && serde_json::from_str::<Value>(input).is_err()
    {
        return Some("Target.Input is not JSON".to_owned());
    }
    None
}

fn update_json(id: &str, status: &str, created: i64, version: &str, overwrite: bool) -> Value {
    let mut params = vec![json!({"type": "AddonVersion", "value": version})];
    if overwrite {
        params.push(json!({"type": "ResolveConflicts", "value": "OVERWRITE"}));
    }
    json!({"id": id, "status": status, "type": "AddonUpdate", "params": params, "createdAt": created, "errors": []})
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        // CloudWatch Logs speaks JSON 1.1: the operation is in X-Amz-Target.
        let target = request
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let op = match target.as_str() {
            "Logs_20140328.StartQuery" => "StartQuery",
            "Logs_20140328.GetQueryResults" => "GetQueryResults",
            "TrentService.GenerateMac" => "GenerateMac",
            "TrentService.VerifyMac" => "VerifyMac",
            _ => operation(request.method.as_str(), &path, &request.body),
        };
        let mut state = self.0.lock().unwrap();
        let access_key = access_key_of(request);
        let member = signing_member(access_key.as_deref());
        state.requests.push(Recorded {
            operation: op,
            path: path.clone(),
            query: request.url.query().unwrap_or_default().to_owned(),
            body: request.body.clone(),
            access_key,
        });
        let delay = state.delays.get(op).copied().unwrap_or_default();
        let throttled_op = matches!(
            op,
            "ListDetectors"
                | "ListCoverage"
                | "DescribeAddon"
                | "ListUpdates"
                | "DescribeUpdate"
                | "UpdateAddon"
        );
        if throttled_op
            && state.throttle_every > 0
            && state.requests.len().is_multiple_of(state.throttle_every)
        {
            state.throttled += 1;
            return rest_error(&Failure {
                status: 400,
                code: "ThrottlingException",
                message: "Rate exceeded",
                times: None,
            });
        }
        if let Some(queue) = state.failures.get_mut(op)
            && let Some(failure) = queue.front().cloned()
        {
            match failure.times {
                Some(1) => {
                    queue.pop_front();
                }
                Some(n) => queue.front_mut().unwrap().times = Some(n - 1),
                None => {}
            }
            let template = if matches!(op, "Publish" | "AssumeRole" | "GetCallerIdentity") {
                query_error(&failure)
            } else if matches!(
                op,
                "StartQuery" | "GetQueryResults" | "GenerateMac" | "VerifyMac"
            ) {
                json_error(&failure)
            } else {
                rest_error(&failure)
            };
            return template.set_delay(delay);
        }
        if let Some((status, body)) = state.raw.get(op) {
            return ResponseTemplate::new(*status)
                .set_body_string(*body)
                .set_delay(delay);
        }
        let ok = |body: Value| {
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(delay)
        };
        match op {
            "GenerateMac" | "VerifyMac" => kms_mac(op, &request.body, delay),
            "DescribeAddon" => match state.addon_status {
                None => rest_error(&Failure {
                    status: 404,
                    code: "ResourceNotFoundException",
                    message: "No addon: aws-guardduty-agent found in cluster: prod-payments",
                    times: None,
                }),
                Some(status) => {
                    let issues: Vec<Value> = state.health_codes.iter().map(|code| json!({"code": code, "message": "Conflicts found when trying to apply."})).collect();
                    let mut addon = json!({
                        "addonName": "aws-guardduty-agent", "clusterName": CLUSTER, "status": status,
                        "addonVersion": state.addon_version,
                        "addonArn": format!("arn:aws:eks:us-east-1:{ACCOUNT}:addon/{CLUSTER}/aws-guardduty-agent/2ec7"),
                        "configurationValues": state.configuration_values,
                        "health": {"issues": issues}
                    });
                    if state.addon_status_missing {
                        addon.as_object_mut().unwrap().remove("status");
                    }
                    ok(json!({"addon": addon}))
                }
            },
            "CreateSchedule" => {
                let name = path.rsplit('/').next().unwrap_or_default().to_owned();
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let group = body["GroupName"].as_str().unwrap_or("default").to_owned();
                if let Some(problem) = schedule_body_problem(&name, &body) {
                    return rest_error(&Failure { status: 400, code: "ValidationException", message: "invalid request", times: None })
                        .set_body_json(json!({"Message": problem}));
                }
                if !state.schedule_groups.contains(&group.as_str()) {
                    return rest_error(&Failure { status: 404, code: "ResourceNotFoundException", message: "Schedule group not found", times: None });
                }
                let key = (group.clone(), name.clone());
                if state.schedules.contains_key(&key) {
                    return rest_error(&Failure { status: 409, code: "ConflictException", message: "Schedule already exists.", times: None });
                }
                state.schedules.insert(key, body);
                ok(json!({"ScheduleArn": format!("arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/{group}/{name}")}))
            }
            "GetSchedule" => {
                let name = path.rsplit('/').next().unwrap_or_default().to_owned();
                let group = url::form_urlencoded::parse(request.url.query().unwrap_or_default().as_bytes())
                    .find(|(k, _)| k == "groupName")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_else(|| "default".to_owned());
                match state.schedules.get(&(group.clone(), name.clone())) {
                    None => rest_error(&Failure { status: 404, code: "ResourceNotFoundException", message: "Schedule not found", times: None }),
                    Some(body) => {
                        let mut schedule = body.clone();
                        schedule["Name"] = json!(name);
                        schedule["GroupName"] = json!(group);
                        schedule["Arn"] = json!(format!("arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/{group}/{name}"));
                        ok(schedule)
                    }
                }
            }
            "UpdateAddon" => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let token = body["clientRequestToken"].as_str().unwrap_or_default().to_owned();
                // Like EKS: the same token returns the same update.
                if let Some(id) = state.tokens.get(&token).cloned() {
                    let update = state.updates.iter().find(|u| u["id"] == id.as_str()).cloned().unwrap();
                    return ok(json!({"update": update}));
                }
                let id = format!("update-{}", state.updates.len() + 1);
                let version = body["addonVersion"].as_str().unwrap_or_default().to_owned();
                let update = update_json(&id, "InProgress", now(), &version, true);
                state.tokens.insert(token, id);
                state.updates.push(update.clone());
                state.addon_status = Some("UPDATING");
                ok(json!({"update": update}))
            }
            "ListUpdates" => {
                let ids: Vec<Value> = state.updates.iter().map(|u| u["id"].clone()).collect();
                ok(json!({"updateIds": ids}))
            }
            "DescribeUpdate" => {
                let id = path.rsplit('/').next().unwrap_or_default();
                match state.updates.iter().find(|u| u["id"] == id) {
                    Some(update) => ok(json!({"update": update})),
                    None => rest_error(&Failure { status: 404, code: "ResourceNotFoundException", message: "no update", times: None }),
                }
            }
            "StartQuery" => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                if let Some(problem) = start_query_problem(&body, &state.logs.expected_names) {
                    state.logs.refused.push(problem.clone());
                    return json_error(&Failure { status: 400, code: "InvalidParameterException", message: "refused by the fake", times: None })
                        .set_body_json(json!({"__type": "InvalidParameterException", "message": problem}));
                }
                let id = format!("a1b2c3d4-0000-4000-8000-{:012}", state.logs.started.len() + 1);
                state.logs.started.push(id.clone());
                ok(json!({"queryId": id}))
            }
            "GetQueryResults" => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let id = body["queryId"].as_str().unwrap_or_default();
                if !state.logs.started.iter().any(|s| s == id) {
                    return json_error(&Failure { status: 400, code: "ResourceNotFoundException", message: "unknown query id", times: None });
                }
                let logs = &mut state.logs;
                if logs.never_completes || logs.running_polls > 0 {
                    logs.running_polls = logs.running_polls.saturating_sub(1);
                    return ok(json!({"status": "Running", "results": []}));
                }
                if let Some(status) = logs.ends {
                    return ok(json!({"status": status, "results": []}));
                }
                let matched = logs.rows.len();
                ok(json!({"status": "Complete", "results": logs.rows.clone(),
                    "statistics": {"recordsMatched": matched as f64, "recordsScanned": 1000.0, "bytesScanned": 100000.0}}))
            }
            "ListDetectors" => ok(json!({"detectorIds": [DETECTOR]})),
            "ListCoverage" if sweep_listing(&request.body) => {
                let account = member.clone().unwrap_or_else(|| ACCOUNT.to_owned());
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                let from: usize = body["nextToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let all = state.fleet.get(&account).cloned().unwrap_or_default();
                let to = (from + state.page_size).min(all.len());
                let mut page = json!({"resources": all[from.min(to)..to].to_vec()});
                if to < all.len() {
                    page["nextToken"] = json!(to.to_string());
                }
                ok(page)
            }
            "ListCoverage" => ok(json!({"resources": [{
                "resourceId": CLUSTER, "detectorId": DETECTOR,
                // Read with a member's role: that member's coverage.
                "accountId": member.as_deref().unwrap_or(ACCOUNT),
                "coverageStatus": state.coverage_status,
                "issue": if state.coverage_status == "HEALTHY" { Value::Null } else { json!("Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found") },
                "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
                    "clusterName": state.coverage_cluster.unwrap_or(CLUSTER), "coveredNodes": 0, "compatibleNodes": 6,
                    "addonDetails": {"addonVersion": state.addon_version, "addonStatus": "DEGRADED"},
                    "managementType": "AUTO_MANAGED"}},
                "updatedAt": now() - 120
            }]})),
            "AssumeRole" => {
                let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
                if let Some(problem) = assume_role_problem(&form) {
                    return query_error(&Failure { status: 400, code: "ValidationError", message: "invalid request", times: None })
                        .set_body_string(format!(r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>{problem}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"#));
                }
                let arn = &form["RoleArn"];
                let account = arn.split(':').nth(4).unwrap_or_default();
                if state.unreachable.iter().any(|a| a == account) {
                    return query_error(&Failure { status: 403, code: "AccessDenied", message: "not authorized to perform sts:AssumeRole", times: None });
                }
                let expiration = coverage_core::decide::format_time(now() + state.credential_seconds);
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/xml")
                    .set_body_string(format!(
                        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>fake-secret-{account}</SecretAccessKey><SessionToken>fake-token-{account}</SessionToken><Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE:{session}</AssumedRoleId><Arn>arn:aws:sts::{account}:assumed-role/{session}</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>"#,
                        key = assumed_key(account),
                        session = form["RoleSessionName"],
                    ))
                    .set_delay(delay)
            }
            // The engineer's own identity (`coverage sweep`).
            "GetCallerIdentity" => ResponseTemplate::new(200)
                .insert_header("content-type", "text/xml")
                .set_body_string(format!(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/PlatformEngineer/engineer</Arn><UserId>AROAFAKE:engineer</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
                ))
                .set_delay(delay),
            "GetCoverageStatistics" => ok(json!({"coverageStatistics": {"countByCoverageStatus": {"HEALTHY": 11, "UNHEALTHY": 2}}})),
            "Publish" => ResponseTemplate::new(200)
                .insert_header("content-type", "text/xml")
                .set_body_string(format!(
                    r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>fake-message-{}</MessageId></PublishResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></PublishResponse>"#,
                    state.requests.len()
                ))
                .set_delay(delay),
            _ => ResponseTemplate::new(400).set_body_string(format!("the fake does not know {} {path}", request.method)),
        }
    }
}

/// Whether a `ListCoverage` body is the sweep's (filtered on the resource
/// type EKS) rather than an event's (filtered on one cluster).
fn sweep_listing(body: &[u8]) -> bool {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let criteria = body["filterCriteria"]["filterCriterion"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    criteria.iter().any(|c| {
        c["criterionKey"] == "RESOURCE_TYPE" && c["filterCondition"]["equals"] == json!(["EKS"])
    })
}

/// One EKS coverage resource of the sweep's fleet.
pub fn fleet_resource(
    account: &str,
    cluster: &str,
    status: &str,
    issue: Option<&str>,
    covered: i64,
    compatible: i64,
) -> Value {
    json!({
        "resourceId": cluster, "detectorId": DETECTOR, "accountId": account,
        "coverageStatus": status, "issue": issue,
        "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
            "clusterName": cluster, "coveredNodes": covered, "compatibleNodes": compatible,
            "addonDetails": {"addonVersion": "v1.10.0-eksbuild.2", "addonStatus": if status == "HEALTHY" { "ACTIVE" } else { "DEGRADED" }},
            "managementType": "AUTO_MANAGED"}},
        "updatedAt": now() - 120
    })
}

/// The fake EKS + GuardDuty + SNS endpoint.
pub struct FakeAws {
    pub server: MockServer,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeAws {
    pub async fn start() -> FakeAws {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(FakeState::default()));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FakeAws { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn set(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.state.lock().unwrap());
    }

    pub fn fail(
        &self,
        operation: &'static str,
        status: u16,
        code: &'static str,
        message: &'static str,
        times: Option<usize>,
    ) {
        self.set(|s| {
            s.failures.entry(operation).or_default().push_back(Failure {
                status,
                code,
                message,
                times,
            })
        });
    }

    /// A past update of the add-on, `age` seconds ago.
    pub fn past_update(&self, status: &str, age: i64, overwrite: bool) {
        self.set(|s| {
            let id = format!("past-{}", s.updates.len() + 1);
            let version = s.addon_version;
            s.updates
                .push(update_json(&id, status, now() - age, version, overwrite));
        });
    }

    /// Change a recorded update (its status, errors, start), as EKS would
    /// once it ends.
    pub fn set_update(&self, id: &str, change: impl FnOnce(&mut Value)) {
        self.set(|s| {
            let update = s
                .updates
                .iter_mut()
                .find(|u| u["id"] == id)
                .unwrap_or_else(|| panic!("no update {id}"));
            change(update);
        });
    }

    /// The schedules created, by name (every group).
    pub fn schedules(&self) -> HashMap<String, Value> {
        self.state
            .lock()
            .unwrap()
            .schedules
            .iter()
            .map(|((_, name), body)| (name.clone(), body.clone()))
            .collect()
    }

    /// The payload a schedule hands to the function.
    pub fn schedule_input(&self, name: &str) -> Value {
        let schedules = self.schedules();
        let body = schedules
            .get(name)
            .unwrap_or_else(|| panic!("no schedule {name}: {:?}", schedules.keys()));
        serde_json::from_str(body["Target"]["Input"].as_str().unwrap()).unwrap()
    }

    pub fn requests(&self, operation: &str) -> Vec<Recorded> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.operation == operation)
            .cloned()
            .collect()
    }

    pub fn all_requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The last alert published to the fake SNS: subject, message, attributes.
    pub fn last_published(&self) -> (String, String, HashMap<String, String>) {
        let publish = self
            .requests("Publish")
            .pop()
            .expect("nothing was published");
        let form = publish.form();
        let mut attributes = HashMap::new();
        for index in 1..=20 {
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
        (form["Subject"].clone(), form["Message"].clone(), attributes)
    }
}

/// A base SDK config: test credentials, a region, the latest behaviour.
pub async fn base_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "tests",
        ))
        .load()
        .await
}

/// The SDK configuration the hub's member clients are built from: every
/// service on the fake at `aws`.
pub async fn member_base_config(aws: &str) -> SdkConfig {
    base_config().await.to_builder().endpoint_url(aws).build()
}

/// The hub's member accounts, with STS and the member clients on the fake at `aws`.
pub async fn members(aws: &str) -> coverage_lambda::accounts::Members {
    let base = member_base_config(aws).await;
    coverage_lambda::accounts::Members::new(aws_sdk_sts::Client::new(&base), base)
}

/// Clients with EKS and GuardDuty on `aws` and SNS on `sns`.
pub async fn clients(aws: &str, sns: &str) -> AwsClients {
    let base = base_config().await;
    AwsClients {
        eks: aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&base)
                .endpoint_url(aws)
                .build(),
        ),
        guardduty: aws_sdk_guardduty::Client::from_conf(
            aws_sdk_guardduty::config::Builder::from(&base)
                .endpoint_url(aws)
                .build(),
        ),
        sns: aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&base)
                .endpoint_url(sns)
                .build(),
        ),
        scheduler: aws_sdk_scheduler::Client::from_conf(
            aws_sdk_scheduler::config::Builder::from(&base)
                .endpoint_url(aws)
                .build(),
        ),
        logs: aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&base)
                .endpoint_url(aws)
                .build(),
        ),
        kms: aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&base)
                .endpoint_url(aws)
                .build(),
        ),
    }
}

/// A free loopback port (released before use; the server binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until something accepts connections on the port.
pub fn wait_for_port(port: u16, what: &str, timeout: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < timeout,
            "{what} did not start listening on port {port} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tool from the repository's virtualenv (tests/run installs it), else from PATH.
pub fn tool(name: &str) -> PathBuf {
    let local = repo().join(".venv/bin").join(name);
    if local.exists() {
        return local;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.exists())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: run tests/run, which installs the test tools into .venv (pip install -r tests/requirements.txt)")
    })
}

/// A moto server on a free loopback port, stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        wait_for_port(port, "moto_server", Duration::from_secs(60));
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// An SNS topic on moto with an SQS queue subscribed to it: what the
/// function publishes can be read back.
pub struct Inbox {
    pub topic_arn: String,
    pub queue_url: String,
    pub sqs: aws_sdk_sqs::Client,
}

impl Moto {
    /// Create the topic and the subscribed queue. `raw`: deliver the message
    /// body alone instead of SNS's JSON envelope.
    pub async fn inbox(&self, topic: &str, queue: &str, raw: bool) -> Inbox {
        let base = base_config().await;
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&base)
                .endpoint_url(&self.endpoint)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&base)
                .endpoint_url(&self.endpoint)
                .build(),
        );
        let topic_arn = sns
            .create_topic()
            .name(topic)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name(queue)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn_key = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(arn_key.clone())
            .send()
            .await
            .unwrap();
        let queue_arn = attributes.attributes.unwrap()[&arn_key].clone();
        let mut subscribe = sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn);
        if raw {
            subscribe = subscribe.attributes("RawMessageDelivery", "true");
        }
        subscribe.send().await.unwrap();
        Inbox {
            topic_arn,
            queue_url,
            sqs,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
