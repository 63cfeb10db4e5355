//! Properties that hold for any input: nothing panics, the subject is always
//! one SNS accepts, the message always fits in SNS, attributes stay within
//! SNS's rules.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::facts::{AddonState, AddonStatus, LiveCoverage};
use coverage_core::render::{MAX_ATTRIBUTES, MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};
use coverage_core::{
    Alert, Fact, Facts, Issue, Policy, RemediationMode, catalog, decide, decode_event,
    decode_event_bytes, render,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn assert_publishable(alert: &Alert) {
    let subject = &alert.subject;
    assert!(!subject.is_empty(), "empty subject");
    assert!(
        subject.chars().count() <= MAX_SUBJECT_CHARS,
        "subject too long: {}",
        subject.len()
    );
    assert!(
        subject.chars().all(|c| (' '..='~').contains(&c)),
        "subject not printable ASCII: {subject:?}"
    );
    for body in [&alert.chat_message, &alert.text_message] {
        let size = alert.publish_size(body);
        assert!(size <= MAX_MESSAGE_BYTES, "message of {size} bytes");
    }
    assert!(alert.attributes.len() <= MAX_ATTRIBUTES);
    for (name, value) in &alert.attributes {
        assert!(!value.is_empty(), "empty attribute {name}");
        assert!(
            value.chars().all(|c| (' '..='~').contains(&c)),
            "attribute {name} = {value:?}"
        );
    }
    let chat: Value = serde_json::from_str(&alert.chat_message).expect("chat message is JSON");
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert_eq!(chat["content"]["textType"], "client-markdown");
    assert_chat_limits(&chat);
}

/// UTF-16 code units, as the chat clients count.
fn units(value: &Value) -> usize {
    value.as_str().expect("a string").encode_utf16().count()
}

/// The custom notification's field limits (crates/core/src/render/chat.rs).
fn assert_chat_limits(chat: &Value) {
    let content = &chat["content"];
    assert!(
        units(&content["title"]) <= 250,
        "title: {}",
        content["title"]
    );
    assert!(
        units(&content["description"]) <= 3000,
        "description of {} units",
        units(&content["description"])
    );
    for step in content["nextSteps"].as_array().expect("nextSteps") {
        assert!(units(step) <= 350, "next step: {step}");
    }
    for keyword in content["keywords"].as_array().expect("keywords") {
        assert!(units(keyword) <= 75, "keyword: {keyword}");
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn text_or_junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "\\PC{0,80}".prop_map(Value::String),
        1 => ".{0,300}".prop_map(Value::String),
        1 => arbitrary_json(),
    ]
}

/// Events shaped like coverage events, with arbitrary values in every field.
fn event_shaped() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(json!("GuardDuty Runtime Protection Unhealthy")), Just(json!("GuardDuty Runtime Protection Healthy"))],
        text_or_junk(),
        text_or_junk(),
        text_or_junk(),
        text_or_junk(),
        text_or_junk(),
        prop_oneof![Just(json!("EKS")), Just(json!("ECS")), text_or_junk()],
        text_or_junk(),
        prop_oneof![Just(json!("111122223333")), text_or_junk()],
    )
        .prop_map(|(detail_type, id, account, region, cluster, nodes, resource_type, issue, resource_account)| {
            json!({
                "version": "0", "id": id, "detail-type": detail_type, "source": "aws.guardduty",
                "account": account, "region": region, "time": "2026-03-14T09:21:07Z",
                "detail": {
                    "schemaVersion": "1.0", "resourceAccountId": resource_account,
                    "resourceDetails": {"resourceType": resource_type,
                        "eksClusterDetails": {"clusterName": cluster, "availableNodes": nodes, "desiredNodes": "3"},
                        "ecsClusterDetails": {"clusterName": cluster, "fargateDetails": {"issues": [issue.clone()]}}},
                    "issue": issue
                }
            })
        })
}

