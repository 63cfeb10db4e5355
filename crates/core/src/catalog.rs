//! The remediation catalog: one row per documented coverage issue (the ids of
//! `reference/coverage-issues.md`), each saying how to recognise the issue,
//! how bad it is, whether it can be fixed automatically, and what an engineer
//! does about it. Classification walks the rows in order and takes the first
//! match, so specific rows come before the catch-alls of their issue type.
//! Adding a row is adding data: nothing else changes.

use std::sync::LazyLock;

use serde::Serialize;

use crate::issue::{AddonIssueCode, Issue, IssueType};
use crate::text::fold;

/// The texts of the alerts that have no row (recovery, out of scope, unreadable).
pub mod notices;

/// How urgent the alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// What can be done about an issue, and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actionability {
    /// This function may retry the add-on update with conflict resolution OVERWRITE.
    AutomaticOverwrite,
    /// An engineer has to act; the steps say how.
    Manual,
    /// Nothing to fix: the configuration is unsupported by design.
    NotActionable,
    /// Clears by itself; alert only if it persists.
    Transient,
}

impl Actionability {
    pub fn as_str(self) -> &'static str {
        match self {
            Actionability::AutomaticOverwrite => "automatic-overwrite",
            Actionability::Manual => "manual",
            Actionability::NotActionable => "not-actionable",
            Actionability::Transient => "transient",
        }
    }
}

/// Which issue types a row applies to.
#[derive(Debug, Clone, Copy)]
pub enum Types {
    Any,
    OneOf(&'static [IssueType]),
}

impl Types {
    /// The documented names, or `None` for any type.
    pub fn names(&self) -> Option<Vec<&'static str>> {
        match self {
            Types::Any => None,
            Types::OneOf(types) => Some(types.iter().map(IssueType::name).collect()),
        }
    }
}

/// Which EKS add-on issue codes a row applies to.
#[derive(Debug, Clone, Copy)]
pub enum Codes {
    Any,
    OneOf(&'static [AddonIssueCode]),
}

impl Codes {
    /// The codes, or `None` for any code (or none at all).
    pub fn names(&self) -> Option<Vec<&'static str>> {
        match self {
            Codes::Any => None,
            Codes::OneOf(codes) => Some(codes.iter().map(AddonIssueCode::as_str).collect()),
        }
    }
}

/// A command an engineer runs. `{cluster}`, `{region}`, `{account}`, `{vpc}`
/// and `{owner_account}` are filled in from the event; `{detector_id}`,
/// `{addon_version}` and `{keep_addon_settings}` (the add-on's version and
/// configuration values as flags) from what was read, or fetched by a line
/// the command starts with (`crate::commands`): every command runs as pasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Command {
    pub purpose: &'static str,
    pub kind: CommandKind,
    pub template: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandKind {
    Shell,
    /// A CloudWatch Logs Insights query (paste into the console).
    LogsInsights,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Link {
    pub title: &'static str,
    pub url: &'static str,
}

/// One row of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The stable id from the reference.
    pub id: &'static str,
    pub types: Types,
    pub codes: Codes,
    /// All groups must match; within a group any phrase will do. Phrases are
    /// compared folded (no case, spaces or punctuation) against the add-on
    /// message, or the extra information when there is no add-on issue.
    pub phrases: &'static [&'static [&'static str]],
    pub severity: Severity,
    pub actionability: Actionability,
    pub title: &'static str,
    /// What it means and the likely cause.
    pub why: &'static str,
    pub steps: &'static [&'static str],
    pub commands: &'static [Command],
    pub links: &'static [Link],
}

/// Entries are identified by their id.
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Entry {}

impl Entry {
    /// `folded_phrases` are this entry's `phrases`, folded (see `FOLDED_PHRASES`).
    fn matches(&self, issue: &Issue, folded_text: &str, folded_phrases: &[Vec<String>]) -> bool {
        let type_ok = match self.types {
            Types::Any => true,
            Types::OneOf(types) => types.contains(&issue.issue_type),
        };
        let code_ok = match self.codes {
            Codes::Any => true,
            Codes::OneOf(codes) => issue.addon_code().is_some_and(|code| codes.contains(code)),
        };
        type_ok
            && code_ok
            && folded_phrases.iter().all(|group| {
                group
                    .iter()
                    .any(|phrase| folded_text.contains(phrase.as_str()))
            })
    }
}

/// The entry for an issue. Total: an issue no row claims gets `unrecognized`.
pub fn classify(issue: &Issue) -> &'static Entry {
    let folded_text = fold(issue.detail_text());
    CATALOG
        .iter()
        .zip(FOLDED_PHRASES.iter())
        .find(|(entry, phrases)| entry.matches(issue, &folded_text, phrases))
        .map_or(&UNRECOGNIZED, |(entry, _)| entry)
}

/// Every row's phrases in the folded form they are compared in, computed once
/// so that the table itself can stay readable.
static FOLDED_PHRASES: LazyLock<Vec<Vec<Vec<String>>>> = LazyLock::new(|| {
    CATALOG
        .iter()
        .map(|entry| {
            entry
                .phrases
                .iter()
                .map(|group| group.iter().map(|p| fold(p)).collect())
                .collect()
        })
        .collect()
});

/// Every entry, in classification order, `unrecognized` last.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    CATALOG.iter().chain(std::iter::once(&UNRECOGNIZED))
}

pub fn entry(id: &str) -> Option<&'static Entry> {
    all_entries().find(|entry| entry.id == id)
}

/// The entries of our own: findings no GuardDuty issue string carries (the
/// sweep's), so they are not in GuardDuty's table nor in the reference, and
/// `classify` never returns them. `docs/catalog.md` lists them apart.
pub fn our_entries() -> impl Iterator<Item = &'static Entry> {
    std::iter::once(&PARTIAL_COVERAGE)
}

/// GuardDuty's entries, then ours: everything an alert or digest can name.
pub fn all_entries() -> impl Iterator<Item = &'static Entry> {
    entries().chain(our_entries())
}

// ---------------------------------------------------------------------------
// Building blocks shared by several rows.
// ---------------------------------------------------------------------------

