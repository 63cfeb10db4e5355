"""Shared pytest wiring for the infra tests."""

from __future__ import annotations

import pytest

from infra_support import ENGINE_KEY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    # Say which EventBridge implementation judged the rule pattern, so a green
    # run is not mistaken for more than it is.
    engine = config.stash.get(ENGINE_KEY, None)
    if engine:
        terminalreporter.write_line(f"event pattern engine: {engine}")
