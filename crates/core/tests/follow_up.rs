//! The follow-up as every shell drives it: which payloads it refuses, what
//! it reads, what each of EKS's answers becomes, when it looks again and
//! when it stops, the claim that keeps a duplicate delivery from posting
//! twice, every deadline (inside the invocation's), and the messages it
//! posts in the alert's thread; and the OVERWRITE a recovery followed.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, Fact, UpdateRecord, UpdateStatus,
};
use coverage_core::follow_up::{
    Claim, ClaimResult, FollowUp, FollowUpError, FollowUpFacts, FollowUpInput, FollowUpNext,
    FollowUpNote, MAX_ATTEMPTS, RECOVERY_LOOKBACK_SECONDS, ReportKind, ScheduleKind,
    ScheduleResult, UpdateDetail, UpdateErrorDetail, UpdateLookup, at_expression, claim_name,
    follow_up_name, is_follow_up, recovered_after,
};
use coverage_core::follow_up_render::error_meaning;
use coverage_core::{
    FollowUpSettings, Invocation, Limits, MessageFormat, Policy, RemediationMode, RequestId,
    RoleArn, ScheduleGroupName, Settings, UpdateId,
};
use serde_json::{Value, json};

const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
const UPDATE_ID: &str = "b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c";
const HOME_ARN: &str = "arn:aws:lambda:us-east-1:111122223333:function:coverage";
const ROLE: &str = "arn:aws:iam::111122223333:role/coverage-follow-up-scheduler";
const REQUEST: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";
/// The OVERWRITE: 2026-03-14T09:22:07Z, seconds.
const STARTED: i64 = 1_773_480_127;
/// The first look, five minutes later, in milliseconds.
const NOW_MS: u64 = (STARTED as u64 + 300) * 1000;

fn settings() -> Settings {
    Settings {
        policy: Policy {
            mode: RemediationMode::Enforce,
            ..Policy::default()
        },
        format: MessageFormat::Chat,
        limits: Limits::default(),
        follow_up: Some(FollowUpSettings {
            group: ScheduleGroupName::parse("coverage-follow-ups").unwrap(),
            role_arn: RoleArn::parse(ROLE).unwrap(),
            delay_minutes: 5,
            max_minutes: 30,
        }),
    }
}

fn payload(attempt: u32, started_at: i64) -> Value {
    json!({"follow_up": {
        "account": "111122223333", "region": "us-east-1", "cluster": "prod-payments",
        "addon": "aws-guardduty-agent", "update_id": UPDATE_ID, "event_id": EVENT_ID,
        "attempt": attempt, "started_at": started_at
    }})
}

fn invocation(deadline_ms: Option<u64>) -> Invocation {
    Invocation::lambda(HOME_ARN, NOW_MS, deadline_ms).with_request_id(REQUEST)
}

fn update(status: UpdateStatus, errors: Vec<UpdateErrorDetail>) -> FollowUpFacts {
    FollowUpFacts {
        update: UpdateLookup::Found(UpdateDetail {
            status,
            created_at: Some(STARTED),
            errors,
        }),
        addon: Fact::Known(AddonState {
            status: AddonStatus::Active,
            version: Some("v1.10.0-eksbuild.2".into()),
            configuration_values: None,
            health_issues: vec![],
            arn: None,
        }),
    }
}

fn conflict_error() -> UpdateErrorDetail {
    UpdateErrorDetail {
        code: "ConfigurationConflict".into(),
        message: "Conflicts found when trying to apply. `<!here>` Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image".into(),
        resource_ids: vec!["aws-guardduty-agent".into(), "<@U123>".into()],
    }
}

fn start<'s>(settings: &'s Settings, payload: &Value, invocation: Invocation) -> FollowUp<'s> {
    FollowUp::new(payload, settings, invocation).unwrap()
}

/// Read `facts` at `now_ms`, then answer the claim with `Claimed`.
fn claimed_after<'s>(follow_up: &mut FollowUp<'s>, facts: FollowUpFacts, now_ms: u64) {
    follow_up.read(facts, now_ms);
    let FollowUpNext::Claim { .. } = follow_up.poll() else {
        panic!("{:?}", follow_up.poll())
    };
    follow_up.claimed(ClaimResult::Claimed, now_ms);
}

fn published(follow_up: &FollowUp<'_>) -> (String, Value) {
    let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
        panic!("{:?}", follow_up.poll())
    };
    let chat: Value = serde_json::from_str(&message.body).unwrap();
    (message.body.clone(), chat)
}

