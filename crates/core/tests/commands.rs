//! Every command runs as pasted: no filled command of any catalog entry keeps
//! a `<placeholder>` or `‹...›`, whatever is known; unknown values become
//! shell variables set by a line before the command; the OVERWRITE keeps the
//! add-on's version and configuration values, quoted so that the shell hands
//! them over unchanged; an alert shows one OVERWRITE command; and every
//! heredoc in the plain-text alert of every `events/` file still ends with an
//! unindented delimiter. (tests/commands hands each command to the AWS CLI.)

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::catalog::{self, CommandKind};
use coverage_core::commands::{
    AddonSettings, CommandContext, fill_commands, overwrite_command, shell_quote,
};
use coverage_core::facts::{AddonHealthIssue, AddonState, AddonStatus};
use coverage_core::{
    Fact, Facts, Invocation, Next, Pipeline, Settings, decide, decode_event_bytes, render,
};

/// `<word ...>` or a guillemet: what a person would have to replace by hand.
fn placeholder(command: &str) -> Option<&str> {
    if let Some(at) = command.find(['‹', '›']) {
        return Some(&command[at..]);
    }
    let bytes = command.as_bytes();
    for (start, _) in command.match_indices('<') {
        if bytes.get(start + 1).is_some_and(u8::is_ascii_alphabetic)
            && let Some(len) = command[start + 1..].find(['>', '<', '\n'])
            && command[start + 1 + len..].starts_with('>')
        {
            return Some(&command[start..=start + 1 + len]);
        }
    }
    None
}

