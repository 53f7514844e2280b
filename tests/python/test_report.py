"""How deploy/programme/report.py decides that a consumer has caught up with a load:
by positions (the producer's outbox cursor, the consumer's pending messages on the NATS
monitoring endpoint), checked against a real nats-server with the membership and events
services, events being a consumer of MEMBERSHIP as reporting is.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

import harness

sys.path.insert(0, str(harness.ROOT / "deploy" / "programme"))
import report  # noqa: E402  (found on the path above)

LOADER = harness.ROOT / "deploy" / "programme" / "load.py"


@pytest.fixture
def system(tmp_path):
    for service in ("membership", "events"):
        if not harness.binary(service).exists():
            pytest.skip(f"{harness.binary(service)} is not built (tests/run.sh builds it with cargo test --workspace)")
    running = harness.System(tmp_path)
    try:
        running.start_nats()
        running.start("membership")
        running.start("events")
        yield running
    finally:
        running.stop()


def test_a_consumer_has_caught_up_once_its_log_holds_what_was_loaded(system):
    loaded = subprocess.run(
        [sys.executable, str(LOADER), "--membership", system.urls["membership"], "--token", harness.COORDINATOR,
         "--only", "members"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout
    head = system.readiness("membership")["log_head"]
    report.until("membership's outbox", report.outbox_reached(system.urls["membership"], head), 30)
    drained = report.until(
        "events consuming MEMBERSHIP",
        report.consumers_drained(system.nats_monitor, ["MEMBERSHIP"], "events"),
        30,
    )
    assert drained == {"MEMBERSHIP": 0}
    # Acknowledged means in the consumer's own log: the events service holds a copy of
    # every membership event, and nothing else yet.
    assert system.readiness("events")["log_head"] == head


def test_a_consumer_that_does_not_exist_has_not_caught_up(system):
    with pytest.raises(report.NotCaughtUp, match="no reporting consumer on EVENTS"):
        report.until("reporting", report.consumers_drained(system.nats_monitor, ["EVENTS"], "reporting"), 0.5)


def test_the_kpi_table_shows_actual_target_and_the_files_figure():
    answer = {
        "year": 2018,
        "as_of": "2018-12-31T22:59:59Z",
        "kpis": [
            {"kpi": "members", "actual": 56, "target": 51, "met": True},
            {"kpi": "trainings", "actual": 1, "target": 2, "met": False},
            {"kpi": "working_groups", "actual": 3, "target": None, "met": None},
        ],
    }
    lines = report.table(answer, {"members": 56, "trainings": 2, "working_groups": 3}).splitlines()
    assert lines[0].split() == ["kpi", "actual", "target", "the", "file", "gives"]
    assert lines[2].split() == ["members", "56", "51", "met", "56"]
    assert lines[3].split() == ["trainings", "1", "2", "NOT", "met", "2", "(differs!)"]
    assert lines[4].split() == ["working_groups", "3", "-", "no", "target", "3"]


def test_the_report_waits_for_reporting_then_prints_the_kpis_the_file_gives(system, tmp_path):
    if not harness.binary("reporting").exists():
        pytest.skip(f"{harness.binary('reporting')} is not built (tests/run.sh builds it with cargo test --workspace)")
    system.start("reporting")
    positions = tmp_path / "positions.json"
    loaded = subprocess.run(
        [sys.executable, str(LOADER), "--membership", system.urls["membership"], "--events", system.urls["events"],
         "--token", harness.COORDINATOR, "--positions-file", str(positions)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout
    # Straight after the load: the report must wait for reporting itself.
    printed = subprocess.run(
        [sys.executable, str(harness.ROOT / "deploy" / "programme" / "report.py"),
         "--positions-file", str(positions), "--membership", system.urls["membership"],
         "--events", system.urls["events"], "--reporting", system.urls["reporting"],
         "--nats-monitor", system.nats_monitor, "--token", harness.ANALYST],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr + printed.stdout
    rows = {line.split()[0]: line.split()[1:] for line in printed.stdout.splitlines()[4:]}
    with (harness.ROOT / "deploy" / "programme" / "programme-2018.toml").open("rb") as file:
        figures = tomllib.load(file)["expected"]
    expected = {kpi: (actual, figures["targets"][kpi]) for kpi, actual in figures["kpis"].items()}
    assert set(rows) == set(expected)
    for kpi, (actual, target) in expected.items():
        assert rows[kpi] == [str(actual), str(target), "met", str(actual)], printed.stdout
    assert "differs" not in printed.stdout
