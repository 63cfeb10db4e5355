"""Expand infra/template.yaml with the real SAM transform, offline.

cfn-lint 1.x validates AWS::Serverless::* resources against SAM schemas but
does not run the transform, so the AWS::Lambda::Function, EventInvokeConfig
and permissions SAM generates are never linted. This prints the transformed
template (JSON) so lint.sh can run cfn-lint on what CloudFormation will see.

Local CodeUri paths are replaced with a placeholder S3 location, as
`sam package` would; nothing is uploaded and no AWS call is made.

usage: python tests/infra/sam_transform.py [infra/template.yaml] > out.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# samtranslator reads the region for pseudo parameters from the environment.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

try:
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
except ImportError as error:  # pragma: no cover - exercised by lint.sh only
    sys.exit(f"sam_transform.py: aws-sam-translator is missing ({error}); pip install -r tests/requirements.txt")

PLACEHOLDER_CODE = "s3://sam-transform-placeholder/code.zip"


class NoManagedPolicies(ManagedPolicyLoader):
    """The template names no managed policies; never ask IAM for them."""

    def __init__(self) -> None:  # no IAM client
        pass

    def load(self) -> dict[str, str]:
        return {}


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
    template = yaml_parse(path.read_text(encoding="utf-8"))
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = PLACEHOLDER_CODE
    json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
