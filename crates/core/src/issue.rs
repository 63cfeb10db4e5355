//! The `detail.issue` string: `Issue type:Extra information`, and for add-on
//! failures `EKS Addon Issue - <AddonIssueCode>: <AddonIssueMessage>` inside
//! the extra information. Parsing never fails: what it cannot place is kept
//! as `Unknown`, with the raw text, for the catalog's `unrecognized` entry.

use serde::Serialize;

use crate::text::strip_folded_prefix;

/// The documented issue types (the prefix before the first colon), plus
/// whatever else GuardDuty may start sending.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueType {
    AddonCreationFailed,
    AddonUpdateFailed,
    AddonStatusUnhealthy,
    VpcEndpointCreationFailed,
    SharedVpcEndpointDeletionFailed,
    LocalEksCluster,
    EnablementPermissionNotGranted,
    EnablementProvisioningInProgress,
    /// The documented catch-all type "Others".
    Others,
    /// A prefix the documentation does not list, as written.
    Unknown(String),
}

/// Issue type spellings seen in the documentation and in events, folded.
/// Longer spellings come first so that `others` wins over `other`.
const ISSUE_TYPE_SPELLINGS: &[(&str, IssueType)] = &[
    (
        "eksruntimemonitoringenablementresourceprovisioninginprogress",
        IssueType::EnablementProvisioningInProgress,
    ),
    (
        "eksruntimemonitoringenablementpermissionnotgranted",
        IssueType::EnablementPermissionNotGranted,
    ),
    (
        "sharedvpcendpointdeletionfailed",
        IssueType::SharedVpcEndpointDeletionFailed,
    ),
    (
        "vpcendpointcreationfailed",
        IssueType::VpcEndpointCreationFailed,
    ),
    ("addonstatusunhealthy", IssueType::AddonStatusUnhealthy),
    ("addoncreationfailed", IssueType::AddonCreationFailed),
    ("addoncreatefailed", IssueType::AddonCreationFailed),
    // The documentation's own example spells it "AddonUpdationFailed".
    ("addonupdationfailed", IssueType::AddonUpdateFailed),
    ("addonupdatefailed", IssueType::AddonUpdateFailed),
    ("localeksclusters", IssueType::LocalEksCluster),
    ("localekscluster", IssueType::LocalEksCluster),
    ("others", IssueType::Others),
    ("other", IssueType::Others),
];

impl IssueType {
    /// The documented English name.
    pub fn name(&self) -> &str {
        match self {
            IssueType::AddonCreationFailed => "Addon Creation Failed",
            IssueType::AddonUpdateFailed => "Addon Update Failed",
            IssueType::AddonStatusUnhealthy => "Addon Status Unhealthy",
            IssueType::VpcEndpointCreationFailed => "VPC Endpoint Creation Failed",
            IssueType::SharedVpcEndpointDeletionFailed => "Shared VPC Endpoint Deletion Failed",
            IssueType::LocalEksCluster => "Local EKS clusters",
            IssueType::EnablementPermissionNotGranted => {
                "EKS Runtime Monitoring enablement permission not granted"
            }
            IssueType::EnablementProvisioningInProgress => {
                "EKS Runtime Monitoring enablement resource provisioning in progress"
            }
            IssueType::Others => "Others",
            IssueType::Unknown(text) => text,
        }
    }

    /// The types whose extra information carries an EKS add-on issue.
    pub fn is_addon_failure(&self) -> bool {
        matches!(
            self,
            IssueType::AddonCreationFailed
                | IssueType::AddonUpdateFailed
                | IssueType::AddonStatusUnhealthy
        )
    }
}

/// EKS `AddonIssue.code`. Open: codes AWS adds later are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddonIssueCode {
    AccessDenied,
    InternalFailure,
    ClusterUnreachable,
    InsufficientNumberOfReplicas,
    ConfigurationConflict,
    AdmissionRequestDenied,
    UnsupportedAddonModification,
    K8sResourceNotFound,
    AddonSubscriptionNeeded,
    AddonPermissionFailure,
    /// A code EKS did not document when this was written, as written.
    Unknown(String),
}

const ADDON_ISSUE_CODES: &[AddonIssueCode] = &[
    AddonIssueCode::AccessDenied,
    AddonIssueCode::InternalFailure,
    AddonIssueCode::ClusterUnreachable,
    AddonIssueCode::InsufficientNumberOfReplicas,
    AddonIssueCode::ConfigurationConflict,
    AddonIssueCode::AdmissionRequestDenied,
    AddonIssueCode::UnsupportedAddonModification,
    AddonIssueCode::K8sResourceNotFound,
    AddonIssueCode::AddonSubscriptionNeeded,
    AddonIssueCode::AddonPermissionFailure,
];

