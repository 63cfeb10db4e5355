//! The chat notification's limits and inertness, whatever the input: for
//! every event in `events/` (each outcome the function can report), for a
//! 1 MiB issue string, for hostile strings in every untrusted field, for a
//! follow-up quoting hostile and huge EKS errors, and for arbitrary issue
//! strings and cluster names (proptest). Limits are counted in UTF-16 code
//! units, as the chat clients count (crates/core/src/render/chat.rs); the
//! plain text is checked for untrusted values that start a line. Also: a
//! failure every read shares (no credentials) is said once.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::audit::{AuditFailure, AuditTrail};
use coverage_core::decide::Outcome;
use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatus, LiveCoverage,
};
use coverage_core::render::{MAX_DESCRIPTION, MAX_KEYWORD, MAX_NEXT_STEP, MAX_TITLE};
use coverage_core::{
    Alert, Decision, Fact, Facts, FunctionIdentity, Policy, RemediationMode, decide, decode_event,
    decode_event_bytes, render,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Tokens that must never reach a chat field as written, not even inside
/// code: Slack mentions (both forms), a Slack link, the Unicode line and
/// paragraph separators.
const HOSTILE_TOKENS: &[&str] = &[
    "<!channel>",
    "<!here>",
    "@here",
    "@channel",
    "\u{2028}",
    "\u{2029}",
    "<https://evil.example|",
];

/// Markdown that is inert inside a code span or block but must not reach
/// the markdown outside them: a link, a bold run, and the hostile string's
/// own backticked word (it would be outside code if a backtick closed ours).
const HOSTILE_MARKDOWN: &[&str] = &["](https://evil.example", "*bold*", "`pwn`", "pwn`"];

/// The markdown with our code blocks and code spans taken out. Untrusted
/// backticks are replaced, so the only backticks are ours.
fn outside_code(markdown: &str) -> String {
    let mut out = String::new();
    for (index, part) in markdown.split("```").enumerate() {
        if index % 2 == 0 {
            for (index, part) in part.split('`').enumerate() {
                if index % 2 == 0 {
                    out.push_str(part);
                }
            }
        }
    }
    out
}

/// One string carrying every hostile token, and a fake line of the alert's
/// own after each kind of line break.
const HOSTILE: &str = "x <!channel> <!here> @here @channel [click](https://evil.example) *bold* `pwn` <https://evil.example|ok>\nFAKE: newline\rFAKE: cr\u{2028}FAKE: ls\u{2029}FAKE: ps\u{85}FAKE: nel";

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Every limit, and no hostile token in any string of the notification.
fn assert_chat(body: &str, what: &str) {
    let chat: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}"));
    let content = &chat["content"];
    let title = content["title"].as_str().unwrap();
    assert!(
        units(title) <= MAX_TITLE,
        "{what}: title of {}",
        units(title)
    );
    assert!(!title.contains('\n'), "{what}: title has a line break");
    let description = content["description"].as_str().unwrap();
    assert!(
        units(description) <= MAX_DESCRIPTION,
        "{what}: description of {} units",
        units(description)
    );
    assert_eq!(
        description.matches("```").count() % 2,
        0,
        "{what}: a code fence left open"
    );
    for step in content["nextSteps"].as_array().unwrap() {
        let step = step.as_str().unwrap();
        assert!(
            units(step) <= MAX_NEXT_STEP,
            "{what}: step of {}",
            units(step)
        );
    }
    for keyword in content["keywords"].as_array().unwrap() {
        let keyword = keyword.as_str().unwrap();
        assert!(units(keyword) <= MAX_KEYWORD, "{what}: keyword {keyword:?}");
        assert!(
            keyword.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{what}: keyword {keyword:?}"
        );
    }
    let summary = chat["metadata"]["summary"].as_str().unwrap();
    assert!(
        summary.chars().all(|c| c.is_ascii_graphic() || c == ' '),
        "{what}: summary {summary:?}"
    );
    let thread = chat["metadata"]["threadId"].as_str().unwrap();
    assert!(
        thread
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c)),
        "{what}: thread id {thread:?}"
    );
    for markdown in [title, description] {
        let prose = outside_code(markdown);
        for token in HOSTILE_MARKDOWN {
            assert!(
                !prose.contains(token),
                "{what}: {token:?} reached the markdown outside code in {prose:?}"
            );
        }
    }
    let mut all = Vec::new();
    strings(&chat, &mut all);
    for text in all {
        for token in HOSTILE_TOKENS {
            assert!(
                !text.contains(token),
                "{what}: {token:?} reached the chat as written in {text:?}"
            );
        }
    }
}

