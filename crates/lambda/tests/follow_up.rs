//! The follow-up of a started OVERWRITE, through the real handler over HTTP
//! against the local fake (EKS, GuardDuty, EventBridge Scheduler, SNS): the
//! exact `CreateSchedule` body, the schedule's input handed back to the
//! function, what each of EKS's answers posts (Successful, Failed with
//! errors, InProgress then the bound, an unknown update), a duplicate
//! delivery and Lambda's retry, Scheduler failing, malformed payloads, and
//! the recovery notice with and without a preceding OVERWRITE.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    ACCOUNT, CLUSTER, FUNCTION_ARN, FakeAws, GROUP, SCHEDULER_ROLE, TOPIC, clients, event,
    fresh_event, home, invocation_with_deadline, now,
};
use coverage_core::follow_up::FollowUpSettings;
use coverage_core::policy::{Policy, RemediationMode};
use coverage_core::{Invocation, RoleArn, ScheduleGroupName};
use coverage_lambda::{App, Config, HandlerError, MessageFormat, Reply};
use serde_json::{Value, json};

const CONFLICT: &str = "unhealthy.addon-configuration-conflict.json";
const EVENT_ID: &str = "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37";
const THREAD: &str = "guardduty-coverage/111122223333/us-east-1/prod-payments";

fn follow_up_settings() -> FollowUpSettings {
    FollowUpSettings {
        group: ScheduleGroupName::parse(GROUP).unwrap(),
        role_arn: RoleArn::parse(SCHEDULER_ROLE).unwrap(),
        delay_minutes: 5,
        max_minutes: 30,
    }
}

fn config() -> Config {
    Config {
        alert_topic_arn: Some(TOPIC.to_owned()),
        message_format: MessageFormat::Chat,
        policy: Policy {
            mode: RemediationMode::Enforce,
            ..Policy::default()
        },
        fact_read_timeout: Duration::from_secs(10),
        follow_up: Some(follow_up_settings()),
        ..Config::default()
    }
}

async fn app(fake: &FakeAws, config: Config) -> App {
    App::with_clients(config, clients(&fake.uri(), &fake.uri()).await)
}

/// An invocation with its own Lambda request id.
fn delivery(request_id: &str) -> Invocation {
    home().with_request_id(request_id)
}

fn chat(message: &str) -> Value {
    serde_json::from_str(message).expect("the SNS message is the chat-notification JSON")
}

