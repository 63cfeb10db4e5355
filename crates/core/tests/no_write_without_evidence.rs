//! The pipeline's central promise, as a property: whatever the event and
//! whatever the shell answers, `Next::Write` is asked for only in `enforce`,
//! for a GuardDuty `ConfigurationConflict` in the function's own account and
//! region, with every fact the guardrails depend on read and positive; in
//! `approve` the first pass never writes (only an approval invocation may),
//! and a token is signed and offered only on that same evidence; and every
//! run ends in one message to publish.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::approval::MAC_BYTES;
use coverage_core::decide::{Outcome, SkipReason};
use coverage_core::facts::{
    AddonHealthIssue, AddonState, AddonStatus, CoverageStatus, LiveCoverage, UpdateRecord,
    UpdateStatus,
};
use coverage_core::{
    Fact, Facts, Invocation, Next, Pipeline, Policy, RemediationMode, Settings, WriteResult,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

const NOW_MS: u64 = 1_773_480_127_000;

fn fact<T: std::fmt::Debug + Clone + 'static>(
    known: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Fact<T>> {
    prop_oneof![
        18 => known.prop_map(Fact::Known),
        1 => Just(Fact::Unavailable("AccessDeniedException".into())),
        1 => Just(Fact::NotGathered),
    ]
}

/// Each choice is mostly the good value, so the write is reached often and
/// missed by one condition, or a few, the rest of the time.
fn mostly<T: Clone + std::fmt::Debug + 'static>(good: T, bad: Vec<T>) -> BoxedStrategy<T> {
    let bad = prop::sample::select(bad);
    prop_oneof![8 => Just(good), 1 => bad].boxed()
}

fn addon() -> impl Strategy<Value = AddonState> {
    (
        mostly(
            "DEGRADED",
            vec![
                "UPDATE_FAILED",
                "ACTIVE",
                "UPDATING",
                "CREATE_FAILED",
                "",
                "NEW_STATE",
            ],
        ),
        mostly(Some("v1.10.0-eksbuild.2"), vec![None, Some("")]),
        mostly(
            vec!["ConfigurationConflict"],
            vec![
                vec![],
                vec!["AccessDenied"],
                vec!["AccessDenied", "ConfigurationConflict"],
            ],
        ),
    )
        .prop_map(|(status, version, codes)| AddonState {
            status: AddonStatus::parse(status),
            version: version.map(str::to_owned),
            configuration_values: None,
            health_issues: codes
                .into_iter()
                .map(|code| AddonHealthIssue {
                    code: code.into(),
                    message: String::new(),
                })
                .collect(),
            arn: None,
        })
}

fn coverage() -> impl Strategy<Value = LiveCoverage> {
    (
        mostly(Some("prod-payments"), vec![Some("other"), None]),
        mostly(Some("111122223333"), vec![Some("444455556666"), None]),
        mostly(Some("UNHEALTHY"), vec![Some("HEALTHY"), Some("??"), None]),
    )
        .prop_map(|(cluster, account, status)| LiveCoverage {
            cluster_name: cluster.map(str::to_owned),
            account_id: account.map(str::to_owned),
            coverage_status: status.map(CoverageStatus::parse),
            ..LiveCoverage::default()
        })
}

fn history() -> impl Strategy<Value = Vec<UpdateRecord>> {
    let record = (
        prop::sample::select(vec!["Successful", "Failed", "InProgress", ""]),
        mostly(Some(()), vec![None]),
        -200_000i64..200_000,
        any::<bool>(),
    )
        .prop_map(|(status, dated, age, overwrite)| UpdateRecord {
            id: "u".into(),
            status: UpdateStatus::parse(status),
            created_at: dated.map(|()| 1_773_480_127 - age),
            resolve_conflicts: overwrite.then(|| "OVERWRITE".into()),
        });
    prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec(record, 1..3)]
}

fn event() -> impl Strategy<Value = Value> {
    (
        mostly("aws.guardduty", vec!["evil.source"]),
        mostly("4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37", vec!["", "x y"]),
        mostly(Some("111122223333"), vec![Some("444455556666"), None]),
        mostly(Some("us-east-1"), vec![Some("eu-west-1"), None]),
        mostly(Some("2026-03-14T09:21:07Z"), vec![Some("soon"), None]),
        mostly(
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found",
            vec![
                "Addon Update Failed:EKS Addon Issue - AccessDenied: forbidden",
                "Others:ConfigurationConflict",
            ],
        ),
    )
        .prop_map(|(source, id, account, region, time, issue)| {
            let mut value = json!({
                "version": "0", "id": id, "detail-type": "GuardDuty Runtime Protection Unhealthy",
                "source": source,
                "detail": {"resourceDetails": {"resourceType": "EKS",
                    "eksClusterDetails": {"clusterName": "prod-payments"}}, "issue": issue}
            });
            for (key, field) in [("account", account), ("region", region), ("time", time)] {
                if let Some(field) = field {
                    value[key] = json!(field);
                }
            }
            if let Some(account) = account {
                value["detail"]["resourceAccountId"] = json!(account);
            }
            value
        })
}

