//! The pipeline as every shell drives it: what it asks for and in which
//! order, the deadline of every call (computed from the invocation's), what
//! each of EKS's answers becomes, that facts nobody asked for are ignored,
//! and that a failed publish fails the invocation.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::decide::{Decision, Outcome, SkipReason};
use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatus, LiveCoverage, UpdateRecord,
    UpdateStatus,
};
use coverage_core::follow_up::{FollowUpNote, ScheduleKind};
use coverage_core::{
    EMULATOR_INVOKED_FUNCTION_ARN, EMULATOR_STAND_IN_TIMEOUT_MS, Fact, FactRequest, Facts,
    FollowUpSettings, Invocation, Limits, MessageFormat, Next, Pipeline, Policy, RemediationMode,
    RoleArn, ScheduleGroupName, ScheduleResult, Settings, StandIn, WriteResult,
};
use serde_json::{Value, json};

const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
const HOME_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:coverage";
const CONFLICT: &str = "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image";
/// 2026-03-14T09:22:07Z, a minute after the event, in milliseconds.
const NOW_MS: u64 = 1_773_480_127_000;

fn event(issue: &str) -> Value {
    json!({
        "version": "0", "id": EVENT_ID,
        "detail-type": "GuardDuty Runtime Protection Unhealthy", "source": "aws.guardduty",
        "account": "111122223333", "time": "2026-03-14T09:21:07Z", "region": "us-east-1",
        "detail": {
            "schemaVersion": "1.0", "resourceAccountId": "111122223333",
            "resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {"clusterName": "prod-payments"}},
            "issue": issue
        }
    })
}

fn settings(mode: RemediationMode) -> Settings {
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        format: MessageFormat::Chat,
        limits: Limits::default(),
        follow_up: None,
    }
}

fn invocation(deadline_ms: Option<u64>) -> Invocation {
    Invocation::lambda(HOME_ARN, NOW_MS, deadline_ms)
}

