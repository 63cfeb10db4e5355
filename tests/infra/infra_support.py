"""Support for the infra tests: infra/template.yaml as plain data, shared keys.

CloudFormation short-form tags (!Ref, !Sub, !GetAtt, ...) are not YAML that a
safe loader knows; they are turned into their long form ({"Ref": ...},
{"Fn::Sub": ...}) so the template can be inspected without AWS tooling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "infra" / "template.yaml"
MEMBER_TEMPLATE_PATH = REPO_ROOT / "infra" / "member.yaml"
EVENTS_DIR = REPO_ROOT / "events"

# Which EventBridge implementation judged the rule pattern (for the summary).
ENGINE_KEY = pytest.StashKey[str]()


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation short-form intrinsic tags."""


def _construct_intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Resource.Attribute is short for [Resource, Attribute].
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)
    if not isinstance(template, dict) or "Resources" not in template:
        raise ValueError(f"{path} is not a CloudFormation template")
    return template


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Type") == resource_type
    }


def event_rule_pattern(template: dict[str, Any]) -> dict[str, Any]:
    """The EventPattern of the template's EventBridge rules, as plain JSON data:
    the hub's two rules (default bus, hub bus) must have the same one."""
    rules = resources_of_type(template, "AWS::Events::Rule")
    if not rules:
        raise AssertionError("expected an AWS::Events::Rule, found none")
    patterns = [rule["Properties"]["EventPattern"] for rule in rules.values()]
    if any(p != patterns[0] for p in patterns):
        raise AssertionError(f"the rules {sorted(rules)} have different patterns")
    pattern = patterns[0]
    _assert_no_intrinsics(pattern)
    return pattern


def _assert_no_intrinsics(value: Any, where: str = "EventPattern") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" or key.startswith("Fn::"):
                raise AssertionError(f"{where} uses {key}; the pattern must be literal JSON")
            _assert_no_intrinsics(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _assert_no_intrinsics(item, f"{where}[{index}]")