fn contexts() -> Vec<(&'static str, CommandContext)> {
    let known = CommandContext::new(
        Some("prod-payments"),
        Some("us-east-1"),
        Some("111122223333"),
        "shared VPC vpc-0a1b2c3d4e5f67890, owner account ID 444455556666",
    );
    vec![
        ("known, add-on not read", known.clone()),
        (
            "known, add-on read",
            known.with_addon_settings(Some(AddonSettings {
                version: Some("v1.10.0-eksbuild.2".into()),
                configuration_values: Some(r#"{"note":"it's"}"#.into()),
            })),
        ),
        // An event whose cluster, region and account are not valid identifiers.
        (
            "nothing valid",
            CommandContext::new(Some("<!channel>"), Some("<region>"), Some("x"), ""),
        ),
    ]
}

#[test]
fn the_placeholder_check_finds_placeholders() {
    assert_eq!(
        placeholder("--version <next minor version>"),
        Some("<next minor version>")
    );
    assert_eq!(placeholder("owner=‹team›"), Some("‹team›"));
    assert_eq!(placeholder("cat <<'EOF' > a.yaml"), None);
    assert_eq!(placeholder("a < b > c"), None);
}

#[test]
fn no_filled_command_of_any_entry_keeps_a_placeholder() {
    let mut checked = 0;
    for entry in catalog::entries() {
        for (name, context) in contexts() {
            for command in fill_commands(entry, &context) {
                checked += 1;
                assert_eq!(
                    placeholder(&command.command),
                    None,
                    "{} ({name}): {}\n{}",
                    entry.id,
                    command.purpose,
                    command.command
                );
                if command.kind == CommandKind::Shell {
                    assert!(
                        !command.command.contains("<!channel>"),
                        "{}",
                        command.command
                    );
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn unknown_values_become_variables_set_before_the_command() {
    let conflict = catalog::entry("addon-configuration-conflict").unwrap();
    let (_, nothing) = contexts().pop().unwrap();
    let overwrite = fill_commands(conflict, &nothing)
        .into_iter()
        .find(|c| c.is_overwrite())
        .unwrap()
        .command;
    let lines: Vec<&str> = overwrite.lines().collect();
    assert_eq!(
        lines[0],
        r#": "${CLUSTER:?set CLUSTER to the EKS cluster name}""#
    );
    assert!(
        lines[2].starts_with("VERSION=$(aws eks describe-addon --cluster-name \"$CLUSTER\""),
        "{overwrite}"
    );
    assert!(
        lines[3].starts_with("CONFIG=$(aws eks describe-addon"),
        "{overwrite}"
    );
    assert!(
        lines[4].ends_with(r#"--resolve-conflicts OVERWRITE --addon-version "$VERSION" --configuration-values "$CONFIG""#),
        "{overwrite}"
    );
    // Inside single-quoted JSON the quote is closed around the variable.
    let coverage = fill_commands(catalog::entry("unrecognized").unwrap(), &nothing)
        .into_iter()
        .find(|c| c.command.contains("list-coverage"))
        .unwrap()
        .command;
    assert!(
        coverage.contains(r#""Equals":["'"$CLUSTER"'"]"#),
        "{coverage}"
    );
    assert!(
        coverage.contains("DETECTOR_ID=$(aws guardduty list-detectors"),
        "{coverage}"
    );
}

#[test]
fn the_overwrite_keeps_version_and_values_quoted() {
    let values = "{\"note\":\"it's\",\n\"x\":\"a\\\\b\"}";
    let addon = AddonSettings {
        version: Some("v1.10.0-eksbuild.2".into()),
        configuration_values: Some(values.into()),
    };
    let command = overwrite_command("prod", "us-east-1", Some(&addon), Some("abc-1"));
    assert_eq!(
        command,
        r#"aws eks update-addon --cluster-name prod --addon-name aws-guardduty-agent --region us-east-1 --resolve-conflicts OVERWRITE --addon-version v1.10.0-eksbuild.2 --client-request-token abc-1 --configuration-values $'{"note":"it\'s",\n"x":"a\\\\b"}'"#
    );
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
    let none = AddonSettings {
        version: Some("v1".into()),
        configuration_values: None,
    };
    assert!(
        !overwrite_command("prod", "us-east-1", Some(&none), None)
            .contains("--configuration-values")
    );
    let not_read = overwrite_command("prod", "us-east-1", None, None);
    assert!(not_read.starts_with("VERSION=$(aws eks describe-addon --cluster-name prod --addon-name aws-guardduty-agent --region us-east-1 --query addon.addonVersion --output text)\nCONFIG=$("), "{not_read}");
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The offline replay's alert, as `coverage replay` renders it.
fn offline_alert(bytes: &[u8]) -> Option<coverage_core::Alert> {
    let settings = Settings::default();
    let mut pipeline = Pipeline::from_bytes(bytes, &settings, Invocation::default()).ok()?;
    if let Next::Gather { .. } = pipeline.poll() {
        pipeline.gathered(Facts::offline(), 0);
    }
    let _ = pipeline.poll();
    Some(render(pipeline.plan()?, pipeline.outcome()?))
}

#[test]
fn every_heredoc_in_the_plain_text_ends_with_an_unindented_delimiter() {
    let mut heredocs = 0;
    let dir = format!("{}/../../events", env!("CARGO_MANIFEST_DIR"));
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(alert) = offline_alert(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        let lines: Vec<&str> = alert.text_message.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            if let Some(start) = line.find("<<'") {
                let delimiter = line[start + 3..].split('\'').next().unwrap();
                heredocs += 1;
                assert!(
                    lines[at + 1..].contains(&delimiter),
                    "{}: the heredoc {delimiter} is not closed by a line exactly {delimiter}:\n{}",
                    path.display(),
                    alert.text_message
                );
            }
        }
    }
    assert!(
        heredocs >= 2,
        "the RBAC samples carry a heredoc: {heredocs}"
    );
}

#[test]
fn an_alert_shows_one_overwrite_command() {
    let bytes = sample("unhealthy.addon-configuration-conflict.json");
    // Offline dry-run: the exact call (its version and values fetched first), once.
    let alert = offline_alert(&bytes).unwrap();
    assert_eq!(
        alert
            .text_message
            .matches("--resolve-conflicts OVERWRITE")
            .count(),
        1,
        "{}",
        alert.text_message
    );
    assert!(
        !alert.text_message.contains("<current"),
        "{}",
        alert.text_message
    );
    // The add-on read, remediation off: the runbook's retry with its real values.
    let event = decode_event_bytes(&bytes).unwrap();
    let facts = Facts {
        addon: Fact::Known(AddonState {
            status: AddonStatus::Degraded,
            version: Some("v1.10.0-eksbuild.2".into()),
            configuration_values: Some(r#"{"dnsPolicy":"Default","note":"it's"}"#.into()),
            health_issues: vec![AddonHealthIssue {
                code: "ConfigurationConflict".into(),
                message: "Conflicts found".into(),
            }],
            arn: None,
        }),
        ..Facts::offline()
    };
    let policy = coverage_core::Policy {
        mode: coverage_core::RemediationMode::Off,
        ..coverage_core::Policy::offline()
    };
    let plan = decide(&event, &facts, &policy);
    let alert = render(&plan, &plan.outcome_without_call().unwrap());
    assert_eq!(
        alert
            .text_message
            .matches("--resolve-conflicts OVERWRITE")
            .count(),
        1,
        "{}",
        alert.text_message
    );
    assert!(
        alert.text_message.contains(r#"--addon-version v1.10.0-eksbuild.2 --configuration-values '{"dnsPolicy":"Default","note":"it'\''s"}'"#),
        "{}",
        alert.text_message
    );
}
