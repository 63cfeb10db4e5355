//! Snapshots of the exact alert for every sample in `events/` (offline
//! dry-run, as `coverage replay` and the Lambda without AWS produce it), and
//! of the alerts that report an executed OVERWRITE.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::decide::{Outcome, Plan};
use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatus, LiveCoverage,
};
use coverage_core::follow_up::FollowUpNote;
use coverage_core::{
    Alert, Decision, Fact, Facts, FunctionIdentity, Invocation, Next, Pipeline, Policy,
    RemediationMode, ScheduleGroupName, ScheduleName, Settings, decide, decode_event_bytes, render,
};

fn show(alert: &Alert) -> String {
    let attributes: Vec<String> = alert
        .attributes
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    format!(
        "--- subject\n{}\n--- attributes\n{}\n--- chat message\n{}\n--- text message\n{}",
        alert.subject,
        attributes.join("\n"),
        alert.chat_message,
        alert.text_message
    )
}

/// The offline replay: the pipeline with nothing gathered, as `coverage replay` drives it.
fn replay(bytes: &[u8]) -> String {
    let settings = Settings::default();
    let mut pipeline = match Pipeline::from_bytes(bytes, &settings, Invocation::default()) {
        Err(error) => return format!("--- not a coverage event\n{error}\n"),
        Ok(pipeline) => pipeline,
    };
    if let Next::Gather { .. } = pipeline.poll() {
        pipeline.gathered(Facts::offline(), 0);
    }
    assert!(
        matches!(pipeline.poll(), Next::Publish { .. }),
        "offline plans make no call"
    );
    show(&render(
        pipeline.plan().unwrap(),
        pipeline.outcome().unwrap(),
    ))
}

#[test]
fn every_sample_event() {
    insta::glob!("../../../events", "*.json", |path| {
        let bytes = std::fs::read(path).unwrap();
        insta::assert_snapshot!(replay(&bytes));
    });
}

fn conflict_bytes() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/unhealthy.addon-configuration-conflict.json"
    ))
    .unwrap()
}

fn enforced_plan() -> Plan {
    let event = decode_event_bytes(&conflict_bytes()).unwrap();
    decide(
        &event,
        &conflict_facts(),
        &Policy {
            mode: RemediationMode::Enforce,
            ..Policy::default()
        },
    )
}

/// The conflict sample's facts with every guardrail holding.
fn conflict_facts() -> Facts {
    Facts {
        now: Some(1_773_480_127),
        function: Fact::Known(
            FunctionIdentity::from_arn("arn:aws:lambda:us-east-1:111122223333:function:coverage")
                .unwrap(),
        ),
        detector_id: Fact::Known("12abc34d567e8fa901bc2d34e56789f0".into()),
        addon: Fact::Known(AddonState {
            status: AddonStatus::Degraded,
            version: Some("v1.10.0-eksbuild.2".into()),
            configuration_values: Some(
                r#"{"priorityClassName":"aws-guardduty-agent.priorityclass-high"}"#.into(),
            ),
            health_issues: vec![AddonHealthIssue {
                code: "ConfigurationConflict".into(),
                message: "Conflicts found when trying to apply.".into(),
            }],
            arn: Some(
                "arn:aws:eks:us-east-1:111122223333:addon/prod-payments/aws-guardduty-agent/2ec7"
                    .into(),
            ),
        }),
        update_history: Fact::Known(vec![]),
        coverage: Fact::Known(LiveCoverage {
            cluster_name: Some("prod-payments".into()),
            account_id: Some("111122223333".into()),
            coverage_status: Some(CoverageStatus::Unhealthy),
            issue: Some("Addon Update Failed:EKS Addon Issue - ConfigurationConflict: ...".into()),
            covered_nodes: Some(0),
            compatible_nodes: Some(6),
            management_type: Some("AUTO_MANAGED".into()),
            addon_version: Some("v1.10.0-eksbuild.2".into()),
            addon_status: Some("DEGRADED".into()),
            updated_at: Some(1_773_480_058),
        }),
        statistics: Fact::Unavailable("ThrottlingException: Rate exceeded".into()),
        // A person patched the agent's image an hour before the event.
        audit_log: Fact::Known(coverage_core::audit::AuditTrail::Read {
            query_id: Some("6f1a2b3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c".into()),
            changes: vec![coverage_core::audit::AuditChange {
                at: Some(1_773_476_467),
                verb: Some("patch".into()),
                user: Some("alice@example.com".into()),
                user_agent: Some("kubectl/v1.30.2 (linux/amd64) kubernetes/39683505".into()),
                request_uri: Some(
                    "/apis/apps/v1/namespaces/amazon-guardduty/daemonsets/aws-guardduty-agent"
                        .into(),
                ),
                resource: Some("daemonsets".into()),
                namespace: Some("amazon-guardduty".into()),
                name: Some("aws-guardduty-agent".into()),
                response_code: Some(200),
            }],
        }),
        ..Facts::default()
    }
}

