//! The operator's policy through its public API: every mode spelling, the
//! cluster globs (a middle part is consumed before the last one is looked
//! for), the pattern rules, the allow/deny selection and the bounded numbers.
//! Written against the mutants `tests/mutants/run` found surviving.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use coverage_core::policy::{
    ClusterExclusion, ClusterPattern, ClusterSelection, OverwriteBound, Policy, PolicyError,
    RemediationMode, parse_cluster_patterns, parse_number,
};

fn glob(pattern: &str) -> ClusterPattern {
    ClusterPattern::parse(pattern).unwrap()
}

fn patterns(list: &str) -> Vec<ClusterPattern> {
    parse_cluster_patterns(list).unwrap()
}

#[test]
fn every_mode_spelling_parses_and_round_trips() {
    for (text, mode) in [
        ("off", RemediationMode::Off),
        (" OFF ", RemediationMode::Off),
        ("Off", RemediationMode::Off),
        ("dry-run", RemediationMode::DryRun),
        ("DRYRUN", RemediationMode::DryRun),
        ("dry_run", RemediationMode::DryRun),
        ("enforce", RemediationMode::Enforce),
        ("\tEnforce\n", RemediationMode::Enforce),
    ] {
        assert_eq!(text.parse::<RemediationMode>(), Ok(mode), "{text:?}");
    }
    for mode in [
        RemediationMode::Off,
        RemediationMode::DryRun,
        RemediationMode::Enforce,
    ] {
        assert_eq!(mode.as_str().parse::<RemediationMode>(), Ok(mode));
    }
    assert_eq!(RemediationMode::Off.as_str(), "off");
    assert_eq!(RemediationMode::DryRun.as_str(), "dry-run");
    assert_eq!(RemediationMode::Enforce.as_str(), "enforce");
    assert_eq!(RemediationMode::default(), RemediationMode::DryRun);
}

#[test]
fn unknown_modes_are_rejected_naming_the_value() {
    for text in ["", "on", "yes", "true", "of", "dry run", "enforced"] {
        assert_eq!(
            text.parse::<RemediationMode>(),
            Err(PolicyError::Mode {
                value: text.to_owned()
            }),
            "{text:?}"
        );
    }
}

#[test]
fn a_middle_part_is_consumed_before_the_last_part_is_looked_for() {
    // The only "b" of "aaab" is the middle part; none is left for the last one.
    assert!(!glob("*b*b").matches("aaab"));
    assert!(glob("*b*b").matches("aaabb"));
    assert!(glob("*b*b").matches("abxb"));
    // The middle part at the very start of what is left.
    assert!(!glob("x*ab*b").matches("xab"));
    assert!(glob("x*ab*b").matches("xabb"));
    assert!(!glob("*bc*c").matches("aabc"));
    assert!(glob("*bc*c").matches("abcxc"));
    // Several middle parts, each consumed in turn.
    assert!(glob("prod-*-eu-*-web").matches("prod-data-eu-1-web"));
    assert!(!glob("prod-*-eu-*-web").matches("prod-eu-web"));
    assert!(!glob("a*b*c*d").matches("abdc"));
    assert!(glob("a*b*c*d").matches("a1b2c3d"));
}

#[test]
fn globs_anchor_both_ends() {
    assert!(glob("prod-*").matches("prod-"));
    assert!(!glob("prod-*").matches("pro"));
    assert!(!glob("prod-*").matches("staging-prod-1"));
    assert!(glob("*-eu").matches("-eu"));
    assert!(!glob("*-eu").matches("data-eu-1"));
    assert!(glob("**").matches(""));
    assert!(glob("*").matches("x"));
    assert!(glob("exact").matches("exact"));
    assert!(!glob("exact").matches("exac"));
    assert!(!glob("exact").matches("inexact"));
    // A prefix and a suffix may not share characters.
    assert!(!glob("ab*ba").matches("aba"));
    assert!(glob("ab*ba").matches("abba"));
}