/// No untrusted value starts a line: after any line break, no line begins
/// with the hostile string's fake lines (the quoted raw event's lines begin
/// with `  | `).
fn assert_plain(text: &str, what: &str) {
    for line in text.split([
        '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}',
    ]) {
        assert!(
            !line.trim_start().starts_with("FAKE"),
            "{what}: an untrusted value starts the line {line:?}"
        );
    }
}

fn assert_alert(alert: &Alert, what: &str) {
    assert_chat(&alert.chat_message, what);
    assert_plain(&alert.text_message, what);
    // The subject and the attributes carry no mention or link syntax either.
    for text in std::iter::once(&alert.subject).chain(alert.attributes.values()) {
        for token in ["<!", "@here", "@channel", "](http", "<https:"] {
            assert!(!text.contains(token), "{what}: {token:?} in {text:?}");
        }
    }
}

/// Facts as the Lambda reads them, every untrusted one carrying `text`.
fn facts(text: &str) -> Facts {
    Facts {
        now: Some(1_773_480_127),
        function: Fact::Known(
            FunctionIdentity::from_arn("arn:aws:lambda:us-east-1:111122223333:function:coverage")
                .unwrap(),
        ),
        detector_id: Fact::Unavailable(text.into()),
        addon: Fact::Known(AddonState {
            status: AddonStatus::Degraded,
            version: Some(text.into()),
            configuration_values: Some(text.into()),
            health_issues: vec![AddonHealthIssue {
                code: "ConfigurationConflict".into(),
                message: text.into(),
            }],
            arn: Some(text.into()),
        }),
        update_history: Fact::Unavailable(text.into()),
        coverage: Fact::Known(LiveCoverage {
            cluster_name: Some(text.into()),
            account_id: Some("111122223333".into()),
            coverage_status: Some(CoverageStatus::Unhealthy),
            issue: Some(text.into()),
            management_type: Some(text.into()),
            ..LiveCoverage::default()
        }),
        statistics: Fact::Unavailable(text.into()),
        audit_log: Fact::Unavailable(text.into()),
        // STS's error for a member role that could not be assumed: untrusted too.
        role_not_assumed: Some(text.into()),
    }
}

/// Every alert an event can give: offline dry-run, and with facts in each
/// mode, with the OVERWRITE's every reported outcome when it is planned.
fn every_alert(value: &Value, text: &str, what: &str) {
    let Ok(event) = decode_event(value) else {
        return;
    };
    for (facts, mode) in [
        (Facts::offline(), RemediationMode::DryRun),
        (facts(text), RemediationMode::DryRun),
        (facts(text), RemediationMode::Enforce),
        (facts(text), RemediationMode::Off),
    ] {
        let plan = decide(
            &event,
            &facts,
            &Policy {
                mode,
                ..Policy::default()
            },
        );
        let outcomes = match (&plan.decision, plan.outcome_without_call()) {
            (_, Some(outcome)) => vec![outcome],
            (Decision::Overwrite(request), None) => vec![
                Outcome::UpdateFailed {
                    request: request.clone(),
                    error: text.into(),
                },
                Outcome::UpdateInFlight {
                    request: request.clone(),
                    message: text.into(),
                },
                Outcome::UpdateOutcomeUnknown {
                    request: request.clone(),
                    why: text.into(),
                },
            ],
            (decision, None) => panic!("{what}: no outcome for {decision:?}"),
        };
        for outcome in outcomes {
            assert_alert(&render(&plan, &outcome), &format!("{what} ({mode:?})"));
        }
    }
}