const ADDON_TYPES: Types = Types::OneOf(&[
    IssueType::AddonCreationFailed,
    IssueType::AddonUpdateFailed,
    IssueType::AddonStatusUnhealthy,
]);
const VPCE_TYPE: Types = Types::OneOf(&[IssueType::VpcEndpointCreationFailed]);
const REPLICAS: Codes = Codes::OneOf(&[AddonIssueCode::InsufficientNumberOfReplicas]);
const ACCESS_OR_ADMISSION: Codes = Codes::OneOf(&[
    AddonIssueCode::AccessDenied,
    AddonIssueCode::AdmissionRequestDenied,
]);

const fn shell(purpose: &'static str, template: &'static str) -> Command {
    Command {
        purpose,
        kind: CommandKind::Shell,
        template,
    }
}

const KUBECONFIG: Command = shell(
    "Point kubectl at the cluster",
    "aws eks update-kubeconfig --name {cluster} --region {region}",
);
const DESCRIBE_ADDON: Command = shell(
    "Add-on status, version, health issues and configuration values",
    "aws eks describe-addon --cluster-name {cluster} --addon-name aws-guardduty-agent --region {region} --query 'addon.{status:status,version:addonVersion,issues:health.issues,configurationValues:configurationValues}'",
);
const AGENT_PODS: Command = shell(
    "Agent pods and the nodes they run on",
    "kubectl get pods -n amazon-guardduty -o wide",
);
const DESCRIBE_PODS: Command = shell(
    "Why pods are not running (see Events)",
    "kubectl describe pods -n amazon-guardduty",
);
const NAMESPACE_EVENTS: Command = shell(
    "Recent events in the agent's namespace",
    "kubectl get events -n amazon-guardduty --sort-by=.lastTimestamp",
);
const PREVIOUS_LOGS: Command = shell(
    "Logs of the last crashed agent container",
    "kubectl logs -n amazon-guardduty daemonset/aws-guardduty-agent --previous --tail=200",
);
const CLUSTER_COVERAGE: Command = shell(
    "GuardDuty's current view of this cluster's coverage",
    "aws guardduty list-coverage --region {region} --detector-id {detector_id} --filter-criteria '{\"FilterCriterion\":[{\"CriterionKey\":\"EKS_CLUSTER_NAME\",\"FilterCondition\":{\"Equals\":[\"{cluster}\"]}}]}'",
);
const RUNTIME_MONITORING_STATUS: Command = shell(
    "Is Runtime Monitoring (and EKS automated agent configuration) enabled?",
    "aws guardduty get-detector --region {region} --detector-id {detector_id} --query \"Features[?Name=='RUNTIME_MONITORING']\"",
);
const GUARDDUTY_VPC_ENDPOINTS: Command = shell(
    "GuardDuty VPC endpoints in this region (state, VPC, private DNS)",
    "aws ec2 describe-vpc-endpoints --region {region} --filters Name=service-name,Values=com.amazonaws.{region}.guardduty-data --query 'VpcEndpoints[].{id:VpcEndpointId,vpc:VpcId,state:State,privateDns:PrivateDnsEnabled,policy:PolicyDocument}'",
);
const CLUSTER_VPC: Command = shell(
    "The cluster's VPC (the endpoint must be in it)",
    "aws eks describe-cluster --name {cluster} --region {region} --query cluster.resourcesVpcConfig.vpcId --output text",
);
const DNS_FROM_CLUSTER: Command = shell(
    "Resolve the endpoint's private DNS from inside the cluster (expect private IPs)",
    "kubectl run gd-dns-check -n amazon-guardduty --rm -i --restart=Never --image=public.ecr.aws/docker/library/busybox:stable -- nslookup guardduty-data.{region}.amazonaws.com",
);
const RETRY_ADDON_UPDATE: Command = shell(
    "Retry the add-on update once the cause is fixed",
    "aws eks update-addon --cluster-name {cluster} --addon-name aws-guardduty-agent --region {region}",
);
const TOGGLE_EKS_AGENT_OFF: Command = shell(
    "Toggle EKS automated agent configuration off ...",
    "aws guardduty update-detector --region {region} --detector-id {detector_id} --features '[{\"Name\":\"RUNTIME_MONITORING\",\"Status\":\"ENABLED\",\"AdditionalConfiguration\":[{\"Name\":\"EKS_ADDON_MANAGEMENT\",\"Status\":\"DISABLED\"}]}]'",
);
const TOGGLE_EKS_AGENT_ON: Command = shell(
    "... and on again",
    "aws guardduty update-detector --region {region} --detector-id {detector_id} --features '[{\"Name\":\"RUNTIME_MONITORING\",\"Status\":\"ENABLED\",\"AdditionalConfiguration\":[{\"Name\":\"EKS_ADDON_MANAGEMENT\",\"Status\":\"ENABLED\"}]}]'",
);
const ADDON_CONFIGURATION_SCHEMA: Command = shell(
    "Configuration values the agent accepts (priorityClassName, dnsPolicy, resources)",
    "aws eks describe-addon-configuration --addon-name aws-guardduty-agent --region {region} --addon-version {addon_version} --query configurationSchema --output text",
);
const WEBHOOKS: Command = shell(
    "Admission webhooks that can intercept the add-on's requests",
    "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations",
);
const ADDON_CLUSTER_ADMIN_BINDING: Command = shell(
    "Give eks:addon-manager the permissions it needs (ClusterRoleBinding eks:addon-cluster-admin)",
    "cat <<'EOF' > eks-addon-cluster-admin.yaml\nkind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata:\n  name: eks:addon-cluster-admin\nsubjects:\n- kind: User\n  name: eks:addon-manager\n  apiGroup: rbac.authorization.k8s.io\nroleRef:\n  kind: ClusterRole\n  name: cluster-admin\n  apiGroup: rbac.authorization.k8s.io\nEOF\nkubectl apply -f eks-addon-cluster-admin.yaml",
);
const SHOW_ADDON_CLUSTER_ADMIN_BINDING: Command = shell(
    "What the binding holds today (missing, or edited?)",
    "kubectl get clusterrolebinding eks:addon-cluster-admin -o yaml",
);

