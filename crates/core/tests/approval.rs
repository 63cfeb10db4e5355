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

/// The claims' signed body with line `index` replaced, re-encoded, as a
/// token with a well-formed MAC: what `Token::parse` makes of it.
fn with_line(index: usize, value: &str) -> Result<Token, Rejection> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body = String::from_utf8(URL_SAFE_NO_PAD.decode(claims().signed()).unwrap()).unwrap();
    let mut lines: Vec<String> = body.split('\n').map(str::to_owned).collect();
    lines[index] = value.to_owned();
    Token::parse(&token(&URL_SAFE_NO_PAD.encode(lines.join("\n")), &[7; 32]))
}

fn malformed_why(result: Result<Token, Rejection>) -> &'static str {
    match result {
        Err(Rejection::Malformed { why }) => why,
        other => panic!("expected a malformed token, got {other:?}"),
    }
}

#[test]
fn the_length_limit_is_1024_characters_exactly() {
    // 1,024 characters pass the length check (and fail on the missing '.').
    assert_eq!(
        malformed_why(Token::parse(&"x".repeat(1024))),
        "no '.' between its two parts"
    );
    assert_eq!(
        malformed_why(Token::parse(&"x".repeat(1025))),
        "longer than 1,024 characters"
    );
}

#[test]
fn the_bound_add_on_version_must_be_a_version() {
    const ADDON: usize = 6;
    assert!(with_line(ADDON, "v1.10.0-eksbuild.2+x_y").is_ok());
    assert!(with_line(ADDON, &"a".repeat(100)).is_ok());
    for bad in ["", "v1 10", "v1;rm", &"a".repeat(101)] {
        assert_eq!(
            malformed_why(with_line(ADDON, bad)),
            "the add-on version is not a version",
            "{bad:?}"
        );
    }
}

#[test]
fn the_bound_configuration_hash_must_be_a_lowercase_sha256() {
    const HASH: usize = 7;
    assert!(with_line(HASH, &"0123456789abcdef".repeat(4)).is_ok());
    for bad in [
        "0".repeat(63),
        "0".repeat(65),
        format!("{}g", "0".repeat(63)),
        format!("{}A", "0".repeat(63)),
    ] {
        assert_eq!(
            malformed_why(with_line(HASH, &bad)),
            "the configuration hash is not a SHA-256",
            "{bad:?}"
        );
    }
}

#[test]
fn each_refusal_has_its_own_label() {
    let labels: Vec<&str> = [
        Rejection::Malformed { why: "x" },
        Rejection::BadSignature,
        Rejection::NotVerified { why: "x".into() },
        Rejection::Expired {
            expired_at: 1,
            now: 2,
        },
        Rejection::NotApproveMode,
    ]
    .iter()
    .map(Rejection::label)
    .collect();
    assert_eq!(
        labels,
        [
            "approval-malformed",
            "approval-bad-signature",
            "approval-not-verified",
            "approval-expired",
            "approval-not-approve-mode"
        ]
    );
}

#[test]
fn the_terminal_commands_carry_the_token_the_function_and_the_region() {
    use coverage_core::approval::{cli_command, payload, terminal_commands};
    assert_eq!(payload("abc.DEF-_"), r#"{"approve":"abc.DEF-_"}"#);
    assert_eq!(
        cli_command("coverage-fn", "eu-west-1", "abc.def"),
        "printf %s '{\"approve\":\"abc.def\"}' > approve-payload.json && \
         aws lambda invoke --region eu-west-1 --function-name coverage-fn \
         --payload fileb://approve-payload.json /dev/stdout"
    );
    let named = terminal_commands("Ym9keQ", Some("coverage-fn"), "eu-west-1");
    assert!(
        named.contains("printf %s 'Ym9keQ' > approval-body.txt"),
        "{named}"
    );
    assert!(
        named.contains("aws kms generate-mac --region eu-west-1"),
        "{named}"
    );
    assert!(named.contains("--function-name coverage-fn"), "{named}");
    assert!(named.contains(r#"\"approve\":\"Ym9keQ.$MAC\""#), "{named}");
    assert!(
        named.contains("--payload fileb://approve-payload.json /dev/stdout"),
        "{named}"
    );
    assert!(!named.contains("--cli-binary-format"), "{named}");
    assert!(!named.contains("APPROVE_FUNCTION"), "{named}");
    let unnamed = terminal_commands("Ym9keQ", None, "eu-west-1");
    assert!(unnamed.contains(": \"${APPROVE_FUNCTION:?"), "{unnamed}");
    assert!(
        unnamed.contains("--function-name \"$APPROVE_FUNCTION\""),
        "{unnamed}"
    );
    assert_eq!(unnamed.lines().count(), named.lines().count() + 1);
}