fn description(message: &str) -> String {
    chat(message)["content"]["description"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The conflict sample in enforce mode: the OVERWRITE and its first schedule.
async fn overwrite(fake: &FakeAws, app: &App) -> Value {
    let Reply::Event(summary) = app.dispatch(event(CONFLICT), home()).await.unwrap() else {
        panic!("a coverage event's summary")
    };
    assert_eq!(summary.outcome, "update-started");
    assert_eq!(summary.follow_up, Some("scheduled"));
    fake.schedule_input("update-1-followup-1")
}

async fn follow_up(app: &App, input: Value, request_id: &str) -> coverage_core::FollowUpSummary {
    match app.dispatch(input, delivery(request_id)).await.unwrap() {
        Reply::FollowUp(summary) => summary,
        other => panic!("a follow-up was handled as something else: {other:?}"),
    }
}

fn fail_update(fake: &FakeAws, errors: Value) {
    fake.set_update("update-1", |u| {
        u["status"] = json!("Failed");
        u["errors"] = errors;
    });
}

#[tokio::test]
async fn enforce_makes_exactly_one_create_schedule_with_the_exact_body() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let before = now();
    let Reply::Event(summary) = app.dispatch(event(CONFLICT), home()).await.unwrap() else {
        panic!()
    };
    let after = now();
    assert_eq!(summary.outcome, "update-started");
    assert_eq!(summary.follow_up, Some("scheduled"));

    let creates = fake.requests("CreateSchedule");
    assert_eq!(creates.len(), 1, "exactly one schedule");
    assert_eq!(creates[0].path, "/schedules/update-1-followup-1");
    let mut body = creates[0].json();
    // The SDK's idempotency token for its own retries of this one call.
    let token = body.as_object_mut().unwrap().remove("ClientToken").unwrap();
    assert!(!token.as_str().unwrap().is_empty());
    let expression = body["ScheduleExpression"].as_str().unwrap().to_owned();
    let raw_input = body["Target"]["Input"].as_str().unwrap().to_owned();
    let input: Value = serde_json::from_str(&raw_input).unwrap();
    let started_at = input["follow_up"]["started_at"].as_i64().unwrap();
    assert!((before..=after).contains(&started_at), "{started_at}");
    let due = coverage_core::decide::parse_time(&format!(
        "{}Z",
        expression.trim_start_matches("at(").trim_end_matches(')')
    ))
    .unwrap();
    assert_eq!(
        due,
        started_at + 300,
        "{expression}: five minutes after the OVERWRITE"
    );
    assert_eq!(
        input,
        json!({"follow_up": {
            "account": ACCOUNT, "region": "us-east-1", "cluster": CLUSTER,
            "addon": "aws-guardduty-agent", "update_id": "update-1", "event_id": EVENT_ID,
            "attempt": 1, "started_at": started_at
        }})
    );
    assert_eq!(
        body,
        json!({
            "ActionAfterCompletion": "DELETE",
            "Description": format!("Look 1 at OVERWRITE update update-1 of aws-guardduty-agent on {CLUSTER} (event {EVENT_ID})"),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "GroupName": GROUP,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": "UTC",
            "State": "ENABLED",
            "Target": {
                "Arn": FUNCTION_ARN,
                "RoleArn": SCHEDULER_ROLE,
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
                // Checked field by field above (its key order is serde's).
                "Input": raw_input,
            }
        })
    );
    // The schedule is made before the alert that announces it.
    let order: Vec<&str> = fake
        .all_requests()
        .iter()
        .map(|r| r.operation)
        .filter(|op| ["UpdateAddon", "CreateSchedule", "Publish"].contains(op))
        .collect();
    assert_eq!(order, ["UpdateAddon", "CreateSchedule", "Publish"]);
    let (_, message, _) = fake.last_published();
    let text = description(&message);
    assert!(
        text.contains("Follow-up: the update's result will be posted in this thread at about"),
        "{text}"
    );
    assert!(text.contains("schedule update-1-followup-1 in group coverage-follow-ups"));
    assert_eq!(
        chat(&message)["metadata"]["additionalContext"]["followUp"],
        "scheduled"
    );
}

#[tokio::test]
async fn the_schedules_input_handed_back_posts_the_failure_with_ekss_errors() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let input = overwrite(&fake, &app).await;
    let (_, alert, _) = fake.last_published();
    fail_update(
        &fake,
        json!([{"errorCode": "ConfigurationConflict",
                "errorMessage": "Conflicts found when trying to apply. `<!channel>` Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image",
                "resourceIds": ["aws-guardduty-agent"]},
               {"errorCode": "AdmissionRequestDenied", "errorMessage": "denied by gatekeeper", "resourceIds": []}]),
    );
    fake.set(|s| s.addon_status = Some("DEGRADED"));

    let summary = follow_up(&app, input, "req-1").await;
    assert_eq!(summary.outcome, "follow-up-failed");
    assert_eq!(summary.event_id, EVENT_ID);
    assert!(summary.message_id.is_some());

    let describe = fake.requests("DescribeUpdate");
    assert_eq!(describe.len(), 1);
    assert_eq!(
        describe[0].path,
        format!("/clusters/{CLUSTER}/updates/update-1")
    );
    assert_eq!(describe[0].query, "addonName=aws-guardduty-agent");
    assert_eq!(
        fake.requests("UpdateAddon").len(),
        1,
        "no retry of the OVERWRITE"
    );

    // The claim: a disabled marker named from the update and the outcome.
    let marker = &fake.schedules()["update-1-posted-failed"];
    assert_eq!(marker["State"], "DISABLED");
    assert_eq!(marker["ActionAfterCompletion"], "NONE");
    assert_eq!(marker["GroupName"], GROUP);
    let claim: Value = serde_json::from_str(marker["Target"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(claim["claim"]["outcome"], "failed");
    assert_eq!(claim["claim"]["request_id"], "req-1");

    let (subject, message, attributes) = fake.last_published();
    assert_eq!(
        subject,
        "[HIGH] OVERWRITE update failed on prod-payments (us-east-1)"
    );
    assert_eq!(attributes["outcome"], "follow-up-failed");
    assert_eq!(attributes["severity"], "high");
    assert_eq!(chat(&message)["metadata"]["threadId"], THREAD);
    assert_eq!(
        chat(&alert)["metadata"]["threadId"],
        THREAD,
        "the same thread as the OVERWRITE alert"
    );
    let text = description(&message);
    assert!(text.contains("OVERWRITE update update-1 failed"), "{text}");
    assert!(
        text.contains("`ConfigurationConflict`: fields EKS manages"),
        "{text}"
    );
    assert!(
        text.contains("`AdmissionRequestDenied`: an admission controller"),
        "{text}"
    );
    assert!(text.contains("denied by gatekeeper"));
    assert!(
        !message.contains("<!channel>"),
        "EKS's text is inert: {message}"
    );
    assert!(
        text.contains("Add-on aws-guardduty-agent now: DEGRADED"),
        "{text}"
    );
    assert!(text.contains("The OVERWRITE is not retried from here."));
}

#[tokio::test]
async fn a_successful_update_posts_how_long_it_took_and_the_add_on_now() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let input = overwrite(&fake, &app).await;
    fake.set_update("update-1", |u| {
        u["status"] = json!("Successful");
        u["createdAt"] = json!(now() - 7 * 60 - 10);
    });
    fake.set(|s| {
        s.addon_status = Some("ACTIVE");
        s.health_codes = vec![];
    });
    let summary = follow_up(&app, input, "req-1").await;
    assert_eq!(summary.outcome, "follow-up-succeeded");
    let (subject, message, attributes) = fake.last_published();
    assert_eq!(
        subject,
        "[INFO] OVERWRITE update succeeded on prod-payments (us-east-1)"
    );
    assert_eq!(attributes["severity"], "info");
    let text = description(&message);
    assert!(
        text.contains("OVERWRITE update update-1 succeeded after 7 min; waiting for GuardDuty to report the cluster Healthy"),
        "{text}"
    );
    assert!(text.contains("Add-on aws-guardduty-agent now: ACTIVE, version v1.10.0-eksbuild.2"));
    assert_eq!(chat(&message)["metadata"]["threadId"], THREAD);
    assert_eq!(
        fake.requests("DescribeAddon").len(),
        2,
        "the alert's and the follow-up's"
    );
}

#[tokio::test]
async fn an_update_in_progress_is_looked_at_again_then_given_up() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let input = overwrite(&fake, &app).await;
    let published = fake.requests("Publish").len();

    // Still running: the next look is scheduled and nothing is posted.
    let summary = follow_up(&app, input, "req-1").await;
    assert_eq!(summary.outcome, "follow-up-rescheduled");
    assert_eq!(
        summary.next_schedule.as_deref(),
        Some("update-1-followup-2")
    );
    assert_eq!(
        fake.requests("Publish").len(),
        published,
        "quiet while it runs"
    );
    let second = fake.schedule_input("update-1-followup-2");
    assert_eq!(second["follow_up"]["attempt"], 2);
    let body = &fake.schedules()["update-1-followup-2"];
    assert_eq!(body["State"], "ENABLED");
    assert_eq!(body["ActionAfterCompletion"], "DELETE");
    assert_eq!(body["Target"]["Arn"], FUNCTION_ARN);

    // Look 2, still running: look 3.
    let summary = follow_up(&app, second.clone(), "req-2").await;
    assert_eq!(
        summary.next_schedule.as_deref(),
        Some("update-1-followup-3")
    );

    // Thirty minutes after the OVERWRITE the looks stop, and say so once.
    let mut late = fake.schedule_input("update-1-followup-3");
    late["follow_up"]["started_at"] = json!(now() - 26 * 60);
    fake.set_update("update-1", |u| u["createdAt"] = json!(now() - 26 * 60));
    let summary = follow_up(&app, late, "req-3").await;
    assert_eq!(summary.outcome, "follow-up-still-running");
    assert_eq!(summary.next_schedule, None);
    assert!(!fake.schedules().contains_key("update-1-followup-4"));
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "follow-up-still-running");
    let text = description(&message);
    assert!(
        text.contains("OVERWRITE update update-1 is still InProgress 26 min after it started"),
        "{text}"
    );
    assert!(
        text.contains("the follow-ups stop looking 30 min after the OVERWRITE"),
        "{text}"
    );
    assert_eq!(chat(&message)["metadata"]["threadId"], THREAD);
}

