//! The samples in `events/` are EventBridge events as the Rust Lambda
//! ecosystem models them (`aws_lambda_events`), so replaying them with
//! `cargo lambda invoke` is faithful.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

#[test]
fn every_json_sample_is_an_eventbridge_event() {
    let mut checked = 0;
    for path in common::event_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        if path.ends_with("malformed.not-json.json") {
            assert!(serde_json::from_str::<Value>(&text).is_err());
            continue;
        }
        if path.ends_with("malformed.no-detail.json") {
            // Not an event for that model; our decoder keeps it and alerts with it raw.
            assert!(serde_json::from_str::<EventBridgeEvent<Value>>(&text).is_err());
            let kept = coverage_core::decode_event_bytes(text.as_bytes()).unwrap();
            assert!(matches!(
                kept.detail,
                coverage_core::Detail::Malformed { .. }
            ));
            continue;
        }
        let event: EventBridgeEvent<Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(event.source, "aws.guardduty", "{}", path.display());
        assert!(
            event.time.is_some() && event.id.is_some(),
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 28, "{checked}");
}