#[test]
fn a_follow_up_payload_is_told_from_a_coverage_event() {
    assert!(is_follow_up(&payload(1, STARTED)));
    assert!(is_follow_up(&json!({"follow_up": null})));
    assert!(!is_follow_up(
        &json!({"detail-type": "GuardDuty Runtime Protection Unhealthy"})
    ));
    assert!(!is_follow_up(&json!([{"follow_up": 1}])));
    assert!(!is_follow_up(&json!("follow_up")));
}

#[test]
fn malformed_or_foreign_payloads_are_refused_before_any_read() {
    let settings = settings();
    let edit = |change: &dyn Fn(&mut Value)| {
        let mut value = payload(1, STARTED);
        change(&mut value);
        FollowUp::new(&value, &settings, invocation(None)).unwrap_err()
    };
    for (change, field) in [
        (
            &(|v: &mut Value| v["follow_up"]["cluster"] = json!("x; rm -rf /"))
                as &dyn Fn(&mut Value),
            "follow_up.cluster",
        ),
        (
            &|v: &mut Value| v["follow_up"]["addon"] = json!("vpc-cni"),
            "follow_up.addon",
        ),
        (
            &|v: &mut Value| v["follow_up"]["update_id"] = json!("a/b"),
            "follow_up.update_id",
        ),
        (
            &|v: &mut Value| v["follow_up"]["event_id"] = json!(""),
            "follow_up.event_id",
        ),
        (
            &|v: &mut Value| v["follow_up"]["account"] = json!("1234"),
            "follow_up.account",
        ),
        (
            &|v: &mut Value| {
                v["follow_up"].as_object_mut().unwrap().remove("started_at");
            },
            "follow_up",
        ),
        (
            &|v: &mut Value| v["follow_up"]["extra"] = json!(1),
            "follow_up.extra",
        ),
        (&|v: &mut Value| v["surprise"] = json!(1), "surprise"),
        (
            &|v: &mut Value| v["follow_up"]["attempt"] = json!(-1),
            "follow_up.attempt",
        ),
    ] {
        let error = edit(change);
        let FollowUpError::Malformed { field: got, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(got, field, "{error}");
        assert!(error.to_string().starts_with("malformed follow-up payload"));
    }
    for attempt in [0, MAX_ATTEMPTS + 1] {
        assert_eq!(
            FollowUp::new(&payload(attempt, STARTED), &settings, invocation(None)).unwrap_err(),
            FollowUpError::Attempt { attempt }
        );
    }
    assert!(FollowUp::new(&payload(MAX_ATTEMPTS, STARTED), &settings, invocation(None)).is_ok());
    assert!(FollowUp::new(&payload(1, STARTED), &settings, invocation(None)).is_ok());

    // Only where the function runs.
    for arn in [
        "arn:aws:lambda:eu-west-1:111122223333:function:coverage",
        "arn:aws:lambda:us-east-1:444455556666:function:coverage",
    ] {
        let error = FollowUp::new(
            &payload(1, STARTED),
            &settings,
            Invocation::lambda(arn, NOW_MS, None),
        )
        .unwrap_err();
        assert!(matches!(error, FollowUpError::Elsewhere { .. }), "{error}");
        assert!(error.to_string().contains("reads only there"), "{error}");
    }
    let error = FollowUp::new(
        &payload(1, STARTED),
        &settings,
        Invocation::lambda("function-arn", NOW_MS, None),
    )
    .unwrap_err();
    assert!(
        matches!(error, FollowUpError::FunctionUnverified { .. }),
        "{error}"
    );
    let error = FollowUp::new(&payload(1, STARTED), &settings, Invocation::default()).unwrap_err();
    assert!(error.to_string().contains("no function ARN"), "{error}");
    // A long hostile value is clipped in the error.
    let mut long = payload(1, STARTED);
    long["follow_up"]["cluster"] = json!("x".repeat(100_000));
    let error = FollowUp::new(&long, &settings, invocation(None)).unwrap_err();
    assert!(
        error.to_string().len() < 2_000,
        "{}",
        error.to_string().len()
    );
}

#[test]
fn it_reads_the_update_and_the_add_on_within_the_deadline() {
    let settings = settings();
    let follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    let FollowUpNext::Read {
        cluster,
        update_id,
        read_ms,
        deadline_ms,
    } = follow_up.poll()
    else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(
        (cluster.as_str(), update_id.as_str()),
        ("prod-payments", UPDATE_ID)
    );
    assert_eq!(read_ms, 3_000);
    assert_eq!(deadline_ms, NOW_MS + 3_000);
    assert_eq!(follow_up.poll(), follow_up.poll());
    // A short invocation keeps room for a schedule or claim and the publish.
    let short = start(
        &settings,
        &payload(1, STARTED),
        invocation(Some(NOW_MS + 8_000)),
    );
    let FollowUpNext::Read { deadline_ms, .. } = short.poll() else {
        panic!()
    };
    assert_eq!(deadline_ms, NOW_MS + 8_000 - 500 - 5_000 - 1_000);
}

#[test]
fn a_successful_update_is_claimed_then_posted_in_the_alerts_thread() {
    let settings = settings();
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::Successful, vec![]), NOW_MS + 100);
    let FollowUpNext::Claim {
        request,
        deadline_ms,
    } = follow_up.poll()
    else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(deadline_ms, NOW_MS + 100 + 3_000);
    assert_eq!(request.kind, ScheduleKind::Claim);
    assert!(!request.enabled() && !request.delete_after_completion());
    assert_eq!(
        request.name.as_str(),
        format!("{UPDATE_ID}-posted-succeeded")
    );
    assert_eq!(request.group.as_str(), "coverage-follow-ups");
    assert_eq!(request.target_arn, HOME_ARN);
    assert_eq!(request.role_arn.as_str(), ROLE);
    assert_eq!(request.due_at, STARTED + 300 + 24 * 3600);
    assert_eq!(request.expression, at_expression(request.due_at));
    let input: Value = serde_json::from_str(&request.input.to_json()).unwrap();
    assert_eq!(input["follow_up"], payload(1, STARTED)["follow_up"]);
    assert_eq!(
        input["claim"],
        json!({"outcome": "succeeded", "request_id": REQUEST, "claimed_at": STARTED + 300})
    );
    follow_up.claimed(ClaimResult::Claimed, NOW_MS + 200);
    let FollowUpNext::Publish {
        message,
        deadline_ms,
    } = follow_up.poll()
    else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(deadline_ms, NOW_MS + 200 + 5_000);
    assert_eq!(follow_up.message(), Some(message));
    assert_eq!(
        message.subject,
        "[INFO] OVERWRITE update succeeded on prod-payments (us-east-1)"
    );
    assert_eq!(message.attributes["outcome"], "follow-up-succeeded");
    assert_eq!(message.attributes["severity"], "info");
    assert_eq!(message.attributes["event_id"], EVENT_ID);
    assert_eq!(message.attributes.len(), 10);
    let chat: Value = serde_json::from_str(&message.body).unwrap();
    assert_eq!(
        chat["metadata"]["threadId"], "guardduty-coverage/111122223333/us-east-1/prod-payments",
        "the thread of the alert that started the update"
    );
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("OVERWRITE update {UPDATE_ID} succeeded after 5 min; waiting for GuardDuty to report the cluster Healthy")),
        "{description}"
    );
    assert!(
        description.contains("Add-on aws-guardduty-agent now: ACTIVE, version v1.10.0-eksbuild.2")
    );
    assert!(!description.contains("could not be recorded"));
    assert_eq!(
        chat["metadata"]["additionalContext"]["updateStatus"],
        "Successful"
    );
    follow_up.published(Ok("m-1".into()), NOW_MS + 300);
    let FollowUpNext::Done(summary) = follow_up.poll() else {
        panic!()
    };
    assert_eq!(summary.outcome, "follow-up-succeeded");
    assert_eq!(summary.message_id.as_deref(), Some("m-1"));
    assert_eq!(summary.next_schedule, None);
    assert_eq!(
        (
            summary.event_id.as_str(),
            summary.update_id.as_str(),
            summary.attempt
        ),
        (EVENT_ID, UPDATE_ID, 1)
    );
}