/// Approve mode on the conflict sample, every guardrail holding: the
/// pipeline asks for the signature, KMS answers a MAC, and the alert offers
/// the token (chat: `approvalToken`, `approveFunction`, custom actions on;
/// text: the terminal approval).
#[test]
fn approve_mode_offer() {
    use coverage_core::approval::MAC_BYTES;
    use coverage_core::decide::SkipReason;
    let settings = Settings {
        policy: Policy {
            mode: RemediationMode::Approve,
            ..Policy::default()
        },
        ..Settings::default()
    };
    let now_ms = 1_773_480_127_000;
    let invocation = Invocation::lambda(
        "arn:aws:lambda:us-east-1:111122223333:function:coverage",
        now_ms,
        Some(now_ms + 30_000),
    );
    let mut pipeline = Pipeline::from_bytes(&conflict_bytes(), &settings, invocation).unwrap();
    assert!(matches!(pipeline.poll(), Next::Gather { .. }));
    pipeline.gathered(conflict_facts(), now_ms + 100);
    assert!(
        matches!(pipeline.poll(), Next::Sign { .. }),
        "{:?}",
        pipeline.poll()
    );
    pipeline.signed(Ok((0..MAC_BYTES as u8).collect()), now_ms + 200);
    assert!(matches!(pipeline.poll(), Next::Publish { .. }));
    let outcome = pipeline.outcome().unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Skipped {
                reason: SkipReason::ApprovalOffered { .. },
                ..
            }
        ),
        "{outcome:?}"
    );
    let alert = render(pipeline.plan().unwrap(), outcome);
    insta::assert_snapshot!("conflict_approve_offer_chat", alert.chat_message);
    insta::assert_snapshot!("conflict_approve_offer_text", alert.text_message);
}

#[test]
fn enforced_overwrite_outcomes() {
    let plan = enforced_plan();
    let Decision::Overwrite(request) = plan.decision.clone() else {
        panic!("{:?}", plan.decision)
    };
    let started = Outcome::UpdateStarted {
        request: request.clone(),
        update_id: "b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c".into(),
        status: "InProgress".into(),
        follow_up: FollowUpNote::Scheduled {
            name: ScheduleName::parse("b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c-followup-1").unwrap(),
            group: ScheduleGroupName::parse("coverage-follow-ups").unwrap(),
            due_at: 1_773_480_427,
            every_minutes: 5,
            max_minutes: 30,
        },
    };
    insta::assert_snapshot!("conflict_update_started", show(&render(&plan, &started)));
    let unscheduled = Outcome::UpdateStarted {
        request: request.clone(),
        update_id: "b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c".into(),
        status: "InProgress".into(),
        follow_up: FollowUpNote::Failed {
            why: "CreateSchedule failed: AccessDeniedException: not authorized".into(),
        },
    };
    insta::assert_snapshot!(
        "conflict_update_started_follow_up_failed",
        show(&render(&plan, &unscheduled))
    );
    let in_flight = Outcome::UpdateInFlight {
        request: request.clone(),
        message: "ResourceInUseException: Addon aws-guardduty-agent is currently being updated"
            .into(),
    };
    insta::assert_snapshot!(
        "conflict_update_in_flight",
        show(&render(&plan, &in_flight))
    );
    let unknown = Outcome::UpdateOutcomeUnknown {
        request: request.clone(),
        why: "no answer within 10000 ms".into(),
    };
    insta::assert_snapshot!(
        "conflict_update_outcome_unknown",
        show(&render(&plan, &unknown))
    );
    let failed = Outcome::UpdateFailed {
        request,
        error: "AccessDeniedException: User is not authorized to perform: eks:UpdateAddon".into(),
    };
    insta::assert_snapshot!("conflict_update_failed", show(&render(&plan, &failed)));
}

