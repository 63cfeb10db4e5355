//! The catalog against the reference: exactly one entry per documented id,
//! and every documented issue string (and its case, spacing and
//! stripped-space variants) classified to the right id.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use coverage_core::catalog::{self, entries};
use coverage_core::{Issue, IssueType};
use serde::Deserialize;

#[derive(Deserialize)]
struct Documented {
    id: String,
    issue: String,
}

fn documented() -> Vec<Documented> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/documented_issues.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("documented_issues.json parses")
}

/// The ways AWS's own examples and people's copies vary a string.
fn variants(issue: &str) -> Vec<(&'static str, String)> {
    let first_colon = issue.find(':');
    let mut out = vec![
        ("as documented", issue.to_owned()),
        ("lower case", issue.to_lowercase()),
        ("upper case", issue.to_uppercase()),
        ("doubled spaces", issue.replace(' ', "  ")),
        ("tabs", issue.replace(' ', "\t")),
        ("padded", format!("  {issue} \n")),
        ("stripped spaces", issue.replace(' ', "")),
        (
            "EKS Addon issue",
            issue.replace("EKS Addon Issue", "EKS Addon issue"),
        ),
        (
            "EKSAddonIssue",
            issue.replace("EKS Addon Issue", "EKSAddonIssue"),
        ),
    ];
    if let Some(colon) = first_colon {
        out.push((
            "spaces around the colon",
            format!("{} : {}", &issue[..colon], &issue[colon + 1..]),
        ));
    }
    out
}

#[test]
fn every_documented_string_and_variant_classifies_to_its_id() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in documented() {
        for (variant, text) in variants(&row.issue) {
            let got = catalog::classify(&Issue::parse(&text)).id;
            checked += 1;
            if got != row.id {
                failures.push(format!(
                    "{variant:>24}: expected {}, got {got}: {text:?}",
                    row.id
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 250, "the table shrank: {checked}");
}

#[test]
fn every_catalog_id_has_a_documented_example() {
    let examples: BTreeSet<String> = documented().into_iter().map(|d| d.id).collect();
    let ids: BTreeSet<String> = entries().map(|e| e.id.to_owned()).collect();
    assert_eq!(examples, ids);
}

/// The ids of `docs/reference/coverage-issues.md` (the in-repository copy of
/// the shared reference): the first backticked cell of each table row.
fn reference_ids() -> BTreeSet<String> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference/coverage-issues.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the reference copy ({}): {e}", path.display()));
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(id, _)| id.to_owned()))
        .collect()
}

#[test]
fn exactly_one_entry_per_reference_id() {
    let reference = reference_ids();
    assert!(
        reference.contains("unrecognized") && reference.len() > 20,
        "{reference:?}"
    );
    let ids: Vec<&str> = entries().map(|e| e.id).collect();
    let unique: BTreeSet<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(unique.len(), ids.len(), "duplicate catalog ids");
    assert_eq!(unique, reference, "catalog ids differ from the reference");
}

#[test]
fn issue_types_parse_from_their_documented_names() {
    let names = [
        ("Addon Creation Failed", IssueType::AddonCreationFailed),
        ("Addon Update Failed", IssueType::AddonUpdateFailed),
        ("AddonUpdationFailed", IssueType::AddonUpdateFailed),
        ("Addon Status Unhealthy", IssueType::AddonStatusUnhealthy),
        (
            "VPC Endpoint Creation Failed",
            IssueType::VpcEndpointCreationFailed,
        ),
        (
            "Shared VPC Endpoint Deletion Failed",
            IssueType::SharedVpcEndpointDeletionFailed,
        ),
        ("Local EKS clusters", IssueType::LocalEksCluster),
        ("Local EKS cluster", IssueType::LocalEksCluster),
        (
            "EKS Runtime Monitoring enablement permission not granted",
            IssueType::EnablementPermissionNotGranted,
        ),
        (
            "EKS Runtime Monitoring enablement resource provisioning in progress",
            IssueType::EnablementProvisioningInProgress,
        ),
        ("Others", IssueType::Others),
        ("Other", IssueType::Others),
    ];
    for (name, expected) in names {
        assert_eq!(Issue::parse(name).issue_type, expected, "{name}");
        assert_eq!(
            Issue::parse(&format!("{name}:x")).issue_type,
            expected,
            "{name}:x"
        );
    }
}

#[test]
fn unknown_add_on_codes_are_kept_and_routed_to_the_generic_entry() {
    let issue = Issue::parse("Addon Update Failed:EKS Addon Issue - SomethingNew2030: details");
    assert_eq!(
        issue.addon_code().map(|c| c.as_str()),
        Some("SomethingNew2030")
    );
    assert_eq!(catalog::classify(&issue).id, "addon-issue-other");
}
