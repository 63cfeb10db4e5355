//! Who changed it: the cluster's Kubernetes audit log as a fact. This module
//! owns the one CloudWatch Logs Insights query (the catalog prints it, the
//! Lambda runs it), the request the pipeline hands the shell (`AuditQuery`:
//! log group, window, query text), the rows the shell hands back, parsed and
//! typed (`AuditChange`), who made each change (`Actor`: a person, automation,
//! a reconciling controller, EKS itself), why the log could not be read
//! (`AuditFailure`), and the alert's lines about all of it. The guardrail
//! `changed-by-controller` asks `last_change` here; nothing in this module
//! decides whether to write.
//!
//! The audit log is soft evidence: many clusters do not log audit events, so
//! a log that cannot be read never stops the OVERWRITE (the bound still stops
//! a fight); the alert says that the last writer could not be checked.

use serde::{Deserialize, Serialize};

use crate::catalog::Entry;
use crate::decide::format_time;
use crate::ids::{ClusterName, Region};
use crate::issue::Issue;

/// The agent's namespace and DaemonSet: always in the query.
pub const AGENT_NAMESPACE: &str = "amazon-guardduty";
pub const AGENT_DAEMONSET: &str = "aws-guardduty-agent";
/// The user EKS's add-on manager acts as.
pub const EKS_ADDON_MANAGER: &str = "eks:addon-manager";
/// How far before the event the query looks by default (`AUDIT_WINDOW_DAYS`).
pub const DEFAULT_WINDOW_SECONDS: u64 = 7 * 86_400;
/// The most rows the query returns (its `limit`).
pub const RESULT_LIMIT: u32 = 50;
/// The most objects one query filters on; the agent DaemonSet is the first.
pub const MAX_OBJECTS: usize = 10;
/// The most changes the alert lists.
pub const MAX_CHANGES_SHOWN: usize = 3;
/// How much of each value from the audit log is kept.
const VALUE_BYTES: usize = 256;

// The query's parts as literals, so that the catalog's printed query (a
// `const`) and the one the Lambda builds come from the same text.
macro_rules! fields_clause {
    () => {
        "fields @timestamp, verb, user.username, userAgent, requestURI, objectRef.resource, objectRef.namespace, objectRef.name, responseStatus.code"
    };
}
macro_rules! stream_clause {
    () => {
        "filter @logStream like /^kube-apiserver-audit/"
    };
}
macro_rules! agent_clause {
    () => {
        "filter (objectRef.resource = \"daemonsets\" and objectRef.namespace = \"amazon-guardduty\" and objectRef.name = \"aws-guardduty-agent\")"
    };
}
macro_rules! verbs_clause {
    () => {
        "filter verb in [\"create\", \"update\", \"patch\", \"delete\"]"
    };
}
macro_rules! sort_clause {
    () => {
        "sort @timestamp desc"
    };
}
macro_rules! limit_clause {
    () => {
        "limit 50"
    };
}
macro_rules! agent_query {
    ($sep:literal) => {
        concat!(
            fields_clause!(),
            $sep,
            stream_clause!(),
            $sep,
            agent_clause!(),
            $sep,
            verbs_clause!(),
            $sep,
            sort_clause!(),
            $sep,
            limit_clause!()
        )
    };
}

/// Between the query's commands: one per line, as the console shows them.
const SEPARATOR: &str = "\n| ";

/// The query over the agent DaemonSet, as the catalog prints it for the
/// console. The Lambda builds the same text with every object the conflict
/// list names (`query_string`).
pub const AGENT_QUERY: &str = agent_query!("\n| ");

/// The same query run from the AWS CLI over the default window (7 days).
pub const AGENT_QUERY_CLI: &str = concat!(
    "aws logs start-query --region {region} --log-group-name /aws/eks/{cluster}/cluster --start-time $(( $(date +%s) - 604800 )) --end-time $(date +%s) --query-string '",
    agent_query!(" | "),
    "'"
);

/// Turns on the control-plane audit log (`{cluster}`, `{region}` filled in).
pub const ENABLE_AUDIT_LOGGING: &str = "aws eks update-cluster-config --region {region} --name {cluster} --logging '{\"clusterLogging\":[{\"types\":[\"audit\"],\"enabled\":true}]}'";