#[tokio::test]
async fn an_update_eks_does_not_know_is_said() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let mut input = overwrite(&fake, &app).await;
    input["follow_up"]["update_id"] = json!("no-such-update");
    let summary = follow_up(&app, input, "req-1").await;
    assert_eq!(summary.outcome, "follow-up-unknown-update");
    let (_, message, _) = fake.last_published();
    let text = description(&message);
    assert!(
        text.contains("EKS does not know OVERWRITE update no-such-update of aws-guardduty-agent on this cluster (EKS said: ResourceNotFoundException: no update)"),
        "{text}"
    );
    assert!(
        fake.schedules()
            .contains_key("no-such-update-posted-unknown-update")
    );
}

#[tokio::test]
async fn a_duplicate_delivery_posts_at_most_once_per_outcome() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let input = overwrite(&fake, &app).await;

    // Two deliveries of look 1 while the update runs: one look 2.
    let first = follow_up(&app, input.clone(), "req-1").await;
    let second = follow_up(&app, input.clone(), "req-2").await;
    assert_eq!(first.outcome, "follow-up-rescheduled");
    assert_eq!(second.outcome, "follow-up-already-rescheduled");
    assert_eq!(
        fake.schedules()
            .keys()
            .filter(|k| k.contains("followup-2"))
            .count(),
        1
    );
    let published = fake.requests("Publish").len();

    // Two deliveries once it has succeeded: one message.
    fake.set_update("update-1", |u| u["status"] = json!("Successful"));
    let first = follow_up(&app, input.clone(), "req-3").await;
    let second = follow_up(&app, input.clone(), "req-4").await;
    assert_eq!(first.outcome, "follow-up-succeeded");
    assert_eq!(second.outcome, "follow-up-duplicate-succeeded");
    assert_eq!(second.message_id, None);
    assert_eq!(fake.requests("Publish").len(), published + 1, "posted once");
    // The second found the marker and read whose claim it is.
    let gets = fake.requests("GetSchedule");
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].path, "/schedules/update-1-posted-succeeded");
    assert_eq!(gets[0].query, format!("groupName={GROUP}"));
    // Look 2 arrives later and finds the same outcome already posted.
    let late = follow_up(&app, fake.schedule_input("update-1-followup-2"), "req-5").await;
    assert_eq!(late.outcome, "follow-up-duplicate-succeeded");
    assert_eq!(fake.requests("Publish").len(), published + 1);
}