#[test]
fn patterns_are_names_digits_dashes_underscores_and_stars_up_to_100() {
    let longest = "a".repeat(100);
    assert_eq!(ClusterPattern::parse(&longest).unwrap().as_str(), longest);
    let too_long = "a".repeat(101);
    assert_eq!(
        ClusterPattern::parse(&too_long),
        Err(PolicyError::ClusterPattern {
            pattern: too_long.clone()
        })
    );
    assert_eq!(glob("  prod_eu-1*  ").as_str(), "prod_eu-1*");
    for bad in [
        "", "   ", "prod.eu", "prod/eu", "prod eu", "prød", "prod?", "a,b",
    ] {
        assert_eq!(
            ClusterPattern::parse(bad),
            Err(PolicyError::ClusterPattern {
                pattern: bad.trim().to_owned()
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn lists_split_on_commas_with_blanks_around_items() {
    let names = |list: &str| -> Vec<String> {
        patterns(list)
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
    };
    assert_eq!(names("prod-*"), ["prod-*"]);
    assert_eq!(names("a,b"), ["a", "b"]);
    assert_eq!(names(" a , b\t"), ["a", "b"]);
    assert_eq!(
        names("prod-*, staging-web,dev"),
        ["prod-*", "staging-web", "dev"]
    );
    // Whitespace inside an item is not a separator: the item is no pattern.
    assert_eq!(
        parse_cluster_patterns("a b"),
        Err(PolicyError::ClusterPattern {
            pattern: "a b".to_owned()
        })
    );
    assert_eq!(
        parse_cluster_patterns("prod-*,bad.name"),
        Err(PolicyError::ClusterPattern {
            pattern: "bad.name".to_owned()
        })
    );
    for empty_item in [",", "a,,b", "a,", ", a"] {
        assert!(
            matches!(
                parse_cluster_patterns(empty_item),
                Err(PolicyError::EmptyListItem { .. })
            ),
            "{empty_item:?}"
        );
    }
}

#[test]
fn an_empty_allow_list_allows_every_cluster_not_denied() {
    let everything = ClusterSelection::default();
    assert_eq!(everything.check("prod-payments"), Ok(()));
    let deny_only = ClusterSelection {
        allow: Vec::new(),
        deny: patterns("prod-legacy"),
    };
    assert_eq!(deny_only.check("prod-payments"), Ok(()));
    assert_eq!(
        deny_only.check("prod-legacy"),
        Err(ClusterExclusion::Denied {
            pattern: "prod-legacy".to_owned()
        })
    );
}

#[test]
fn deny_wins_and_names_the_first_pattern_that_denies() {
    let selection = ClusterSelection {
        allow: patterns("prod-*,staging-web"),
        deny: patterns("dev-*,prod-legacy*,prod-*"),
    };
    assert_eq!(
        selection.check("prod-legacy-1"),
        Err(ClusterExclusion::Denied {
            pattern: "prod-legacy*".to_owned()
        })
    );
    assert_eq!(
        selection.check("prod-payments"),
        Err(ClusterExclusion::Denied {
            pattern: "prod-*".to_owned()
        })
    );
    assert_eq!(selection.check("staging-web"), Ok(()));
    assert_eq!(
        selection.check("staging-api"),
        Err(ClusterExclusion::NotAllowed)
    );
}

#[test]
fn only_allowed_clusters_are_selected() {
    let selection = ClusterSelection {
        allow: patterns("prod-*,staging-web"),
        deny: Vec::new(),
    };
    assert_eq!(selection.check("prod-payments"), Ok(()));
    assert_eq!(selection.check("staging-web"), Ok(()));
    assert_eq!(selection.check("dev"), Err(ClusterExclusion::NotAllowed));
}

#[test]
fn numbers_are_whole_and_within_inclusive_bounds() {
    assert_eq!(parse_number("1", 1, 100), Ok(1));
    assert_eq!(parse_number("100", 1, 100), Ok(100));
    assert_eq!(parse_number(" 42 ", 1, 100), Ok(42));
    assert_eq!(parse_number("2160", 1, 2160), Ok(2160));
    for bad in ["0", "101", "-1", "1.5", "", "ten", "1e2"] {
        assert_eq!(
            parse_number(bad, 1, 100),
            Err(PolicyError::Number {
                value: bad.to_owned(),
                min: 1,
                max: 100
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn the_defaults_are_dry_run_every_cluster_one_overwrite_a_day() {
    assert_eq!(
        OverwriteBound::default(),
        OverwriteBound {
            max_updates: 1,
            window_seconds: 86_400
        }
    );
    let offline = Policy::offline();
    assert_eq!(offline.mode, RemediationMode::DryRun);
    assert_eq!(offline.clusters, ClusterSelection::default());
    assert_eq!(offline.bound, OverwriteBound::default());
}

#[test]
fn member_accounts_parse_as_none_a_list_or_any() {
    use coverage_core::AccountId;
    use coverage_core::policy::{MemberAccounts, parse_member_accounts};
    let member = AccountId::parse("444455556666").unwrap();
    let other = AccountId::parse("777788889999").unwrap();
    for empty in ["", "  "] {
        let none = parse_member_accounts(empty).unwrap();
        assert_eq!(none, MemberAccounts::None);
        assert!(!none.is_configured());
        assert!(!none.allows(&member));
    }
    let listed = parse_member_accounts(" 444455556666 ,111122223333").unwrap();
    assert!(listed.is_configured());
    assert!(listed.allows(&member));
    assert!(!listed.allows(&other));
    let any = parse_member_accounts(" * ").unwrap();
    assert_eq!(any, MemberAccounts::Any);
    assert!(any.is_configured());
    assert!(any.allows(&member) && any.allows(&other));
    assert_eq!(Policy::default().members, MemberAccounts::None);
}

#[test]
fn bad_member_accounts_and_role_names_are_errors_naming_the_value() {
    use coverage_core::policy::{DEFAULT_MEMBER_ROLE, parse_member_accounts, parse_member_role};
    for list in [
        "4444",
        "444455556666,*",
        "444455556666 777788889999",
        "abcdabcdabcd",
    ] {
        let error = parse_member_accounts(list).unwrap_err();
        assert!(
            matches!(error, PolicyError::MemberAccount { .. }),
            "{list}: {error}"
        );
        assert!(error.to_string().contains("12-digit"), "{error}");
    }
    for list in [
        "444455556666,",
        ",444455556666",
        "444455556666,,777788889999",
    ] {
        assert_eq!(
            parse_member_accounts(list),
            Err(PolicyError::EmptyListItem { list: list.into() })
        );
    }
    assert_eq!(parse_member_role("").unwrap().as_str(), DEFAULT_MEMBER_ROLE);
    assert_eq!(parse_member_role(" Custom ").unwrap().as_str(), "Custom");
    assert_eq!(
        Policy::default().member_role.as_str(),
        "GuardDutyCoverageMember"
    );
    let error = parse_member_role("path/role").unwrap_err();
    assert_eq!(
        error,
        PolicyError::MemberRoleName {
            value: "path/role".into()
        }
    );
    assert!(error.to_string().contains("IAM role name"));
}