/// What the Lambda would read when every guardrail holds.
fn good_reads() -> Facts {
    Facts {
        detector_id: Fact::Known("d".into()),
        addon: Fact::Known(AddonState {
            status: AddonStatus::Degraded,
            version: Some("v1.10.0-eksbuild.2".into()),
            configuration_values: None,
            health_issues: vec![AddonHealthIssue {
                code: "ConfigurationConflict".into(),
                message: "Conflicts found".into(),
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
        statistics: Fact::NotGathered,
        ..Facts::default()
    }
}

fn gathered(pipeline: &mut Pipeline<'_>, facts: Facts) {
    assert!(
        matches!(pipeline.poll(), Next::Gather { .. }),
        "{:?}",
        pipeline.poll()
    );
    pipeline.gathered(facts, NOW_MS + 100);
}

#[test]
fn a_conflict_in_enforce_asks_for_the_reads_then_the_write_then_the_publish() {
    let settings = settings(RemediationMode::Enforce);
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    let Next::Gather {
        request,
        cluster,
        account,
        member,
        read_ms,
        deadline_ms,
        audit,
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(
        request,
        FactRequest {
            addon: true,
            update_history: true,
            coverage: true,
            statistics: true,
            audit_log: true,
        }
    );
    // The audit log query: the cluster's log group, 7 days before the event up to now.
    let audit = audit.unwrap();
    assert_eq!(audit.query.log_group, "/aws/eks/prod-payments/cluster");
    assert_eq!(audit.query.end_time, 1_773_480_127);
    assert_eq!(audit.query.start_time, 1_773_480_067 - 7 * 86_400);
    assert_eq!(audit.deadline_ms, NOW_MS + 4_000);
    assert_eq!(audit.poll_ms, 300);
    assert_eq!(pipeline.audit_query(), Some(audit.query));
    assert_eq!((cluster, account), ("prod-payments", Some("111122223333")));
    assert_eq!(member, None, "its own account: its own role");
    assert_eq!(read_ms, 3_000);
    // Without an invocation deadline: two reads in a row.
    assert_eq!(deadline_ms, NOW_MS + 6_000);
    // Asking again gives the same answer.
    assert_eq!(pipeline.poll(), pipeline.poll());

    pipeline.gathered(good_reads(), NOW_MS + 100);
    assert_eq!(
        pipeline.message(),
        None,
        "nothing to publish before EKS answers"
    );
    let Next::Write {
        request,
        member,
        deadline_ms,
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(member, None);
    assert_eq!(request.client_request_token, EVENT_ID);
    assert_eq!(deadline_ms, NOW_MS + 100 + 10_000);

    pipeline.wrote(
        WriteResult::Started {
            update_id: "u-1".into(),
            status: "InProgress".into(),
        },
        NOW_MS + 200,
    );
    let Next::Publish {
        message,
        deadline_ms,
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert!(message.body.contains("u-1"), "{}", message.body);
    assert_eq!(pipeline.message(), Some(message));
    assert_eq!(message.attributes["outcome"], "update-started");
    assert_eq!(deadline_ms, NOW_MS + 200 + 5_000);

    let published = message.clone();
    assert_eq!(pipeline.message(), Some(&published));
    pipeline.published(Ok("m-1".into()), NOW_MS + 300);
    let Next::Done(summary) = pipeline.poll() else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(summary.outcome, "update-started");
    assert_eq!(summary.update_id.as_deref(), Some("u-1"));
    assert_eq!(summary.message_id, "m-1");
    assert_eq!(summary.event_id, EVENT_ID);
    // The facts the decision saw carry the invocation's time and identity.
    let facts = &pipeline.plan().unwrap().facts;
    assert_eq!(facts.now, Some(1_773_480_127));
    assert!(facts.function.known().is_some());
}

#[test]
fn every_deadline_lies_inside_the_invocations() {
    let settings = settings(RemediationMode::Enforce);
    let deadline = NOW_MS + 30_000;
    let mut pipeline =
        Pipeline::new(&event(CONFLICT), &settings, invocation(Some(deadline))).unwrap();
    // Reads: two in a row, and they leave room for the write and the publish.
    let Next::Gather { deadline_ms, .. } = pipeline.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, NOW_MS + 6_000);
    pipeline.gathered(good_reads(), NOW_MS + 15_000);
    let Next::Write { deadline_ms, .. } = pipeline.poll() else {
        panic!("{:?}", pipeline.poll())
    };
    // The write must end by deadline - margin - publish.
    assert_eq!(deadline_ms, deadline - 500 - 5_000);
    pipeline.wrote(
        WriteResult::NoAnswer {
            why: "no answer".into(),
        },
        NOW_MS + 27_000,
    );
    let Next::Publish { deadline_ms, .. } = pipeline.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, deadline - 500);

    // A short invocation squeezes the reads so the write and publish still fit.
    let short = Pipeline::new(
        &event(CONFLICT),
        &settings,
        invocation(Some(NOW_MS + 10_000)),
    )
    .unwrap();
    let Next::Gather { deadline_ms, .. } = short.poll() else {
        panic!()
    };
    // Room for the publish and the shortest write worth starting.
    assert_eq!(deadline_ms, NOW_MS + 10_000 - 500 - 5_000 - 1_000);
    // Without a write to make, the reads only leave room for the publish.
    let manual = settings.clone();
    let short = Pipeline::new(
        &event("Others:Error due to authorization failure"),
        &manual,
        invocation(Some(NOW_MS + 8_000)),
    )
    .unwrap();
    let Next::Gather {
        request,
        deadline_ms,
        ..
    } = short.poll()
    else {
        panic!()
    };
    assert!(!request.update_history);
    assert_eq!(deadline_ms, NOW_MS + 8_000 - 500 - 5_000);
    // An invocation about to reach its deadline gets reads that end at once.
    let mut late =
        Pipeline::new(&event(CONFLICT), &settings, invocation(Some(NOW_MS + 1))).unwrap();
    let Next::Gather { deadline_ms, .. } = late.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, NOW_MS + 1 - 500 - 5_000 - 1_000);
    late.gathered(Facts::default(), NOW_MS);
    assert!(matches!(late.poll(), Next::Publish { .. }));
}

#[test]
fn the_write_is_not_started_without_time_to_finish_and_report_it() {
    let settings = settings(RemediationMode::Enforce);
    let deadline = NOW_MS + 30_000;
    let write_end = deadline - 500 - 5_000;
    for (now, expect_write) in [
        (write_end - 1_000, true),
        (write_end - 999, false),
        (write_end + 5, false),
    ] {
        let mut pipeline =
            Pipeline::new(&event(CONFLICT), &settings, invocation(Some(deadline))).unwrap();
        pipeline.gathered(good_reads(), now);
        match pipeline.poll() {
            Next::Write { deadline_ms, .. } => {
                assert!(expect_write, "{now}");
                assert_eq!(deadline_ms, write_end);
            }
            Next::Publish { message, .. } => {
                assert!(!expect_write, "{now}");
                assert_eq!(message.attributes["outcome"], "skipped-deadline-too-close");
                let Some(Outcome::Skipped {
                    reason: SkipReason::DeadlineTooClose { remaining_ms },
                    ..
                }) = pipeline.outcome()
                else {
                    panic!("{:?}", pipeline.outcome())
                };
                assert_eq!(*remaining_ms, write_end.saturating_sub(now));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_deadline_that_is_not_in_the_future_keeps_the_limits_and_refuses_the_write() {
    let settings = settings(RemediationMode::Enforce);
    // cargo-lambda's emulator sends a duration (600000) where Lambda sends an epoch time.
    for deadline in [600_000, NOW_MS] {
        let invocation = invocation(Some(deadline));
        assert_eq!(invocation.deadline_ms, None);
        assert_eq!(invocation.unusable_deadline_ms, Some(deadline));
        let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation).unwrap();
        let Next::Gather { deadline_ms, .. } = pipeline.poll() else {
            panic!()
        };
        assert_eq!(deadline_ms, NOW_MS + 6_000, "reads keep their own limits");
        pipeline.gathered(good_reads(), NOW_MS + 100);
        let Next::Publish {
            message,
            deadline_ms,
        } = pipeline.poll()
        else {
            panic!("{:?}", pipeline.poll())
        };
        assert_eq!(message.attributes["outcome"], "skipped-deadline-unknown");
        assert!(
            message
                .body
                .contains(&format!("the runtime's deadline ({deadline})"))
        );
        assert_eq!(deadline_ms, NOW_MS + 100 + 5_000);
    }
    // One millisecond ahead is a deadline (and far too close for a write).
    let invocation = invocation(Some(NOW_MS + 1));
    assert_eq!(invocation.deadline_ms, Some(NOW_MS + 1));
    assert_eq!(invocation.unusable_deadline_ms, None);
}

#[test]
fn each_answer_to_the_write_becomes_its_outcome() {
    let settings = settings(RemediationMode::Enforce);
    for (result, label) in [
        (
            WriteResult::Started {
                update_id: "u".into(),
                status: "InProgress".into(),
            },
            "update-started",
        ),
        (
            WriteResult::InUse {
                message: "ResourceInUseException".into(),
            },
            "update-in-flight",
        ),
        (
            WriteResult::Failed {
                error: "AccessDeniedException".into(),
            },
            "update-failed",
        ),
        (
            WriteResult::NoAnswer {
                why: "no answer within 10000 ms".into(),
            },
            "update-outcome-unknown",
        ),
    ] {
        let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
        gathered(&mut pipeline, good_reads());
        assert!(matches!(pipeline.poll(), Next::Write { .. }));
        pipeline.wrote(result, NOW_MS);
        assert_eq!(pipeline.outcome().unwrap().label(), label);
        let Next::Publish { message, .. } = pipeline.poll() else {
            panic!()
        };
        assert_eq!(message.attributes["outcome"], label);
        if label == "update-outcome-unknown" {
            assert!(message.body.contains("A retry is safe"), "{}", message.body);
        }
    }
}

#[test]
fn answers_out_of_turn_change_nothing() {
    let settings = settings(RemediationMode::Enforce);
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    let asked = format!("{:?}", pipeline.poll());
    pipeline.wrote(
        WriteResult::Started {
            update_id: "u".into(),
            status: "InProgress".into(),
        },
        NOW_MS,
    );
    pipeline.published(Ok("m".into()), NOW_MS);
    assert_eq!(format!("{:?}", pipeline.poll()), asked);
    assert!(pipeline.outcome().is_none());
    pipeline.gathered(good_reads(), NOW_MS);
    let asked = format!("{:?}", pipeline.poll());
    assert!(asked.starts_with("Write"), "{asked}");
    pipeline.gathered(Facts::default(), NOW_MS);
    pipeline.published(Ok("m".into()), NOW_MS);
    assert_eq!(format!("{:?}", pipeline.poll()), asked);
    pipeline.wrote(WriteResult::Failed { error: "x".into() }, NOW_MS);
    pipeline.wrote(
        WriteResult::Started {
            update_id: "late".into(),
            status: "InProgress".into(),
        },
        NOW_MS,
    );
    assert_eq!(pipeline.outcome().unwrap().label(), "update-failed");
    pipeline.published(Err("SNS Publish failed: throttled".into()), NOW_MS);
    pipeline.published(Ok("m".into()), NOW_MS);
    assert!(matches!(pipeline.poll(), Next::Failed(_)));
}

#[test]
fn facts_nobody_asked_for_are_ignored() {
    // Mode off: the history is not asked for, so a recorded history showing
    // the bound reached must not appear in the decision's facts.
    let settings = settings(RemediationMode::Off);
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    let Next::Gather { request, .. } = pipeline.poll() else {
        panic!()
    };
    assert!(!request.update_history && request.addon);
    let recorded = Facts {
        update_history: Fact::Known(vec![UpdateRecord {
            id: "u".into(),
            status: UpdateStatus::Successful,
            created_at: Some(1),
            resolve_conflicts: Some("OVERWRITE".into()),
        }]),
        ..good_reads()
    };
    pipeline.gathered(recorded, NOW_MS);
    let plan = pipeline.plan().unwrap();
    assert_eq!(plan.facts.update_history, Fact::NotGathered);
    assert!(plan.facts.addon.known().is_some());
    assert_eq!(
        plan.decision,
        Decision::Skip {
            reason: SkipReason::ModeOff,
            would_call: None,
            unchecked: vec![]
        }
    );
}

#[test]
fn an_event_that_needs_no_read_goes_straight_to_the_publish() {
    let settings = settings(RemediationMode::Enforce);
    let mut ecs = event("x");
    ecs["detail"]["resourceDetails"] =
        json!({"resourceType": "ECS", "ecsClusterDetails": {"clusterName": "svc"}});
    let mut pipeline = Pipeline::new(&ecs, &settings, invocation(None)).unwrap();
    let Next::Publish { message, .. } = pipeline.poll() else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(message.attributes["outcome"], "out-of-scope");
    pipeline.published(Ok("m".into()), NOW_MS);
    let Next::Done(summary) = pipeline.poll() else {
        panic!()
    };
    assert_eq!(summary.issue_id, "out-of-scope");
}

#[test]
fn a_failed_publish_fails_the_invocation_with_the_reason() {
    let settings = settings(RemediationMode::DryRun);
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    gathered(&mut pipeline, good_reads());
    assert!(matches!(pipeline.poll(), Next::Publish { .. }));
    pipeline.published(
        Err("SNS Publish failed: no answer within 5000 ms".into()),
        NOW_MS,
    );
    let Next::Failed(undelivered) = pipeline.poll() else {
        panic!()
    };
    assert_eq!(undelivered.event_id, EVENT_ID);
    assert_eq!(undelivered.issue_id, "addon-configuration-conflict");
    assert!(undelivered.why.contains("5000 ms"));
}

#[test]
fn an_unparsable_function_arn_is_a_fact_that_stops_the_write() {
    let settings = settings(RemediationMode::Enforce);
    let invocation = Invocation::lambda("function-arn", NOW_MS, None);
    assert!(matches!(&invocation.function, Fact::Unavailable(why) if why.contains("function-arn")));
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation).unwrap();
    let Next::Gather { request, .. } = pipeline.poll() else {
        panic!()
    };
    assert!(!request.addon && !request.update_history && request.coverage);
    pipeline.gathered(good_reads(), NOW_MS);
    let Next::Publish { message, .. } = pipeline.poll() else {
        panic!()
    };
    assert_eq!(message.attributes["outcome"], "skipped-function-unverified");
}

#[test]
fn the_emulator_stand_in_replaces_only_the_emulator_placeholder() {
    const STAND_IN: &str = "arn:aws:lambda:us-east-1:111122223333:function:local";
    const REAL: &str = "arn:aws:lambda:eu-west-1:444455556666:function:deployed";
    let account = |invocation: &Invocation| match &invocation.function {
        Fact::Known(identity) => identity.account.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(EMULATOR_INVOKED_FUNCTION_ARN, "function-arn");
    // `cargo lambda watch`: the placeholder and a duration for a deadline.
    let (emulated, stand_in) =
        Invocation::from_runtime("function-arn", NOW_MS, 600_000, Some(STAND_IN));
    assert_eq!(stand_in, StandIn::Applied);
    assert_eq!(account(&emulated), "111122223333");
    assert_eq!(
        emulated.deadline_ms,
        Some(NOW_MS + EMULATOR_STAND_IN_TIMEOUT_MS)
    );
    assert_eq!(emulated.unusable_deadline_ms, None);
    // An emulator that does send a usable deadline keeps it.
    let (kept, _) =
        Invocation::from_runtime("function-arn", NOW_MS, NOW_MS + 5_000, Some(STAND_IN));
    assert_eq!(kept.deadline_ms, Some(NOW_MS + 5_000));
    // A deadline of exactly now is no time left: the stand-in's applies.
    let (now, _) = Invocation::from_runtime("function-arn", NOW_MS, NOW_MS, Some(STAND_IN));
    assert_eq!(now.deadline_ms, Some(NOW_MS + EMULATOR_STAND_IN_TIMEOUT_MS));

    // Without a stand-in the emulator stays unverified, its deadline unusable.
    let (bare, stand_in) = Invocation::from_runtime("function-arn", NOW_MS, 600_000, None);
    assert_eq!(stand_in, StandIn::NotConfigured);
    assert!(matches!(&bare.function, Fact::Unavailable(_)));
    assert_eq!(bare.deadline_ms, None);
    assert_eq!(bare.unusable_deadline_ms, Some(600_000));

    // Lambda's real ARN always wins, with its own deadline, even over a stand-in.
    for configured in [Some(STAND_IN), None] {
        let (real, stand_in) = Invocation::from_runtime(REAL, NOW_MS, 600_000, configured);
        assert_eq!(account(&real), "444455556666");
        assert_eq!(real.unusable_deadline_ms, Some(600_000));
        let expected = if configured.is_some() {
            StandIn::Ignored
        } else {
            StandIn::NotConfigured
        };
        assert_eq!(stand_in, expected);
    }
    // Anything but the exact placeholder is the runtime's own word.
    let (near, stand_in) =
        Invocation::from_runtime("function-arn ", NOW_MS, 600_000, Some(STAND_IN));
    assert_eq!(stand_in, StandIn::Ignored);
    assert!(matches!(&near.function, Fact::Unavailable(_)));
}

#[test]
fn not_a_coverage_event_is_an_error_and_bytes_decode_the_same() {
    let settings = settings(RemediationMode::Enforce);
    let error = Pipeline::new(
        &json!({"detail-type": "GuardDuty Finding", "id": "x", "source": "aws.guardduty"}),
        &settings,
        invocation(None),
    )
    .unwrap_err();
    assert!(error.to_string().contains("GuardDuty Finding"));
    assert!(Pipeline::from_bytes(b"not json", &settings, invocation(None)).is_err());
    let bytes = serde_json::to_vec(&event(CONFLICT)).unwrap();
    let from_bytes = Pipeline::from_bytes(&bytes, &settings, invocation(None)).unwrap();
    let from_value = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    assert_eq!(from_bytes.event(), from_value.event());
    assert_eq!(from_bytes.poll(), from_value.poll());
}

// --- The follow-up's schedule after a started OVERWRITE ---

const UPDATE_ID: &str = "b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c";
const ROLE: &str = "arn:aws:iam::111122223333:role/coverage-follow-up-scheduler";

fn follow_up_settings() -> FollowUpSettings {
    FollowUpSettings {
        group: ScheduleGroupName::parse("coverage-follow-ups").unwrap(),
        role_arn: RoleArn::parse(ROLE).unwrap(),
        delay_minutes: 5,
        max_minutes: 30,
    }
}

fn with_follow_ups(mode: RemediationMode) -> Settings {
    Settings {
        follow_up: Some(follow_up_settings()),
        ..settings(mode)
    }
}

fn started(id: &str) -> WriteResult {
    WriteResult::Started {
        update_id: id.into(),
        status: "InProgress".into(),
    }
}

/// The pipeline at its write, with the reads answered at `gathered_ms`.
fn at_the_write<'s>(
    settings: &'s Settings,
    invocation: Invocation,
    gathered_ms: u64,
) -> Pipeline<'s> {
    let mut pipeline = Pipeline::new(&event(CONFLICT), settings, invocation).unwrap();
    pipeline.gathered(good_reads(), gathered_ms);
    assert!(
        matches!(pipeline.poll(), Next::Write { .. }),
        "{:?}",
        pipeline.poll()
    );
    pipeline
}

#[test]
fn a_started_overwrite_asks_for_its_follow_up_before_the_publish() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    let mut pipeline = at_the_write(&settings, invocation(None), NOW_MS + 100);
    pipeline.wrote(started(UPDATE_ID), NOW_MS + 200);
    let Next::Schedule {
        request,
        deadline_ms,
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(pipeline.poll(), pipeline.poll(), "asking again is the same");
    assert_eq!(deadline_ms, NOW_MS + 200 + 3_000);
    assert_eq!(request.kind, ScheduleKind::FollowUp);
    assert!(request.enabled() && request.delete_after_completion());
    assert_eq!(request.name.as_str(), format!("{UPDATE_ID}-followup-1"));
    assert_eq!(request.group.as_str(), "coverage-follow-ups");
    // 09:22:07 (the write's answer) plus five minutes, UTC.
    assert_eq!(request.expression, "at(2026-03-14T09:27:07)");
    assert_eq!(request.due_at, 1_773_480_127 + 300);
    assert_eq!(request.target_arn, HOME_ARN);
    assert_eq!(request.role_arn.as_str(), ROLE);
    assert_eq!(
        serde_json::from_str::<Value>(&request.input.to_json()).unwrap(),
        json!({"follow_up": {
            "account": "111122223333", "region": "us-east-1", "cluster": "prod-payments",
            "addon": "aws-guardduty-agent", "update_id": UPDATE_ID, "event_id": EVENT_ID,
            "attempt": 1, "started_at": 1_773_480_127
        }})
    );
    assert!(
        pipeline.outcome().is_none(),
        "the outcome waits for the schedule"
    );

    pipeline.scheduled(ScheduleResult::Created, NOW_MS + 300);
    let Next::Publish {
        message,
        deadline_ms,
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(deadline_ms, NOW_MS + 300 + 5_000);
    assert!(
        message.body.contains("Follow-up: the update's result will be posted in this thread at about 2026-03-14T09:27:07Z"),
        "{}",
        message.body
    );
    assert!(
        message
            .body
            .contains("every 5 min while it runs, for up to 30 min")
    );
    assert!(!message.body.contains("aws eks describe-update"));
    assert_eq!(message.attributes["outcome"], "update-started");
    let chat: Value = serde_json::from_str(&message.body).unwrap();
    assert_eq!(
        chat["metadata"]["additionalContext"]["followUp"],
        "scheduled"
    );
    pipeline.published(Ok("m".into()), NOW_MS + 400);
    let Next::Done(summary) = pipeline.poll() else {
        panic!()
    };
    assert_eq!(summary.follow_up, Some("scheduled"));
    assert_eq!(summary.update_id.as_deref(), Some(UPDATE_ID));
}

#[test]
fn each_answer_to_the_schedule_is_what_the_alert_says() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    for (result, label, says) in [
        (
            ScheduleResult::AlreadyExists,
            "already-scheduled",
            "another delivery of this event already scheduled it",
        ),
        (
            ScheduleResult::Failed {
                why: "CreateSchedule failed: AccessDeniedException".into(),
            },
            "schedule-failed",
            "could not be scheduled (CreateSchedule failed: AccessDeniedException), so nothing will be posted when the update ends; check it with: aws eks describe-update --name prod-payments --addon-name aws-guardduty-agent --update-id b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c --region us-east-1",
        ),
    ] {
        let mut pipeline = at_the_write(&settings, invocation(None), NOW_MS);
        pipeline.wrote(started(UPDATE_ID), NOW_MS);
        assert!(matches!(pipeline.poll(), Next::Schedule { .. }));
        pipeline.scheduled(result, NOW_MS);
        let Next::Publish { message, .. } = pipeline.poll() else {
            panic!("{:?}", pipeline.poll())
        };
        assert!(message.body.contains(says), "{label}: {}", message.body);
        assert_eq!(
            pipeline.outcome().unwrap().follow_up().unwrap().label(),
            label
        );
        assert_eq!(message.attributes["outcome"], "update-started");
    }
}

#[test]
fn without_follow_up_settings_the_alert_says_none_will_come() {
    let settings = settings(RemediationMode::Enforce);
    let mut pipeline = at_the_write(&settings, invocation(None), NOW_MS);
    pipeline.wrote(started(UPDATE_ID), NOW_MS);
    let Next::Publish { message, .. } = pipeline.poll() else {
        panic!("{:?}", pipeline.poll())
    };
    assert!(
        message.body.contains("follow-ups are not configured (FOLLOW_UP_SCHEDULE_GROUP and FOLLOW_UP_ROLE_ARN are unset)"),
        "{}",
        message.body
    );
    assert!(
        message
            .body
            .contains("check it with: aws eks describe-update")
    );
    assert_eq!(
        pipeline.outcome().unwrap().follow_up(),
        Some(&FollowUpNote::NotConfigured)
    );
}

#[test]
fn only_a_started_update_is_followed_up() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    for result in [
        WriteResult::InUse {
            message: "in use".into(),
        },
        WriteResult::Failed { error: "x".into() },
        WriteResult::NoAnswer { why: "y".into() },
    ] {
        let mut pipeline = at_the_write(&settings, invocation(None), NOW_MS);
        pipeline.wrote(result, NOW_MS);
        assert!(matches!(pipeline.poll(), Next::Publish { .. }));
        assert_eq!(pipeline.outcome().unwrap().follow_up(), None);
    }
}

#[test]
fn an_update_id_or_target_that_cannot_name_a_schedule_is_said() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    for id in ["a/b", &"a".repeat(41), ""] {
        let mut pipeline = at_the_write(&settings, invocation(None), NOW_MS);
        pipeline.wrote(started(id), NOW_MS);
        assert!(matches!(pipeline.poll(), Next::Publish { .. }), "{id}");
        assert_eq!(
            pipeline.outcome().unwrap().follow_up().unwrap().label(),
            "unusable-update-id",
            "{id}"
        );
    }
    // Where the function's name is not known (recorded facts), no target.
    let mut unnamed = invocation(None);
    let Fact::Known(identity) = &mut unnamed.function else {
        panic!()
    };
    identity.name = None;
    let mut pipeline = at_the_write(&settings, unnamed, NOW_MS);
    pipeline.wrote(started(UPDATE_ID), NOW_MS);
    assert!(matches!(pipeline.poll(), Next::Publish { message, .. }
        if message.body.contains("the function's own ARN is not known")));
    assert_eq!(
        pipeline.outcome().unwrap().follow_up(),
        Some(&FollowUpNote::TargetUnknown)
    );
}

#[test]
fn follow_up_deadlines_lie_inside_the_invocations() {
    let configured = with_follow_ups(RemediationMode::Enforce);
    let deadline = NOW_MS + 30_000;
    // The reads leave room for the shortest write, the shortest schedule
    // and the publish.
    let short = Pipeline::new(
        &event(CONFLICT),
        &configured,
        invocation(Some(NOW_MS + 10_000)),
    )
    .unwrap();
    let Next::Gather { deadline_ms, .. } = short.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, NOW_MS + 10_000 - 500 - 5_000 - 1_000 - 1_000);
    // The write ends early enough for the shortest schedule and the publish.
    let mut pipeline = at_the_write(&configured, invocation(Some(deadline)), NOW_MS + 15_000);
    let Next::Write { deadline_ms, .. } = pipeline.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, deadline - 500 - 5_000 - 1_000);
    // The schedule ends in time for the publish.
    pipeline.wrote(started(UPDATE_ID), deadline - 500 - 5_000 - 2_000);
    let Next::Schedule { deadline_ms, .. } = pipeline.poll() else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(deadline_ms, deadline - 500 - 5_000);
    pipeline.scheduled(ScheduleResult::Created, deadline - 500 - 5_000);
    let Next::Publish { deadline_ms, .. } = pipeline.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, deadline - 500);
    // Without follow-ups nothing is reserved for them.
    let plain = settings(RemediationMode::Enforce);
    let pipeline = at_the_write(&plain, invocation(Some(deadline)), NOW_MS + 15_000);
    let Next::Write { deadline_ms, .. } = pipeline.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, deadline - 500 - 5_000);
}

