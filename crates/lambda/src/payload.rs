//! The invocation payload as lambda_runtime hands it to the handler: JSON, or
//! why the body is not JSON. Owns the guarantee that every body reaches our
//! handler, so that input which is not JSON is rejected with our own error
//! type (`NotACoverageEvent`) instead of lambda_runtime's deserialization
//! error.
//!
//! lambda_runtime 1.5 (`deserializer::deserialize`) builds
//! `serde_json::Deserializer::from_slice(body)` and calls
//! `serde_path_to_error::deserialize` on it, which is `T::deserialize` on a
//! tracking wrapper: whatever `T::deserialize` returns is what the runtime
//! gets. So a syntax error that `Payload` catches and keeps as data never
//! becomes a runtime error. The runtime never calls `Deserializer::end`:
//! text after the first complete JSON value (`{"a":1} trailing`) is not
//! seen by any payload type, ours included.

use coverage_core::DecodeError;
use coverage_core::text::clip;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Upper bound on the kept reason. serde_json's syntax messages are short and
/// never quote the input; the bound is there in case that ever changes.
pub const MAX_REASON_BYTES: usize = 320;

/// One invocation's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Value),
    /// serde_json's message (with its position), clipped to
    /// [`MAX_REASON_BYTES`] and stripped of control characters.
    NotJson {
        reason: String,
    },
}

impl<'de> Deserialize<'de> for Payload {
    /// Never fails: a body that is not JSON becomes [`Payload::NotJson`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        Ok(match Value::deserialize(deserializer) {
            Ok(value) => Payload::Json(value),
            Err(error) => Payload::NotJson {
                reason: clip(&error.to_string(), MAX_REASON_BYTES),
            },
        })
    }
}

impl Payload {
    /// The JSON value, or the `DecodeError::NotJson` the handler rejects the
    /// invocation with. Line and column are 0 when the reason carries none.
    pub fn into_value(self) -> Result<Value, DecodeError> {
        match self {
            Payload::Json(value) => Ok(value),
            Payload::NotJson { reason } => {
                let (reason, line, column) = split_position(&reason);
                Err(DecodeError::NotJson {
                    reason,
                    line,
                    column,
                })
            }
        }
    }
}