const LINK_EKS_COVERAGE: Link = Link {
    title: "GuardDuty: runtime coverage and troubleshooting for Amazon EKS clusters",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/eks-runtime-monitoring-coverage.html#eks-runtime-monitoring-coverage-issues-troubleshoot",
};
const LINK_ADDON_ISSUE: Link = Link {
    title: "EKS API: AddonIssue codes",
    url: "https://docs.aws.amazon.com/eks/latest/APIReference/API_AddonIssue.html",
};
const LINK_UPDATE_ADDON: Link = Link {
    title: "EKS API: UpdateAddon (resolveConflicts)",
    url: "https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateAddon.html",
};
const LINK_VALIDATE_VPCE: Link = Link {
    title: "GuardDuty: validating the VPC endpoint configuration",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/validate-vpc-endpoint-config-runtime-monitoring.html",
};
const LINK_PREREQUISITES: Link = Link {
    title: "GuardDuty: Runtime Monitoring prerequisites for Amazon EKS",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/prereq-runtime-monitoring-eks-support.html#gdu-agent-supported-k8-version",
};
const LINK_SHARED_VPC: Link = Link {
    title: "GuardDuty: using a shared VPC with Runtime Monitoring",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring-shared-vpc.html",
};
const LINK_PRIVATE_DNS: Link = Link {
    title: "GuardDuty: private DNS name for the VPC endpoint",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring-managing-agents.html",
};
const LINK_ADDON_PARAMETERS: Link = Link {
    title: "GuardDuty: configuring the EKS add-on parameters (priorityClassName)",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-configure-security-agent-eks-addon.html#gdu-eks-addon-configure-parameters-values",
};
const LINK_POD_PRIORITY: Link = Link {
    title: "Kubernetes: pod priority and preemption",
    url: "https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/",
};
const LINK_DEBUG_POD: Link = Link {
    title: "Kubernetes: debug running pods",
    url: "https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/",
};
const LINK_CONTROL_PLANE_LOGS: Link = Link {
    title: "EKS: send control plane logs (audit) to CloudWatch Logs",
    url: "https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html",
};
const LINK_LOGS_INSIGHTS: Link = Link {
    title: "CloudWatch Logs Insights query syntax",
    url: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html",
};
const LINK_ECR_AGENT_REPOSITORIES: Link = Link {
    title: "GuardDuty: Amazon ECR repositories hosting the GuardDuty agent",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring-ecr-repository-gdu-agent.html",
};
const LINK_MANAGE_AGENT: Link = Link {
    title: "GuardDuty: managing the security agent for Amazon EKS (automated or manual)",
    url: "https://docs.aws.amazon.com/guardduty/latest/ug/gdu-runtime-approaches-agent-deployment-eks-clusters.html",
};

const SCHEDULING_WHY: &str = "One or more agent pods cannot be scheduled: their nodes are out of room and the agent's PriorityClass has preemptionPolicy Never, so it cannot displace lower-priority pods. Nodes without the agent have no runtime protection. The `0/x nodes` in the message is only the first error GuardDuty found, not a count of agent pods: some may be running.";
const SCHEDULING_STEPS: &[&str] = &[
    "Find the Pending agent pods and read their scheduling events to see which nodes are full and of what.",
    "Either give the agent a PriorityClass whose preemptionPolicy is PreemptLowerPriority, through the add-on configuration value `priorityClassName`: `aws-guardduty-agent.priorityclass-high`, `system-cluster-critical` or `system-node-critical` (the default `aws-guardduty-agent.priorityclass` is Never); keep the add-on's other configuration values when you update it, or add capacity: scale the node group, use larger instances, or raise max-pods.",
    "Retry the add-on update if it is not retried for you; coverage turns Healthy once every node runs the agent.",
];
const SCHEDULING_COMMANDS: &[Command] = &[
    KUBECONFIG,
    shell(
        "Agent pods that are not scheduled",
        "kubectl get pods -n amazon-guardduty --field-selector=status.phase=Pending -o wide",
    ),
    DESCRIBE_PODS,
    shell(
        "Priority classes and their preemption policy",
        "kubectl get priorityclass",
    ),
    shell(
        "How full each node is",
        "kubectl describe nodes | grep -A 8 'Allocated resources'",
    ),
    ADDON_CONFIGURATION_SCHEMA,
    DESCRIBE_ADDON,
    shell(
        "Set the agent's PriorityClass (merge with the current configuration values shown above)",
        "aws eks update-addon --cluster-name {cluster} --addon-name aws-guardduty-agent --region {region} --configuration-values '{\"priorityClassName\":\"aws-guardduty-agent.priorityclass-high\"}'",
    ),
];
const SCHEDULING_LINKS: &[Link] = &[
    LINK_EKS_COVERAGE,
    LINK_ADDON_PARAMETERS,
    LINK_POD_PRIORITY,
    LINK_ADDON_ISSUE,
];

const CRASHLOOP_WHY: &str = "Agent containers start and exit again. The agent usually stops because it cannot reach or authenticate to GuardDuty: Runtime Monitoring off, no VPC endpoint, endpoint DNS not resolving inside the cluster, or a policy denying guardduty:SendSecurityTelemetry. Network policies and admission controllers can cause the same (a blocked agent can be a policy, not a bug).";
const CRASHLOOP_STEPS: &[&str] = &[
    "Read the logs of the crashed container (previous run); they usually name the failing call.",
    "Check that Runtime Monitoring is enabled for this account (and EKS automated agent configuration, if GuardDuty manages the agent).",
    "Check the prerequisites: a validated OS distribution and kernel on the nodes, and a Kubernetes version the agent supports.",
    "Check that the GuardDuty VPC endpoint (com.amazonaws.<region>.guardduty-data) exists in the cluster's VPC and is available: also with automated configuration, and especially with a shared VPC.",
    "Check that the agent resolves the endpoint's private DNS name guardduty-data.<region>.amazonaws.com to private IPs from inside the cluster.",
    "Check that neither the VPC endpoint policy nor a service control policy denies guardduty:SendSecurityTelemetry.",
    "Check for network policies (VPC CNI network policy agent, Calico) or admission controllers that restrict the amazon-guardduty namespace.",
];
const CRASHLOOP_COMMANDS: &[Command] = &[
    KUBECONFIG,
    PREVIOUS_LOGS,
    AGENT_PODS,
    RUNTIME_MONITORING_STATUS,
    CLUSTER_VPC,
    GUARDDUTY_VPC_ENDPOINTS,
    DNS_FROM_CLUSTER,
    shell(
        "Network policies that apply to the agent",
        "kubectl get networkpolicy -n amazon-guardduty",
    ),
];
const CRASHLOOP_LINKS: &[Link] = &[
    LINK_EKS_COVERAGE,
    LINK_DEBUG_POD,
    LINK_PREREQUISITES,
    LINK_VALIDATE_VPCE,
    LINK_PRIVATE_DNS,
];