#[test]
fn a_failed_update_posts_ekss_errors_as_inert_text_with_what_they_mean() {
    let settings = settings();
    let mut follow_up = start(&settings, &payload(2, STARTED), invocation(None));
    let mut facts = update(UpdateStatus::Failed, vec![conflict_error()]);
    facts.addon = Fact::Known(AddonState {
        status: AddonStatus::Degraded,
        version: Some("v1.10.0-eksbuild.2".into()),
        configuration_values: None,
        health_issues: vec![AddonHealthIssue {
            code: "ConfigurationConflict".into(),
            message: "Conflicts found".into(),
        }],
        arn: None,
    });
    claimed_after(&mut follow_up, facts, NOW_MS + 300_000);
    let (body, chat) = published(&follow_up);
    let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
        panic!()
    };
    assert_eq!(
        message.subject,
        "[HIGH] OVERWRITE update failed on prod-payments (us-east-1)"
    );
    assert_eq!(message.attributes["outcome"], "follow-up-failed");
    assert_eq!(message.attributes["severity"], "high");
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("failed (seen 10 min after it started)"),
        "{description}"
    );
    assert!(description.contains("The OVERWRITE is not retried from here."));
    assert!(
        description.contains("`ConfigurationConflict`: fields EKS manages"),
        "{description}"
    );
    assert!(description.contains("Conflicts found when trying to apply."));
    assert!(description.contains("Resources: `aws-guardduty-agent`, "));
    // EKS's text cannot mention, link or break out of its code.
    assert!(
        !body.contains("<!here>") && !body.contains("<@U123>"),
        "{body}"
    );
    assert!(description.contains("Add-on health issue ConfigurationConflict: Conflicts found"));
    assert!(
        !description.contains("may have converged"),
        "DEGRADED: not converged"
    );
    assert!(description.contains("aws eks describe-update --name prod-payments --addon-name aws-guardduty-agent --update-id b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c --region us-east-1"));
    let steps = chat["content"]["nextSteps"].to_string();
    assert!(
        steps.contains("Do not repeat the OVERWRITE blindly"),
        "{steps}"
    );

    // Failed, then converged: the add-on is ACTIVE again.
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    claimed_after(&mut follow_up, update(UpdateStatus::Failed, vec![]), NOW_MS);
    let (body, _) = published(&follow_up);
    assert!(
        body.contains("The add-on is ACTIVE now: EKS may have converged"),
        "{body}"
    );
    assert!(!body.contains("*EKS's errors:*"), "no errors, no section");
    assert!(body.contains("EKS gave no error details"), "{body}");
}

