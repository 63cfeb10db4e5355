//! Decoding the EventBridge envelope and the GuardDuty coverage detail.
//!
//! Two levels, because they fail differently: an envelope that is not a
//! coverage event is an error (the caller retries or rejects it), while a
//! coverage envelope whose detail cannot be read is still an event, kept with
//! its raw text so that it can be surfaced rather than lost.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::issue::Issue;
use crate::text::clip;

/// Bounds on the untrusted text a `DecodeError` carries (names from the input,
/// serde's reasons, which may quote a value): the error is logged, returned
/// to Lambda and rendered into the alert, so its size must not follow the
/// input's.
const MAX_NAME_BYTES: usize = 256;
const MAX_REASON_BYTES: usize = 512;

pub const DETAIL_TYPE_UNHEALTHY: &str = "GuardDuty Runtime Protection Unhealthy";
pub const DETAIL_TYPE_HEALTHY: &str = "GuardDuty Runtime Protection Healthy";

/// Why an input is not a coverage event, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {reason} at line {line}, column {column}")]
    NotJson {
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("not an EventBridge event: the input is a JSON {found}, not an object")]
    NotAnObject { found: &'static str },
    #[error("missing field `{field}`")]
    MissingField { field: String },
    #[error("field `{field}`: {reason}")]
    InvalidField { field: String, reason: String },
    #[error(
        "not a GuardDuty coverage event: detail-type is {detail_type:?}, expected \
         \"{DETAIL_TYPE_UNHEALTHY}\" or \"{DETAIL_TYPE_HEALTHY}\""
    )]
    NotCoverageEvent { detail_type: String },
}

/// The coverage transition the event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Transition {
    /// Healthy -> Unhealthy: coverage lost.
    Unhealthy,
    /// Unhealthy -> Healthy: coverage back.
    Healthy,
}

impl Transition {
    pub fn detail_type(self) -> &'static str {
        match self {
            Transition::Unhealthy => DETAIL_TYPE_UNHEALTHY,
            Transition::Healthy => DETAIL_TYPE_HEALTHY,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Unhealthy => "unhealthy",
            Transition::Healthy => "healthy",
        }
    }
}

/// The EventBridge envelope fields this project uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope {
    pub id: String,
    pub transition: Transition,
    pub source: String,
    /// The account whose bus received the event (a GuardDuty administrator
    /// may receive members' events).
    pub account: Option<String>,
    pub region: Option<String>,
    pub time: Option<String>,
}

/// A decoded coverage event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageEvent {
    pub envelope: Envelope,
    pub detail: Detail,
}

/// The coverage detail, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    Decoded(Box<CoverageDetail>),
    Malformed {
        #[serde(serialize_with = "serialize_display")]
        error: DecodeError,
        /// The whole event as received, compact JSON.
        raw_event: String,
    },
}