const RBAC_STEPS: &[&str] = &[
    "EKS installs the agent as the Kubernetes user eks:addon-manager; the ClusterRoleBinding eks:addon-cluster-admin that grants it cluster-admin is missing or was changed.",
    "Recreate the binding (below), then retry the add-on create or update.",
    "If a GitOps tool or policy removed it, fix that too or it will be removed again.",
];
const RBAC_COMMANDS: &[Command] = &[
    KUBECONFIG,
    SHOW_ADDON_CLUSTER_ADMIN_BINDING,
    ADDON_CLUSTER_ADMIN_BINDING,
    RETRY_ADDON_UPDATE,
];
const RBAC_LINKS: &[Link] = &[LINK_EKS_COVERAGE, LINK_ADDON_ISSUE];

const VPCE_LINKS: &[Link] = &[LINK_EKS_COVERAGE, LINK_VALIDATE_VPCE, LINK_SHARED_VPC];

const TOGGLE_STEPS_TAIL: &str = "Toggle EKS Runtime Monitoring off and on again (the EKS automated agent configuration below; if that is not enough, Runtime Monitoring itself, which also affects ECS and EC2 coverage), and make sure the GuardDuty agent is deployed afterwards, automatically by GuardDuty or manually.";

/// The Logs Insights query that shows who changed the agent's DaemonSet
/// (the one query: `audit` owns it, and the Lambda runs it).
pub const WHO_CHANGED_THE_AGENT_QUERY: &str = crate::audit::AGENT_QUERY;

// ---------------------------------------------------------------------------
// The table. Order matters: the first matching row wins.
// ---------------------------------------------------------------------------

