#!/usr/bin/env bash
# Lint the deployment template. Exits non-zero on any finding.
#   1. cfn-lint on infra/template.yaml as written (SAM resources checked
#      against SAM schemas);
#   2. cfn-lint on the template after the real SAM transform, i.e. on the
#      AWS::Lambda::Function & co. CloudFormation will create;
#   3. checkov on infra/template.yaml. Any skip must be an inline
#      "# checkov:skip=CKV_...:reason" comment in the resource's Metadata;
#   4. cfn-lint and checkov on infra/member.yaml, the organization hub's
#      member stack (plain CloudFormation: no transform to expand).
# Tools come from .venv/bin when present, else from PATH.
# usage (from anywhere): bash tests/infra/lint.sh
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 2
TEMPLATE="infra/template.yaml"
MEMBER_TEMPLATE="infra/member.yaml"
INSTALL_HINT="python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt"

find_tool() {
  if [[ -x "$ROOT/.venv/bin/$1" ]]; then
    echo "$ROOT/.venv/bin/$1"
  elif command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    echo "lint.sh: '$1' not found in $ROOT/.venv/bin or on PATH; install it: $INSTALL_HINT" >&2
    return 1
  fi
}

CFN_LINT="$(find_tool cfn-lint)" || exit 2
CHECKOV="$(find_tool checkov)" || exit 2
PYTHON="$(find_tool python3)" || exit 2
[[ -f "$TEMPLATE" ]] || { echo "lint.sh: $TEMPLATE not found" >&2; exit 2; }
[[ -f "$MEMBER_TEMPLATE" ]] || { echo "lint.sh: $MEMBER_TEMPLATE not found" >&2; exit 2; }

failed=()
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "== cfn-lint $TEMPLATE ($("$CFN_LINT" --version))"
if ! "$CFN_LINT" "$TEMPLATE"; then
  failed+=("cfn-lint")
fi

echo "== cfn-lint $TEMPLATE after the SAM transform"
if "$PYTHON" tests/infra/sam_transform.py "$TEMPLATE" >"$WORK/transformed.json"; then
  if ! "$CFN_LINT" "$WORK/transformed.json"; then
    failed+=("cfn-lint (transformed)")
  fi
else
  echo "lint.sh: the SAM transform failed (see above)" >&2
  failed+=("sam transform")
fi

echo "== cfn-lint $MEMBER_TEMPLATE"
if ! "$CFN_LINT" "$MEMBER_TEMPLATE"; then
  failed+=("cfn-lint ($MEMBER_TEMPLATE)")
fi

run_checkov() {
  local template="$1" out
  out="$WORK/checkov-$(basename "$template").out"
  echo "== checkov -f $template (checkov $("$CHECKOV" --version))"
  # --skip-download: no call to the Prisma Cloud API (offline CI); checks and
  # inline skips work the same.
  "$CHECKOV" -f "$template" --quiet --compact --skip-download >"$out" 2>&1
  local checkov_rc=$?
  cat "$out"
  if [[ $checkov_rc -ne 0 ]]; then
    failed+=("checkov ($template)")
  elif ! grep -q "Passed checks: [1-9]" "$out"; then
    # checkov exits 0 when it could not parse the file and ran nothing.
    echo "lint.sh: checkov ran no checks on $template" >&2
    failed+=("checkov ($template: nothing scanned)")
  fi
}
run_checkov "$TEMPLATE"
run_checkov "$MEMBER_TEMPLATE"

if (( ${#failed[@]} )); then
  echo "lint.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint.sh: all clean"
