"""Static guarantees of infra/template.yaml that linters do not know about.

cfn-lint checks that the template is valid and checkov that it follows general
security rules; these tests pin down what this project decided: the function's
fixed build facts, every setting the function reads, least privilege on its
role, and that nothing can fail without landing in an alarmed queue.
"""

from __future__ import annotations

import json
import re

from pathlib import Path
from typing import Any

import pytest

from infra_support import load_template, resources_of_type

ADDON_ARN = "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:addon/*/aws-guardduty-agent/*"
CLUSTER_ARN = "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/*"
DETECTOR_ARN = "arn:${AWS::Partition}:guardduty:${AWS::Region}:${AWS::AccountId}:detector/*"
FOLLOW_UP_SCHEDULES_ARN = (
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${FollowUpScheduleGroup}/*"
)

# What the function reads (crates/lambda) and where each value comes from.
ENVIRONMENT = {
    "ALERT_TOPIC_ARN": {"Ref": "AlertTopic"},
    "ALERT_MESSAGE_FORMAT": {"Ref": "AlertMessageFormat"},
    "REMEDIATION_MODE": {"Ref": "RemediationMode"},
    "REMEDIATION_ALLOW_CLUSTERS": {"Ref": "RemediationAllowClusters"},
    "REMEDIATION_DENY_CLUSTERS": {"Ref": "RemediationDenyClusters"},
    "OVERWRITE_MAX_PER_WINDOW": {"Ref": "OverwriteMaxPerWindow"},
    "OVERWRITE_WINDOW_HOURS": {"Ref": "OverwriteWindowHours"},
    "FACT_READ_TIMEOUT_MS": {"Ref": "FactReadTimeoutMs"},
    "FOLLOW_UP_SCHEDULE_GROUP": {"Ref": "FollowUpScheduleGroup"},
    "FOLLOW_UP_ROLE_ARN": {"Fn::GetAtt": ["FollowUpSchedulerRole", "Arn"]},
    "FOLLOW_UP_DELAY_MINUTES": {"Ref": "FollowUpDelayMinutes"},
    "FOLLOW_UP_MAX_MINUTES": {"Ref": "FollowUpMaxMinutes"},
    # The organization hub: without OrganizationId, no member account.
    "MEMBER_ACCOUNTS": {"Fn::If": ["IsOrganizationHub", {"Ref": "MemberAccounts"}, ""]},
    "MEMBER_ROLE_NAME": {"Ref": "MemberRoleName"},
    "AUDIT_WINDOW_DAYS": {"Ref": "AuditWindowDays"},
    "AUDIT_QUERY_BUDGET_MS": {"Ref": "AuditQueryBudgetMs"},
    "RECONCILING_CONTROLLERS": {"Ref": "ReconcilingControllers"},
    "METRICS_NAMESPACE": {"Ref": "MetricsNamespace"},
    "APPROVAL_KEY_ID": {"Fn::GetAtt": ["ApprovalKey", "Arn"]},
    "APPROVAL_TTL_SECONDS": {"Ref": "ApprovalTtlSeconds"},
}
EKS_LOG_GROUP_ARNS = [
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/eks/*/cluster",
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/eks/*/cluster:*",
]
MEMBER_ROLE_ARN = "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"
NO_VALUE = {"Ref": "AWS::NoValue"}


def _unless_no_hub(item: Any) -> Any:
    """A list item present only in a hub: {"Fn::If": ["IsOrganizationHub", item, NoValue]}."""
    if isinstance(item, dict) and "Fn::If" in item:
        condition, present, absent = item["Fn::If"]
        assert (condition, absent) == ("IsOrganizationHub", NO_VALUE), item
        return present
    return item


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert list(functions) == ["CoverageFunction"]
    return functions["CoverageFunction"]


def _statements(template: dict[str, Any], role_name: str = "FunctionRole") -> list[dict[str, Any]]:
    """Every statement granted to a role of the stack, inline or attached."""
    role = template["Resources"][role_name]["Properties"]
    statements = [
        _unless_no_hub(s) for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]
    ]
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"]["Roles"]
        assert len(roles) == 1, roles
        if roles == [{"Ref": role_name}]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_stack_has_exactly_two_roles(template: dict[str, Any]) -> None:
    # And, only with a Slack or Teams channel, the chat channels' role (test_approval_*).
    assert set(resources_of_type(template, "AWS::IAM::Role")) == {
        "FunctionRole",
        "FollowUpSchedulerRole",
        "ChatChannelRole",
    }
    assert template["Resources"]["ChatChannelRole"]["Condition"] == "HasChatChannel"
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        assert policy["Properties"]["Roles"] in ([{"Ref": "FunctionRole"}], [{"Ref": "FollowUpSchedulerRole"}])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub(value: Any) -> Any:
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value


def test_transform_and_build_facts(template: dict[str, Any], function: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    props = function["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "bootstrap"
    assert props["PackageType"] == "Zip"
    assert props["CodeUri"] == ".."
    assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert function["Metadata"]["BuildProperties"] == {"Binary": "coverage-lambda"}
    assert props["MemorySize"] == 512
    assert props["Timeout"] == 30


def test_logging_is_json_with_explicit_log_group(template: dict[str, Any], function: dict[str, Any]) -> None:
    logging = function["Properties"]["LoggingConfig"]
    assert logging == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": {"Ref": "ApplicationLogLevel"},
        "SystemLogLevel": "WARN",
    }
    assert template["Parameters"]["ApplicationLogLevel"]["Default"] == "INFO"
    group = template["Resources"]["FunctionLogGroup"]["Properties"]
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${CoverageFunction}"}
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_setting_the_function_reads_is_wired(template: dict[str, Any], function: dict[str, Any]) -> None:
    assert function["Properties"]["Environment"]["Variables"] == ENVIRONMENT
    for source in ENVIRONMENT.values():
        if "Fn::If" in source:
            source = source["Fn::If"][1]
        name = source["Ref"] if "Ref" in source else source["Fn::GetAtt"][0]
        assert name in template["Parameters"] or name in template["Resources"], name


def test_the_emulator_stand_in_is_never_deployed(function: dict[str, Any]) -> None:
    # EMULATOR_FUNCTION_ARN is for `cargo lambda watch` only (Lambda always
    # sends the real ARN, so it would be inert); the stack still never sets it.
    assert "EMULATOR_FUNCTION_ARN" not in function["Properties"]["Environment"]["Variables"]
    assert "EMULATOR_FUNCTION_ARN" not in json.dumps(function)


def test_parameter_defaults(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["RemediationMode"]["Default"] == "dry-run"
    assert params["RemediationMode"]["AllowedValues"] == ["off", "dry-run", "enforce", "approve"]
    assert params["ApprovalTtlSeconds"]["Default"] == 3600
    assert (params["ApprovalTtlSeconds"]["MinValue"], params["ApprovalTtlSeconds"]["MaxValue"]) == (60, 86400)
    assert params["AlertMessageFormat"]["Default"] == "chat"
    assert params["AlertMessageFormat"]["AllowedValues"] == ["chat", "text"]
    assert params["OverwriteMaxPerWindow"]["Default"] == 1
    assert params["OverwriteWindowHours"]["Default"] == 24
    assert params["FactReadTimeoutMs"]["Default"] == 3000
    # The function's own defaults and bounds (crates/lambda/src/config.rs).
    assert params["FollowUpDelayMinutes"]["Default"] == 5
    assert params["FollowUpMaxMinutes"]["Default"] == 30
    for name in ("FollowUpDelayMinutes", "FollowUpMaxMinutes"):
        assert (params[name]["MinValue"], params[name]["MaxValue"]) == (1, 120), name
    assert params["RemediationAllowClusters"]["Default"] == ""
    assert params["RemediationDenyClusters"]["Default"] == ""
    # The parameter pattern refuses at deploy time what the function refuses at start-up.
    for name in ("RemediationAllowClusters", "RemediationDenyClusters"):
        pattern = re.compile(params[name]["AllowedPattern"])
        for ok in ("", "prod-*", "prod-*, staging-web", "a,b"):
            assert pattern.fullmatch(ok), (name, ok)
        for bad in (",", "a,,b", "a,", ", a", "a b", "a;b"):
            assert not pattern.fullmatch(bad), (name, bad)
    assert params["AlertEmail"]["Default"] == ""
    assert params["ReservedConcurrency"]["Default"] == 0
    # The audit log: the function's own defaults and bounds (crates/lambda/src/config.rs).
    assert params["AuditWindowDays"]["Default"] == 7
    assert (params["AuditWindowDays"]["MinValue"], params["AuditWindowDays"]["MaxValue"]) == (1, 90)
    assert params["AuditQueryBudgetMs"]["Default"] == 4000
    assert params["AuditQueryBudgetMs"]["MinValue"] == 500
    assert params["ReconcilingControllers"]["Default"] == ""
    pattern = re.compile(params["ReconcilingControllers"]["AllowedPattern"])
    for ok in ("", "system:serviceaccount:cattle-fleet-system:fleet-agent", "a, b", "fleet-agent,rancher"):
        assert pattern.fullmatch(ok), ok
    for bad in (",", "a,,b", "a,", "a b", "a`b"):
        assert not pattern.fullmatch(bad), bad


def test_optional_pieces_hang_on_conditions(template: dict[str, Any], function: dict[str, Any]) -> None:
    assert template["Resources"]["AlertEmailSubscription"]["Condition"] == "HasAlertEmail"
    assert function["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }


def test_role_has_no_wildcard_actions(template: dict[str, Any]) -> None:
    for role in ("FunctionRole", "FollowUpSchedulerRole"):
        for statement in _statements(template, role):
            assert statement["Effect"] == "Allow"
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"wildcard action {action} in {statement.get('Sid')}"


def test_role_grants_exactly_the_calls_the_function_makes(template: dict[str, Any]) -> None:
    granted: dict[str, list[Any]] = {}
    for statement in _statements(template):
        for action in _as_list(statement["Action"]):
            assert action not in granted, f"{action} granted twice"
            granted[action] = [_sub(r) for r in _as_list(statement["Resource"])]
    assert granted == {
        "eks:DescribeAddon": [ADDON_ARN],
        "eks:UpdateAddon": [ADDON_ARN],
        "eks:ListUpdates": [CLUSTER_ARN, ADDON_ARN],
        "eks:DescribeUpdate": [CLUSTER_ARN, ADDON_ARN],
        "guardduty:ListDetectors": ["*"],
        "guardduty:ListCoverage": [DETECTOR_ARN],
        "guardduty:GetCoverageStatistics": [DETECTOR_ARN],
        "scheduler:CreateSchedule": [FOLLOW_UP_SCHEDULES_ARN],
        "scheduler:GetSchedule": [FOLLOW_UP_SCHEDULES_ARN],
        "iam:PassRole": [{"Fn::GetAtt": ["FollowUpSchedulerRole", "Arn"]}],
        "sns:Publish": [{"Ref": "AlertTopic"}],
        "logs:StartQuery": EKS_LOG_GROUP_ARNS,
        # GetQueryResults has no resource type: a query id is all it takes.
        "logs:GetQueryResults": ["*"],
        "sqs:SendMessage": [{"Fn::GetAtt": ["OnFailureQueue", "Arn"]}],
        "kms:GenerateDataKey": [{"Fn::GetAtt": ["AlertsKey", "Arn"]}],
        "kms:Decrypt": [{"Fn::GetAtt": ["AlertsKey", "Arn"]}],
        "logs:CreateLogStream": [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}],
        "sts:AssumeRole": [MEMBER_ROLE_ARN],
        # Approve in chat: the HMAC key only, to sign and verify tokens.
        "kms:GenerateMac": [{"Fn::GetAtt": ["ApprovalKey", "Arn"]}],
        "kms:VerifyMac": [{"Fn::GetAtt": ["ApprovalKey", "Arn"]}],
    }


def test_the_function_passes_only_the_scheduler_role_and_only_to_scheduler(template: dict[str, Any]) -> None:
    (statement,) = [s for s in _statements(template) if "iam:PassRole" in _as_list(s["Action"])]
    assert _as_list(statement["Action"]) == ["iam:PassRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    (schedules,) = [s for s in _statements(template) if "scheduler:CreateSchedule" in _as_list(s["Action"])]
    assert "Condition" not in schedules


def test_the_scheduler_role_may_only_invoke_this_function(template: dict[str, Any]) -> None:
    group = template["Resources"]["FollowUpScheduleGroup"]
    assert group["Type"] == "AWS::Scheduler::ScheduleGroup"
    role = template["Resources"]["FollowUpSchedulerRole"]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    # Confused deputy: only Scheduler acting for this account and this group.
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["FollowUpScheduleGroup", "Arn"]}},
    }
    (statement,) = _statements(template, "FollowUpSchedulerRole")
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "lambda:InvokeFunction"
    # The unqualified ARN: the schedules invoke the function, no version or alias.
    assert statement["Resource"] == {"Fn::GetAtt": ["CoverageFunction", "Arn"]}
    assert "Condition" not in statement
    assert "FollowUpSchedulerInvokePolicy" in template["Resources"]["CoverageEventRule"]["DependsOn"]


def test_async_failures_land_in_an_encrypted_queue(function: dict[str, Any], template: dict[str, Any]) -> None:
    config = function["Properties"]["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 21600
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["OnFailureQueue", "Arn"]},
    }
    assert template["Resources"]["OnFailureQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertsKey"}


def test_rule_target_has_retry_policy_and_scoped_dlq(template: dict[str, Any]) -> None:
    rule = template["Resources"]["CoverageEventRule"]["Properties"]
    assert "EventBusName" not in rule  # the default bus: AWS service events arrive there
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["CoverageFunction", "Arn"]}
    assert set(target["RetryPolicy"]) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}}
    statement, hub = template["Resources"]["RuleDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert _unless_no_hub(hub)["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["HubEventRule", "Arn"]}}
    }
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["CoverageEventRule", "Arn"]}}}
    permission = template["Resources"]["CoverageEventRulePermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["CoverageEventRule", "Arn"]}


def test_everything_stored_is_encrypted_with_a_rotating_key(template: dict[str, Any]) -> None:
    key = template["Resources"]["AlertsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}} in principals
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
    assert {"Service": "events.amazonaws.com"} in principals
    for name in ("AlertTopic", "RuleDeadLetterQueue", "OnFailureQueue"):
        assert template["Resources"][name]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertsKey"}, name


def test_alarms_watch_errors_and_both_failure_queues(template: dict[str, Any]) -> None:
    alarms = list(resources_of_type(template, "AWS::CloudWatch::Alarm").values())
    watched = set()
    for alarm in alarms:
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}]
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["Threshold"] == 0
        (dimension,) = props["Dimensions"]
        value = dimension["Value"]
        watched.add((props["MetricName"], value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]))
    assert watched == {
        ("Errors", "CoverageFunction"),
        ("ApproximateNumberOfMessagesVisible", "RuleDeadLetterQueue"),
        ("ApproximateNumberOfMessagesVisible", "OnFailureQueue"),
        # The function's own metrics (EMF): a failed OVERWRITE, an unreachable member account.
        ("RemediationsFailed", "CoverageFunction"),
        ("AccountsUnreachable", "CoverageFunction"),
    }
    for alarm in alarms:
        props = alarm["Properties"]
        if props["MetricName"] in {"RemediationsFailed", "AccountsUnreachable"}:
            assert props["Namespace"] == {"Ref": "MetricsNamespace"}
            assert props["Dimensions"][0]["Name"] == "Function"
            assert props["Statistic"] == "Sum"


def _readme_metrics() -> set[str]:
    """The metric names README.md's metrics table documents."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("### Metrics", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", section, flags=re.MULTILINE))


def test_the_dashboard_shows_every_documented_metric_of_this_function(template: dict[str, Any]) -> None:
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert variables == {"Namespace": {"Ref": "MetricsNamespace"}, "Function": {"Ref": "CoverageFunction"}}
    rendered = body
    for name, value in {"Namespace": "NS", "Function": "FN", "AWS::Region": "us-east-1"}.items():
        rendered = rendered.replace("${" + name + "}", value)
    assert "${" not in rendered, "every substitution is known"
    widgets = json.loads(rendered)["widgets"]
    shown: set[str] = set()
    for widget in widgets:
        props = widget["properties"]
        assert props["region"] == "us-east-1"
        for row in props["metrics"]:
            if isinstance(row[0], dict):
                expression = row[0]["expression"]
                match = re.fullmatch(
                    r"SEARCH\('\{NS,Function,(\w+)\} MetricName=\"(\w+)\" Function=\"FN\"', 'Sum', \d+\)",
                    expression,
                )
                assert match, expression
                shown.add(match.group(2))
            else:
                assert row[0] == "NS" and row[2:4] == ["Function", "FN"], row
                shown.add(row[1])
    documented = _readme_metrics()
    assert len(documented) == 9, documented
    assert shown == documented


def test_the_metrics_namespace_pattern_matches_the_functions_rule(template: dict[str, Any]) -> None:
    param = template["Parameters"]["MetricsNamespace"]
    assert param["Default"] == "GuardDutyCoverage"
    pattern = re.compile(param["AllowedPattern"])
    for ok in ("GuardDutyCoverage", "Team/Coverage", "a", "x" * 255):
        assert pattern.fullmatch(ok), ok
    for bad in ("", ":x", "AWS/Lambda", "tab\there", "x" * 256):
        assert not pattern.fullmatch(bad), bad


HUB_RESOURCES = {"HubEventBus", "HubEventBusPolicy", "HubEventRule", "HubEventRulePermission"}


def test_the_hub_exists_only_with_an_organization_id(template: dict[str, Any]) -> None:
    assert template["Parameters"]["OrganizationId"]["Default"] == ""
    assert template["Conditions"]["IsOrganizationHub"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]
    }
    conditional = {name for name, r in template["Resources"].items() if r.get("Condition") == "IsOrganizationHub"}
    assert conditional == HUB_RESOURCES
    params = template["Parameters"]
    assert params["MemberAccounts"]["Default"] == ""
    assert params["MemberRoleName"]["Default"] == "GuardDutyCoverageMember"
    # The parameter refuses at deploy time what the function refuses at start-up.
    accounts = re.compile(params["MemberAccounts"]["AllowedPattern"])
    for ok in ("", "*", "444455556666", "444455556666, 777788889999"):
        assert accounts.fullmatch(ok), ok
    for bad in (",", "4444", "444455556666,,777788889999", "444455556666,", "*,444455556666"):
        assert not accounts.fullmatch(bad), bad


def test_only_the_organizations_accounts_may_put_events_on_the_hub_bus(template: dict[str, Any]) -> None:
    policy = template["Resources"]["HubEventBusPolicy"]["Properties"]
    assert policy["EventBusName"] == {"Ref": "HubEventBus"}
    statement = policy["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": ["HubEventBus", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}


def test_the_hub_rule_is_the_default_rule_on_the_hub_bus(template: dict[str, Any]) -> None:
    own = template["Resources"]["CoverageEventRule"]
    hub = template["Resources"]["HubEventRule"]
    assert hub["Properties"]["EventBusName"] == {"Ref": "HubEventBus"}
    assert hub["Properties"]["EventPattern"] == own["Properties"]["EventPattern"]
    assert hub["Properties"]["Targets"] == own["Properties"]["Targets"]
    assert hub["DependsOn"] == own["DependsOn"]
    permission = template["Resources"]["HubEventRulePermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["HubEventRule", "Arn"]}
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_function_assumes_only_the_member_role_and_only_in_the_organization(template: dict[str, Any]) -> None:
    (statement,) = [s for s in _statements(template) if "sts:AssumeRole" in _as_list(s["Action"])]
    assert statement["Action"] == "sts:AssumeRole"
    assert _sub(statement["Resource"]) == MEMBER_ROLE_ARN
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}
    raw = [
        s
        for p in template["Resources"]["FunctionRole"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
    ]
    assert {"Fn::If": ["IsOrganizationHub", statement, NO_VALUE]} in raw, "granted only in a hub"


def test_approval_key_is_an_hmac_key(template: dict[str, Any]) -> None:
    key = template["Resources"]["ApprovalKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")


def test_approval_button_fits_the_api_and_picks_up_the_token(template: dict[str, Any]) -> None:
    action = template["Resources"]["ApproveCustomAction"]["Properties"]
    command = action["Definition"]["CommandText"]
    assert len(command) <= 100, len(command)
    assert command == 'lambda invoke --function-name $fn --payload {"approve":"$token"}'
    (attachment,) = action["Attachments"]
    assert attachment["NotificationType"] == "custom"
    assert attachment["ButtonText"] == "Approve OVERWRITE"
    assert attachment["Variables"] == {
        "token": "$.metadata.additionalContext.approvalToken",
        "fn": "$.metadata.additionalContext.approveFunction",
    }
    assert attachment["Criteria"] == [{"Operator": "HAS_VALUE", "VariableName": "token"}]


def test_approval_channels_are_optional_and_may_only_invoke_this_function(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["SlackChannel"]["Condition"] == "HasSlackChannel"
    assert resources["TeamsChannel"]["Condition"] == "HasTeamsChannel"
    policy = resources["ChatChannelInvokePolicy"]
    assert policy["Condition"] == "HasChatChannel"
    assert policy["Properties"]["Roles"] == [{"Ref": "ChatChannelRole"}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "InvokeCoverageFunctionOnly",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["CoverageFunction", "Arn"]},
        }
    ]
    role = resources["ChatChannelRole"]["Properties"]
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    for name in ("SlackChannel", "TeamsChannel"):
        channel = resources[name]["Properties"]
        assert channel["IamRoleArn"] == {"Fn::GetAtt": ["ChatChannelRole", "Arn"]}, name
        assert channel["GuardrailPolicies"] == [{"Ref": "ChatChannelInvokePolicy"}], name
        assert channel["CustomizationResourceArns"] == [{"Ref": "ApproveCustomAction"}], name
        assert channel["SnsTopicArns"] == [{"Ref": "AlertTopic"}], name
def test_the_sweep_schedule_invokes_the_function_with_the_sweep_payload(template: dict[str, Any]) -> None:
    schedule = template["Resources"]["SweepSchedule"]
    assert schedule["Type"] == "AWS::Scheduler::Schedule"
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "SweepRate"}
    assert template["Parameters"]["SweepRate"]["Default"] == "rate(6 hours)"
    pattern = re.compile(template["Parameters"]["SweepRate"]["AllowedPattern"])
    assert pattern.match("rate(6 hours)") and pattern.match("rate(1 day)") and pattern.match("cron(0 */6 * * ? *)")
    assert not pattern.match("rate(0 hours)") and not pattern.match("every 6 hours")
    # Delivered by the one Scheduler role, whose only permission is
    # lambda:InvokeFunction on this function and whose trust is this group.
    assert props["GroupName"] == {"Ref": "FollowUpScheduleGroup"}
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["CoverageFunction", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["FollowUpSchedulerRole", "Arn"]}
    assert json.loads(target["Input"]) == {"sweep": {}}
    assert "FollowUpSchedulerInvokePolicy" in _as_list(schedule["DependsOn"])