fn mode() -> impl Strategy<Value = RemediationMode> {
    mostly(
        RemediationMode::Enforce,
        vec![
            RemediationMode::Off,
            RemediationMode::DryRun,
            RemediationMode::Approve,
        ],
    )
}

fn arn() -> impl Strategy<Value = &'static str> {
    mostly(
        "arn:aws:lambda:us-east-1:111122223333:function:f",
        vec![
            "arn:aws:lambda:eu-west-1:111122223333:function:f",
            "arn:aws:lambda:us-east-1:999988887777:function:f",
            "function-arn",
        ],
    )
}

/// One case: drive the pipeline, answering the signature approve mode asks
/// for; check the write's and the offer's evidence. `Ok((wrote, offered))`.
fn one_case(
    payload: &Value,
    mode: RemediationMode,
    arn: &str,
    addon: &Fact<AddonState>,
    coverage: &Fact<LiveCoverage>,
    history: &Fact<Vec<UpdateRecord>>,
) -> Result<(bool, bool), TestCaseError> {
    let settings = Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        ..Settings::default()
    };
    let invocation = Invocation::lambda(arn, NOW_MS, Some(NOW_MS + 30_000));
    let mut pipeline = Pipeline::new(payload, &settings, invocation).unwrap();
    let facts = Facts {
        addon: addon.clone(),
        coverage: coverage.clone(),
        update_history: history.clone(),
        ..Facts::default()
    };
    if let Next::Gather { .. } = pipeline.poll() {
        pipeline.gathered(facts, NOW_MS + 10);
    }
    let mut offered = false;
    if let Next::Sign { .. } = pipeline.poll() {
        // Approve mode asks for a signature only where the write's own
        // evidence holds: the token it offers is that evidence, signed.
        prop_assert_eq!(mode, RemediationMode::Approve);
        evidence(payload, arn, addon, coverage, history)?;
        pipeline.signed(Ok(vec![7; MAC_BYTES]), NOW_MS + 15);
        let reason = match pipeline.outcome() {
            Some(Outcome::Skipped { reason, .. }) => reason.clone(),
            other => return Err(TestCaseError::fail(format!("no offer: {other:?}"))),
        };
        prop_assert!(
            matches!(reason, SkipReason::ApprovalOffered { .. }),
            "{:?}",
            reason
        );
        offered = true;
    }
    if !offered {
        // No signature asked, no token offered.
        let offer = matches!(
            pipeline.outcome(),
            Some(Outcome::Skipped {
                reason: SkipReason::ApprovalOffered { .. },
                ..
            })
        );
        prop_assert!(!offer, "{:?}", pipeline.outcome());
    }
    let mut wrote = false;
    if let Next::Write { request, .. } = pipeline.poll() {
        wrote = true;
        // Not approve mode either: its first pass only offers the token.
        prop_assert_eq!(mode, RemediationMode::Enforce);
        evidence(payload, arn, addon, coverage, history)?;
        prop_assert_eq!(
            request.client_request_token.as_str(),
            payload["id"].as_str().unwrap()
        );
        let addon = addon.known().expect("the add-on was read");
        prop_assert_eq!(request.addon_version.as_deref(), addon.version.as_deref());
        pipeline.wrote(
            WriteResult::Started {
                update_id: "u-1".into(),
                status: "InProgress".into(),
            },
            NOW_MS + 20,
        );
    }
    // Every path ends in exactly one message to publish.
    let published = matches!(pipeline.poll(), Next::Publish { .. });
    prop_assert!(published, "{:?}", pipeline.poll());
    pipeline.published(Ok("m".into()), NOW_MS + 30);
    prop_assert!(matches!(pipeline.poll(), Next::Done(_)));
    Ok((wrote, offered))
}