static CATALOG: &[Entry] = &[
    // ----- Table A: issue types -----
    Entry {
        id: "addon-unsupported-cluster-version",
        types: ADDON_TYPES,
        codes: Codes::Any,
        phrases: &[&[
            "not compatible with current cluster version",
            "addon specified is not supported",
        ]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent not supported on this cluster's Kubernetes version",
        why: "EKS has no aws-guardduty-agent version for the cluster's Kubernetes version, so it refused to install the agent. The cluster has no runtime protection until it runs a supported version.",
        steps: &[
            "Check the cluster's Kubernetes version against the versions the GuardDuty security agent supports.",
            "List the agent versions EKS offers for that Kubernetes version: an empty list confirms the mismatch.",
            "Upgrade the cluster, one minor version at a time, to a supported Kubernetes version. With automated agent configuration GuardDuty then installs the agent; otherwise create the add-on again.",
        ],
        commands: &[
            shell(
                "The cluster's Kubernetes version",
                "aws eks describe-cluster --name {cluster} --region {region} --query cluster.version --output text",
            ),
            shell(
                "Agent versions available for that Kubernetes version",
                "aws eks describe-addon-versions --addon-name aws-guardduty-agent --region {region} --kubernetes-version \"$(aws eks describe-cluster --name {cluster} --region {region} --query cluster.version --output text)\" --query 'addons[].addonVersions[].addonVersion'",
            ),
            shell(
                "Upgrade the control plane by one minor version",
                "NEXT_VERSION=$(aws eks describe-cluster --name {cluster} --region {region} --query cluster.version --output text | awk -F. '{print $1 \".\" $2 + 1}')\naws eks update-cluster-version --name {cluster} --region {region} --kubernetes-version \"$NEXT_VERSION\"",
            ),
        ],
        links: &[
            LINK_EKS_COVERAGE,
            LINK_PREREQUISITES,
            Link {
                title: "EKS: update an existing cluster to a new Kubernetes version",
                url: "https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html",
            },
        ],
    },
    Entry {
        id: "vpce-shared-vpc-unsupported",
        types: VPCE_TYPE,
        codes: Codes::Any,
        phrases: &[&["not supported for shared VPC"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty VPC endpoint: shared VPC prerequisites not met",
        why: "The cluster runs in a shared VPC and GuardDuty could not create its VPC endpoint there. Runtime Monitoring supports shared VPCs only within an AWS Organization that meets the shared-VPC prerequisites. Without the endpoint the agent cannot send runtime events.",
        steps: &[
            "Confirm the VPC in the message is shared with this account (Resource Access Manager) by an account in the same AWS Organization.",
            "Meet every shared-VPC prerequisite: same organization, Runtime Monitoring and automated agent configuration enabled in the VPC owner account, and the participant's GuardDuty set up as documented.",
            "Coverage is re-evaluated periodically; check it again once the prerequisites hold.",
        ],
        commands: &[
            shell(
                "Who owns the VPC",
                "aws ec2 describe-vpcs --region {region} --vpc-ids {vpc} --query 'Vpcs[].{vpc:VpcId,owner:OwnerId}'",
            ),
            CLUSTER_COVERAGE,
        ],
        links: VPCE_LINKS,
    },
    Entry {
        id: "vpce-shared-vpc-owner-not-enabled",
        types: VPCE_TYPE,
        codes: Codes::Any,
        phrases: &[
            &["owner account"],
            &["runtime monitoring", "automated agent configuration"],
        ],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "Shared VPC owner has not enabled Runtime Monitoring / automated agent configuration",
        why: "With a shared VPC and automated agent configuration, the VPC endpoint lives in the VPC owner account, and GuardDuty creates it only if that account has Runtime Monitoring and automated agent configuration enabled.",
        steps: &[
            "In the shared VPC owner account (named in the message), enable Runtime Monitoring and automated agent configuration for at least one resource type (Amazon EKS or Amazon ECS on Fargate).",
            "Back in this account, check the cluster's coverage once GuardDuty has re-evaluated it.",
        ],
        commands: &[
            shell(
                "In the owner account {owner_account}: its detector",
                "aws guardduty list-detectors --region {region} --query 'DetectorIds[0]' --output text",
            ),
            shell(
                "In the owner account {owner_account}: enable Runtime Monitoring with EKS automated agent configuration",
                "aws guardduty update-detector --region {region} --detector-id {detector_id} --features '[{\"Name\":\"RUNTIME_MONITORING\",\"Status\":\"ENABLED\",\"AdditionalConfiguration\":[{\"Name\":\"EKS_ADDON_MANAGEMENT\",\"Status\":\"ENABLED\"}]}]'",
            ),
            CLUSTER_COVERAGE,
        ],
        links: VPCE_LINKS,
    },
    Entry {
        id: "vpce-private-dns-disabled",
        types: VPCE_TYPE,
        codes: Codes::Any,
        phrases: &[&["enableDnsSupport", "enableDnsHostnames", "private DNS"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty VPC endpoint needs DNS support and DNS hostnames on the VPC",
        why: "GuardDuty's VPC endpoint uses private DNS, which requires both VPC attributes enableDnsSupport and enableDnsHostnames to be true. One of them is off, so the endpoint could not be created and the agent has nowhere to send events.",
        steps: &[
            "Set both VPC attributes to true: enableDnsSupport and enableDnsHostnames (console: Edit VPC settings, Enable DNS resolution and Enable DNS hostnames). This is a VPC change: check with the network owner.",
            "GuardDuty retries the endpoint; check the endpoint and the cluster's coverage afterwards.",
        ],
        commands: &[
            shell(
                "Current DNS support",
                "aws ec2 describe-vpc-attribute --region {region} --vpc-id {vpc} --attribute enableDnsSupport",
            ),
            shell(
                "Current DNS hostnames",
                "aws ec2 describe-vpc-attribute --region {region} --vpc-id {vpc} --attribute enableDnsHostnames",
            ),
            shell(
                "Enable DNS support",
                "aws ec2 modify-vpc-attribute --region {region} --vpc-id {vpc} --enable-dns-support '{\"Value\":true}'",
            ),
            shell(
                "Enable DNS hostnames",
                "aws ec2 modify-vpc-attribute --region {region} --vpc-id {vpc} --enable-dns-hostnames '{\"Value\":true}'",
            ),
            GUARDDUTY_VPC_ENDPOINTS,
        ],
        links: &[
            LINK_EKS_COVERAGE,
            Link {
                title: "Amazon VPC: DNS attributes for your VPC",
                url: "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-dns.html#vpc-dns-support",
            },
            LINK_VALIDATE_VPCE,
        ],
    },
    Entry {
        id: "vpce-creation-failed",
        types: VPCE_TYPE,
        codes: Codes::Any,
        phrases: &[],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty could not create its VPC endpoint",
        why: "GuardDuty failed to create the VPC endpoint the agent uses to send runtime events, for a reason the documentation does not list; the message carries the client error.",
        steps: &[
            "Read the client error in the message: quotas (VPC endpoints per VPC), a missing subnet in an Availability Zone, or permissions of the GuardDuty service-linked role are common causes.",
            "Check whether a GuardDuty endpoint already exists in the cluster's VPC and in what state.",
            "When the agent is managed manually, create the endpoint yourself as documented; with automated configuration GuardDuty retries once the cause is fixed.",
        ],
        commands: &[CLUSTER_VPC, GUARDDUTY_VPC_ENDPOINTS, CLUSTER_COVERAGE],
        links: VPCE_LINKS,
    },
    Entry {
        id: "shared-vpce-deletion-not-allowed",
        types: Types::OneOf(&[IssueType::SharedVpcEndpointDeletionFailed]),
        codes: Codes::Any,
        phrases: &[],
        severity: Severity::Medium,
        actionability: Actionability::Manual,
        title: "Shared VPC endpoint can only be deleted by the VPC owner account",
        why: "A shared VPC participant tried to remove GuardDuty's shared VPC endpoint. The endpoint and its security group live in the owner account; a participant cannot delete them, and disabling Runtime Monitoring in a participant does not change the owner's endpoint policy or security group.",
        steps: &[
            "Decide whether the endpoint should go at all: other participants may still use it.",
            "To delete it, disable Runtime Monitoring or automated agent configuration in the shared VPC owner account named in the message; only the owner account can remove the endpoint and its security group.",
        ],
        commands: &[shell(
            "In the owner account {owner_account}: the shared GuardDuty endpoint",
            "aws ec2 describe-vpc-endpoints --region {region} --filters Name=vpc-id,Values={vpc} Name=service-name,Values=com.amazonaws.{region}.guardduty-data",
        )],
        links: VPCE_LINKS,
    },
    Entry {
        id: "local-outpost-cluster",
        types: Types::OneOf(&[IssueType::LocalEksCluster]),
        codes: Codes::Any,
        phrases: &[],
        severity: Severity::Info,
        actionability: Actionability::NotActionable,
        title: "Local EKS cluster on Outposts: the GuardDuty agent add-on is not supported",
        why: "EKS add-ons, the GuardDuty agent among them, are not supported on local clusters on AWS Outposts. This is by design; there is nothing to repair.",
        steps: &[
            "Nothing to fix. Record the cluster as not covered by Runtime Monitoring in your risk register.",
            "To stop GuardDuty from trying (and this alert from repeating), exclude the cluster from automated agent configuration with the tag GuardDutyManaged=false.",
        ],
        commands: &[shell(
            "Exclude the cluster from automated agent configuration",
            "aws eks tag-resource --region {region} --resource-arn arn:aws:eks:{region}:{account}:cluster/{cluster} --tags GuardDutyManaged=false",
        )],
        links: &[
            LINK_EKS_COVERAGE,
            Link {
                title: "Amazon EKS on AWS Outposts",
                url: "https://docs.aws.amazon.com/eks/latest/userguide/eks-outposts.html",
            },
            LINK_MANAGE_AGENT,
        ],
    },
    Entry {
        id: "enablement-permission-not-granted",
        types: Types::OneOf(&[IssueType::EnablementPermissionNotGranted]),
        codes: Codes::Any,
        phrases: &[],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "EKS Runtime Monitoring enablement permission not granted",
        why: "GuardDuty lacked a permission it needed while enabling EKS Runtime Monitoring for this cluster. When the message carries extra information, it names the root cause.",
        steps: &[
            "If the message carries extra information, fix that root cause first.",
            TOGGLE_STEPS_TAIL,
        ],
        commands: &[
            RUNTIME_MONITORING_STATUS,
            TOGGLE_EKS_AGENT_OFF,
            TOGGLE_EKS_AGENT_ON,
            DESCRIBE_ADDON,
            CLUSTER_COVERAGE,
        ],
        links: &[LINK_EKS_COVERAGE, LINK_MANAGE_AGENT],
    },
    Entry {
        id: "enablement-provisioning-in-progress",
        types: Types::OneOf(&[IssueType::EnablementProvisioningInProgress]),
        codes: Codes::Any,
        phrases: &[],
        severity: Severity::Low,
        actionability: Actionability::Transient,
        title: "EKS Runtime Monitoring is still provisioning",
        why: "Runtime Monitoring was just enabled and GuardDuty is still provisioning resources (VPC endpoint, agent). Coverage stays Unhealthy until that finishes; GuardDuty re-checks coverage periodically.",
        steps: &[
            "Nothing to do yet. A Healthy event follows when provisioning completes.",
            "If the cluster is still Unhealthy after an hour or so, check its coverage: the issue will have changed to the real cause.",
        ],
        commands: &[CLUSTER_COVERAGE],
        links: &[LINK_EKS_COVERAGE],
    },
    Entry {
        id: "authorization-failure",
        types: Types::OneOf(&[IssueType::Others]),
        codes: Codes::Any,
        phrases: &[&["authorization failure"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty hit an authorization failure managing the agent",
        why: "GuardDuty was denied a call it makes on your behalf while managing Runtime Monitoring for this cluster (for example through its service-linked role, or by a service control policy).",
        steps: &[
            "Check that the service-linked role AWSServiceRoleForAmazonGuardDuty exists and that no service control policy denies GuardDuty's EKS, EC2 (VPC endpoint) or IAM calls.",
            TOGGLE_STEPS_TAIL,
        ],
        commands: &[
            shell(
                "GuardDuty's service-linked role",
                "aws iam get-role --region {region} --role-name AWSServiceRoleForAmazonGuardDuty --query 'Role.{arn:Arn,created:CreateDate}'",
            ),
            RUNTIME_MONITORING_STATUS,
            TOGGLE_EKS_AGENT_OFF,
            TOGGLE_EKS_AGENT_ON,
            DESCRIBE_ADDON,
        ],
        links: &[LINK_EKS_COVERAGE, LINK_MANAGE_AGENT],
    },
    // ----- Table B: EKS add-on issue codes -----
    Entry {
        id: "addon-insufficient-cpu",
        types: ADDON_TYPES,
        codes: REPLICAS,
        phrases: &[&["Insufficient cpu"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent pods not scheduled: insufficient CPU",
        why: SCHEDULING_WHY,
        steps: SCHEDULING_STEPS,
        commands: SCHEDULING_COMMANDS,
        links: SCHEDULING_LINKS,
    },
    Entry {
        id: "addon-too-many-pods",
        types: ADDON_TYPES,
        codes: REPLICAS,
        phrases: &[&["Too many pods"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent pods not scheduled: nodes at their pod limit",
        why: SCHEDULING_WHY,
        steps: SCHEDULING_STEPS,
        commands: SCHEDULING_COMMANDS,
        links: SCHEDULING_LINKS,
    },
    Entry {
        id: "addon-insufficient-memory",
        types: ADDON_TYPES,
        codes: REPLICAS,
        phrases: &[&["Insufficient memory"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent pods not scheduled: insufficient memory",
        why: SCHEDULING_WHY,
        steps: SCHEDULING_STEPS,
        commands: SCHEDULING_COMMANDS,
        links: SCHEDULING_LINKS,
    },
    Entry {
        id: "addon-crashloop-completed",
        types: ADDON_TYPES,
        codes: REPLICAS,
        phrases: &[&["CrashLoopBackOff: Completed"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent crash-looping (container exits as Completed)",
        why: CRASHLOOP_WHY,
        steps: CRASHLOOP_STEPS,
        commands: CRASHLOOP_COMMANDS,
        links: CRASHLOOP_LINKS,
    },
    Entry {
        id: "addon-crashloop-error",
        types: ADDON_TYPES,
        codes: REPLICAS,
        phrases: &[&["CrashLoopBackOff: Error"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent crash-looping (container exits with Error)",
        why: CRASHLOOP_WHY,
        steps: CRASHLOOP_STEPS,
        commands: CRASHLOOP_COMMANDS,
        links: CRASHLOOP_LINKS,
    },
    Entry {
        id: "addon-insufficient-replicas",
        types: ADDON_TYPES,
        codes: REPLICAS,
        phrases: &[],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent does not have the desired number of replicas",
        why: "The agent DaemonSet has fewer ready pods than nodes, so some nodes are not protected. The pods' status and events say why.",
        steps: &[
            "Find why agent pods are not running: describe the pods and read their events.",
            "Fix that root cause, then retry the add-on create or update.",
            "If it persists, validate the cluster's GuardDuty VPC endpoint configuration.",
        ],
        commands: &[
            KUBECONFIG,
            AGENT_PODS,
            DESCRIBE_PODS,
            NAMESPACE_EVENTS,
            GUARDDUTY_VPC_ENDPOINTS,
            RETRY_ADDON_UPDATE,
        ],
        links: &[
            LINK_EKS_COVERAGE,
            LINK_DEBUG_POD,
            LINK_VALIDATE_VPCE,
            LINK_ADDON_ISSUE,
        ],
    },
    Entry {
        id: "addon-rbac-priorityclass",
        types: ADDON_TYPES,
        codes: Codes::OneOf(&[AddonIssueCode::AccessDenied]),
        phrases: &[&["priorityclasses"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "EKS add-on manager may not patch the agent's PriorityClass",
        why: "EKS could not patch the PriorityClass aws-guardduty-agent.priorityclass because the user eks:addon-manager lacks cluster-scope permissions.",
        steps: RBAC_STEPS,
        commands: RBAC_COMMANDS,
        links: RBAC_LINKS,
    },
    Entry {
        id: "addon-rbac-namespace",
        types: ADDON_TYPES,
        codes: Codes::OneOf(&[AddonIssueCode::AccessDenied]),
        phrases: &[&[
            "namespaces \"amazon-guardduty\" is forbidden",
            "cannot patch resource \"namespaces\"",
        ]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "EKS add-on manager may not patch the amazon-guardduty namespace",
        why: "EKS could not patch the namespace amazon-guardduty because the user eks:addon-manager lacks the permission.",
        steps: RBAC_STEPS,
        commands: RBAC_COMMANDS,
        links: RBAC_LINKS,
    },
    Entry {
        id: "addon-gatekeeper-owner-label",
        types: ADDON_TYPES,
        codes: ACCESS_OR_ADMISSION,
        phrases: &[&[
            "all-namespace-must-have-label-owner",
            "must have an owner label",
        ]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "Gatekeeper requires an owner label on the amazon-guardduty namespace",
        why: "An OPA Gatekeeper constraint (all-namespace-must-have-label-owner) denied EKS's request to create or patch the agent's namespace because it has no `owner` label.",
        steps: &[
            "Either disable the constraint or make the admission controller accept requests from EKS (exempt the user eks:addon-manager or the amazon-guardduty namespace).",
            "Or create the amazon-guardduty namespace yourself with an `owner` label before the add-on is created or updated, then retry.",
        ],
        commands: &[
            KUBECONFIG,
            shell(
                "The Gatekeeper constraints in force",
                "kubectl get constraints",
            ),
            shell(
                "Create the namespace with an owner label",
                ": \"${OWNER:?set OWNER to the team that owns the agent}\" && kubectl create namespace amazon-guardduty --dry-run=client -o yaml | kubectl apply -f - && kubectl label namespace amazon-guardduty owner=\"$OWNER\" --overwrite",
            ),
            RETRY_ADDON_UPDATE,
        ],
        links: &[LINK_EKS_COVERAGE, LINK_ADDON_ISSUE],
    },
    Entry {
        id: "addon-gatekeeper-registry",
        types: ADDON_TYPES,
        codes: ACCESS_OR_ADMISSION,
        phrases: &[&["allowed-container-registries", "invalid image registry"]],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "Admission controller rejects the GuardDuty agent's image registry",
        why: "An admission controller (OPA Gatekeeper allowed-container-registries) only admits images from listed registries, and GuardDuty's regional Amazon ECR registry for the agent is not among them.",
        steps: &[
            "Add GuardDuty's Amazon ECR registry for this region (see the ECR repositories page) to the admission controller's allowed container registries.",
            "Retry the add-on update.",
        ],
        commands: &[
            KUBECONFIG,
            shell(
                "The image the add-on wants to run",
                "kubectl get daemonset aws-guardduty-agent -n amazon-guardduty -o jsonpath='{.spec.template.spec.containers[*].image}'",
            ),
            shell(
                "The Gatekeeper constraints in force",
                "kubectl get constraints",
            ),
            RETRY_ADDON_UPDATE,
        ],
        links: &[LINK_EKS_COVERAGE, LINK_ECR_AGENT_REPOSITORIES],
    },
    Entry {
        id: "addon-admission-denied",
        types: ADDON_TYPES,
        codes: Codes::OneOf(&[AddonIssueCode::AdmissionRequestDenied]),
        phrases: &[],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "An admission webhook blocks the GuardDuty agent",
        why: "An admission webhook (Kyverno, Gatekeeper or similar) denied the request EKS made to create or update the agent's objects; the message names the webhook and the policy.",
        steps: &[
            "The cluster or security administrators review the policy named in the message that blocks the add-on.",
            "Disable that webhook policy for the agent, or let it accept requests from EKS (exempt the user eks:addon-manager or the amazon-guardduty namespace).",
            "Retry the add-on update.",
        ],
        commands: &[
            KUBECONFIG,
            WEBHOOKS,
            shell(
                "Kyverno policies (if Kyverno is installed)",
                "kubectl get clusterpolicy",
            ),
            shell(
                "Policy reports for the agent's namespace",
                "kubectl get policyreport -n amazon-guardduty",
            ),
            RETRY_ADDON_UPDATE,
        ],
        links: &[LINK_EKS_COVERAGE, LINK_ADDON_ISSUE],
    },
    Entry {
        id: "addon-configuration-conflict",
        types: ADDON_TYPES,
        codes: Codes::OneOf(&[AddonIssueCode::ConfigurationConflict]),
        phrases: &[],
        severity: Severity::High,
        actionability: Actionability::AutomaticOverwrite,
        title: "GuardDuty agent add-on blocked by a configuration conflict",
        why: "Fields that EKS manages on the agent's Kubernetes objects (the conflict list names them) were changed directly through the Kubernetes API, and the add-on update ran without conflict resolution, so EKS stopped instead of overwriting them.",
        steps: &[
            "Find out who changed the agent: run the Logs Insights query below over the cluster's kube-apiserver audit logs (needs control-plane audit logging).",
            "Update the add-on with conflict resolution OVERWRITE, keeping its current version and configuration values. This overwrites the changes made directly through the Kubernetes API to the conflicting fields. This function does it for you when remediation is enforced.",
            "If the change was intended (a mirrored image, a tweaked resource), make it through the add-on's configuration values instead, and stop whatever re-applies it (GitOps, Helm, a script), or the conflict comes back.",
            "Alternatively, remove the add-on from the cluster and install it again.",
        ],
        commands: &[
            DESCRIBE_ADDON,
            shell(
                "Retry with OVERWRITE, keeping the current version and configuration values",
                "aws eks update-addon --cluster-name {cluster} --addon-name aws-guardduty-agent --region {region} --resolve-conflicts OVERWRITE {keep_addon_settings}",
            ),
            Command {
                purpose: "Who created, patched or updated the agent DaemonSet (log group /aws/eks/{cluster}/cluster)",
                kind: CommandKind::LogsInsights,
                template: WHO_CHANGED_THE_AGENT_QUERY,
            },
            shell(
                "Run that query from the CLI over the last 7 days (then: aws logs get-query-results --query-id <id>)",
                crate::audit::AGENT_QUERY_CLI,
            ),
            shell(
                "Turn on audit logging if the query finds no log group",
                crate::audit::ENABLE_AUDIT_LOGGING,
            ),
        ],
        links: &[
            LINK_EKS_COVERAGE,
            LINK_UPDATE_ADDON,
            LINK_CONTROL_PLANE_LOGS,
            LINK_LOGS_INSIGHTS,
        ],
    },
    Entry {
        id: "addon-issue-other",
        types: ADDON_TYPES,
        codes: Codes::Any,
        phrases: &[],
        severity: Severity::High,
        actionability: Actionability::Manual,
        title: "GuardDuty agent add-on failure",
        why: "EKS reported an add-on issue that the GuardDuty troubleshooting table does not cover; the code and message say what EKS saw.",
        steps: &[
            "Read the add-on's health issues: they carry the code, the message and the resources involved.",
            "Look the code up in the EKS AddonIssue reference and fix the cause it names.",
            "Retry the add-on update.",
        ],
        commands: &[
            DESCRIBE_ADDON,
            KUBECONFIG,
            AGENT_PODS,
            NAMESPACE_EVENTS,
            RETRY_ADDON_UPDATE,
        ],
        links: &[LINK_EKS_COVERAGE, LINK_ADDON_ISSUE],
    },
];

/// The entry for anything no row claims: alert with the raw text, never drop it.
pub static UNRECOGNIZED: Entry = Entry {
    id: "unrecognized",
    types: Types::Any,
    codes: Codes::Any,
    phrases: &[],
    severity: Severity::High,
    actionability: Actionability::Manual,
    title: "Unrecognized GuardDuty coverage issue",
    why: "GuardDuty reported an issue this catalog does not know. The raw text is below; coverage is still lost until it is fixed.",
    steps: &[
        "Read the raw issue text and the cluster's current coverage in GuardDuty.",
        "Check the add-on's status and health issues, and the agent pods.",
        "Compare with the GuardDuty troubleshooting page; if it is a new issue, add a row to the catalog.",
    ],
    commands: &[CLUSTER_COVERAGE, DESCRIBE_ADDON, KUBECONFIG, AGENT_PODS],
    links: &[LINK_EKS_COVERAGE, LINK_ADDON_ISSUE],
};

/// Ours (the sweep's): GuardDuty says HEALTHY, yet fewer nodes are covered
/// than are compatible, so some nodes run without an agent pod.
pub static PARTIAL_COVERAGE: Entry = Entry {
    id: "partial-coverage",
    types: Types::Any,
    codes: Codes::Any,
    phrases: &[],
    severity: Severity::Medium,
    actionability: Actionability::Manual,
    title: "Partially covered cluster: some nodes have no GuardDuty agent (found by the sweep)",
    why: "GuardDuty reports the cluster HEALTHY, but it covers fewer nodes than are compatible: the agent DaemonSet has no pod on some nodes, and their runtime activity is not monitored. No GuardDuty issue string says so; the sweep found it from coveredNodes < compatibleNodes.",
    steps: &[
        "List the nodes without an agent pod (the command below compares the node list with the agent pods' nodes).",
        "Custom taints: the agent DaemonSet tolerates only the taints it ships with; a node with a custom NoSchedule or NoExecute taint gets no agent pod. Compare the nodes' taints with the DaemonSet's tolerations, and add the toleration through the add-on's configuration values rather than by editing the DaemonSet.",
        "Unsupported node OS or architecture: the agent runs only on supported Linux nodes (for example not on Windows or Bottlerocket versions it does not support); such nodes are not compatible and need no action, otherwise check the node's OS image and kernel.",
        "Pending agent pods: describe them; insufficient CPU or memory, a too-many-pods limit or a priority class problem keeps the pod off its node.",
        "Once every node runs an agent pod, GuardDuty's coveredNodes equals compatibleNodes and the next sweep no longer lists the cluster.",
    ],
    commands: &[
        KUBECONFIG,
        shell(
            "Nodes without an agent pod",
            "comm -23 <(kubectl get nodes -o custom-columns=NAME:.metadata.name --no-headers | sort) <(kubectl get pods -n amazon-guardduty -o custom-columns=NODE:.spec.nodeName --no-headers | sort -u)",
        ),
        shell(
            "Each node's taints, OS and architecture",
            "kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints[*].key,EFFECT:.spec.taints[*].effect,OS:.status.nodeInfo.operatingSystem,ARCH:.status.nodeInfo.architecture",
        ),
        shell(
            "The agent DaemonSet's tolerations",
            "kubectl get daemonset aws-guardduty-agent -n amazon-guardduty -o custom-columns=KEY:.spec.template.spec.tolerations[*].key,EFFECT:.spec.template.spec.tolerations[*].effect",
        ),
        shell(
            "Pending agent pods",
            "kubectl get pods -n amazon-guardduty --field-selector=status.phase=Pending -o wide",
        ),
        CLUSTER_COVERAGE,
    ],
    links: &[LINK_EKS_COVERAGE],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_rows_complete() {
        let mut ids: Vec<&str> = entries().map(|e| e.id).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "duplicate ids");
        for entry in entries() {
            assert!(!entry.steps.is_empty(), "{} has no steps", entry.id);
            assert!(!entry.commands.is_empty(), "{} has no commands", entry.id);
            assert!(!entry.links.is_empty(), "{} has no links", entry.id);
            assert!(
                entry.links.iter().all(|l| l.url.starts_with("https://")),
                "{}",
                entry.id
            );
        }
    }

    #[test]
    fn only_the_configuration_conflict_is_automatic() {
        let automatic: Vec<&str> = entries()
            .filter(|e| e.actionability == Actionability::AutomaticOverwrite)
            .map(|e| e.id)
            .collect();
        assert_eq!(automatic, ["addon-configuration-conflict"]);
    }

    #[test]
    fn specific_rows_win_over_catch_alls() {
        let cpu = Issue::parse(
            "Addon Status Unhealthy:EKS Addon Issue - InsufficientNumberOfReplicas: The add-on is unhealthy because one or more pods not scheduled0/3 nodes are available: 3 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
        );
        assert_eq!(classify(&cpu).id, "addon-insufficient-cpu");
        let generic = Issue::parse(
            "Addon Status Unhealthy:EKS Addon Issue - InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas.",
        );
        assert_eq!(classify(&generic).id, "addon-insufficient-replicas");
        let other = Issue::parse(
            "Addon Creation Failed:EKS Addon Issue - ClusterUnreachable: cannot reach",
        );
        assert_eq!(classify(&other).id, "addon-issue-other");
        let unknown = Issue::parse("Others:Something brand new");
        assert_eq!(classify(&unknown).id, "unrecognized");
    }
}
