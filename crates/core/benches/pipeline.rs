//! The core's cost per event: the pipeline the Lambda drives (decode the
//! EventBridge JSON, parse and classify the issue, plan the reads, decide,
//! render the published body), everything the Lambda does besides I/O; and
//! each stage on its own.

use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatistics, CoverageStatus, LiveCoverage,
};
use coverage_core::{
    Fact, Facts, FunctionIdentity, Invocation, Issue, MessageFormat, Next, Pipeline, Policy,
    RemediationMode, Settings, catalog, decide, decode_event_bytes, render, render_message,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn event_with_issue(issue: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "version": "0", "id": "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37",
        "detail-type": "GuardDuty Runtime Protection Unhealthy", "source": "aws.guardduty",
        "account": "111122223333", "time": "2026-03-14T09:21:07Z", "region": "us-east-1", "resources": [],
        "detail": {
            "schemaVersion": "1.0", "resourceAccountId": "111122223333",
            "currentStatus": "UNHEALTHY", "previousStatus": "HEALTHY",
            "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {
                "clusterName": "prod-payments", "availableNodes": "5", "desiredNodes": "6",
                "addonVersion": "v1.10.0-eksbuild.2"}},
            "issue": issue, "lastUpdatedAt": "2026-03-14T09:20:58Z"
        }
    }))
    .unwrap_or_default()
}

/// The facts of a live invocation, so rendering includes the live-state lines.
fn live_facts() -> Facts {
    Facts {
        now: Some(1_773_480_127),
        function: FunctionIdentity::from_arn("arn:aws:lambda:us-east-1:111122223333:function:f")
            .map_or(Fact::NotGathered, Fact::Known),
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
            arn: None,
        }),
        update_history: Fact::Known(vec![]),
        coverage: Fact::Known(LiveCoverage {
            cluster_name: Some("prod-payments".into()),
            account_id: Some("111122223333".into()),
            coverage_status: Some(CoverageStatus::Unhealthy),
            ..LiveCoverage::default()
        }),
        statistics: Fact::Known(CoverageStatistics {
            healthy: Some(11),
            unhealthy: Some(2),
        }),
        // The audit query answered at once: nobody changed the agent.
        audit_log: Fact::Known(coverage_core::audit::AuditTrail::Read {
            query_id: Some("bench-query-1".into()),
            changes: vec![],
        }),
    }
}

/// What the Lambda does per event besides I/O: the pipeline from the raw
/// payload to the one body it publishes, answering its reads with `facts`.
fn pipeline(bytes: &[u8], facts: &Facts, settings: &Settings) -> usize {
    let invocation = Invocation::lambda(
        "arn:aws:lambda:us-east-1:111122223333:function:f",
        1_773_480_127_000,
        Some(1_773_480_157_000),
    );
    let Ok(mut pipeline) = Pipeline::from_bytes(bytes, settings, invocation) else {
        return 0;
    };
    if let Next::Gather { .. } = pipeline.poll() {
        pipeline.gathered(facts.clone(), 1_773_480_127_010);
    }
    match pipeline.poll() {
        Next::Publish { message, .. } => message.body.len(),
        _ => 0,
    }
}

fn benches(c: &mut Criterion) {
    let policy = Policy {
        mode: RemediationMode::DryRun,
        ..Policy::default()
    };
    let settings = Settings {
        policy: policy.clone(),
        format: MessageFormat::Chat,
        ..Settings::default()
    };
    let facts = live_facts();

    // Cheap: the documented configuration conflict, matched by an early row.
    let cheap = event_with_issue(
        "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image",
    );
    // Expensive: a long undocumented add-on message (every row's phrases are
    // tried, the text is clipped and escaped) with markdown and control characters.
    let long_message = "Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"x\"] `<!here>` *bold* \u{7}".repeat(200);
    let expensive = event_with_issue(&format!(
        "Addon Status Unhealthy:EKS Addon Issue - SomethingNew: {long_message}"
    ));

    c.bench_function("pipeline/cheap issue (configuration conflict)", |b| {
        b.iter(|| pipeline(black_box(&cheap), &facts, &settings))
    });
    c.bench_function(
        "pipeline/expensive issue (20 KiB, undocumented code)",
        |b| b.iter(|| pipeline(black_box(&expensive), &facts, &settings)),
    );
    // Each stage of the cheap event on its own, to see where the time goes.
    let Ok(event) = decode_event_bytes(&cheap) else {
        return;
    };
    let plan = decide(&event, &facts, &policy);
    let Some(outcome) = plan.outcome_without_call() else {
        return;
    };
    c.bench_function("stage/decode", |b| {
        b.iter(|| decode_event_bytes(black_box(&cheap)).is_ok())
    });
    c.bench_function("stage/decide (classify included)", |b| {
        b.iter(|| decide(black_box(&event), &facts, &policy))
    });
    c.bench_function("stage/render the published body (chat)", |b| {
        b.iter(|| {
            render_message(black_box(&plan), &outcome, MessageFormat::Chat)
                .body
                .len()
        })
    });
    c.bench_function("stage/render both bodies (CLI)", |b| {
        b.iter(|| render(black_box(&plan), &outcome).chat_message.len())
    });

    let issue_text =
        format!("Addon Status Unhealthy:EKS Addon Issue - SomethingNew: {long_message}");
    c.bench_function("classify/expensive issue", |b| {
        b.iter(|| catalog::classify(&Issue::parse(black_box(&issue_text))).id)
    });
}

criterion_group!(core, benches);
criterion_main!(core);