#[test]
fn a_failed_update_reads_the_same_in_text() {
    let settings = Settings {
        format: MessageFormat::Text,
        ..settings()
    };
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    let mut unknown = conflict_error();
    unknown.code = "SomethingNew".into();
    claimed_after(
        &mut follow_up,
        update(UpdateStatus::Failed, vec![conflict_error(), unknown]),
        NOW_MS,
    );
    let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
        panic!()
    };
    let text = &message.body;
    assert!(text.starts_with("OVERWRITE update failed [HIGH]\nWhere: cluster prod-payments, account 111122223333, us-east-1\n"), "{text}");
    assert!(
        text.contains("  - ConfigurationConflict: fields EKS manages"),
        "{text}"
    );
    assert!(
        text.contains("  - SomethingNew: a code this function does not know"),
        "{text}"
    );
    assert!(
        text.contains("    resources: aws-guardduty-agent, <@U123>"),
        "{text}"
    );
    assert!(
        text.contains("Next steps:\n  1. Read EKS's errors above"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("Follow-up 1 of event {EVENT_ID}\n")),
        "{text}"
    );
}

#[test]
fn a_cancelled_update_is_high_severity_and_not_retried() {
    let settings = settings();
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    claimed_after(
        &mut follow_up,
        update(UpdateStatus::Cancelled, vec![]),
        NOW_MS,
    );
    let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
        panic!()
    };
    assert_eq!(message.attributes["outcome"], "follow-up-cancelled");
    assert_eq!(message.attributes["severity"], "high");
    assert!(message.body.contains("was cancelled"), "{}", message.body);
    assert!(
        message
            .body
            .contains("The OVERWRITE is not retried from here.")
    );
}