fn serialize_display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageDetail {
    pub schema_version: Option<String>,
    /// The account that owns the cluster.
    pub resource_account_id: Option<String>,
    pub current_status: Option<String>,
    pub previous_status: Option<String>,
    pub resource: Resource,
    /// `None` when the event carries no issue text (usual for Healthy).
    pub issue: Option<Issue>,
    pub last_updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Eks(EksCluster),
    Ecs(EcsCluster),
    /// Another resource type, as written (empty when absent).
    Other {
        resource_type: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EksCluster {
    pub cluster_name: Option<String>,
    pub available_nodes: Option<u64>,
    pub desired_nodes: Option<u64>,
    pub addon_version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EcsCluster {
    pub cluster_name: Option<String>,
    pub fargate_issues: Vec<String>,
    pub fargate_management_type: Option<String>,
    pub covered_container_instances: Option<u64>,
    pub compatible_container_instances: Option<u64>,
}

impl CoverageEvent {
    pub fn decoded_detail(&self) -> Option<&CoverageDetail> {
        match &self.detail {
            Detail::Decoded(detail) => Some(detail),
            Detail::Malformed { .. } => None,
        }
    }

    /// The EKS cluster details, when the event is about an EKS cluster.
    pub fn eks_cluster(&self) -> Option<&EksCluster> {
        match &self.decoded_detail()?.resource {
            Resource::Eks(cluster) => Some(cluster),
            _ => None,
        }
    }

    pub fn cluster_name(&self) -> Option<&str> {
        match &self.decoded_detail()?.resource {
            Resource::Eks(cluster) => cluster.cluster_name.as_deref(),
            Resource::Ecs(cluster) => cluster.cluster_name.as_deref(),
            Resource::Other { .. } => None,
        }
    }

    /// The account that owns the resource: the detail's, else the envelope's.
    pub fn resource_account(&self) -> Option<&str> {
        self.decoded_detail()
            .and_then(|d| d.resource_account_id.as_deref())
            .or(self.envelope.account.as_deref())
    }

    pub fn issue(&self) -> Option<&Issue> {
        self.decoded_detail()?.issue.as_ref()
    }
}

/// Decode raw bytes (a file, a Lambda payload).
pub fn decode_event_bytes(bytes: &[u8]) -> Result<CoverageEvent, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson {
        reason: clip(&json_error_reason(&e), MAX_REASON_BYTES),
        line: e.line(),
        column: e.column(),
    })?;
    decode_event(&value)
}

/// serde_json's message without its trailing position, which we report apart.
fn json_error_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}

/// Decode an already parsed JSON value.
pub fn decode_event(value: &Value) -> Result<CoverageEvent, DecodeError> {
    let object = value.as_object().ok_or(DecodeError::NotAnObject {
        found: json_kind(value),
    })?;
    let detail_type = required_str(object, "detail-type")?;
    let transition = match detail_type {
        DETAIL_TYPE_UNHEALTHY => Transition::Unhealthy,
        DETAIL_TYPE_HEALTHY => Transition::Healthy,
        other => {
            return Err(DecodeError::NotCoverageEvent {
                detail_type: clip(other, MAX_NAME_BYTES),
            });
        }
    };
    let envelope = Envelope {
        id: required_str(object, "id")?.to_owned(),
        transition,
        source: required_str(object, "source")?.to_owned(),
        account: optional_str(object, "account")?,
        region: optional_str(object, "region")?,
        time: optional_str(object, "time")?,
    };
    let detail = match decode_detail(object.get("detail")) {
        Ok(detail) => Detail::Decoded(Box::new(detail)),
        Err(error) => Detail::Malformed {
            error,
            raw_event: value.to_string(),
        },
    };
    Ok(CoverageEvent { envelope, detail })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn required_str<'a>(
    object: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<&'a str, DecodeError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(DecodeError::MissingField {
            field: field.to_owned(),
        }),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(DecodeError::InvalidField {
            field: field.to_owned(),
            reason: format!("expected a string, found a {}", json_kind(other)),
        }),
    }
}

fn optional_str(
    object: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<String>, DecodeError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(DecodeError::InvalidField {
            field: field.to_owned(),
            reason: format!("expected a string, found a {}", json_kind(other)),
        }),
    }
}