fn events() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "events/ holds {} files", files.len());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn every_event_file_fits_the_chat() {
    let mut rendered = 0;
    for (name, bytes) in events() {
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            // Not JSON: the Lambda answers with an error, no alert (decode_errors.rs).
            assert!(decode_event_bytes(&bytes).is_err(), "{name}");
            continue;
        };
        every_alert(&value, "ThrottlingException: Rate exceeded", &name);
        rendered += 1;
    }
    assert!(rendered >= 29, "only {rendered} events rendered");
}

/// Every event in `events/` with each untrusted field it has replaced by
/// the hostile string (and the facts carrying it), then the issue and the
/// cluster name by 1 MiB of it.
#[test]
fn every_event_file_with_hostile_and_huge_values_fits_the_chat() {
    let huge = HOSTILE.repeat(1024 * 1024 / HOSTILE.len() + 1);
    for (name, bytes) in events() {
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let cases = [
            (HOSTILE, "/detail/issue"),
            (
                HOSTILE,
                "/detail/resourceDetails/eksClusterDetails/clusterName",
            ),
            (
                HOSTILE,
                "/detail/resourceDetails/ecsClusterDetails/clusterName",
            ),
            (HOSTILE, "/detail/resourceDetails/resourceType"),
            (HOSTILE, "/detail/resourceAccountId"),
            (HOSTILE, "/id"),
            (HOSTILE, "/account"),
            (HOSTILE, "/region"),
            (HOSTILE, "/time"),
            (huge.as_str(), "/detail/issue"),
            (
                huge.as_str(),
                "/detail/resourceDetails/eksClusterDetails/clusterName",
            ),
        ];
        for (text, pointer) in cases {
            let mut value = value.clone();
            if let Some(slot) = value.pointer_mut(pointer) {
                *slot = json!(text);
                let what = format!("{name} {pointer} ({} bytes)", text.len());
                every_alert(&value, HOSTILE, &what);
            }
        }
        // The issue inside the conflict code too, so that the add-on code is hostile.
        let mut value = value.clone();
        if let Some(slot) = value.pointer_mut("/detail/issue") {
            *slot = json!(format!(
                "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: {HOSTILE}"
            ));
            every_alert(&value, HOSTILE, &format!("{name} conflict"));
        }
    }
}

/// Every fact the Lambda reads at 1 MiB of hostile text, on the event
/// whose alert says the most.
#[test]
fn huge_hostile_facts_fit_the_chat() {
    let huge = HOSTILE.repeat(1024 * 1024 / HOSTILE.len() + 1);
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/unhealthy.addon-configuration-conflict.json"
    ))
    .unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    every_alert(&value, &huge, "1 MiB facts");
}

#[test]
fn a_one_mebibyte_issue_string_fits_the_chat() {
    let issue = format!(
        "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: {}",
        "Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.x ".repeat(1024 * 1024 / 50)
    );
    assert!(issue.len() >= 1024 * 1024);
    let value = json!({
        "version": "0", "id": "e", "detail-type": "GuardDuty Runtime Protection Unhealthy",
        "source": "aws.guardduty", "account": "111122223333", "region": "us-east-1",
        "detail": {"resourceDetails": {"resourceType": "EKS", "eksClusterDetails": {"clusterName": "c"}}, "issue": issue}
    });
    every_alert(&value, &issue, "1 MiB issue");
    let event = decode_event(&value).unwrap();
    let plan = decide(&event, &Facts::offline(), &Policy::offline());
    let alert = render(&plan, &plan.outcome_without_call().unwrap());
    let chat: Value = serde_json::from_str(&alert.chat_message).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("…[truncated: "),
        "the cut is not visible: {description}"
    );
    // What the engineer needs first is still there.
    assert!(
        description.contains("*What this function did:*"),
        "{description}"
    );
    assert!(description.contains("*Docs:*"), "{description}");
}

