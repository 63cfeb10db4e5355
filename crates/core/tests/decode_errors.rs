//! Decode errors stay small whatever the input: every untrusted string a
//! `DecodeError` carries (the detail-type, names from the serde path, serde's
//! reasons, which quote values) is clipped, so its message is under 2 KiB and
//! still names the field and what was wrong.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::{DecodeError, Detail, decode_event, decode_event_bytes};
use serde_json::{Value, json};

const HUGE: usize = 200 * 1024;
const MAX_MESSAGE: usize = 2048;

fn sample() -> Value {
    json!({
        "version": "0", "id": "e-1",
        "detail-type": "GuardDuty Runtime Protection Unhealthy",
        "source": "aws.guardduty", "account": "111122223333", "region": "us-east-1",
        "time": "2026-01-01T00:00:00Z", "resources": [],
        "detail": {
            "schemaVersion": "1.0", "resourceAccountId": "111122223333",
            "currentStatus": "UNHEALTHY", "previousStatus": "HEALTHY",
            "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
                "clusterName": "prod", "availableNodes": "3", "desiredNodes": 4,
                "addonVersion": "v1.10.0-eksbuild.2"}},
            "issue": "Others:Error due to authorization failure",
            "lastUpdatedAt": 1767225600
        }
    })
}

/// The envelope's error, or the error kept with a malformed detail.
fn error_of(event: &Value) -> DecodeError {
    match decode_event(event) {
        Err(error) => error,
        Ok(decoded) => match decoded.detail {
            Detail::Malformed { error, .. } => error,
            Detail::Decoded(_) => panic!("decoded without an error"),
        },
    }
}

fn bounded(error: &DecodeError) -> String {
    let message = error.to_string();
    assert!(
        message.len() < MAX_MESSAGE,
        "{} bytes: {}…",
        message.len(),
        message.chars().take(200).collect::<String>()
    );
    message
}

#[test]
fn a_huge_detail_type_is_clipped_and_still_named() {
    let mut event = sample();
    event["detail-type"] = json!("GuardDuty Finding ".repeat(HUGE / 18));
    let error = error_of(&event);
    let DecodeError::NotCoverageEvent { detail_type } = &error else {
        panic!("{error}")
    };
    assert!(detail_type.starts_with("GuardDuty Finding GuardDuty Finding"));
    assert!(detail_type.len() <= 256, "{}", detail_type.len());
    let message = bounded(&error);
    assert!(
        message.starts_with("not a GuardDuty coverage event: detail-type is \"GuardDuty Finding"),
        "{message}"
    );
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn a_huge_detail_type_of_escaped_characters_stays_bounded() {
    // Debug-quoting in the message widens quotes and control replacements.
    let mut event = sample();
    event["detail-type"] = json!("\"\u{1b}\u{200b}".repeat(HUGE / 7));
    let message = bounded(&error_of(&event));
    assert!(message.starts_with("not a GuardDuty coverage event: detail-type is "));
}

#[test]
fn a_huge_field_name_inside_detail_next_to_a_type_error() {
    let huge_key = "k".repeat(HUGE);
    let mut event = sample();
    let details = &mut event["detail"]["resourceDetails"];
    details[huge_key.as_str()] = json!({ "nested": [1, 2, 3] });
    details["eksClusterDetails"][huge_key.as_str()] = json!(true);
    details["eksClusterDetails"]["clusterName"] = json!({ huge_key.as_str(): 1 });
    let error = error_of(&event);
    let message = bounded(&error);
    let DecodeError::InvalidField { field, reason } = &error else {
        panic!("{message}")
    };
    assert_eq!(
        field,
        "detail.resourceDetails.eksClusterDetails.clusterName"
    );
    assert!(reason.starts_with("invalid type: map"), "{reason}");
}

#[test]
fn a_huge_string_of_the_wrong_type_is_quoted_only_in_part() {
    let huge_value = "v".repeat(HUGE);
    let cases = [
        (
            json!({"resourceType": "ECS", "ecsClusterDetails": {
                "clusterName": "svc", "fargateDetails": {"issues": huge_value}}}),
            "detail.resourceDetails.ecsClusterDetails.fargateDetails.issues",
        ),
        (json!(huge_value), "detail.resourceDetails"),
        (
            json!({"resourceType": "EKS", "eksClusterDetails": huge_value}),
            "detail.resourceDetails.eksClusterDetails",
        ),
    ];
    for (resource_details, expected_field) in cases {
        let mut event = sample();
        event["detail"]["resourceDetails"] = resource_details;
        let error = error_of(&event);
        let message = bounded(&error);
        let DecodeError::InvalidField { field, reason } = &error else {
            panic!("{message}")
        };
        assert_eq!(field, expected_field);
        assert!(
            reason.starts_with("invalid type: string \"vvvv"),
            "{reason}"
        );
        assert!(reason.len() <= 512, "{}", reason.len());
        assert!(message.contains("truncated"), "{message}");
    }
}

#[test]
fn huge_values_anywhere_give_bounded_errors() {
    let huge_string = json!("\u{7}x".repeat(HUGE / 2));
    let huge_object = json!({ "k".repeat(HUGE): "v".repeat(HUGE) });
    let huge_array = Value::Array(vec![json!("v".repeat(1024)); 200]);
    let paths: &[&[&str]] = &[
        &["detail-type"],
        &["id"],
        &["source"],
        &["account"],
        &["detail"],
        &["detail", "schemaVersion"],
        &["detail", "issue"],
        &["detail", "currentStatus"],
        &["detail", "resourceDetails"],
        &["detail", "resourceDetails", "resourceType"],
        &["detail", "resourceDetails", "eksClusterDetails"],
        &[
            "detail",
            "resourceDetails",
            "eksClusterDetails",
            "clusterName",
        ],
        &[
            "detail",
            "resourceDetails",
            "eksClusterDetails",
            "addonVersion",
        ],
    ];
    let mut errors = 0;
    for path in paths {
        for value in [&huge_string, &huge_object, &huge_array] {
            let mut event = sample();
            let (last, parents) = path.split_last().unwrap();
            let mut slot = &mut event;
            for key in parents {
                slot = &mut slot[*key];
            }
            slot[*last] = value.clone();
            let error = match decode_event(&event) {
                Err(error) => error,
                Ok(decoded) => match decoded.detail {
                    Detail::Malformed { error, .. } => error,
                    Detail::Decoded(_) => continue,
                },
            };
            errors += 1;
            let message = bounded(&error);
            assert!(
                message.contains(path.last().unwrap()) || message.contains("detail-type is"),
                "{path:?}: {message}"
            );
        }
    }
    assert!(errors > 20, "only {errors} errors");
}

#[test]
fn huge_input_that_is_not_json_gives_a_short_reason() {
    let mut unterminated = vec![b'"'];
    unterminated.extend(std::iter::repeat_n(b'a', HUGE));
    let mut too_big_a_number = b"{\"id\": 1".to_vec();
    too_big_a_number.extend(std::iter::repeat_n(b'9', HUGE));
    for body in [
        vec![b'x'; HUGE],
        vec![b'['; HUGE],
        unterminated,
        too_big_a_number,
        std::iter::repeat_n(&b"\x1b[31m\xff"[..], HUGE / 6)
            .flatten()
            .copied()
            .collect(),
    ] {
        let error = decode_event_bytes(&body).unwrap_err();
        let message = bounded(&error);
        assert!(matches!(error, DecodeError::NotJson { .. }), "{message}");
        assert!(message.starts_with("not JSON: "), "{message}");
    }
}