/// The catalog rows whose cause is a change inside the cluster: for these the
/// audit log is read and shown (the conflict's row also has the guardrail).
pub const AUDITED_ENTRIES: [&str; 6] = [
    "addon-configuration-conflict",
    "addon-rbac-priorityclass",
    "addon-rbac-namespace",
    "addon-gatekeeper-owner-label",
    "addon-gatekeeper-registry",
    "addon-admission-denied",
];

/// Whether the alert for this row shows who changed the cluster.
pub fn wanted(entry: &Entry) -> bool {
    AUDITED_ENTRIES.contains(&entry.id)
}

/// The control-plane log group of a cluster.
pub fn log_group(cluster: &ClusterName) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

/// A Kubernetes object the query filters on. Built only from names that are
/// valid Kubernetes names, so nothing from the event can change the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditObject {
    resource: String,
    namespace: Option<String>,
    /// `None`: any object of the resource (webhook configurations, bindings).
    name: Option<String>,
}

impl AuditObject {
    /// `resource` is the plural, lowercase API resource (`daemonsets`).
    pub fn new(resource: &str, namespace: Option<&str>, name: Option<&str>) -> Option<AuditObject> {
        let resource_ok = !resource.is_empty()
            && resource.len() <= 63
            && resource
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let namespace_ok = namespace.is_none_or(|n| is_k8s_name(n) && !n.contains(':'));
        let name_ok = name.is_none_or(is_k8s_name);
        (resource_ok && namespace_ok && name_ok).then(|| AuditObject {
            resource: resource.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        })
    }

    /// The agent's DaemonSet.
    pub fn agent_daemonset() -> AuditObject {
        AuditObject {
            resource: "daemonsets".to_owned(),
            namespace: Some(AGENT_NAMESPACE.to_owned()),
            name: Some(AGENT_DAEMONSET.to_owned()),
        }
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn filter(&self) -> String {
        let mut clause = format!("objectRef.resource = \"{}\"", self.resource);
        if let Some(namespace) = &self.namespace {
            clause.push_str(&format!(" and objectRef.namespace = \"{namespace}\""));
        }
        if let Some(name) = &self.name {
            clause.push_str(&format!(" and objectRef.name = \"{name}\""));
        }
        format!("({clause})")
    }
}

/// A Kubernetes object name (DNS subdomain), or an RBAC name such as
/// `eks:addon-cluster-admin`: nothing that could end a quoted string.
fn is_k8s_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
}

/// The objects an issue names: the agent DaemonSet, every object of a
/// conflict list (`<Kind>.<group> <name> - <field>`), the object a `forbidden`
/// message names (`<resource>.<group> "<name>" is forbidden`), and for
/// permission and admission failures the RBAC bindings and webhook
/// configurations whose change is the likely cause.
pub fn objects_named(issue: &Issue) -> Vec<AuditObject> {
    let text = issue.detail_text();
    let mut objects = vec![AuditObject::agent_daemonset()];
    let mut add = |object: Option<AuditObject>| {
        // The same object named twice (the conflict list names the agent
        // DaemonSet without its namespace) is filtered on once.
        if let Some(object) = object
            && !objects
                .iter()
                .any(|o| o.resource == object.resource && o.name == object.name)
            && objects.len() < MAX_OBJECTS
        {
            objects.push(object);
        }
    };
    let tokens: Vec<&str> = text.split_whitespace().collect();
    for window in tokens.windows(3) {
        let [kind, name, dash] = window else { continue };
        // A conflict: `DaemonSet.apps aws-guardduty-agent - .spec...`.
        if *dash == "-" && kind.starts_with(|c: char| c.is_ascii_uppercase()) {
            let kind = kind.split('.').next().unwrap_or_default();
            if kind.chars().all(|c| c.is_ascii_alphanumeric()) {
                add(AuditObject::new(&plural(kind), None, Some(name)));
            }
        }
        // Forbidden: `priorityclasses.scheduling.k8s.io "aws-guardduty-agent.priorityclass" is`.
        if *dash == "is" && name.len() > 2 && name.starts_with('"') && name.ends_with('"') {
            let resource = kind.split('.').next().unwrap_or_default();
            add(AuditObject::new(
                resource,
                None,
                Some(&name[1..name.len() - 1]),
            ));
        }
    }
    let folded = crate::text::fold(text);
    if folded.contains("forbidden") {
        add(AuditObject::new("clusterrolebindings", None, None));
        add(AuditObject::new("clusterroles", None, None));
    }
    if folded.contains("admissionwebhook") || folded.contains("deniedtherequest") {
        add(AuditObject::new(
            "validatingwebhookconfigurations",
            None,
            None,
        ));
        add(AuditObject::new(
            "mutatingwebhookconfigurations",
            None,
            None,
        ));
    }
    objects
}