/// A cluster named `<!channel>` (EKS would refuse it, but the event is
/// untrusted): the title and description quote it inert, the keywords and
/// the summary leave it out, the commands keep the placeholder.
#[test]
fn an_invalid_cluster_name_is_inert_everywhere() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/unhealthy.addon-configuration-conflict.json"
    ))
    .unwrap();
    let mut value: Value = serde_json::from_slice(&bytes).unwrap();
    value["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!("<!channel>");
    let event = decode_event(&value).unwrap();
    let plan = decide(&event, &Facts::offline(), &Policy::offline());
    let alert = render(&plan, &plan.outcome_without_call().unwrap());
    assert_alert(&alert, "<!channel> cluster");
    let chat: Value = serde_json::from_str(&alert.chat_message).unwrap();
    assert!(
        chat["content"]["title"]
            .as_str()
            .unwrap()
            .contains("`‹!channel›`"),
        "{}",
        chat["content"]["title"]
    );
    let keywords = chat["content"]["keywords"].as_array().unwrap();
    assert!(
        keywords
            .iter()
            .all(|k| !k.as_str().unwrap().contains("channel")),
        "{keywords:?}"
    );
    let summary = chat["metadata"]["summary"].as_str().unwrap();
    assert!(summary.starts_with("(invalid cluster name): "), "{summary}");
    assert!(
        chat["metadata"]["relatedResources"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The follow-up's message under the same limits: ten hostile EKS errors
/// of 1 MiB each.
#[test]
fn a_follow_up_with_hostile_huge_errors_fits_the_chat() {
    use coverage_core::follow_up::{
        ClaimResult, FollowUp, FollowUpFacts, FollowUpNext, UpdateDetail, UpdateErrorDetail,
        UpdateLookup,
    };
    use coverage_core::{Invocation, MessageFormat, Settings};

    let started = 1_773_480_127_u64;
    let payload = json!({"follow_up": {
        "account": "111122223333", "region": "us-east-1", "cluster": "prod-payments",
        "addon": "aws-guardduty-agent", "update_id": "b8a4c2f0-3d1e-4f5a-9b6c-7d8e9f0a1b2c",
        "event_id": "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37", "attempt": 2, "started_at": started
    }});
    let huge = HOSTILE.repeat(1024 * 1024 / HOSTILE.len() + 1);
    let error = UpdateErrorDetail {
        code: HOSTILE.into(),
        message: huge.clone(),
        resource_ids: vec![HOSTILE.into(); 20],
    };
    for format in [MessageFormat::Chat, MessageFormat::Text] {
        let settings = Settings {
            format,
            ..Settings::default()
        };
        let now = (started + 600) * 1000;
        let invocation = Invocation::lambda(
            "arn:aws:lambda:us-east-1:111122223333:function:coverage",
            now,
            None,
        );
        let mut follow_up = FollowUp::new(&payload, &settings, invocation).unwrap();
        follow_up.read(
            FollowUpFacts {
                update: UpdateLookup::Found(UpdateDetail {
                    status: coverage_core::facts::UpdateStatus::parse("Failed"),
                    created_at: Some(started as i64),
                    errors: vec![error.clone(); 10],
                }),
                addon: Fact::Known(AddonState {
                    status: AddonStatus::Degraded,
                    version: Some(huge.clone()),
                    configuration_values: None,
                    health_issues: vec![AddonHealthIssue {
                        code: HOSTILE.into(),
                        message: huge.clone(),
                    }],
                    arn: None,
                }),
            },
            now,
        );
        follow_up.claimed(ClaimResult::Claimed, now);
        let FollowUpNext::Publish { message, .. } = follow_up.poll() else {
            panic!("{:?}", follow_up.poll())
        };
        match format {
            MessageFormat::Chat => assert_chat(&message.body, "follow-up"),
            MessageFormat::Text => assert_plain(&message.body, "follow-up"),
        }
    }
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,400}",
        ".{0,400}",
        prop::collection::vec(
            prop_oneof![
                Just("<!channel>".to_owned()),
                Just("@here".to_owned()),
                Just("`".to_owned()),
                Just("```".to_owned()),
                Just("\n".to_owned()),
                Just("\u{2028}".to_owned()),
                Just("[x](https://evil.example)".to_owned()),
                Just("😀".to_owned()),
                "\\PC{0,40}",
            ],
            0..40
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any issue string, cluster name and account meet the limits; the
    /// hostile tokens never reach a field as written.
    #[test]
    fn any_issue_and_cluster_fit_the_chat(
        issue in hostile_text(),
        cluster in hostile_text(),
        code in prop_oneof![Just("ConfigurationConflict"), Just("InsufficientNumberOfReplicas"), Just("AccessDenied")],
        long in 0usize..3000,
    ) {
        let issue = format!("Addon Update Failed:EKS Addon Issue - {code}: {issue}{}", "é".repeat(long));
        let value = json!({
            "version": "0", "id": cluster, "detail-type": "GuardDuty Runtime Protection Unhealthy",
            "source": "aws.guardduty", "account": "111122223333", "region": "us-east-1",
            "time": "2026-03-14T09:21:07Z",
            "detail": {"resourceDetails": {"resourceType": "EKS",
                "eksClusterDetails": {"clusterName": cluster}}, "issue": issue}
        });
        every_alert(&value, &issue, "proptest");
    }
}

/// Without credentials every read fails the same way: the alert says so
/// once, not once per read; a read that fails otherwise keeps its own line.
#[test]
fn every_read_failing_alike_is_said_once() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/unhealthy.addon-configuration-conflict.json"
    ))
    .unwrap();
    let event = decode_event_bytes(&bytes).unwrap();
    let cause =
        "AWS could not be reached: no AWS credentials (the SDK's credential chain found none)";
    let mut facts = Facts {
        now: Some(1_773_480_127),
        function: Fact::Known(
            FunctionIdentity::from_arn("arn:aws:lambda:us-east-1:111122223333:function:coverage")
                .unwrap(),
        ),
        detector_id: Fact::Unavailable(format!("ListDetectors failed: {cause}")),
        addon: Fact::Unavailable(format!("DescribeAddon failed: {cause}")),
        update_history: Fact::Unavailable(format!("ListUpdates failed: {cause}")),
        coverage: Fact::Unavailable(format!(
            "no GuardDuty detector: ListDetectors failed: {cause}"
        )),
        statistics: Fact::Unavailable(format!(
            "no GuardDuty detector: ListDetectors failed: {cause}"
        )),
        audit_log: Fact::Known(AuditTrail::Unreadable {
            failure: AuditFailure::Other {
                message: format!("StartQuery failed: {cause}"),
            },
        }),
        role_not_assumed: None,
    };
    let text = |facts: &Facts| {
        let plan = decide(&event, facts, &Policy::offline());
        let alert = render(&plan, &plan.outcome_without_call().unwrap());
        assert_alert(&alert, "no credentials");
        alert.text_message
    };
    // The live state's lines (the skip reason may quote its own fact).
    let live = |text: &str| -> usize {
        text.lines()
            .filter(|line| {
                line.starts_with("  - ")
                    && line.contains("no AWS credentials")
                    && !line.contains("Last writer")
            })
            .count()
    };
    let once = text(&facts);
    assert_eq!(live(&once), 1, "{once}");
    // The audit log failed the same way: who changed it says so, once.
    assert!(
        once.contains("Last writer: could not be checked: every AWS read failed the same way"),
        "{once}"
    );
    assert!(
        once.contains("Every AWS read failed the same way (add-on, update history, GuardDuty coverage, coverage statistics, GuardDuty detector): AWS could not be reached"),
        "{once}"
    );
    // One read failing otherwise: each keeps its line.
    facts.statistics =
        Fact::Unavailable("GetCoverageStatistics failed: ThrottlingException".into());
    let each = text(&facts);
    assert!(!each.contains("Every AWS read failed"), "{each}");
    assert!(each.contains("ThrottlingException"), "{each}");
    assert_eq!(live(&each), 4, "{each}");
}