impl AddonIssueCode {
    /// The code as EKS spells it.
    pub fn as_str(&self) -> &str {
        match self {
            AddonIssueCode::AccessDenied => "AccessDenied",
            AddonIssueCode::InternalFailure => "InternalFailure",
            AddonIssueCode::ClusterUnreachable => "ClusterUnreachable",
            AddonIssueCode::InsufficientNumberOfReplicas => "InsufficientNumberOfReplicas",
            AddonIssueCode::ConfigurationConflict => "ConfigurationConflict",
            AddonIssueCode::AdmissionRequestDenied => "AdmissionRequestDenied",
            AddonIssueCode::UnsupportedAddonModification => "UnsupportedAddonModification",
            AddonIssueCode::K8sResourceNotFound => "K8sResourceNotFound",
            AddonIssueCode::AddonSubscriptionNeeded => "AddonSubscriptionNeeded",
            AddonIssueCode::AddonPermissionFailure => "AddonPermissionFailure",
            AddonIssueCode::Unknown(code) => code,
        }
    }

    /// Case-insensitive; anything undocumented becomes `Unknown`.
    pub fn parse(code: &str) -> AddonIssueCode {
        ADDON_ISSUE_CODES
            .iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(code))
            .cloned()
            .unwrap_or_else(|| AddonIssueCode::Unknown(code.to_owned()))
    }

    fn parse_documented(code: &str) -> Option<AddonIssueCode> {
        match AddonIssueCode::parse(code) {
            AddonIssueCode::Unknown(_) => None,
            known => Some(known),
        }
    }
}

impl Serialize for AddonIssueCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for AddonIssueCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The EKS add-on issue carried in the extra information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonIssue {
    /// `None` when the marker is there but no `Code:` follows it.
    pub code: Option<AddonIssueCode>,
    pub message: String,
}

/// A parsed `detail.issue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The text exactly as received.
    pub raw: String,
    pub issue_type: IssueType,
    /// Everything after the issue type and its colon, trimmed; `None` if empty.
    pub extra: Option<String>,
    pub addon_issue: Option<AddonIssue>,
}

impl Issue {
    /// Parse an issue string. Never fails; an empty string is an `Unknown`
    /// type with no text.
    pub fn parse(raw: &str) -> Issue {
        let trimmed = raw.trim();
        let (issue_type, rest) = split_issue_type(trimmed);
        let extra = strip_separator(rest);
        let extra = (!extra.is_empty()).then(|| extra.to_owned());
        let addon_issue = extra.as_deref().and_then(parse_addon_issue);
        Issue {
            raw: raw.to_owned(),
            issue_type,
            extra,
            addon_issue,
        }
    }

    pub fn addon_code(&self) -> Option<&AddonIssueCode> {
        self.addon_issue.as_ref().and_then(|a| a.code.as_ref())
    }

    /// The text the catalog's phrases are matched against: the add-on
    /// message when there is one, otherwise the extra information.
    pub fn detail_text(&self) -> &str {
        match &self.addon_issue {
            Some(addon) => &addon.message,
            None => self.extra.as_deref().unwrap_or(""),
        }
    }
}

fn split_issue_type(text: &str) -> (IssueType, &str) {
    for (spelling, issue_type) in ISSUE_TYPE_SPELLINGS {
        if let Some(end) = strip_folded_prefix(text, spelling) {
            return (issue_type.clone(), &text[end..]);
        }
    }
    match text.split_once(':') {
        Some((head, rest)) => (IssueType::Unknown(head.trim().to_owned()), rest),
        None => (IssueType::Unknown(text.to_owned()), ""),
    }
}

/// Drop the whitespace, the colon or dash that separate a prefix from what follows.
fn strip_separator(text: &str) -> &str {
    let text = text.trim_start();
    let text = text
        .strip_prefix(':')
        .or_else(|| text.strip_prefix(" - "))
        .or_else(|| text.strip_prefix('-'))
        .or_else(|| text.strip_prefix('–'))
        .unwrap_or(text);
    text.trim()
}

const ADDON_ISSUE_MARKER: &str = "eksaddonissue";