/// `DaemonSet` → `daemonsets`, `PriorityClass` → `priorityclasses`,
/// `NetworkPolicy` → `networkpolicies`.
fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// The query over these objects. For the agent DaemonSet alone it is `AGENT_QUERY`.
pub fn query_string(objects: &[AuditObject]) -> String {
    let filter = objects
        .iter()
        .map(AuditObject::filter)
        .collect::<Vec<_>>()
        .join(" or ");
    [
        fields_clause!(),
        stream_clause!(),
        &format!("filter {filter}"),
        verbs_clause!(),
        sort_clause!(),
        limit_clause!(),
    ]
    .join(SEPARATOR)
}

/// The Logs Insights query the shell runs: `StartQuery` on `log_group` from
/// `start_time` to `end_time` (seconds since the epoch), then
/// `GetQueryResults` until it ends or the budget runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditQuery {
    pub log_group: String,
    pub start_time: i64,
    pub end_time: i64,
    pub query_string: String,
    pub limit: u32,
    pub objects: Vec<AuditObject>,
}

impl AuditQuery {
    /// The query for `cluster` over `window_seconds` before `event_time` up to
    /// `now` (both seconds since the epoch; a missing event time counts from now).
    pub fn new(
        cluster: &ClusterName,
        objects: Vec<AuditObject>,
        event_time: Option<i64>,
        now: i64,
        window_seconds: u64,
    ) -> AuditQuery {
        let window = i64::try_from(window_seconds).unwrap_or(i64::MAX);
        let from = event_time.unwrap_or(now).min(now);
        AuditQuery {
            log_group: log_group(cluster),
            start_time: from.saturating_sub(window).max(0),
            end_time: now,
            query_string: query_string(&objects),
            limit: RESULT_LIMIT,
            objects,
        }
    }
}

/// The operator's settings for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditSettings {
    /// How far before the event the query looks.
    pub window_seconds: u64,
    /// User names (or user-agent products) of reconciling controllers
    /// besides Argo CD and Flux (`RECONCILING_CONTROLLERS`).
    pub controllers: Vec<ControllerName>,
}

impl Default for AuditSettings {
    fn default() -> AuditSettings {
        AuditSettings {
            window_seconds: DEFAULT_WINDOW_SECONDS,
            controllers: Vec::new(),
        }
    }
}

/// A user name or user-agent product the operator names as a reconciling controller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ControllerName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a controller name: 1 to 256 characters without spaces or commas, \
     e.g. system:serviceaccount:fleet-system:fleet-agent"
)]
pub struct ControllerNameError {
    pub value: String,
}

impl ControllerName {
    pub fn parse(text: &str) -> Result<ControllerName, ControllerNameError> {
        let text = text.trim();
        let valid = !text.is_empty()
            && text.len() <= 256
            && text
                .chars()
                .all(|c| c.is_ascii_graphic() && c != ',' && c != '`');
        if valid {
            Ok(ControllerName(text.to_owned()))
        } else {
            Err(ControllerNameError {
                value: crate::text::clip(text, 256),
            })
        }
    }

