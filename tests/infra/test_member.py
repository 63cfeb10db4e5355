"""infra/member.yaml, the organization hub's member stack.

* Its rule, on moto: the member's default bus forwards both coverage
  detail-types for EKS to a bus (the hub's), and nothing else. A rule with
  the template's pattern and an event-bus target is put on moto's default
  bus; a catch-all rule on the target bus routes what arrives there to an
  SQS queue, which is then read.
* Its template, as data: StackSets-ready (no transform, no macro), the
  forwarding role limited to PutEvents on the hub's bus, and a member role
  only the hub function's role of the organization may assume, allowed only
  what the function does in that account.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra_support import EVENTS_DIR, MEMBER_TEMPLATE_PATH, event_rule_pattern, load_template
from test_event_pattern import REGION, moto_endpoint  # noqa: F401 (the moto server fixture)

MEMBER = "444455556666"
ADDON_ARN = "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:addon/*/aws-guardduty-agent/*"
CLUSTER_ARN = "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/*"
DETECTOR_ARN = "arn:${AWS::Partition}:guardduty:${AWS::Region}:${AWS::AccountId}:detector/*"
EKS_LOG_GROUPS = [
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/eks/*/cluster",
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/eks/*/cluster:*",
]


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return load_template(MEMBER_TEMPLATE_PATH)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub(value: Any) -> Any:
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value


def _event(name: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    event = copy.deepcopy(event)
    event["account"] = MEMBER
    event.setdefault("detail", {})["resourceAccountId"] = MEMBER
    event.update(changes)
    return event


# --------------------------------------------------------------------------
# The rule, through moto
# --------------------------------------------------------------------------


class Forwarding:
    """The member rule on moto's default bus, targeting a 'hub' bus whose
    catch-all rule delivers to a queue."""

    def __init__(self, endpoint: str, pattern: dict[str, Any]) -> None:
        import boto3

        self.events = boto3.client("events", endpoint_url=endpoint, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        hub_bus = self.events.create_event_bus(Name="coverage-hub")["EventBusArn"]
        self.queue = self.sqs.create_queue(QueueName="hub-bus-inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_rule(
            Name="hub-catch-all", EventBusName="coverage-hub", EventPattern=json.dumps({"version": ["0"]})
        )
        self.events.put_targets(
            Rule="hub-catch-all", EventBusName="coverage-hub", Targets=[{"Id": "inbox", "Arn": queue_arn}]
        )
        self.events.put_rule(Name="forward-to-hub", EventPattern=json.dumps(pattern), State="ENABLED")
        self.events.put_targets(
            Rule="forward-to-hub",
            Targets=[
                {
                    "Id": "organization-hub-bus",
                    "Arn": hub_bus,
                    "RoleArn": f"arn:aws:iam::{MEMBER}:role/forward-to-hub",
                }
            ],
        )

    def forwarded(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        result = self.events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event.get("detail", {})),
                    "Resources": event.get("resources", []),
                }
            ]
        )
        assert result["FailedEntryCount"] == 0, result
        arrived = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return arrived
            for message in messages:
                arrived.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def forwarding(moto_endpoint: str, member: dict[str, Any]) -> Forwarding:  # noqa: F811
    return Forwarding(moto_endpoint, event_rule_pattern(member))


@pytest.mark.parametrize(
    "name",
    ["unhealthy.addon-configuration-conflict.json", "healthy.recovered.json"],
)
def test_both_eks_detail_types_reach_the_hub_bus(name: str, forwarding: Forwarding) -> None:
    event = _event(name)
    arrived = forwarding.forwarded(event)
    assert len(arrived) == 1, f"{name}: {arrived}"
    assert arrived[0]["detail-type"] == event["detail-type"]
    assert arrived[0]["detail"] == event["detail"], "forwarded with its detail"


def test_both_detail_types_are_in_the_pattern(member: dict[str, Any]) -> None:
    pattern = event_rule_pattern(member)
    assert sorted(pattern["detail-type"]) == [
        "GuardDuty Runtime Protection Healthy",
        "GuardDuty Runtime Protection Unhealthy",
    ]
    assert pattern["source"] == ["aws.guardduty"]
    assert pattern["detail"] == {"resourceDetails": {"resourceType": ["EKS"]}}


@pytest.mark.parametrize(
    "name,changes",
    [
        ("ecs.unhealthy.json", {}),
        ("unhealthy.addon-configuration-conflict.json", {"detail-type": "GuardDuty Finding"}),
        ("unhealthy.addon-configuration-conflict.json", {"source": "com.example.guardduty"}),
    ],
    ids=["ecs", "finding", "other-source"],
)
def test_nothing_else_is_forwarded(name: str, changes: dict[str, Any], forwarding: Forwarding) -> None:
    assert forwarding.forwarded(_event(name, **changes)) == []


def test_the_member_rule_is_the_hubs_rule() -> None:
    hub = load_template()
    assert event_rule_pattern(load_template(MEMBER_TEMPLATE_PATH)) == event_rule_pattern(hub)


# --------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------


def test_ready_for_service_managed_stack_sets(member: dict[str, Any]) -> None:
    assert "Transform" not in member, "StackSets with service-managed permissions refuse macros"
    assert all(not r["Type"].startswith("AWS::Serverless::") for r in member["Resources"].values())
    assert set(member["Parameters"]) == {"HubEventBusArn", "HubFunctionRoleArn", "OrganizationId", "MemberRoleName"}
    assert member["Parameters"]["MemberRoleName"]["Default"] == "GuardDutyCoverageMember"


def test_the_rule_targets_the_hub_bus_on_the_default_bus_with_its_role(member: dict[str, Any]) -> None:
    rule = member["Resources"]["ForwardCoverageEventsRule"]["Properties"]
    assert "EventBusName" not in rule, "the default bus: AWS service events arrive only there"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "HubEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardToHubRole", "Arn"]}
    role = member["Resources"]["ForwardToHubRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Ref": "HubEventBusArn"}


def test_only_the_hub_function_of_the_organization_may_assume_the_member_role(member: dict[str, Any]) -> None:
    role = member["Resources"]["MemberRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"AWS": {"Ref": "HubFunctionRoleArn"}}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}


def test_the_member_role_allows_only_what_the_function_does(member: dict[str, Any]) -> None:
    role = member["Resources"]["MemberRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    granted: dict[str, list[Any]] = {}
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "Condition" not in statement
            for action in _as_list(statement["Action"]):
                assert "*" not in action, action
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
        "logs:StartQuery": EKS_LOG_GROUPS,
        "logs:GetQueryResults": ["*"],
    }