/// Every fact the OVERWRITE depends on, read and positive.
fn evidence(
    payload: &Value,
    arn: &str,
    addon: &Fact<AddonState>,
    coverage: &Fact<LiveCoverage>,
    history: &Fact<Vec<UpdateRecord>>,
) -> Result<(), TestCaseError> {
    // Where the function runs is where the cluster is.
    let parts: Vec<&str> = arn.split(':').collect();
    prop_assert_eq!(parts.len(), 7);
    prop_assert_eq!(&payload["region"], parts[3]);
    prop_assert_eq!(&payload["account"], parts[4]);
    prop_assert_eq!(&payload["detail"]["resourceAccountId"], parts[4]);
    prop_assert_eq!(&payload["source"], "aws.guardduty");
    prop_assert_eq!(&payload["time"], "2026-03-14T09:21:07Z");
    prop_assert!(
        payload["detail"]["issue"]
            .as_str()
            .unwrap()
            .contains("EKS Addon Issue - ConfigurationConflict")
    );
    let addon = addon.known().expect("the add-on was read");
    prop_assert!(matches!(
        addon.status,
        AddonStatus::Degraded | AddonStatus::UpdateFailed
    ));
    prop_assert!(addon.reports_conflict());
    prop_assert!(addon.version.as_deref().is_some_and(|v| !v.is_empty()));
    let coverage = coverage.known().expect("coverage was read");
    prop_assert_eq!(
        coverage.coverage_status.clone(),
        Some(CoverageStatus::Unhealthy)
    );
    prop_assert_eq!(coverage.cluster_name.as_deref(), Some("prod-payments"));
    prop_assert_eq!(coverage.account_id.as_deref(), payload["account"].as_str());
    let history = history.known().expect("the history was read");
    // The event's time, 2026-03-14T09:21:07Z.
    let event_time = 1_773_480_067;
    for update in history {
        prop_assert!(update.status.is_final(), "{:?}", update);
        let created = update.created_at.expect("dated");
        prop_assert!(created < event_time, "{:?}", update);
        prop_assert!(
            !(update.is_overwrite() && 1_773_480_127 - created < 86_400),
            "{:?}",
            update
        );
    }
    Ok(())
}

#[test]
fn a_write_is_asked_for_only_on_positive_evidence() {
    // A fixed seed and count: the same 1024 cases every run (mutation testing
    // included, whatever PROPTEST_CASES says), so the count below is stable.
    let cases = 1024;
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let writes = std::cell::Cell::new(0u32);
    let offers = std::cell::Cell::new(0u32);
    let strategy = (
        event(),
        mode(),
        arn(),
        fact(addon()),
        fact(coverage()),
        fact(history()),
    );
    runner
        .run(
            &strategy,
            |(payload, mode, arn, addon, coverage, history)| {
                let (wrote, offered) = one_case(&payload, mode, arn, &addon, &coverage, &history)?;
                writes.set(writes.get() + u32::from(wrote));
                offers.set(offers.get() + u32::from(offered));
                Ok(())
            },
        )
        .unwrap();
    // Not vacuous: the biased strategy reaches the write in a share of the
    // cases and misses it, by one condition or a few, in the rest.
    let writes = writes.get();
    assert!(
        writes * 50 > cases,
        "only {writes} of {cases} cases reached the write"
    );
    assert!(
        writes * 2 < cases,
        "{writes} of {cases} cases reached the write"
    );
    // And approve mode's offer is reached too, not only refused.
    let offers = offers.get();
    assert!(offers > 0, "no case was offered a token");
}

#[test]
fn the_property_reaches_the_write_at_all() {
    // The strategy must be able to produce the one allowed case, or the
    // property above would hold vacuously.
    let payload = json!({
        "version": "0", "id": "4f1c2a9e-7b3d-4e8a-9c61-2d5e8f0a1b37",
        "detail-type": "GuardDuty Runtime Protection Unhealthy", "source": "aws.guardduty",
        "account": "111122223333", "region": "us-east-1", "time": "2026-03-14T09:21:07Z",
        "detail": {"resourceAccountId": "111122223333", "resourceDetails": {"resourceType": "EKS",
            "eksClusterDetails": {"clusterName": "prod-payments"}},
            "issue": "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found"}
    });
    let settings = Settings {
        policy: Policy {
            mode: RemediationMode::Enforce,
            ..Policy::default()
        },
        ..Settings::default()
    };
    let invocation = Invocation::lambda(
        "arn:aws:lambda:us-east-1:111122223333:function:f",
        NOW_MS,
        Some(NOW_MS + 30_000),
    );
    let mut pipeline = Pipeline::new(&payload, &settings, invocation).unwrap();
    pipeline.gathered(
        Facts {
            addon: Fact::Known(AddonState {
                status: AddonStatus::Degraded,
                version: Some("v1.10.0-eksbuild.2".into()),
                configuration_values: None,
                health_issues: vec![AddonHealthIssue {
                    code: "ConfigurationConflict".into(),
                    message: String::new(),
                }],
                arn: None,
            }),
            coverage: Fact::Known(LiveCoverage {
                cluster_name: Some("prod-payments".into()),
                account_id: Some("111122223333".into()),
                coverage_status: Some(CoverageStatus::Unhealthy),
                ..LiveCoverage::default()
            }),
            update_history: Fact::Known(vec![]),
            ..Facts::default()
        },
        NOW_MS,
    );
    assert!(matches!(pipeline.poll(), Next::Write { .. }));
}