fn rich_facts() -> Facts {
    Facts {
        now: Some(1_800_000_000),
        function: Fact::Known(
            coverage_core::FunctionIdentity::from_arn(
                "arn:aws:lambda:us-east-1:111122223333:function:f",
            )
            .unwrap(),
        ),
        detector_id: Fact::Known("d".into()),
        addon: Fact::Known(AddonState {
            status: AddonStatus::Degraded,
            version: Some("v1".into()),
            configuration_values: Some("{\"a\":\"`<!here>`\"}".into()),
            health_issues: vec![coverage_core::facts::AddonHealthIssue {
                code: "ConfigurationConflict".into(),
                message: "`<!here>` conflict".into(),
            }],
            arn: None,
        }),
        update_history: Fact::Known(vec![]),
        coverage: Fact::Known(LiveCoverage {
            cluster_name: Some("prod-payments".into()),
            account_id: Some("111122223333".into()),
            coverage_status: Some(coverage_core::facts::CoverageStatus::Unhealthy),
            ..LiveCoverage::default()
        }),
        statistics: Fact::Unavailable("ThrottlingException".into()),
        // Hostile values from the audit log reach the alert's live state.
        audit_log: Fact::Known(coverage_core::audit::AuditTrail::Read {
            query_id: Some("q".into()),
            changes: vec![coverage_core::audit::AuditChange {
                at: Some(1_799_999_000),
                verb: Some("patch\n<!channel>".into()),
                user: Some("`<!here>`\n*bold*".into()),
                user_agent: Some("kubectl/v1.30 ```".into()),
                request_uri: Some("/apis/apps/v1/`x`".into()),
                ..coverage_core::audit::AuditChange::default()
            }],
        }),
        ..Facts::default()
    }
}

fn render_all_ways(value: &Value) {
    let Ok(event) = decode_event(value) else {
        return;
    };
    for (facts, mode) in [
        (Facts::offline(), RemediationMode::DryRun),
        (rich_facts(), RemediationMode::Enforce),
        (rich_facts(), RemediationMode::Off),
    ] {
        let plan = decide(
            &event,
            &facts,
            &Policy {
                mode,
                ..Policy::default()
            },
        );
        let outcome = plan
            .outcome_without_call()
            .unwrap_or_else(|| match &plan.decision {
                coverage_core::Decision::Overwrite(request) => {
                    coverage_core::Outcome::UpdateFailed {
                        request: request.clone(),
                        error: "x".repeat(100_000),
                    }
                }
                _ => unreachable!(),
            });
        assert_publishable(&render(&plan, &outcome));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_issue_string_is_parsed_and_classified(text in "\\PC{0,200}|.{0,200}") {
        let issue = Issue::parse(&text);
        prop_assert_eq!(&issue.raw, &text);
        let entry = catalog::classify(&issue);
        prop_assert!(catalog::entry(entry.id).is_some());
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_event_bytes(&bytes);
    }

    #[test]
    fn any_json_decodes_or_fails_cleanly(value in arbitrary_json()) {
        render_all_ways(&value);
    }

    #[test]
    fn event_shaped_json_always_renders_a_publishable_alert(value in event_shaped()) {
        render_all_ways(&value);
    }
}

#[test]
fn a_one_mebibyte_issue_string_is_truncated_visibly() {
    let issue = format!(
        "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: {}",
        "Conflicts: \"`<x>`\\ \u{0}\u{7}".repeat(1024 * 1024 / 20)
    );
    assert!(issue.len() >= 1024 * 1024);
    let mut value = json!({
        "version": "0", "id": "e", "detail-type": "GuardDuty Runtime Protection Unhealthy",
        "source": "aws.guardduty", "account": "111122223333", "region": "us-east-1",
        "detail": {"resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {"clusterName": "c"}}, "issue": issue}
    });
    render_all_ways(&value);
    let event = decode_event(&value).unwrap();
    let plan = decide(&event, &Facts::offline(), &Policy::offline());
    let alert = render(&plan, &plan.outcome_without_call().unwrap());
    assert!(
        alert.chat_message.contains("…[truncated: "),
        "no visible truncation marker"
    );
    assert!(alert.text_message.contains("[truncated"));

    // Every other string at 1 MiB too, and a malformed detail carrying it all raw.
    let huge = "ü".repeat(512 * 1024);
    value["id"] = json!(huge);
    value["account"] = json!(huge);
    value["region"] = json!(huge);
    value["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!(huge);
    render_all_ways(&value);
    value["detail"]["resourceDetails"]["eksClusterDetails"]["availableNodes"] =
        json!({"nested": huge});
    value["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!([huge]);
    render_all_ways(&value);
}