#[test]
fn an_update_still_running_is_looked_at_again_until_the_bound() {
    let settings = settings();
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS + 100);
    let FollowUpNext::Schedule {
        request,
        deadline_ms,
    } = follow_up.poll()
    else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(deadline_ms, NOW_MS + 100 + 3_000);
    assert_eq!(request.kind, ScheduleKind::FollowUp);
    assert_eq!(request.name.as_str(), format!("{UPDATE_ID}-followup-2"));
    assert_eq!(request.due_at, STARTED + 600);
    assert_eq!(request.expression, "at(2026-03-14T09:32:07)");
    // The next look: attempt 2, the same start (the bound counts from the OVERWRITE).
    assert_eq!(
        serde_json::from_str::<Value>(&request.input.to_json()).unwrap(),
        payload(2, STARTED)
    );
    follow_up.scheduled(ScheduleResult::Created, NOW_MS + 200);
    let FollowUpNext::Done(summary) = follow_up.poll() else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(summary.outcome, "follow-up-rescheduled");
    assert_eq!(
        summary.next_schedule.as_deref(),
        Some(&*format!("{UPDATE_ID}-followup-2"))
    );
    assert_eq!(summary.message_id, None, "nothing posted while it runs");

    // A status this code does not know is not an end either.
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::parse("Paused"), vec![]), NOW_MS);
    assert!(matches!(follow_up.poll(), FollowUpNext::Schedule { .. }));

    // The bound: the next look must come by 30 min after the OVERWRITE.
    for (elapsed_s, looks_again) in [(25 * 60, true), (25 * 60 + 1, false), (40 * 60, false)] {
        let mut follow_up = start(&settings, &payload(6, STARTED), invocation(None));
        let now_ms = (STARTED as u64 + elapsed_s) * 1000;
        follow_up.read(update(UpdateStatus::InProgress, vec![]), now_ms);
        match follow_up.poll() {
            FollowUpNext::Schedule { .. } => assert!(looks_again, "{elapsed_s}"),
            FollowUpNext::Claim { request, .. } => {
                assert!(!looks_again, "{elapsed_s}");
                assert_eq!(
                    request.name.as_str(),
                    format!("{UPDATE_ID}-posted-still-running")
                );
                follow_up.claimed(ClaimResult::Claimed, now_ms);
                let (body, _) = published(&follow_up);
                assert!(body.contains("is still InProgress"), "{body}");
                assert!(body.contains("the follow-ups stop looking 30 min after the OVERWRITE (FOLLOW_UP_MAX_MINUTES)"), "{body}");
                let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
                    panic!()
                };
                assert_eq!(message.attributes["outcome"], "follow-up-still-running");
                assert_eq!(message.attributes["severity"], "medium");
            }
            other => panic!("{other:?}"),
        }
    }
    // A clock before the OVERWRITE counts as no time elapsed.
    let mut early = start(&settings, &payload(1, STARTED + 3_600), invocation(None));
    early.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
    assert!(matches!(early.poll(), FollowUpNext::Schedule { .. }));
}