    /// A comma-separated list; empty text is an empty list.
    pub fn parse_list(list: &str) -> Result<Vec<ControllerName>, ControllerNameError> {
        if list.trim().is_empty() {
            return Ok(Vec::new());
        }
        list.split(',').map(ControllerName::parse).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the audit log said, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", deny_unknown_fields)]
pub enum AuditTrail {
    /// The query completed: its rows, newest first.
    Read {
        #[serde(default)]
        query_id: Option<String>,
        #[serde(default)]
        changes: Vec<AuditChange>,
    },
    Unreadable {
        failure: AuditFailure,
    },
}

/// Why the audit log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum AuditFailure {
    /// `ResourceNotFoundException`: no control-plane log group, so audit logging is off.
    LogGroupNotFound,
    /// The query had not finished when its budget ran out.
    StillRunning { query_id: String },
    /// `LimitExceededException`: 30 concurrent queries per account, shared
    /// with people and dashboards.
    LimitExceeded,
    /// `AccessDeniedException`: the function's role may not query the log group.
    AccessDenied { message: String },
    /// The query ended `Failed`, `Cancelled` or `Timeout`.
    QueryEnded { query_id: String, status: String },
    /// Anything else, in words.
    Other { message: String },
}

/// One mutating request from the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditChange {
    /// Seconds since the epoch (`@timestamp`).
    pub at: Option<i64>,
    pub verb: Option<String>,
    /// `user.username`
    pub user: Option<String>,
    pub user_agent: Option<String>,
    pub request_uri: Option<String>,
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `responseStatus.code`: a refused request (4xx, 5xx) changed nothing.
    pub response_code: Option<u16>,
}

impl AuditChange {
    /// A row of `GetQueryResults`: `(field, value)` pairs.
    pub fn from_row<'r>(row: impl IntoIterator<Item = (&'r str, &'r str)>) -> AuditChange {
        let mut change = AuditChange::default();
        for (field, value) in row {
            let kept = || Some(crate::text::clip(value, VALUE_BYTES));
            match field {
                "@timestamp" => change.at = crate::decide::parse_time(value),
                "verb" => change.verb = kept(),
                "user.username" => change.user = kept(),
                "userAgent" => change.user_agent = kept(),
                "requestURI" => change.request_uri = kept(),
                "objectRef.resource" => change.resource = kept(),
                "objectRef.namespace" => change.namespace = kept(),
                "objectRef.name" => change.name = kept(),
                "responseStatus.code" => change.response_code = value.trim().parse().ok(),
                _ => {}
            }
        }
        change
    }

    /// Whether the request may have changed the object: not refused.
    pub fn took_effect(&self) -> bool {
        self.response_code.is_none_or(|code| code < 400)
    }

    /// `daemonsets amazon-guardduty/aws-guardduty-agent`, or the request URI.
    pub fn object(&self) -> String {
        match (&self.resource, &self.name) {
            (Some(resource), Some(name)) => match &self.namespace {
                Some(namespace) if !namespace.is_empty() => {
                    format!("{resource} {namespace}/{name}")
                }
                _ => format!("{resource} {name}"),
            },
            _ => self
                .request_uri
                .clone()
                .unwrap_or_else(|| "an unnamed object".to_owned()),
        }
    }

    pub fn actor(&self, controllers: &[ControllerName]) -> Actor {
        Actor::classify(
            self.user.as_deref().unwrap_or_default(),
            self.user_agent.as_deref().unwrap_or_default(),
            controllers,
        )
    }
}