fn decode_detail(detail: Option<&Value>) -> Result<CoverageDetail, DecodeError> {
    let detail = match detail {
        None | Some(Value::Null) => {
            return Err(DecodeError::MissingField {
                field: "detail".to_owned(),
            });
        }
        Some(value @ Value::Object(_)) => value,
        Some(other) => {
            return Err(DecodeError::InvalidField {
                field: "detail".to_owned(),
                reason: format!("expected an object, found a {}", json_kind(other)),
            });
        }
    };
    // Path tracking costs on every field; it is only needed to say where a
    // detail went wrong, so it runs again only then.
    match RawDetail::deserialize(detail) {
        Ok(raw) => Ok(raw.into_detail()),
        Err(_) => Err(
            match serde_path_to_error::deserialize::<_, RawDetail>(detail) {
                Ok(_) => DecodeError::InvalidField {
                    field: "detail".to_owned(),
                    reason: "could not be decoded".to_owned(),
                },
                Err(e) => {
                    let path = e.path().to_string();
                    // The path holds the input's own keys, the reason may
                    // quote the input's value: both are clipped.
                    DecodeError::InvalidField {
                        field: if path == "." {
                            "detail".to_owned()
                        } else {
                            clip(&format!("detail.{path}"), MAX_NAME_BYTES)
                        },
                        reason: clip(&e.into_inner().to_string(), MAX_REASON_BYTES),
                    }
                }
            },
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDetail {
    #[serde(default, deserialize_with = "lenient_string")]
    schema_version: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    resource_account_id: Option<String>,
    #[serde(default)]
    current_status: Option<String>,
    #[serde(default)]
    previous_status: Option<String>,
    #[serde(default)]
    resource_details: Option<RawResourceDetails>,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    last_updated_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResourceDetails {
    #[serde(default)]
    resource_type: Option<String>,
    #[serde(default)]
    eks_cluster_details: Option<RawEksDetails>,
    #[serde(default)]
    ecs_cluster_details: Option<RawEcsDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEksDetails {
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    available_nodes: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    desired_nodes: Option<u64>,
    #[serde(default)]
    addon_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEcsDetails {
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default)]
    fargate_details: Option<RawFargateDetails>,
    #[serde(default)]
    container_instance_details: Option<RawContainerInstanceDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFargateDetails {
    #[serde(default)]
    issues: Option<Vec<String>>,
    #[serde(default)]
    management_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainerInstanceDetails {
    #[serde(default, deserialize_with = "lenient_count")]
    covered_container_instances: Option<u64>,
    #[serde(default, deserialize_with = "lenient_count")]
    compatible_container_instances: Option<u64>,
}

impl RawDetail {
    fn into_detail(self) -> CoverageDetail {
        let resource = match self.resource_details {
            None => Resource::Other {
                resource_type: String::new(),
            },
            Some(details) => details.into_resource(),
        };
        let issue = self
            .issue
            .filter(|text| !text.trim().is_empty())
            .map(|text| Issue::parse(&text));
        CoverageDetail {
            schema_version: self.schema_version,
            resource_account_id: self.resource_account_id,
            current_status: self.current_status,
            previous_status: self.previous_status,
            resource,
            issue,
            last_updated_at: self.last_updated_at,
        }
    }
}

impl RawResourceDetails {
    fn into_resource(self) -> Resource {
        let declared = self.resource_type.unwrap_or_default();
        let is = |name: &str| declared.trim().eq_ignore_ascii_case(name);
        if is("EKS") || (declared.trim().is_empty() && self.eks_cluster_details.is_some()) {
            let eks = self.eks_cluster_details.unwrap_or(RawEksDetails {
                cluster_name: None,
                available_nodes: None,
                desired_nodes: None,
                addon_version: None,
            });
            Resource::Eks(EksCluster {
                cluster_name: eks.cluster_name.filter(|n| !n.is_empty()),
                available_nodes: eks.available_nodes,
                desired_nodes: eks.desired_nodes,
                addon_version: eks.addon_version.filter(|v| !v.is_empty()),
            })
        } else if is("ECS") || (declared.trim().is_empty() && self.ecs_cluster_details.is_some()) {
            let ecs = self.ecs_cluster_details;
            let (cluster_name, fargate, instances) = match ecs {
                Some(ecs) => (
                    ecs.cluster_name,
                    ecs.fargate_details,
                    ecs.container_instance_details,
                ),
                None => (None, None, None),
            };
            let (fargate_issues, fargate_management_type) = match fargate {
                Some(f) => (f.issues.unwrap_or_default(), f.management_type),
                None => (Vec::new(), None),
            };
            let (covered, compatible) = match instances {
                Some(i) => (
                    i.covered_container_instances,
                    i.compatible_container_instances,
                ),
                None => (None, None),
            };
            Resource::Ecs(EcsCluster {
                cluster_name: cluster_name.filter(|n| !n.is_empty()),
                fargate_issues,
                fargate_management_type,
                covered_container_instances: covered,
                compatible_container_instances: compatible,
            })
        } else {
            Resource::Other {
                resource_type: declared,
            }
        }
    }
}

/// Counts arrive as strings in the documented schema, as numbers in some
/// examples; anything that is not a non-negative integer is treated as absent
/// rather than failing the whole event over a field no decision depends on.
fn lenient_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    })
}

/// Strings that some producers send as numbers (timestamps, account ids).
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found a {}",
            json_kind(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "version": "0", "id": "e-1", "detail-type": DETAIL_TYPE_UNHEALTHY,
            "source": "aws.guardduty", "account": "111122223333", "region": "us-east-1",
            "time": "2026-01-01T00:00:00Z", "resources": [],
            "detail": {
                "schemaVersion": "1.0", "resourceAccountId": "111122223333",
                "currentStatus": "UNHEALTHY", "previousStatus": "HEALTHY",
                "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
                    "clusterName": "prod", "availableNodes": "3", "desiredNodes": 4,
                    "addonVersion": "v1.10.0-eksbuild.2", "somethingNew": true}},
                "issue": "Others:Error due to authorization failure",
                "lastUpdatedAt": 1767225600
            }
        })
    }

    #[test]
    fn decodes_a_documented_event_leniently() {
        let event = decode_event(&sample()).unwrap();
        assert_eq!(event.envelope.transition, Transition::Unhealthy);
        let cluster = event.eks_cluster().unwrap();
        assert_eq!(cluster.cluster_name.as_deref(), Some("prod"));
        assert_eq!(cluster.available_nodes, Some(3));
        assert_eq!(cluster.desired_nodes, Some(4));
        assert_eq!(
            event.decoded_detail().unwrap().last_updated_at.as_deref(),
            Some("1767225600")
        );
        assert!(event.issue().is_some());
    }

    #[test]
    fn other_detail_types_are_rejected_by_name() {
        let mut value = sample();
        value["detail-type"] = json!("GuardDuty Finding");
        let error = decode_event(&value).unwrap_err();
        assert_eq!(
            error,
            DecodeError::NotCoverageEvent {
                detail_type: "GuardDuty Finding".into()
            }
        );
    }

    #[test]
    fn missing_envelope_fields_are_named() {
        let mut value = sample();
        value.as_object_mut().unwrap().remove("id");
        assert_eq!(
            decode_event(&value).unwrap_err(),
            DecodeError::MissingField { field: "id".into() }
        );
        assert!(matches!(
            decode_event(&json!([1])),
            Err(DecodeError::NotAnObject { found: "array" })
        ));
    }

    #[test]
    fn malformed_detail_is_kept_with_the_raw_event() {
        let mut value = sample();
        value["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!({"x": 1});
        let event = decode_event(&value).unwrap();
        match event.detail {
            Detail::Malformed { error, raw_event } => {
                assert!(
                    matches!(&error, DecodeError::InvalidField { field, .. }
                        if field == "detail.resourceDetails.eksClusterDetails.clusterName"),
                    "{error}"
                );
                assert!(raw_event.contains("\"x\":1"));
            }
            Detail::Decoded(_) => panic!("expected a malformed detail"),
        }
        let mut value = sample();
        value.as_object_mut().unwrap().remove("detail");
        let event = decode_event(&value).unwrap();
        assert!(matches!(
            event.detail,
            Detail::Malformed {
                error: DecodeError::MissingField { .. },
                ..
            }
        ));
    }

    #[test]
    fn not_json_reports_position() {
        let error = decode_event_bytes(b"{\"id\": ").unwrap_err();
        assert!(
            matches!(error, DecodeError::NotJson { line: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn ecs_events_decode_as_ecs() {
        let mut value = sample();
        value["detail"]["resourceDetails"] = json!({"resourceType": "ECS", "ecsClusterDetails": {
            "clusterName": "svc", "fargateDetails": {"issues": ["a"], "managementType": "AUTO_MANAGED"}}});
        let event = decode_event(&value).unwrap();
        assert!(
            matches!(&event.decoded_detail().unwrap().resource, Resource::Ecs(ecs) if ecs.fargate_issues == ["a"])
        );
        assert_eq!(event.cluster_name(), Some("svc"));
    }
}