#[test]
fn the_schedule_is_not_attempted_without_time_for_it() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    let deadline = NOW_MS + 30_000;
    let schedule_end = deadline - 500 - 5_000;
    for (now, expect_schedule) in [
        (schedule_end - 1_000, true),
        (schedule_end - 999, false),
        (schedule_end + 7, false),
    ] {
        let mut pipeline = at_the_write(&settings, invocation(Some(deadline)), NOW_MS);
        pipeline.wrote(started(UPDATE_ID), now);
        match pipeline.poll() {
            Next::Schedule { deadline_ms, .. } => {
                assert!(expect_schedule, "{now}");
                assert_eq!(deadline_ms, schedule_end);
            }
            Next::Publish { message, .. } => {
                assert!(!expect_schedule, "{now}");
                assert_eq!(
                    pipeline.outcome().unwrap().follow_up(),
                    Some(&FollowUpNote::DeadlineTooClose {
                        remaining_ms: schedule_end.saturating_sub(now)
                    })
                );
                assert!(
                    message.body.contains("not scheduled: only"),
                    "{}",
                    message.body
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn schedule_answers_out_of_turn_change_nothing() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    pipeline.scheduled(ScheduleResult::Created, NOW_MS);
    assert!(matches!(pipeline.poll(), Next::Gather { .. }));
    pipeline.gathered(good_reads(), NOW_MS);
    pipeline.scheduled(ScheduleResult::Created, NOW_MS);
    assert!(matches!(pipeline.poll(), Next::Write { .. }));
    pipeline.wrote(started(UPDATE_ID), NOW_MS);
    pipeline.scheduled(
        ScheduleResult::Failed {
            why: "first".into(),
        },
        NOW_MS,
    );
    pipeline.scheduled(ScheduleResult::Created, NOW_MS);
    assert_eq!(
        pipeline.outcome().unwrap().follow_up().unwrap().label(),
        "schedule-failed"
    );
    assert!(matches!(pipeline.poll(), Next::Publish { .. }));
}

#[test]
fn a_recovery_reads_the_history_but_reserves_no_write() {
    let settings = with_follow_ups(RemediationMode::Enforce);
    let mut healthy = event("");
    healthy["detail-type"] = json!("GuardDuty Runtime Protection Healthy");
    let pipeline = Pipeline::new(&healthy, &settings, invocation(Some(NOW_MS + 10_000))).unwrap();
    let Next::Gather {
        request,
        deadline_ms,
        ..
    } = pipeline.poll()
    else {
        panic!()
    };
    assert!(request.update_history);
    assert_eq!(deadline_ms, NOW_MS + 10_000 - 500 - 5_000);
    // Mode off: no history for the conflict, and no write to reserve for.
    let off = with_follow_ups(RemediationMode::Off);
    let pipeline =
        Pipeline::new(&event(CONFLICT), &off, invocation(Some(NOW_MS + 10_000))).unwrap();
    let Next::Gather {
        request,
        deadline_ms,
        ..
    } = pipeline.poll()
    else {
        panic!()
    };
    assert!(!request.update_history);
    assert_eq!(deadline_ms, NOW_MS + 10_000 - 500 - 5_000);
}

#[test]
fn a_recovery_notice_names_the_overwrite_it_followed() {
    let plain = settings(RemediationMode::Enforce);
    let mut healthy = event("");
    healthy["detail-type"] = json!("GuardDuty Runtime Protection Healthy");
    // The event is at 09:21:07; the OVERWRITE started 12 minutes before.
    let event_time = 1_773_480_067;
    let update = |id: &str, created: i64, overwrite: bool| UpdateRecord {
        id: id.into(),
        status: UpdateStatus::Successful,
        created_at: Some(created),
        resolve_conflicts: overwrite.then(|| "OVERWRITE".into()),
    };
    for (history, says) in [
        (
            vec![
                update("older", event_time - 3_600, true),
                update("the-fix", event_time - 12 * 60 - 30, true),
                update("plain", event_time - 60, false),
            ],
            Some("It recovered 12 minutes after OVERWRITE update the-fix (Successful)"),
        ),
        (vec![update("plain", event_time - 60, false)], None),
        (vec![], None),
    ] {
        let mut pipeline = Pipeline::new(&healthy, &plain, invocation(None)).unwrap();
        let facts = Facts {
            update_history: Fact::Known(history),
            ..good_reads()
        };
        pipeline.gathered(facts, NOW_MS);
        let Next::Publish { message, .. } = pipeline.poll() else {
            panic!()
        };
        let chat: Value = serde_json::from_str(&message.body).unwrap();
        let context = &chat["metadata"]["additionalContext"];
        match says {
            Some(says) => {
                assert!(message.body.contains(says), "{}", message.body);
                assert_eq!(context["recoveredAfterUpdateId"], "the-fix");
                assert_eq!(context["recoveredAfterMinutes"], "12");
            }
            None => {
                assert!(message.body.contains("Nothing: coverage is back."));
                assert!(!message.body.contains("It recovered"), "{}", message.body);
                assert!(context.get("recoveredAfterUpdateId").is_none());
            }
        }
        assert_eq!(
            chat["metadata"]["threadId"],
            "guardduty-coverage/111122223333/us-east-1/prod-payments"
        );
    }
}

#[test]
fn the_audit_query_keeps_its_own_budget_inside_the_invocations() {
    let mut settings = settings(RemediationMode::Enforce);
    settings.policy.audit.window_seconds = 86_400;
    // Within the reads' bound: the reads' deadline is unchanged.
    let pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    let Next::Gather {
        deadline_ms, audit, ..
    } = pipeline.poll()
    else {
        panic!()
    };
    assert_eq!(deadline_ms, NOW_MS + 6_000);
    let audit = audit.unwrap();
    assert_eq!(audit.deadline_ms, NOW_MS + 4_000);
    assert_eq!(audit.query.start_time, 1_773_480_067 - 86_400);

    // A budget longer than the reads' stretches the gather to it.
    settings.limits.audit_ms = 9_000;
    let pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    let Next::Gather {
        deadline_ms, audit, ..
    } = pipeline.poll()
    else {
        panic!()
    };
    assert_eq!(deadline_ms, NOW_MS + 9_000);
    assert_eq!(audit.unwrap().deadline_ms, NOW_MS + 9_000);

    // A short invocation cuts the query like the reads: the write and the publish still fit.
    let pipeline = Pipeline::new(
        &event(CONFLICT),
        &settings,
        invocation(Some(NOW_MS + 10_000)),
    )
    .unwrap();
    let Next::Gather {
        deadline_ms, audit, ..
    } = pipeline.poll()
    else {
        panic!()
    };
    let end = NOW_MS + 10_000 - 500 - 5_000 - 1_000;
    assert_eq!(deadline_ms, end);
    assert_eq!(audit.unwrap().deadline_ms, end);

    // A row that does not involve a change in the cluster: no query.
    let pipeline = Pipeline::new(
        &event("Others:Error due to authorization failure"),
        &settings,
        invocation(None),
    )
    .unwrap();
    let Next::Gather { request, audit, .. } = pipeline.poll() else {
        panic!()
    };
    assert!(!request.audit_log);
    assert_eq!(audit, None);
    assert_eq!(pipeline.audit_query(), None);

    // The RBAC row: the query covers the object the message names and the bindings.
    let pipeline = Pipeline::new(
        &event("Addon Update Failed:EKS Addon Issue - AccessDenied: priorityclasses.scheduling.k8s.io \"aws-guardduty-agent.priorityclass\" is forbidden: User \"eks:addon-manager\" cannot patch resource \"priorityclasses\" in API group \"scheduling.k8s.io\" at the cluster scope"),
        &settings,
        invocation(None),
    )
    .unwrap();
    let query = pipeline.audit_query().unwrap();
    assert!(query.query_string.contains("objectRef.resource = \"priorityclasses\" and objectRef.name = \"aws-guardduty-agent.priorityclass\""), "{}", query.query_string);
    assert!(
        query
            .query_string
            .contains("(objectRef.resource = \"clusterrolebindings\")")
    );

    // Offline (no clock): no query, and nothing asks for it.
    let offline = Pipeline::new(&event(CONFLICT), &settings, Invocation::default()).unwrap();
    if let Next::Gather { request, audit, .. } = offline.poll() {
        assert!(!request.audit_log);
        assert_eq!(audit, None);
    }
}

// The organization hub: the member role travels with the reads and the write.

const MEMBER: &str = "444455556666";

fn member_event() -> Value {
    let mut value = event(CONFLICT);
    value["account"] = json!(MEMBER);
    value["detail"]["resourceAccountId"] = json!(MEMBER);
    value
}

fn member_reads() -> Facts {
    let mut facts = good_reads();
    facts.coverage = Fact::Known(LiveCoverage {
        cluster_name: Some("prod-payments".into()),
        account_id: Some(MEMBER.into()),
        coverage_status: Some(CoverageStatus::Unhealthy),
        ..LiveCoverage::default()
    });
    facts
}

fn hub(members: &str, follow_up: bool) -> Settings {
    let mut settings = if follow_up {
        with_follow_ups(RemediationMode::Enforce)
    } else {
        settings(RemediationMode::Enforce)
    };
    settings.policy.members = coverage_core::policy::parse_member_accounts(members).unwrap();
    settings
}

#[test]
fn an_allowed_members_reads_and_write_carry_the_member_role() {
    let settings = hub(MEMBER, false);
    let mut pipeline = Pipeline::new(&member_event(), &settings, invocation(None)).unwrap();
    let Next::Gather {
        member,
        account,
        request,
        ..
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    let member = member.expect("the member role").clone();
    assert_eq!(member.account.as_str(), MEMBER);
    assert_eq!(
        member.role_arn.as_str(),
        "arn:aws:iam::444455556666:role/GuardDutyCoverageMember"
    );
    assert_eq!(member.session_name, format!("coverage.{EVENT_ID}"));
    assert_eq!(account, Some(MEMBER));
    assert!(request.addon && request.update_history);
    pipeline.gathered(member_reads(), NOW_MS + 100);
    let Next::Write {
        member: write_member,
        request,
        ..
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(write_member, Some(&member));
    assert_eq!(request.client_request_token, EVENT_ID);
}

#[test]
fn the_member_roles_partition_is_the_functions() {
    let settings = hub("*", false);
    let invocation = Invocation::lambda(
        "arn:aws-us-gov:lambda:us-east-1:111122223333:function:coverage",
        NOW_MS,
        None,
    );
    let pipeline = Pipeline::new(&member_event(), &settings, invocation).unwrap();
    let Next::Gather {
        member: Some(member),
        ..
    } = pipeline.poll()
    else {
        panic!("{:?}", pipeline.poll())
    };
    assert_eq!(
        member.role_arn.as_str(),
        "arn:aws-us-gov:iam::444455556666:role/GuardDutyCoverageMember"
    );
}

#[test]
fn no_member_role_where_the_event_is_not_acted_on() {
    // Not allowed, another region, the own account, no member configured.
    let mut elsewhere = member_event();
    elsewhere["region"] = json!("eu-west-1");
    for (members, payload) in [
        ("777788889999", member_event()),
        (MEMBER, elsewhere),
        (MEMBER, event(CONFLICT)),
        ("", member_event()),
    ] {
        let settings = hub(members, false);
        let pipeline = Pipeline::new(&payload, &settings, invocation(None)).unwrap();
        let Next::Gather { member, .. } = pipeline.poll() else {
            panic!("{:?}", pipeline.poll())
        };
        assert_eq!(member, None, "{members} {payload}");
    }
    // Without the function's identity, nothing to assume either.
    let settings = hub("*", false);
    let offline = Pipeline::new(&member_event(), &settings, Invocation::default()).unwrap();
    let Next::Gather { member, .. } = offline.poll() else {
        panic!("{:?}", offline.poll())
    };
    assert_eq!(member, None);
}

#[test]
fn a_members_update_is_not_followed_up_and_the_alert_says_why() {
    let settings = hub(MEMBER, true);
    let mut pipeline = Pipeline::new(&member_event(), &settings, invocation(None)).unwrap();
    pipeline.gathered(member_reads(), NOW_MS + 100);
    assert!(matches!(pipeline.poll(), Next::Write { .. }));
    pipeline.wrote(started(UPDATE_ID), NOW_MS + 200);
    assert!(
        matches!(pipeline.poll(), Next::Publish { .. }),
        "{:?}",
        pipeline.poll()
    );
    let Some(Outcome::UpdateStarted { follow_up, .. }) = pipeline.outcome() else {
        panic!("{:?}", pipeline.outcome())
    };
    assert_eq!(
        follow_up,
        &FollowUpNote::MemberAccount {
            account: coverage_core::AccountId::parse(MEMBER).unwrap()
        }
    );
    assert_eq!(follow_up.label(), "member-account");
    assert!(follow_up.explain().contains(MEMBER));
    assert!(!follow_up.is_scheduled());
}

#[test]
fn approve_mode_signs_then_offers_and_an_approval_writes_only_the_approved_call() {
    use coverage_core::approval::{ApprovalClaims, MAC_BYTES, token};
    use coverage_core::decide::OverwriteRequest;
    assert_eq!(
        "approve".parse::<RemediationMode>(),
        Ok(RemediationMode::Approve)
    );
    let settings = settings(RemediationMode::Approve);
    let ttl = settings.limits.approval_ttl_seconds;

    // A MAC from KMS: the offer carries the token, the function and the expiry.
    let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
    // An answer out of turn changes nothing.
    pipeline.signed(Ok(vec![1; MAC_BYTES]), NOW_MS);
    gathered(&mut pipeline, good_reads());
    let Next::Sign { signed, .. } = pipeline.poll() else {
        panic!("approve mode asks for the signature: {:?}", pipeline.poll())
    };
    let signed = signed.to_owned();
    pipeline.signed(Ok(vec![1; MAC_BYTES]), NOW_MS + 200);
    assert!(matches!(pipeline.poll(), Next::Publish { .. }));
    match pipeline.outcome() {
        Some(Outcome::Skipped {
            reason:
                SkipReason::ApprovalOffered {
                    token: offered,
                    function,
                    expires_at,
                },
            ..
        }) => {
            assert_eq!(offered, &token(&signed, &[1; MAC_BYTES]));
            assert_eq!(function, HOME_ARN);
            assert_eq!(
                *expires_at,
                i64::try_from(NOW_MS / 1000 + ttl).unwrap(),
                "valid for the TTL from the decision"
            );
        }
        other => panic!("expected the offer, got {other:?}"),
    }

    // A MAC that is not 32 bytes, or no MAC: no offer.
    for answer in [Ok(vec![1; MAC_BYTES - 1]), Err("AccessDenied".to_owned())] {
        let mut pipeline = Pipeline::new(&event(CONFLICT), &settings, invocation(None)).unwrap();
        gathered(&mut pipeline, good_reads());
        assert!(matches!(pipeline.poll(), Next::Sign { .. }));
        pipeline.signed(answer.clone(), NOW_MS + 200);
        assert!(
            matches!(
                pipeline.outcome(),
                Some(Outcome::Skipped {
                    reason: SkipReason::ApprovalNotSigned { .. },
                    ..
                })
            ),
            "{answer:?}: {:?}",
            pipeline.outcome()
        );
    }

    // The approval: every guardrail again, then the approved call.
    let decoded = coverage_core::decode_event(&event(CONFLICT)).unwrap();
    let approved = |version: &str| OverwriteRequest {
        cluster_name: "prod-payments".to_owned(),
        addon_name: "aws-guardduty-agent",
        addon_version: Some(version.to_owned()),
        configuration_values: None,
        resolve_conflicts: "OVERWRITE",
        client_request_token: EVENT_ID.to_owned(),
        addon_read: true,
    };
    let claims = |version: &str| {
        ApprovalClaims::for_request(&decoded, &approved(version), 1_773_480_127, ttl).unwrap()
    };
    let approval = |version: &str| Invocation {
        approval: Some(claims(version)),
        ..invocation(None)
    };
    let mut pipeline =
        Pipeline::new(&event(CONFLICT), &settings, approval("v1.10.0-eksbuild.2")).unwrap();
    gathered(&mut pipeline, good_reads());
    let Next::Write { request, .. } = pipeline.poll() else {
        panic!("an approval writes: {:?}", pipeline.poll())
    };
    assert_eq!(request.client_request_token, EVENT_ID);
    assert_eq!(request.addon_version.as_deref(), Some("v1.10.0-eksbuild.2"));

    // Approved for another version than the one there now: no write.
    let mut pipeline =
        Pipeline::new(&event(CONFLICT), &settings, approval("v1.9.0-eksbuild.1")).unwrap();
    gathered(&mut pipeline, good_reads());
    assert!(
        !matches!(pipeline.poll(), Next::Write { .. }),
        "{:?}",
        pipeline.poll()
    );
    assert!(
        matches!(
            pipeline.outcome(),
            Some(Outcome::Skipped {
                reason: SkipReason::ApprovalStale { .. },
                ..
            })
        ),
        "{:?}",
        pipeline.outcome()
    );
}