fn parse_addon_issue(extra: &str) -> Option<AddonIssue> {
    match strip_folded_prefix(extra, ADDON_ISSUE_MARKER) {
        Some(end) => {
            let rest = strip_separator(&extra[end..]);
            Some(match split_code(rest) {
                Some((code, message)) => AddonIssue {
                    code: Some(AddonIssueCode::parse(code)),
                    message: message.to_owned(),
                },
                None => AddonIssue {
                    code: None,
                    message: rest.to_owned(),
                },
            })
        }
        // Without the marker, accept only a documented code, so that ordinary
        // text such as "Error: ..." is not mistaken for an add-on issue.
        None => {
            let (code, message) = split_code(extra)?;
            let code = AddonIssueCode::parse_documented(code)?;
            Some(AddonIssue {
                code: Some(code),
                message: message.to_owned(),
            })
        }
    }
}

/// `Code: message` where the code is one word of letters and digits.
fn split_code(text: &str) -> Option<(&str, &str)> {
    let code_len = text.chars().take_while(char::is_ascii_alphanumeric).count();
    if code_len == 0 {
        return None;
    }
    let (code, rest) = text.split_at(code_len);
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Some((code, ""));
    }
    let message = rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))?;
    Some((code, message.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_addon_issue() {
        let issue = Issue::parse(
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.template.spec.containers[name=\"aws-guardduty-agent\"].image",
        );
        assert_eq!(issue.issue_type, IssueType::AddonUpdateFailed);
        let addon = issue.addon_issue.as_ref().unwrap();
        assert_eq!(addon.code, Some(AddonIssueCode::ConfigurationConflict));
        assert!(addon.message.starts_with("Conflicts found"));
        assert!(addon.message.ends_with(".image"));
    }

    #[test]
    fn stripped_spaces_and_updation() {
        let issue = Issue::parse(
            "AddonUpdationFailed:EKSAddonIssue - AccessDenied: namespaces\\\"amazon-guardduty\\\"isforbidden:User",
        );
        assert_eq!(issue.issue_type, IssueType::AddonUpdateFailed);
        assert_eq!(issue.addon_code(), Some(&AddonIssueCode::AccessDenied));
        assert!(issue.detail_text().starts_with("namespaces"));
    }

    #[test]
    fn bare_type_without_colon() {
        let issue =
            Issue::parse("EKS Runtime Monitoring enablement resource provisioning in progress");
        assert_eq!(
            issue.issue_type,
            IssueType::EnablementProvisioningInProgress
        );
        assert_eq!(issue.extra, None);
    }

    #[test]
    fn colons_inside_extra_information_are_kept() {
        let issue = Issue::parse(
            "VPC Endpoint Creation Failed:Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for vpc-0abc1234 (Service: Ec2, Status Code: 400)",
        );
        assert_eq!(issue.issue_type, IssueType::VpcEndpointCreationFailed);
        assert!(
            issue
                .extra
                .as_deref()
                .unwrap()
                .ends_with("(Service: Ec2, Status Code: 400)")
        );
        assert_eq!(issue.addon_issue, None);
    }

    #[test]
    fn unknown_type_is_kept_verbatim() {
        let issue = Issue::parse("Addon Deletion Failed: something new");
        assert_eq!(
            issue.issue_type,
            IssueType::Unknown("Addon Deletion Failed".into())
        );
        assert_eq!(issue.extra.as_deref(), Some("something new"));
        let empty = Issue::parse("   ");
        assert_eq!(empty.issue_type, IssueType::Unknown(String::new()));
    }

    #[test]
    fn codes_are_open_and_case_insensitive() {
        assert_eq!(
            AddonIssueCode::parse("configurationconflict"),
            AddonIssueCode::ConfigurationConflict
        );
        assert_eq!(
            AddonIssueCode::parse("BrandNewCode"),
            AddonIssueCode::Unknown("BrandNewCode".into())
        );
        let issue =
            Issue::parse("Addon Status Unhealthy: EKS Addon Issue - BrandNewCode : something");
        assert_eq!(
            issue.addon_code(),
            Some(&AddonIssueCode::Unknown("BrandNewCode".into()))
        );
        assert_eq!(issue.detail_text(), "something");
    }

    #[test]
    fn marker_without_code() {
        let issue = Issue::parse("Addon Status Unhealthy:EKS Addon issue - the add-on is broken");
        let addon = issue.addon_issue.unwrap();
        assert_eq!(addon.code, None);
        assert_eq!(addon.message, "the add-on is broken");
    }
}