/// The follow-up's messages as posted: a failure with EKS's errors (chat and
/// text) and a success, for a reviewer to read.
#[test]
fn follow_up_messages() {
    use coverage_core::follow_up::{
        ClaimResult, FollowUp, FollowUpFacts, FollowUpNext, UpdateDetail, UpdateErrorDetail,
        UpdateLookup,
    };
    use coverage_core::{FollowUpSettings, MessageFormat, RoleArn};

    let started = 1_773_480_127_i64;
    let payload = serde_json::json!({"follow_up": {
        "account": "111122223333", "region": "us-east-1", "cluster": "prod-payments",
        "addon": "aws-guardduty-agent", "update_id": "b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c",
        "event_id": "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37", "attempt": 2, "started_at": started
    }});
    let facts = |status: &str, errors: Vec<UpdateErrorDetail>, addon: AddonStatus| FollowUpFacts {
        update: UpdateLookup::Found(UpdateDetail {
            status: coverage_core::facts::UpdateStatus::parse(status),
            created_at: Some(started),
            errors,
        }),
        addon: Fact::Known(AddonState {
            status: addon,
            version: Some("v1.10.0-eksbuild.2".into()),
            configuration_values: None,
            health_issues: vec![],
            arn: None,
        }),
    };
    let conflict = UpdateErrorDetail {
        code: "ConfigurationConflict".into(),
        message: "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image".into(),
        resource_ids: vec!["aws-guardduty-agent".into()],
    };
    let render = |format: MessageFormat, facts: FollowUpFacts| {
        let settings = Settings {
            format,
            follow_up: Some(FollowUpSettings {
                group: ScheduleGroupName::parse("coverage-follow-ups").unwrap(),
                role_arn: RoleArn::parse("arn:aws:iam::111122223333:role/follow-up").unwrap(),
                delay_minutes: 5,
                max_minutes: 30,
            }),
            ..Settings::default()
        };
        let invocation = Invocation::lambda(
            "arn:aws:lambda:us-east-1:111122223333:function:coverage",
            (started as u64 + 600) * 1000,
            None,
        );
        let mut follow_up = FollowUp::new(&payload, &settings, invocation).unwrap();
        follow_up.read(facts, (started as u64 + 600) * 1000);
        follow_up.claimed(ClaimResult::Claimed, (started as u64 + 600) * 1000);
        let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
            panic!("{:?}", follow_up.poll())
        };
        let attributes: Vec<String> = message
            .attributes
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!(
            "--- subject\n{}\n--- attributes\n{}\n--- body\n{}",
            message.subject,
            attributes.join("\n"),
            message.body
        )
    };
    insta::assert_snapshot!(
        "follow_up_failed_chat",
        render(
            MessageFormat::Chat,
            facts("Failed", vec![conflict.clone()], AddonStatus::Degraded)
        )
    );
    insta::assert_snapshot!(
        "follow_up_failed_text",
        render(
            MessageFormat::Text,
            facts("Failed", vec![conflict], AddonStatus::Degraded)
        )
    );
    insta::assert_snapshot!(
        "follow_up_succeeded_chat",
        render(
            MessageFormat::Chat,
            facts("Successful", vec![], AddonStatus::Active)
        )
    );
}
