//! The approval token: round trip, every malformed shape, the expiry's
//! boundary, the binding against the add-on now, and the pipeline's
//! approve-mode order (sign, never write without an approval).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::approval::{
    ApprovalClaims, Rejection, Token, Verification, config_hash, is_approval, token, token_text,
};
use coverage_core::decide::OverwriteRequest;
use coverage_core::event::decode_event;
use serde_json::json;

const EVENT: &str = include_str!("../../../events/unhealthy.addon-configuration-conflict.json");
const NOW: i64 = 1_773_480_127;

fn request(version: &str, values: Option<&str>) -> OverwriteRequest {
    OverwriteRequest {
        cluster_name: "prod-payments".to_owned(),
        addon_name: "aws-guardduty-agent",
        addon_version: Some(version.to_owned()),
        configuration_values: values.map(str::to_owned),
        resolve_conflicts: "OVERWRITE",
        client_request_token: "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37".to_owned(),
        addon_read: true,
    }
}

fn claims() -> ApprovalClaims {
    let event = decode_event(&serde_json::from_str(EVENT).unwrap()).unwrap();
    ApprovalClaims::for_request(
        &event,
        &request("v1.10.0-eksbuild.2", Some("{}")),
        NOW,
        3600,
    )
    .unwrap()
}

#[test]
fn a_token_round_trips_and_binds_what_it_says() {
    let claims = claims();
    assert_eq!(claims.expires_at, NOW + 3600);
    assert_eq!(claims.event_time, 1_773_480_067);
    assert_eq!(claims.account.as_str(), "111122223333");
    assert_eq!(claims.region.as_str(), "us-east-1");
    assert_eq!(claims.config_hash, config_hash(Some("{}")));
    let text = token(&claims.signed(), &[9; 32]);
    assert!(text.len() <= 1024);
    let parsed = Token::parse(&text).unwrap();
    assert_eq!(parsed.signed(), claims.signed());
    assert_eq!(parsed.mac(), &[9; 32]);
    assert_eq!(parsed.unverified_claims(), &claims);
    assert_eq!(
        parsed.clone().accept(Verification::Valid, NOW + 3599),
        Ok(claims.clone())
    );
    assert_eq!(
        parsed.clone().accept(Verification::Valid, NOW + 3600),
        Err(Rejection::Expired {
            expired_at: NOW + 3600,
            now: NOW + 3600
        })
    );
    assert_eq!(
        parsed.clone().accept(Verification::Invalid, NOW),
        Err(Rejection::BadSignature)
    );
    assert!(matches!(
        parsed.accept(Verification::Failed("down".to_owned()), NOW),
        Err(Rejection::NotVerified { .. })
    ));
    // The rebuilt event decodes to the same event id, time and cluster.
    let rebuilt = decode_event(&claims.event()).unwrap();
    assert_eq!(rebuilt.envelope.id, "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37");
    assert_eq!(
        rebuilt.envelope.time.as_deref(),
        Some("2026-03-14T09:21:07Z")
    );
    assert_eq!(rebuilt.cluster_name(), Some("prod-payments"));
}

#[test]
fn the_binding_refuses_another_version_values_or_event() {
    let claims = claims();
    assert_eq!(
        claims.check_binding(&request("v1.10.0-eksbuild.2", Some("{}"))),
        Ok(())
    );
    assert!(
        claims
            .check_binding(&request("v1.11.0-eksbuild.1", Some("{}")))
            .is_err()
    );
    assert!(
        claims
            .check_binding(&request("v1.10.0-eksbuild.2", None))
            .is_err()
    );
    let mut other = request("v1.10.0-eksbuild.2", Some("{}"));
    other.client_request_token = "another".to_owned();
    assert!(claims.check_binding(&other).is_err());
    assert_ne!(config_hash(None), config_hash(Some("-x")));
    assert_eq!(config_hash(None).len(), 64);
}

#[test]
fn malformed_tokens_are_refused() {
    let signed = claims().signed();
    let good = token(&signed, &[1; 32]);
    let cases = [
        "".to_owned(),
        "no-dot".to_owned(),
        format!("{signed}.!!"),
        token(&signed, &[1; 31]),
        format!("{}.{}", "@@", good.split_once('.').unwrap().1),
        "x".repeat(1025),
        token("djE", &[1; 32]),
    ];
    for case in cases {
        assert!(
            matches!(Token::parse(&case), Err(Rejection::Malformed { .. })),
            "{case}"
        );
    }
    assert!(Token::parse(&good).is_ok());
    assert!(is_approval(&json!({"approve": "x"})));
    assert!(!is_approval(&json!({"follow_up": {}})));
    assert!(!is_approval(&json!("approve")));
    assert_eq!(token_text(&json!({"approve": "abc"})), Ok("abc"));
    assert!(token_text(&json!({"approve": 1})).is_err());
}