/// Only the error's text crosses the generic `Deserializer` boundary, so the
/// position serde_json appends (" at line L column C") is read back from it;
/// `DecodeError` keeps the position in fields of its own, as
/// `decode_event_bytes` does.
fn split_position(message: &str) -> (String, usize, usize) {
    message
        .rsplit_once(" at line ")
        .and_then(|(reason, position)| {
            let (line, column) = position.split_once(" column ")?;
            Some((reason.to_owned(), line.parse().ok()?, column.parse().ok()?))
        })
        .unwrap_or_else(|| (message.to_owned(), 0, 0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    /// Exactly what lambda_runtime 1.5's `deserializer::deserialize` does with
    /// the body of `/runtime/invocation/next`, minus the `LambdaEvent` wrapper.
    fn as_lambda_runtime<T>(body: &[u8]) -> Result<T, serde_path_to_error::Error<serde_json::Error>>
    where
        T: for<'de> Deserialize<'de>,
    {
        let jd = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(jd)
    }

    fn payload(body: &[u8]) -> Payload {
        as_lambda_runtime::<Payload>(body)
            .unwrap_or_else(|e| panic!("Payload failed on {:?}: {e}", clip_body(body)))
    }

    fn clip_body(body: &[u8]) -> String {
        clip(&String::from_utf8_lossy(body), 80)
    }

    fn reason(body: &[u8]) -> String {
        match payload(body) {
            Payload::NotJson { reason } => reason,
            Payload::Json(value) => panic!("{:?} read as JSON: {value}", clip_body(body)),
        }
    }

    #[test]
    fn a_json_object_is_kept_as_is() {
        let body =
            br#"{"detail-type":"GuardDuty Runtime Protection Unhealthy","detail":{"a":[1,2]}}"#;
        let expected = json!({"detail-type": "GuardDuty Runtime Protection Unhealthy", "detail": {"a": [1, 2]}});
        assert_eq!(payload(body), Payload::Json(expected.clone()));
        assert_eq!(payload(body).into_value(), Ok(expected));
    }

    #[test]
    fn a_json_string_is_json() {
        assert_eq!(payload(br#""hello""#), Payload::Json(json!("hello")));
    }

    #[test]
    fn each_body_that_fails_value_in_lambda_runtime_is_not_json_for_payload() {
        let bodies: [&[u8]; 6] = [
            b"not json at all",
            b"",
            b"\xff\xfe\x00garbage",
            b"\"\xff\xfe\"",
            b"{\"a\":",
            b"   \n",
        ];
        for body in bodies {
            assert!(
                as_lambda_runtime::<Value>(body).is_err(),
                "{:?} is valid JSON",
                clip_body(body)
            );
            let reason = reason(body);
            assert!(
                !reason.is_empty() && reason.len() <= MAX_REASON_BYTES,
                "{reason}"
            );
        }
    }

    #[test]
    fn not_json_becomes_the_same_decode_error_as_decode_event_bytes() {
        for body in [
            &b"not json at all"[..],
            b"",
            b"\xff\xfe",
            b"\"\xff\"",
            b"{\"a\":1,}",
        ] {
            let ours = payload(body).into_value().unwrap_err();
            let core = coverage_core::decode_event_bytes(body).unwrap_err();
            assert_eq!(ours, core, "{:?}", clip_body(body));
        }
        let DecodeError::NotJson {
            reason,
            line,
            column,
        } = payload(b"not json at all").into_value().unwrap_err()
        else {
            panic!("not NotJson")
        };
        assert_eq!((reason.as_str(), line, column), ("expected ident", 1, 2));
        assert_eq!(
            payload(b"").into_value().unwrap_err().to_string(),
            "not JSON: EOF while parsing a value at line 1, column 0"
        );
    }

    #[test]
    fn invalid_utf8_is_not_json() {
        assert!(reason(b"\xff\xfe").starts_with("expected value"));
        assert!(reason(b"\"\xff\"").starts_with("invalid unicode code point"));
    }

    /// lambda_runtime never calls `Deserializer::end`, so the first value is
    /// all any payload type sees; `LambdaEvent<Value>` gets the same.
    #[test]
    fn text_after_the_first_value_is_not_seen() {
        let body = br#"{"a":1} trailing"#;
        assert_eq!(payload(body), Payload::Json(json!({"a": 1})));
        assert_eq!(as_lambda_runtime::<Value>(body).unwrap(), json!({"a": 1}));
        // What a strict parse would have said:
        assert!(serde_json::from_slice::<Value>(body).is_err());
    }

    #[test]
    fn a_mebibyte_of_garbage_gives_a_short_reason() {
        const MIB: usize = 1 << 20;
        let mut unterminated_string = vec![b'a'; MIB];
        unterminated_string[0] = b'"';
        let bodies = [
            vec![b'x'; MIB],
            vec![b'['; MIB],
            vec![b'{'; MIB],
            unterminated_string,
            b"\x01\x1b[31m"
                .iter()
                .copied()
                .cycle()
                .take(MIB)
                .collect::<Vec<u8>>(),
        ];
        for body in bodies {
            let reason = reason(&body);
            assert!(reason.len() <= MAX_REASON_BYTES, "{}", reason.len());
            assert!(!reason.chars().any(char::is_control), "{reason:?}");
            let error = payload(&body).into_value().unwrap_err();
            assert!(matches!(error, DecodeError::NotJson { .. }), "{error}");
            assert!(error.to_string().len() < 1024, "{error}");
        }
    }

    #[test]
    fn a_long_reason_is_clipped_and_keeps_no_position() {
        let long = format!("{} at line 1 column 2", "x".repeat(2 * MAX_REASON_BYTES));
        let clipped = clip(&long, MAX_REASON_BYTES);
        let error = Payload::NotJson { reason: clipped }
            .into_value()
            .unwrap_err();
        let DecodeError::NotJson { line, column, .. } = error else {
            panic!("not NotJson")
        };
        assert_eq!((line, column), (0, 0));
    }

    #[test]
    fn split_position_reads_serde_jsons_suffix_only() {
        assert_eq!(
            split_position("expected value at line 3 column 14"),
            ("expected value".to_owned(), 3, 14)
        );
        assert_eq!(
            split_position("recursion limit exceeded"),
            ("recursion limit exceeded".to_owned(), 0, 0)
        );
        assert_eq!(
            split_position("x at line two column 1"),
            ("x at line two column 1".to_owned(), 0, 0)
        );
    }
}
