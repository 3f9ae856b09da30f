"""What every test shares: loopback ports, and the rules that keep a green run honest.

Tests under tests/engine/ need a running engine and the family they build; they are
marked ``engine`` here (and only they may be), and run after the unit tests, so a
quick failure shows up early: ``pytest tests/unit`` runs the fast half alone.

Under CI (SNAKEPACKER_REQUIRE_ENGINE, which scripts/test sets) a skipped test is a
failed one: a missing tool, registry or emulator must stop the run, never shrink it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Port

ENGINE_TESTS = Path(__file__).parent / "engine"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrong = []
    for item in items:
        in_engine = ENGINE_TESTS in Path(str(item.path)).parents
        if in_engine:
            item.add_marker(pytest.mark.engine)
        elif item.get_closest_marker("engine") is not None:
            wrong.append(item.nodeid)
    if wrong:
        raise pytest.UsageError(f"engine tests outside tests/engine/: {', '.join(wrong)}")
    items.sort(key=lambda item: item.get_closest_marker("engine") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("SNAKEPACKER_REQUIRE_ENGINE") \
            and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where nothing may be: {reason}"


@pytest.fixture
def port() -> Iterator[Port]:
    reserved = Port()
    yield reserved
    reserved.close()


@pytest.fixture
def port2() -> Iterator[Port]:
    reserved = Port()
    yield reserved
    reserved.close()