#[test]
fn approve_modes_offer_for_a_maximal_cluster_name_fits_with_the_token_intact() {
    use coverage_core::approval::MAC_BYTES;
    use coverage_core::decide::SkipReason;
    use coverage_core::{Invocation, Next, Pipeline, Settings};
    // A valid EKS cluster name of the maximal 100 characters.
    let cluster = format!("p{}", "a1-".repeat(33));
    assert_eq!(cluster.len(), 100);
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/unhealthy.addon-configuration-conflict.json"
    ))
    .unwrap();
    let mut event: Value = serde_json::from_slice(&bytes).unwrap();
    event["detail"]["resourceDetails"]["eksClusterDetails"]["clusterName"] = json!(cluster);
    let settings = Settings {
        policy: coverage_core::Policy {
            mode: RemediationMode::Approve,
            ..coverage_core::Policy::default()
        },
        ..Settings::default()
    };
    let now_ms = 1_773_480_127_000;
    let function = "arn:aws:lambda:us-east-1:111122223333:function:coverage";
    let invocation = Invocation::lambda(function, now_ms, Some(now_ms + 30_000));
    let mut pipeline = Pipeline::new(&event, &settings, invocation).unwrap();
    assert!(matches!(pipeline.poll(), Next::Gather { .. }));
    let mut facts = Facts {
        addon: Fact::Known(AddonState {
            status: AddonStatus::Degraded,
            version: Some("v1.10.0-eksbuild.2".into()),
            // Long values: the description is cut to fit.
            configuration_values: Some(format!(r#"{{"note":"{}"}}"#, "x".repeat(20_000))),
            health_issues: vec![AddonHealthIssue {
                code: "ConfigurationConflict".into(),
                message: "Conflicts found when trying to apply.".into(),
            }],
            arn: None,
        }),
        update_history: Fact::Known(vec![]),
        coverage: Fact::Known(LiveCoverage {
            cluster_name: Some(cluster.clone()),
            account_id: Some("111122223333".into()),
            coverage_status: Some(CoverageStatus::Unhealthy),
            ..LiveCoverage::default()
        }),
        ..Facts::default()
    };
    facts.audit_log = Fact::NotGathered;
    pipeline.gathered(facts, now_ms + 100);
    assert!(
        matches!(pipeline.poll(), Next::Sign { .. }),
        "{:?}",
        pipeline.poll()
    );
    pipeline.signed(Ok(vec![0xfb; MAC_BYTES]), now_ms + 200);
    let Next::Publish { message, .. } = pipeline.poll() else {
        panic!("{:?}", pipeline.poll())
    };
    let Some(Outcome::Skipped {
        reason:
            SkipReason::ApprovalOffered {
                token,
                function: offered_function,
                ..
            },
        ..
    }) = pipeline.outcome()
    else {
        panic!("no offer: {:?}", pipeline.outcome())
    };
    assert_eq!(offered_function, function);
    let alert = coverage_core::render(pipeline.plan().unwrap(), pipeline.outcome().unwrap());
    for (body, what) in [
        (&alert.chat_message, "rendered"),
        (&message.body, "published"),
    ] {
        assert_chat(body, what);
        let chat: Value = serde_json::from_str(body).unwrap();
        let context = &chat["metadata"]["additionalContext"];
        assert_eq!(context["approvalToken"], json!(token), "{what}");
        assert_eq!(context["approveFunction"], json!(function), "{what}");
        assert_eq!(
            chat["metadata"]["enableCustomActions"],
            json!(true),
            "{what}"
        );
        // In the description the token is whole or absent, never cut.
        let description = chat["content"]["description"].as_str().unwrap();
        let head = &token[..16];
        for (at, _) in description.match_indices(head) {
            assert!(
                description[at..].starts_with(token.as_str()),
                "{what}: the token is cut in the description"
            );
        }
    }
    assert_plain(&alert.text_message, "text");
    assert!(alert.text_message.contains(token.as_str()));
}
