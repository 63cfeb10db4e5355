"""The EventBridge rule in infra/template.yaml against every event in events/.

The pattern is read from the template (not copied here) and judged by an
EventBridge implementation, moto, started by this module on a free loopback
port and reached through boto3:

* TestEventPattern first, with the event file sent as-is.
* moto (5.2.x) answers TestEventPattern with an empty 200 and no "Result"
  (the operation is a stub). Reading that as "no match" would make every
  negative case pass vacuously, so the engine then routes each event through
  a real rule instead: PutRule with the template's pattern and an SQS target,
  PutEvents, and a look in the queue. A catch-all control rule proves every
  event really entered the bus, so "not delivered" means "did not match".

Which engine judged the run is printed in the pytest summary.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from infra_support import ENGINE_KEY, EVENTS_DIR, REPO_ROOT, event_rule_pattern, load_template

REGION = "us-east-1"
CONFLICT_EVENT = EVENTS_DIR / "unhealthy.addon-configuration-conflict.json"

# Files that are not named unhealthy.* / healthy.* / ecs.* need an explicit
# verdict here, so a new event file cannot slip through unjudged.
EXPLICIT_VERDICTS = {
    "malformed.wrong-detail-type.json": False,  # a GuardDuty Finding, not coverage
    "malformed.no-detail.json": False,  # nothing to say it is EKS
    "malformed.not-json.json": None,  # not JSON: never reaches the engine
}


def expected_match(path: Path) -> bool | None:
    """True = the rule must match; False = must not; None = not JSON."""
    name = path.name
    if name in EXPLICIT_VERDICTS:
        return EXPLICIT_VERDICTS[name]
    if name.startswith(("unhealthy.", "healthy.")):
        return True
    if name.startswith("ecs."):
        return False
    raise AssertionError(
        f"events/{name}: no expected verdict; name it unhealthy.*/healthy.* (EKS, "
        "must match), ecs.* (must not) or add it to EXPLICIT_VERDICTS"
    )


EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))


# --------------------------------------------------------------------------
# moto server
# --------------------------------------------------------------------------


def _moto_command(port: int) -> list[str]:
    missing = [m for m in ("moto", "moto.server", "flask", "boto3") if _find_spec(m) is None]
    if missing:
        pytest.fail(
            f"moto[server] is required and missing ({', '.join(missing)}); "
            "install the test tools: python3 -m venv .venv && "
            ".venv/bin/pip install -r tests/requirements.txt",
            pytrace=False,
        )
    venv_server = REPO_ROOT / ".venv" / "bin" / "moto_server"
    if venv_server.exists():
        base = [str(venv_server)]
    else:
        base = [sys.executable, "-m", "moto.server"]
    return [*base, "-H", "127.0.0.1", "-p", str(port)]


def _find_spec(module: str) -> Any:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answering(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"moto server exited with {process.returncode}:\n{log.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered, which is all we need
        except OSError:
            time.sleep(0.2)
    pytest.fail(
        f"moto server did not answer on {endpoint} within 30 s:\n{log.read_text(errors='replace')}",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    env_overrides = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # Nothing from the caller's AWS setup may leak in (profiles, real tokens,
    # a global endpoint override).
    env_removals = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SQS")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env_overrides.items():
            patch.setenv(key, value)
        for key in env_removals:
            patch.delenv(key, raising=False)
        port = _free_port()
        command = _moto_command(port)
        endpoint = f"http://127.0.0.1:{port}"
        log_dir = Path(tempfile.mkdtemp(prefix="moto-server-"))
        log = log_dir / "moto.log"
        with log.open("wb") as log_handle:
            process = subprocess.Popen(  # noqa: S603 (fixed argv)
                command,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
                start_new_session=True,
            )
        try:
            _wait_until_answering(endpoint, process, log)
            yield endpoint
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            shutil.rmtree(log_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# The engine: TestEventPattern if moto implements it, else rule routing
# --------------------------------------------------------------------------


class PatternEngine:
    RULE = "coverage-rule-under-test"
    CONTROL_RULE = "catch-all-control"

    def __init__(self, endpoint: str, pattern: dict[str, Any]) -> None:
        import boto3

        self.pattern_json = json.dumps(pattern)
        self.events = boto3.client("events", endpoint_url=endpoint, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.description = ""
        self._routing = False
        self._rule_queue = ""
        self._control_queue = ""

    def start(self, probe_event: str) -> None:
        response = self.events.test_event_pattern(EventPattern=self.pattern_json, Event=probe_event)
        if "Result" in response:
            self.description = "moto TestEventPattern (events sent as-is)"
            return
        self._routing = True
        self._rule_queue = self._rule_with_queue(self.RULE, self.pattern_json)
        # Every event moto accepts carries version "0": this rule sees them all.
        self._control_queue = self._rule_with_queue(self.CONTROL_RULE, json.dumps({"version": ["0"]}))
        self.description = (
            "moto PutRule + PutEvents + SQS target (moto's TestEventPattern returns no "
            "Result: not implemented)"
        )

    def matches(self, event: dict[str, Any], raw: str) -> bool:
        if not self._routing:
            response = self.events.test_event_pattern(EventPattern=self.pattern_json, Event=raw)
            return bool(response["Result"])
        self._drain(self._rule_queue)
        self._drain(self._control_queue)
        result = self.events.put_events(Entries=[self._entry(event)])
        if result["FailedEntryCount"]:
            raise AssertionError(f"moto rejected the event: {result['Entries']}")
        control = self._drain(self._control_queue)
        assert len(control) == 1, f"control rule saw {len(control)} copies; the bus did not take the event"
        delivered = self._drain(self._rule_queue)
        assert len(delivered) <= 1, f"rule delivered {len(delivered)} copies"
        if delivered:
            body = json.loads(delivered[0])
            assert body["detail"] == event.get("detail", {}), "delivered event lost its detail"
        return bool(delivered)

    @staticmethod
    def _entry(event: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Source": event.get("source", ""),
            "DetailType": event.get("detail-type", ""),
            # PutEvents requires Detail; an event with none is sent with {},
            # which is the same to a pattern that matches on a detail field.
            "Detail": json.dumps(event.get("detail", {})),
            "Resources": event.get("resources", []),
        }
        if "time" in event:
            entry["Time"] = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        return entry

    def _rule_with_queue(self, rule: str, pattern_json: str) -> str:
        queue_url = self.sqs.create_queue(QueueName=f"{rule}-target")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_rule(Name=rule, EventPattern=pattern_json, State="ENABLED")
        self.events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
        return queue_url

    def _drain(self, queue_url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def rule_pattern() -> dict[str, Any]:
    return event_rule_pattern(load_template())


@pytest.fixture(scope="module")
def engine(moto_endpoint: str, rule_pattern: dict[str, Any], request: pytest.FixtureRequest) -> PatternEngine:
    engine = PatternEngine(moto_endpoint, rule_pattern)
    raw = CONFLICT_EVENT.read_text(encoding="utf-8")
    engine.start(raw)
    request.config.stash[ENGINE_KEY] = engine.description
    return engine


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_events_directory_is_populated() -> None:
    assert len(EVENT_FILES) >= 5, f"too few event files in {EVENTS_DIR}"
    assert CONFLICT_EVENT in EVENT_FILES


@pytest.mark.parametrize("path", EVENT_FILES, ids=[p.name for p in EVENT_FILES])
def test_rule_pattern_against_event_file(path: Path, engine: PatternEngine) -> None:
    expected = expected_match(path)
    raw = path.read_text(encoding="utf-8")
    if expected is None:
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw)
        return
    event = json.loads(raw)
    verdict = engine.matches(event, raw)
    assert verdict is expected, (
        f"events/{path.name}: the rule {'should' if expected else 'should not'} match "
        f"(source={event.get('source')!r}, detail-type={event.get('detail-type')!r}, "
        f"resourceType={event.get('detail', {}).get('resourceDetails', {}).get('resourceType')!r})"
    )


def _conflict_with(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(json.loads(CONFLICT_EVENT.read_text(encoding="utf-8")))
    event.update(changes)
    return event


SYNTHETIC = {
    "conflict-event-with-other-source": _conflict_with(source="com.example.guardduty"),
    "eks-resource-type-but-finding-detail-type": _conflict_with(**{"detail-type": "GuardDuty Finding"}),
}


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_rule_pattern_rejects_synthetic_lookalike(name: str, engine: PatternEngine) -> None:
    event = SYNTHETIC[name]
    assert event["detail"]["resourceDetails"]["resourceType"] == "EKS"
    assert engine.matches(event, json.dumps(event)) is False, f"{name}: the rule should not match"