#[tokio::test]
async fn lambdas_retry_after_a_failed_publish_posts_the_outcome() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let input = overwrite(&fake, &app).await;
    fail_update(&fake, json!([]));
    // SNS refuses once (not a retried error): the invocation fails.
    fake.fail(
        "Publish",
        403,
        "AuthorizationError",
        "not authorized",
        Some(1),
    );
    let error = app
        .dispatch(input.clone(), delivery("req-1"))
        .await
        .unwrap_err();
    assert!(matches!(error, HandlerError::Publish { .. }), "{error}");
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "AlertNotPublished"
    );
    // Lambda retries with the same request id: the claim is its own, it posts.
    let retried = follow_up(&app, input.clone(), "req-1").await;
    assert_eq!(retried.outcome, "follow-up-failed");
    assert!(retried.message_id.is_some());
    // A second delivery (another request id) still posts nothing.
    let duplicate = follow_up(&app, input, "req-2").await;
    assert_eq!(duplicate.outcome, "follow-up-duplicate-failed");
    let (_, message, _) = fake.last_published();
    assert!(description(&message).contains("OVERWRITE update update-1 failed"));
}

#[tokio::test]
async fn scheduler_failing_still_publishes_the_alert_saying_why() {
    let fake = FakeAws::start().await;
    fake.fail(
        "CreateSchedule",
        403,
        "AccessDeniedException",
        "not authorized to perform: scheduler:CreateSchedule",
        None,
    );
    let app = app(&fake, config()).await;
    let Reply::Event(summary) = app.dispatch(event(CONFLICT), home()).await.unwrap() else {
        panic!()
    };
    assert_eq!(summary.outcome, "update-started");
    assert_eq!(summary.follow_up, Some("schedule-failed"));
    assert_eq!(fake.requests("UpdateAddon").len(), 1);
    let (_, message, attributes) = fake.last_published();
    assert_eq!(attributes["outcome"], "update-started");
    let text = description(&message);
    assert!(
        text.contains("Follow-up: could not be scheduled (CreateSchedule failed: AccessDeniedException: not authorized to perform: scheduler:CreateSchedule), so nothing will be posted when the update ends; check it with: aws eks describe-update --name prod-payments --addon-name aws-guardduty-agent --update-id update-1 --region us-east-1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_hanging_scheduler_is_bounded_and_the_alert_still_goes_out_in_time() {
    let fake = FakeAws::start().await;
    fake.set(|s| {
        s.delays.insert("CreateSchedule", Duration::from_secs(60));
    });
    let app = app(
        &fake,
        Config {
            publish_timeout: Duration::from_secs(1),
            ..config()
        },
    )
    .await;
    let deadline_in = Duration::from_secs(6);
    let started = Instant::now();
    let Reply::Event(summary) = app
        .dispatch(
            fresh_event(CONFLICT),
            invocation_with_deadline(FUNCTION_ARN, deadline_in.as_millis() as u64),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let took = started.elapsed();
    assert!(took < deadline_in, "the invocation took {took:?}");
    assert_eq!(summary.follow_up, Some("schedule-failed"));
    let (_, message, _) = fake.last_published();
    assert!(
        description(&message).contains("could not be scheduled (Scheduler did not answer within"),
        "{message}"
    );
}

#[tokio::test]
async fn without_follow_up_settings_nothing_is_scheduled_and_the_alert_says_so() {
    let fake = FakeAws::start().await;
    let app = app(
        &fake,
        Config {
            follow_up: None,
            ..config()
        },
    )
    .await;
    let Reply::Event(summary) = app.dispatch(event(CONFLICT), home()).await.unwrap() else {
        panic!()
    };
    assert_eq!(summary.follow_up, Some("not-configured"));
    assert!(fake.requests("CreateSchedule").is_empty());
    let (_, message, _) = fake.last_published();
    assert!(description(&message).contains("follow-ups are not configured"));
}

#[tokio::test]
async fn a_malformed_or_foreign_follow_up_fails_the_invocation_and_calls_nothing() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    let good = json!({"follow_up": {
        "account": ACCOUNT, "region": "us-east-1", "cluster": CLUSTER,
        "addon": "aws-guardduty-agent", "update_id": "update-1", "event_id": EVENT_ID,
        "attempt": 1, "started_at": now()
    }});
    for (edit, error_type) in [
        (json!({"cluster": "x; rm -rf /"}), "MalformedFollowUp"),
        (json!({"addon": "vpc-cni"}), "MalformedFollowUp"),
        (json!({"attempt": 0}), "MalformedFollowUp"),
        (json!({"account": "444455556666"}), "FollowUpRejected"),
        (json!({"region": "eu-west-1"}), "FollowUpRejected"),
    ] {
        let mut payload = good.clone();
        for (key, value) in edit.as_object().unwrap() {
            payload["follow_up"][key] = value.clone();
        }
        let error = app.dispatch(payload, delivery("req-1")).await.unwrap_err();
        assert!(matches!(error, HandlerError::FollowUp(_)), "{error}");
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, error_type, "{edit}");
        assert!(diagnostic.error_message.starts_with("rejected follow-up: "));
    }
    let error = app
        .dispatch(json!({"follow_up": "update-1"}), delivery("req-1"))
        .await
        .unwrap_err();
    assert_eq!(
        lambda_runtime::Diagnostic::from(error).error_type,
        "MalformedFollowUp"
    );
    assert!(
        fake.all_requests().is_empty(),
        "no read, no write, no message"
    );
}

fn healthy(minutes_after: i64) -> Value {
    let mut value = event("healthy.recovered.json");
    value["time"] = json!(coverage_core::decide::format_time(
        now() + minutes_after * 60
    ));
    value
}

#[tokio::test]
async fn the_recovery_notice_names_the_overwrite_it_followed() {
    let fake = FakeAws::start().await;
    let app = app(&fake, config()).await;
    overwrite(&fake, &app).await;
    fake.set_update("update-1", |u| u["status"] = json!("Successful"));
    fake.set(|s| s.coverage_status = "HEALTHY");
    let Reply::Event(summary) = app.dispatch(healthy(12), home()).await.unwrap() else {
        panic!()
    };
    assert_eq!(summary.outcome, "recovery-notice");
    assert_eq!(
        fake.requests("ListUpdates").len(),
        2,
        "the alert's and the notice's"
    );
    let (_, message, _) = fake.last_published();
    let chat = chat(&message);
    assert_eq!(chat["metadata"]["threadId"], THREAD);
    let text = chat["content"]["description"].as_str().unwrap();
    assert!(
        text.contains("It recovered 12 minutes after OVERWRITE update update-1 (Successful)"),
        "{text}"
    );
    assert_eq!(
        chat["metadata"]["additionalContext"]["recoveredAfterUpdateId"],
        "update-1"
    );
}

#[tokio::test]
async fn a_recovery_without_a_preceding_overwrite_names_none() {
    let fake = FakeAws::start().await;
    // Only a plain update, and an OVERWRITE two days ago.
    fake.past_update("Successful", 600, false);
    fake.past_update("Successful", 2 * 86_400, true);
    fake.set(|s| s.coverage_status = "HEALTHY");
    let app = app(&fake, config()).await;
    let Reply::Event(summary) = app.dispatch(healthy(0), home()).await.unwrap() else {
        panic!()
    };
    assert_eq!(summary.outcome, "recovery-notice");
    assert_eq!(fake.requests("ListUpdates").len(), 1);
    let (_, message, _) = fake.last_published();
    let text = description(&message);
    assert!(text.contains("Nothing: coverage is back."), "{text}");
    assert!(!text.contains("It recovered"), "{text}");
    assert!(
        text.contains("Add-on update history: 2 update(s), 1 with OVERWRITE"),
        "{text}"
    );
}