/// The most recent change that took effect. Rows without a time count as
/// the most recent: the guardrail errs on the side of not writing.
pub fn last_change(trail: &AuditTrail) -> Option<&AuditChange> {
    let AuditTrail::Read { changes, .. } = trail else {
        return None;
    };
    changes
        .iter()
        .filter(|c| c.took_effect())
        .fold(None, |latest: Option<&AuditChange>, change| match latest {
            None => Some(change),
            Some(latest) => match (latest.at, change.at) {
                (None, _) => Some(latest),
                (Some(_), None) => Some(change),
                (Some(a), Some(b)) if b > a => Some(change),
                _ => Some(latest),
            },
        })
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "class", content = "via")]
pub enum Actor {
    /// A person: `kubectl`, or the console (a browser).
    Person(&'static str),
    /// A one-shot tool: Terraform, Helm, a CI role.
    Automation(&'static str),
    /// Something that re-applies its own version: Argo CD, Flux, or a name
    /// the operator configured.
    Controller(String),
    /// EKS's own add-on manager.
    EksAddonManager,
    Unknown,
}

/// User names of CI systems' roles and sessions.
const CI_MARKERS: [&str; 9] = [
    "github",
    "gitlab",
    "jenkins",
    "codebuild",
    "codepipeline",
    "circleci",
    "buildkite",
    "atlantis",
    "spacelift",
];

impl Actor {
    pub fn classify(user: &str, user_agent: &str, controllers: &[ControllerName]) -> Actor {
        let product = user_agent.split('/').next().unwrap_or_default();
        if let Some(configured) = controllers
            .iter()
            .find(|c| c.as_str() == user || c.as_str() == product)
        {
            return Actor::Controller(configured.as_str().to_owned());
        }
        if user == EKS_ADDON_MANAGER {
            return Actor::EksAddonManager;
        }
        let service_account = user.strip_prefix("system:serviceaccount:");
        let (sa_namespace, sa_name) = service_account
            .and_then(|sa| sa.split_once(':'))
            .unwrap_or_default();
        if product.starts_with("argocd-application-controller")
            || sa_name == "argocd-application-controller"
            || (sa_namespace == "argocd" && sa_name.starts_with("argocd-"))
        {
            return Actor::Controller("Argo CD".to_owned());
        }
        if matches!(
            product,
            "kustomize-controller" | "helm-controller" | "source-controller"
        ) || sa_namespace == "flux-system"
        {
            return Actor::Controller("Flux".to_owned());
        }
        let agent = user_agent.to_ascii_lowercase();
        if agent.contains("terraform") {
            return Actor::Automation("Terraform");
        }
        if agent.starts_with("helm/") || agent.contains(" helm/") {
            return Actor::Automation("Helm");
        }
        let lower_user = user.to_ascii_lowercase();
        if CI_MARKERS.iter().any(|m| lower_user.contains(m)) {
            return Actor::Automation("a CI role");
        }
        if product.starts_with("kubectl") {
            return Actor::Person("kubectl");
        }
        if product == "Mozilla" {
            return Actor::Person("the console");
        }
        Actor::Unknown
    }

    pub fn is_controller(&self) -> bool {
        matches!(self, Actor::Controller(_))
    }

    /// `a person (kubectl)`, `a reconciling controller (Argo CD)`.
    pub fn describe(&self) -> String {
        match self {
            Actor::Person(client) => format!("a person ({client})"),
            Actor::Automation(tool) => format!("automation ({tool})"),
            Actor::Controller(name) => {
                format!("a reconciling controller ({})", one_line(name))
            }
            Actor::EksAddonManager => "EKS itself (eks:addon-manager)".to_owned(),
            Actor::Unknown => "an unclassified client".to_owned(),
        }
    }
}

/// Untrusted text for one line of the alert: clipped, no control characters
/// and no line break.
pub fn one_line(text: &str) -> String {
    crate::text::clip(text, VALUE_BYTES)
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect()
}

/// `<user>, <actor>: <verb> <object> at <time> from <client>`.
pub fn describe_change(change: &AuditChange, controllers: &[ControllerName]) -> String {
    let mut line = format!(
        "{}, {}: {} {} at {}",
        one_line(change.user.as_deref().unwrap_or("an unnamed user")),
        change.actor(controllers).describe(),
        one_line(change.verb.as_deref().unwrap_or("changed")),
        one_line(&change.object()),
        change.at.map_or("an unknown time".to_owned(), format_time),
    );
    if let Some(agent) = change.user_agent.as_deref().filter(|a| !a.is_empty()) {
        line.push_str(&format!(" from {}", one_line(agent)));
    }
    if let Some(code) = change.response_code.filter(|code| *code >= 400) {
        line.push_str(&format!(" (refused, HTTP {code})"));
    }
    line
}

/// A query id AWS returned, if it is safe to paste into a command.
fn pasteable_query_id(query_id: &str) -> Option<&str> {
    (!query_id.is_empty()
        && query_id.len() <= 128
        && query_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'))
    .then_some(query_id)
}

/// The Logs Insights console of a region.
pub fn console_url(region: &Region) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:logs-insights"
    )
}

/// The alert's lines about the audit log, for the live-state list: the last
/// changes (who, when, verb, object, client, actor class), or why the last
/// writer could not be checked and what to do about it. Empty when the log
/// was not read for this event.
pub fn describe(
    trail: &crate::facts::Fact<AuditTrail>,
    cluster: Option<&ClusterName>,
    region: Option<&Region>,
    controllers: &[ControllerName],
) -> Vec<String> {
    use crate::facts::Fact;
    let not_checked = "Last writer: could not be checked";
    match trail {
        Fact::NotGathered => Vec::new(),
        Fact::Unavailable(why) => vec![format!(
            "{not_checked}: the audit log query failed ({})",
            one_line(why)
        )],
        Fact::Known(AuditTrail::Read { changes, .. }) if changes.is_empty() => vec![
            "Last writer: the audit log has no create, update, patch or delete of the agent's objects in the window".to_owned(),
        ],
        Fact::Known(trail @ AuditTrail::Read { changes, .. }) => {
            let mut lines = Vec::new();
            if let Some(last) = last_change(trail) {
                lines.push(format!("Last change: {}", describe_change(last, controllers)));
            }
            let earlier = changes
                .iter()
                .filter(|c| last_change(trail).is_none_or(|last| !std::ptr::eq(*c, last)))
                .take(MAX_CHANGES_SHOWN.saturating_sub(1));
            for change in earlier {
                lines.push(format!("Earlier: {}", describe_change(change, controllers)));
            }
            if changes.len() > MAX_CHANGES_SHOWN {
                lines.push(format!(
                    "Audit log: {} matching requests in the window (the query above lists them)",
                    changes.len()
                ));
            }
            lines
        }
        Fact::Known(AuditTrail::Unreadable { failure }) => {
            describe_failure(failure, cluster, region, not_checked)
        }
    }
}

/// `describe` for a plan's facts, event and settings.
pub fn describe_plan(plan: &crate::decide::Plan) -> Vec<String> {
    let event = &plan.event;
    let cluster = event
        .cluster_name()
        .and_then(|c| ClusterName::parse(c).ok());
    let region = event
        .envelope
        .region
        .as_deref()
        .and_then(|r| Region::parse(r).ok());
    describe(
        &plan.facts.audit_log,
        cluster.as_ref(),
        region.as_ref(),
        &plan.controllers,
    )
}

fn describe_failure(
    failure: &AuditFailure,
    cluster: Option<&ClusterName>,
    region: Option<&Region>,
    not_checked: &str,
) -> Vec<String> {
    match failure {
        AuditFailure::LogGroupNotFound => {
            let mut lines = vec![format!(
                "{not_checked}: the cluster has no control-plane log group{}, so audit logging is off",
                cluster.map_or(String::new(), |c| format!(" {}", log_group(c)))
            )];
            if let (Some(cluster), Some(region)) = (cluster, region) {
                lines.push(format!(
                    "Turn audit logging on: {}",
                    ENABLE_AUDIT_LOGGING
                        .replace("{region}", region.as_str())
                        .replace("{cluster}", cluster.as_str())
                ));
            }
            lines
        }
        AuditFailure::StillRunning { query_id } => {
            let mut lines = vec![format!(
                "{not_checked}: the audit log query was still running when its time ran out"
            )];
            match pasteable_query_id(query_id) {
                Some(id) => {
                    let region_flag = region.map_or(String::new(), |r| format!(" --region {r}"));
                    lines.push(format!(
                        "Its results: aws logs get-query-results{region_flag} --query-id {id}"
                    ));
                }
                None => lines.push(format!("Query id: {}", one_line(query_id))),
            }
            if let Some(region) = region {
                lines.push(format!("Logs Insights console: {}", console_url(region)));
            }
            lines
        }
        AuditFailure::LimitExceeded => vec![format!(
            "{not_checked}: CloudWatch Logs refused the query (LimitExceededException: at most 30 concurrent Logs Insights queries per account, shared with people and dashboards)"
        )],
        AuditFailure::AccessDenied { message } => vec![format!(
            "{not_checked}: access denied to the audit log ({}); the function's role needs logs:StartQuery on the cluster's log group and logs:GetQueryResults",
            one_line(message)
        )],
        AuditFailure::QueryEnded { query_id, status } => vec![format!(
            "{not_checked}: the audit log query {} ended {}",
            one_line(query_id),
            one_line(status)
        )],
        AuditFailure::Other { message } => vec![format!(
            "{not_checked}: the audit log query failed ({})",
            one_line(message)
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_query_is_the_built_query() {
        assert_eq!(query_string(&[AuditObject::agent_daemonset()]), AGENT_QUERY);
        assert_eq!(AGENT_QUERY.matches(SEPARATOR).count(), 5);
        assert!(AGENT_QUERY.ends_with(&format!("limit {RESULT_LIMIT}")));
        assert!(AGENT_QUERY_CLI.contains(&AGENT_QUERY.replace(SEPARATOR, " | ")));
        assert!(AGENT_QUERY_CLI.contains(&format!("- {DEFAULT_WINDOW_SECONDS} ))")));
        for field in [
            "@timestamp",
            "verb",
            "user.username",
            "userAgent",
            "requestURI",
            "objectRef.name",
            "responseStatus.code",
        ] {
            assert!(AGENT_QUERY.contains(field), "{field}");
        }
    }

    #[test]
    fn plurals() {
        assert_eq!(plural("DaemonSet"), "daemonsets");
        assert_eq!(plural("PriorityClass"), "priorityclasses");
        assert_eq!(plural("NetworkPolicy"), "networkpolicies");
    }

    #[test]
    fn objects_refuse_what_could_break_the_query() {
        assert!(AuditObject::new("daemonsets", None, Some("x\" or true")).is_none());
        assert!(AuditObject::new("Daemon sets", None, None).is_none());
        assert!(AuditObject::new("", None, None).is_none());
        assert!(AuditObject::new("pods", Some("a:b"), None).is_none());
        assert!(
            AuditObject::new("clusterrolebindings", None, Some("eks:addon-cluster-admin"))
                .is_some()
        );
    }

    #[test]
    fn each_object_is_filtered_on_once() {
        let issue = Issue::parse(
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts found. Conflicts: DaemonSet.apps aws-guardduty-agent - .spec.a DaemonSet.apps aws-guardduty-agent - .spec.b ClusterRole.rbac.authorization.k8s.io r - .rules",
        );
        let objects = objects_named(&issue);
        assert_eq!(objects.len(), 2, "{objects:?}");
        assert_eq!(objects[0], AuditObject::agent_daemonset());
        assert_eq!(
            objects[1],
            AuditObject::new("clusterroles", None, Some("r")).unwrap()
        );
        let many: String = (0..20)
            .map(|i| format!(" Role.rbac.authorization.k8s.io r{i} - .rules"))
            .collect();
        let objects = objects_named(&Issue::parse(&format!(
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts:{many}"
        )));
        assert_eq!(objects.len(), MAX_OBJECTS);
        // A webhook denial adds the webhook configurations, a forbidden one the bindings.
        let webhook = objects_named(&Issue::parse(
            "Addon Update Failed:EKS Addon Issue - AdmissionRequestDenied: admission webhook \"validate.kyverno.svc\" denied the request",
        ));
        assert!(
            webhook.contains(
                &AuditObject::new("validatingwebhookconfigurations", None, None).unwrap()
            )
        );
        assert!(!webhook.contains(&AuditObject::new("clusterrolebindings", None, None).unwrap()));
        // A hostile name never reaches the query.
        let hostile = objects_named(&Issue::parse(
            "Addon Update Failed:EKS Addon Issue - ConfigurationConflict: Conflicts: DaemonSet.apps x\")|fields(secret - .spec",
        ));
        assert_eq!(hostile, vec![AuditObject::agent_daemonset()]);
    }

    #[test]
    fn rows_parse_and_clip() {
        let change = AuditChange::from_row([
            ("@timestamp", "2026-03-14 09:00:00.000"),
            ("user.username", "alice\nevil"),
            ("responseStatus.code", "200"),
            ("@ptr", "x"),
        ]);
        assert_eq!(change.at, crate::decide::parse_time("2026-03-14T09:00:00Z"));
        assert_eq!(change.response_code, Some(200));
        assert!(change.took_effect());
        assert!(!describe_change(&change, &[]).contains('\n'));
        let refused = AuditChange {
            response_code: Some(403),
            ..AuditChange::default()
        };
        assert!(!refused.took_effect());
        assert!(
            AuditChange {
                response_code: Some(399),
                ..AuditChange::default()
            }
            .took_effect()
        );
    }
}

#[cfg(test)]
mod describe_tests {
    use super::*;
    use crate::facts::Fact;

    fn lines(failure: AuditFailure) -> Vec<String> {
        let cluster = ClusterName::parse("prod-payments").unwrap();
        let region = Region::parse("us-east-1").unwrap();
        describe(
            &Fact::Known(AuditTrail::Unreadable { failure }),
            Some(&cluster),
            Some(&region),
            &[],
        )
    }

    #[test]
    fn every_failure_says_the_writer_is_unchecked_and_why() {
        let not_found = lines(AuditFailure::LogGroupNotFound);
        assert!(not_found[0].starts_with("Last writer: could not be checked"));
        assert!(not_found[0].contains("/aws/eks/prod-payments/cluster"));
        assert_eq!(
            not_found[1],
            "Turn audit logging on: aws eks update-cluster-config --region us-east-1 --name prod-payments --logging '{\"clusterLogging\":[{\"types\":[\"audit\"],\"enabled\":true}]}'"
        );
        let running = lines(AuditFailure::StillRunning {
            query_id: "6f1a2b3c-0d4e".into(),
        });
        assert!(running[0].contains("still running"));
        assert_eq!(
            running[1],
            "Its results: aws logs get-query-results --region us-east-1 --query-id 6f1a2b3c-0d4e"
        );
        assert_eq!(
            running[2],
            "Logs Insights console: https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:logs-insights"
        );
        // A query id that is not safe to paste is only quoted.
        let odd = lines(AuditFailure::StillRunning {
            query_id: "x; rm -rf /".into(),
        });
        assert_eq!(odd[1], "Query id: x; rm -rf /");
        assert!(lines(AuditFailure::LimitExceeded)[0].contains("LimitExceededException"));
        let denied = lines(AuditFailure::AccessDenied {
            message: "not\nauthorized".into(),
        });
        assert!(denied[0].contains("access denied") && denied[0].contains("not authorized"));
        assert!(denied[0].contains("logs:StartQuery"));
        let ended = lines(AuditFailure::QueryEnded {
            query_id: "q".into(),
            status: "Timeout".into(),
        });
        assert!(ended[0].contains("ended Timeout"));
        assert!(
            lines(AuditFailure::Other {
                message: "boom".into()
            })[0]
                .contains("(boom)")
        );
        let unavailable = describe(&Fact::Unavailable("slow".into()), None, None, &[]);
        assert!(unavailable[0].starts_with("Last writer: could not be checked"));
        assert!(describe(&Fact::NotGathered, None, None, &[]).is_empty());
        // Without a cluster and region, no command to paste.
        let bare = describe(
            &Fact::Known(AuditTrail::Unreadable {
                failure: AuditFailure::LogGroupNotFound,
            }),
            None,
            None,
            &[],
        );
        assert_eq!(bare.len(), 1);
    }

    #[test]
    fn the_last_changes_are_listed_newest_first() {
        let change = |at: i64, user: &str| AuditChange {
            at: Some(at),
            user: Some(user.into()),
            verb: Some("patch".into()),
            ..AuditChange::default()
        };
        let trail = Fact::Known(AuditTrail::Read {
            query_id: None,
            changes: vec![
                change(30, "carol"),
                change(40, "dave"),
                change(20, "bob"),
                change(10, "alice"),
            ],
        });
        let shown = describe(&trail, None, None, &[]);
        assert!(shown[0].starts_with("Last change: dave, an unclassified client: patch"));
        assert!(shown[1].starts_with("Earlier: carol"));
        assert!(shown[2].starts_with("Earlier: bob"));
        assert!(shown[3].contains("4 matching requests"));
        assert_eq!(shown.len(), 4);
        let empty = Fact::Known(AuditTrail::Read {
            query_id: None,
            changes: vec![],
        });
        assert!(
            describe(&empty, None, None, &[])[0].contains("no create, update, patch or delete")
        );
    }

    #[test]
    fn trails_round_trip_and_refuse_typos() {
        let trail = AuditTrail::Unreadable {
            failure: AuditFailure::StillRunning {
                query_id: "q".into(),
            },
        };
        let json = serde_json::to_string(&trail).unwrap();
        assert_eq!(serde_json::from_str::<AuditTrail>(&json).unwrap(), trail);
        assert!(serde_json::from_str::<AuditTrail>(r#"{"state": "read", "chnages": []}"#).is_err());
        assert!(
            serde_json::from_str::<AuditTrail>(r#"{"state": "read", "changes": [{"usr": "x"}]}"#)
                .is_err()
        );
    }
}