#[test]
fn the_looks_stop_at_max_attempts_whatever_the_settings() {
    let mut settings = settings();
    if let Some(follow_up) = &mut settings.follow_up {
        follow_up.max_minutes = 100_000;
    }
    for (attempt, looks_again) in [(MAX_ATTEMPTS - 1, true), (MAX_ATTEMPTS, false)] {
        let mut follow_up = start(&settings, &payload(attempt, STARTED), invocation(None));
        follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
        match follow_up.poll() {
            FollowUpNext::Schedule { request, .. } => {
                assert!(looks_again);
                assert_eq!(
                    request.name.as_str(),
                    format!("{UPDATE_ID}-followup-{MAX_ATTEMPTS}")
                );
            }
            FollowUpNext::Claim { .. } => assert!(!looks_again),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn each_answer_to_the_next_looks_schedule() {
    let settings = settings();
    // Another delivery of this look already scheduled the next: nothing more.
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
    follow_up.scheduled(ScheduleResult::AlreadyExists, NOW_MS);
    let FollowUpNext::Done(summary) = follow_up.poll() else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(summary.outcome, "follow-up-already-rescheduled");
    assert_eq!(summary.message_id, None);
    // The next look could not be scheduled: say so, once.
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
    follow_up.scheduled(
        ScheduleResult::Failed {
            why: "CreateSchedule failed: ThrottlingException".into(),
        },
        NOW_MS,
    );
    let FollowUpNext::Claim { request, .. } = follow_up.poll() else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(
        request.name.as_str(),
        format!("{UPDATE_ID}-posted-still-running")
    );
    follow_up.claimed(ClaimResult::Claimed, NOW_MS);
    let (body, _) = published(&follow_up);
    assert!(
        body.contains("the next look could not be scheduled (CreateSchedule failed: ThrottlingException), so nothing more will be posted"),
        "{body}"
    );
}

#[test]
fn without_time_settings_or_target_it_stops_looking_and_says_why() {
    // Follow-ups no longer configured: no schedule, no claim.
    let unconfigured = Settings {
        follow_up: None,
        ..settings()
    };
    let mut follow_up = start(&unconfigured, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
    let (body, _) = published(&follow_up);
    assert!(
        body.contains("follow-ups are no longer configured"),
        "{body}"
    );
    assert!(body.contains("could not be recorded as posted (follow-ups are not configured): a second delivery of this follow-up may post it again"), "{body}");

    // No function name: no target for a schedule.
    let settings = settings();
    let mut unnamed = invocation(None);
    let Fact::Known(identity) = &mut unnamed.function else {
        panic!()
    };
    identity.name = None;
    let mut follow_up = start(&settings, &payload(1, STARTED), unnamed);
    follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
    let (body, _) = published(&follow_up);
    assert!(
        body.contains("the function's own ARN is not known, so the next look cannot be scheduled"),
        "{body}"
    );
    assert!(
        body.contains("could not be recorded as posted (the function's own ARN is not known)"),
        "{body}"
    );

    // Too little time for the next look, then for the claim.
    let deadline = NOW_MS + 30_000;
    let schedule_end = deadline - 500 - 5_000;
    for (now, schedules) in [
        (schedule_end - 1_000, true),
        (schedule_end - 999, false),
        (schedule_end + 3, false),
    ] {
        let mut follow_up = start(&settings, &payload(1, STARTED), invocation(Some(deadline)));
        follow_up.read(update(UpdateStatus::InProgress, vec![]), now);
        match follow_up.poll() {
            FollowUpNext::Schedule { deadline_ms, .. } => {
                assert!(schedules, "{now}");
                assert_eq!(deadline_ms, schedule_end);
            }
            FollowUpNext::Publish { message, .. } => {
                assert!(!schedules, "{now}");
                let left = schedule_end.saturating_sub(now);
                assert!(
                    message.body.contains(&format!(
                        "only {left} ms of the invocation were left to schedule the next look"
                    )),
                    "{}",
                    message.body
                );
                assert!(message.body.contains(&format!(
                    "could not be recorded as posted (only {left} ms of the invocation were left)"
                )));
            }
            other => panic!("{other:?}"),
        }
    }
    // The claim has the same boundary.
    for (now, claims) in [(schedule_end - 1_000, true), (schedule_end - 999, false)] {
        let mut follow_up = start(&settings, &payload(1, STARTED), invocation(Some(deadline)));
        follow_up.read(update(UpdateStatus::Successful, vec![]), now);
        assert_eq!(
            matches!(follow_up.poll(), FollowUpNext::Claim { deadline_ms, .. } if deadline_ms == schedule_end),
            claims,
            "{now}: {:?}",
            follow_up.poll()
        );
    }
}

#[test]
fn an_update_eks_does_not_know_or_cannot_say_is_reported() {
    let settings = settings();
    for (lookup, kind, says) in [
        (
            UpdateLookup::NotFound {
                message: "ResourceNotFoundException: No update found for ID".into(),
            },
            "unknown-update",
            "EKS does not know OVERWRITE update b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c of aws-guardduty-agent on this cluster (EKS said: ResourceNotFoundException: No update found for ID)",
        ),
        (
            UpdateLookup::Unavailable {
                why: "DescribeUpdate failed: AccessDeniedException".into(),
            },
            "unreadable",
            "Could not read the status of OVERWRITE update b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c (DescribeUpdate failed: AccessDeniedException)",
        ),
        (UpdateLookup::NotGathered, "unreadable", "(it was not read)"),
    ] {
        let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
        follow_up.read(
            FollowUpFacts {
                update: lookup,
                addon: Fact::Unavailable("DescribeAddon failed: throttled".into()),
            },
            NOW_MS,
        );
        let FollowUpNext::Claim { request, .. } = follow_up.poll() else {
            panic!("{:?}", follow_up.poll())
        };
        assert_eq!(request.name.as_str(), format!("{UPDATE_ID}-posted-{kind}"));
        follow_up.claimed(ClaimResult::Claimed, NOW_MS);
        let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
            panic!()
        };
        assert_eq!(message.attributes["outcome"], format!("follow-up-{kind}"));
        assert!(message.body.contains(says), "{kind}: {}", message.body);
        assert!(
            message
                .body
                .contains("Add-on: could not be read (DescribeAddon failed: throttled)")
        );
    }
}

#[test]
fn a_duplicate_delivery_posts_nothing_but_lambdas_retry_does() {
    let settings = settings();
    let request_id = |id: &str| Some(RequestId::parse(id).unwrap());
    let claim = |by: Option<RequestId>| {
        Some(Claim {
            outcome: ReportKind::Succeeded,
            request_id: by,
            claimed_at: STARTED,
        })
    };
    for (taken_by, posts) in [
        // Another invocation (a second delivery) claimed it.
        (
            claim(request_id("00000000-0000-0000-0000-000000000000")),
            false,
        ),
        // A marker whose claim could not be read, or names no request.
        (None, false),
        (claim(None), false),
        // This very invocation, an earlier try whose publish failed.
        (claim(request_id(REQUEST)), true),
    ] {
        let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
        follow_up.read(update(UpdateStatus::Successful, vec![]), NOW_MS);
        follow_up.claimed(
            ClaimResult::Taken {
                claim: taken_by.clone(),
            },
            NOW_MS,
        );
        match follow_up.poll() {
            FollowUpNext::Done(summary) => {
                assert!(!posts, "{taken_by:?}");
                assert_eq!(summary.outcome, "follow-up-duplicate-succeeded");
                assert_eq!(summary.message_id, None);
            }
            FollowUpNext::Publish { message, .. } => {
                assert!(posts, "{taken_by:?}");
                assert!(!message.body.contains("could not be recorded"));
            }
            other => panic!("{other:?}"),
        }
    }
    // Without its own request id an invocation cannot recognise its claim.
    let mut anonymous = start(
        &settings,
        &payload(1, STARTED),
        Invocation::lambda(HOME_ARN, NOW_MS, None),
    );
    anonymous.read(update(UpdateStatus::Successful, vec![]), NOW_MS);
    let FollowUpNext::Claim { request, .. } = anonymous.poll() else {
        panic!()
    };
    assert_eq!(request.input.claim.as_ref().unwrap().request_id, None);
    anonymous.claimed(ClaimResult::Taken { claim: claim(None) }, NOW_MS);
    assert!(matches!(anonymous.poll(), FollowUpNext::Done(_)));
    // A claim Scheduler would not take: post, and say a duplicate may follow.
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.read(update(UpdateStatus::Successful, vec![]), NOW_MS);
    follow_up.claimed(
        ClaimResult::Failed {
            why: "CreateSchedule failed: AccessDeniedException".into(),
        },
        NOW_MS,
    );
    let (body, _) = published(&follow_up);
    assert!(body.contains("This message could not be recorded as posted (CreateSchedule failed: AccessDeniedException): a second delivery of this follow-up may post it again."), "{body}");
}

#[test]
fn a_failed_publish_fails_the_invocation_and_answers_out_of_turn_change_nothing() {
    let settings = settings();
    let mut follow_up = start(&settings, &payload(1, STARTED), invocation(None));
    follow_up.claimed(ClaimResult::Claimed, NOW_MS);
    follow_up.scheduled(ScheduleResult::Created, NOW_MS);
    follow_up.published(Ok("m".into()), NOW_MS);
    assert!(matches!(follow_up.poll(), FollowUpNext::Read { .. }));
    follow_up.read(update(UpdateStatus::Successful, vec![]), NOW_MS);
    follow_up.read(update(UpdateStatus::InProgress, vec![]), NOW_MS);
    follow_up.scheduled(ScheduleResult::Created, NOW_MS);
    follow_up.published(Ok("m".into()), NOW_MS);
    assert!(matches!(follow_up.poll(), FollowUpNext::Claim { .. }));
    follow_up.claimed(ClaimResult::Claimed, NOW_MS);
    follow_up.claimed(ClaimResult::Taken { claim: None }, NOW_MS);
    assert!(matches!(follow_up.poll(), FollowUpNext::Publish { .. }));
    follow_up.published(Err("SNS Publish failed: throttled".into()), NOW_MS);
    follow_up.published(Ok("late".into()), NOW_MS);
    let FollowUpNext::Failed(undelivered) = follow_up.poll() else {
        panic!("{:?}", follow_up.poll())
    };
    assert_eq!(undelivered.event_id, EVENT_ID);
    assert_eq!(undelivered.issue_id, "overwrite-follow-up");
    assert!(undelivered.why.contains("throttled"));
    assert_eq!(
        follow_up.report().map(|r| r.kind()),
        Some(ReportKind::Succeeded)
    );
}

#[test]
fn schedule_names_expressions_and_inputs() {
    let id = UpdateId::parse(UPDATE_ID).unwrap();
    assert_eq!(
        follow_up_name(&id, 7).unwrap().as_str(),
        format!("{UPDATE_ID}-followup-7")
    );
    // The longest names fit Scheduler's 64 characters for the longest id.
    let longest = UpdateId::parse(&"a".repeat(40)).unwrap();
    for kind in [
        ReportKind::Succeeded,
        ReportKind::Failed,
        ReportKind::Cancelled,
        ReportKind::StillRunning,
        ReportKind::UnknownUpdate,
        ReportKind::Unreadable,
    ] {
        let name = claim_name(&longest, kind).unwrap();
        assert!(name.as_str().len() <= 64, "{name}");
        assert!(name.as_str().ends_with(kind.as_str()));
    }
    assert!(follow_up_name(&longest, MAX_ATTEMPTS).is_some());
    assert_eq!(at_expression(STARTED), "at(2026-03-14T09:22:07)");
    assert_eq!(at_expression(0), "at(1970-01-01T00:00:00)");
    let input = FollowUpInput::from_json(&payload(3, STARTED).to_string()).unwrap();
    assert_eq!(input.follow_up.attempt, 3);
    assert_eq!(input.claim, None);
    assert_eq!(
        serde_json::from_str::<Value>(&input.to_json()).unwrap(),
        payload(3, STARTED)
    );
    assert!(FollowUpInput::from_json("{}").is_err());
    assert!(FollowUpInput::from_json("not json").is_err());
}

#[test]
fn what_the_alert_says_about_each_follow_up() {
    let group = ScheduleGroupName::parse("g").unwrap();
    let name = follow_up_name(&UpdateId::parse(UPDATE_ID).unwrap(), 1).unwrap();
    let scheduled = FollowUpNote::Scheduled {
        name: name.clone(),
        group: group.clone(),
        due_at: STARTED + 300,
        every_minutes: 5,
        max_minutes: 30,
    };
    assert!(scheduled.is_scheduled());
    assert!(FollowUpNote::AlreadyScheduled { name, group }.is_scheduled());
    for note in [
        FollowUpNote::NotConfigured,
        FollowUpNote::Failed { why: "x".into() },
        FollowUpNote::DeadlineTooClose { remaining_ms: 3 },
        FollowUpNote::UnusableUpdateId {
            update_id: "a/b".into(),
        },
        FollowUpNote::TargetUnknown,
    ] {
        assert!(!note.is_scheduled(), "{note:?}");
        assert_ne!(note.label(), "scheduled");
        assert!(
            note.explain()
                .contains("nothing will be posted when the update ends"),
            "{note:?}"
        );
    }
}

#[test]
fn every_follow_up_note_has_its_own_label() {
    let group = ScheduleGroupName::parse("g").unwrap();
    let name = follow_up_name(&UpdateId::parse(UPDATE_ID).unwrap(), 1).unwrap();
    let labels: Vec<&str> = [
        FollowUpNote::NotConfigured,
        FollowUpNote::Scheduled {
            name: name.clone(),
            group: group.clone(),
            due_at: 0,
            every_minutes: 5,
            max_minutes: 30,
        },
        FollowUpNote::AlreadyScheduled { name, group },
        FollowUpNote::Failed { why: "x".into() },
        FollowUpNote::DeadlineTooClose { remaining_ms: 3 },
        FollowUpNote::UnusableUpdateId {
            update_id: "a/b".into(),
        },
        FollowUpNote::TargetUnknown,
    ]
    .iter()
    .map(FollowUpNote::label)
    .collect();
    assert_eq!(
        labels,
        [
            "not-configured",
            "scheduled",
            "already-scheduled",
            "schedule-failed",
            "deadline-too-close",
            "unusable-update-id",
            "target-unknown"
        ]
    );
}

#[test]
fn every_known_eks_error_code_has_a_meaning() {
    for code in [
        "ConfigurationConflict",
        "AdmissionRequestDenied",
        "InsufficientNumberOfReplicas",
        "UnsupportedAddonModification",
        "K8sResourceNotFound",
        "ClusterUnreachable",
        "AccessDenied",
        "OperationNotPermitted",
        "Unknown",
    ] {
        assert!(error_meaning(code).is_some(), "{code}");
    }
    assert_eq!(error_meaning("configurationconflict"), None);
    assert_eq!(error_meaning(""), None);
}

fn record(id: &str, created_at: Option<i64>, overwrite: bool) -> UpdateRecord {
    UpdateRecord {
        id: id.into(),
        status: UpdateStatus::Successful,
        created_at,
        resolve_conflicts: overwrite.then(|| "OVERWRITE".into()),
    }
}

#[test]
fn a_recovery_follows_the_latest_overwrite_within_a_day_before_it() {
    let at = STARTED + 3_600;
    let found = |history: &[UpdateRecord]| {
        recovered_after(history, at).map(|r| (r.update.id.clone(), r.minutes))
    };
    assert_eq!(found(&[]), None);
    assert_eq!(
        found(&[record("same-second", Some(at), true)]),
        Some(("same-second".into(), 0))
    );
    assert_eq!(found(&[record("after", Some(at + 1), true)]), None);
    assert_eq!(
        found(&[record("a-day", Some(at - RECOVERY_LOOKBACK_SECONDS), true)]),
        Some(("a-day".into(), 24 * 60))
    );
    assert_eq!(
        found(&[record(
            "older",
            Some(at - RECOVERY_LOOKBACK_SECONDS - 1),
            true
        )]),
        None
    );
    assert_eq!(found(&[record("plain", Some(at - 60), false)]), None);
    assert_eq!(found(&[record("undated", None, true)]), None);
    assert_eq!(
        found(&[record("119s", Some(at - 119), true)]),
        Some(("119s".into(), 1))
    );
    assert_eq!(
        found(&[
            record("first", Some(at - 900), true),
            record("latest", Some(at - 300), true),
            record("plain", Some(at - 60), false),
            record("future", Some(at + 60), true),
            record("middle", Some(at - 600), true),
        ]),
        Some(("latest".into(), 5))
    );
}
