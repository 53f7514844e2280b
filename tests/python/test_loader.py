"""The programme loader (deploy/programme/load.py) against the real services.

A real nats-server and the real `circlemade-membership` binary (as `cargo test
--workspace` builds it), each with a temporary data dir and a free port. The loader runs
as the demo runs it, as a process; the members' statuses are read back through
`GET /v1/members` and compared with the model's replay of the file; loading again, with
the answers remembered or forgotten, must append nothing.

The whole programme (members and activities) is loaded in the test at the end, once the
`circlemade-events` binary exists.
"""

from __future__ import annotations

import json
import urllib.request
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import harness
import programme_model as pm

LOADER = harness.ROOT / "deploy" / "programme" / "load.py"


def require(service: str) -> None:
    if not harness.binary(service).exists():
        pytest.skip(
            f"{harness.binary(service)} is not built (cargo build -p circlemade-{service}; "
            "tests/run.sh builds it with cargo test --workspace)"
        )


def load(system: harness.System, *args: str, token: str = harness.COORDINATOR) -> subprocess.CompletedProcess:
    command = [sys.executable, str(LOADER), "--membership", system.urls["membership"], "--token", token]
    if "events" in system.urls:
        command += ["--events", system.urls["events"]]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=300)


def members(system: harness.System) -> dict[str, dict]:
    """The member views by enterprise number."""
    status, body = harness.http("GET", system.urls["membership"] + "/v1/members", harness.ANALYST)
    assert status == 200, body
    return {view["enterprise_number"]: view for view in body["members"]}


def expected_statuses(until: datetime | None = None) -> dict[str, str]:
    """The model's status of each member at the end of the file (or at `until`), by
    enterprise number."""
    programme = pm.load()
    order = [s for s in programme.replay_order() if until is None or s.at <= until]
    state = pm.replay(programme, [s for s in order if s.section == "member"])
    return {
        pm.enterprise_number_digits(programme.members[key]["enterprise_number"]): member.status
        for key, member in state.members.items()
    }


@pytest.fixture
def system(tmp_path):
    require("membership")
    running = harness.System(tmp_path)
    try:
        running.start_nats()
        running.start("membership")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """One system with the members of the programme loaded once."""
    require("membership")
    running = harness.System(tmp_path_factory.mktemp("loaded"))
    try:
        running.start_nats()
        running.start("membership")
        positions = running.directory / "positions.json"
        first = load(running, "--only", "members", "--positions-file", str(positions))
        assert first.returncode == 0, first.stderr + first.stdout
        yield running, first, json.loads(positions.read_text())
    finally:
        running.stop()


def test_the_members_load_with_the_statuses_the_file_gives_them(loaded):
    system, first, positions = loaded
    views = members(system)
    assert {n: v["status"] for n, v in views.items()} == expected_statuses()
    applications = pm.load().data["expected"]["applications"]
    assert len(views) == applications["applied"] == 64
    assert sum(v["status"] == "withdrawn" for v in views.values()) == applications["withdrawn"]
    # The last position answered is the log's head, and the outbox publishes up to it.
    head = system.readiness("membership")["log_head"]
    assert positions == {"membership": head}
    assert f"positions membership={head}" in first.stdout
    harness.eventually("the outbox publishes everything", lambda: system.readiness("membership")["outbox"]["cursor"] == head)


def test_back_dated_times_are_the_files(loaded):
    system, _, _ = loaded
    views = members(system)
    programme = pm.load()
    for key, member in programme.members.items():
        view = views[pm.enterprise_number_digits(member["enterprise_number"])]
        assert datetime.fromisoformat(view["applied_at"]) == member["at"], key
    reprise = views[pm.enterprise_number_digits(programme.members["reprise"]["enterprise_number"])]
    admitted = next(s for s in programme.steps if s.key == "reprise/admit").at
    assert datetime.fromisoformat(reprise["admitted_at"]) == admitted


def test_loading_again_gives_the_first_answers_and_appends_nothing(loaded):
    system, _, positions = loaded
    before = members(system)
    again = load(system, "--only", "members")
    assert again.returncode == 0, again.stderr + again.stdout
    assert "remember their answers" in again.stdout
    assert system.readiness("membership")["log_head"] == positions["membership"]
    assert members(system) == before
    assert f"positions membership={positions['membership']}" in again.stdout


def test_loading_after_the_answers_are_forgotten_finds_everything_by_natural_keys(loaded):
    # Keys the services never saw are what a load meets once the answers have expired.
    system, _, positions = loaded
    before = members(system)
    again = load(system, "--only", "members", "--key-prefix", "forgotten-keys/")
    assert again.returncode == 0, again.stderr + again.stdout
    assert "finding what is there by natural keys" in again.stdout
    assert "155 steps found already there" in again.stdout
    assert system.readiness("membership")["log_head"] == positions["membership"]
    assert members(system) == before


def test_an_interrupted_load_is_finished_by_natural_keys_without_duplicates(system):
    until = datetime(2018, 9, 30, 23, 59, 59, tzinfo=timezone.utc)
    part = load(system, "--only", "members", "--until", until.isoformat(), "--key-prefix", "first-run/")
    assert part.returncode == 0, part.stderr + part.stdout
    assert {n: v["status"] for n, v in members(system).items()} == expected_statuses(until)
    head = system.readiness("membership")["log_head"]

    rest = load(system, "--only", "members", "--key-prefix", "second-run/")
    assert rest.returncode == 0, rest.stderr + rest.stdout
    assert "natural keys" in rest.stdout
    assert {n: v["status"] for n, v in members(system).items()} == expected_statuses()
    assert system.readiness("membership")["log_head"] > head
    # Nothing twice: one application per organisation, and no member holds two events of
    # the same type at the same time.
    views = members(system)
    assert len(views) == 64
    total = 0
    for view in views.values():
        status, history = harness.http(
            "GET", f"{system.urls['membership']}/v1/members/{view['id']}/history", harness.ANALYST
        )
        assert status == 200, history
        facts = [(event["type"], event["time"]) for event in history]
        assert len(facts) == len(set(facts)), view["name"]
        total += len(history)
    assert total == system.readiness("membership")["log_head"]


def test_a_refusal_stops_the_load_naming_the_item_and_the_problem(system):
    refused = load(system, "--only", "members", token=harness.ANALYST)
    assert refused.returncode == 1
    assert "step 'reprise' (apply" in refused.stderr
    assert "HTTP 403 forbidden" in refused.stderr
    assert system.readiness("membership")["log_head"] == 0


def test_the_whole_programme_loads_once(system):
    require("events")
    system.start("events")
    first = load(system)
    assert first.returncode == 0, first.stderr + first.stdout
    programme, state = pm.load(), pm.replay(pm.load())
    views = members(system)
    ids = {key: views[pm.enterprise_number_digits(m["enterprise_number"])]["id"] for key, m in programme.members.items()}
    status, body = harness.http("GET", system.urls["events"] + "/v1/activities?year=2018", harness.ANALYST)
    assert status == 200, body
    views = {view["title"]: view for view in body["activities"]}
    assert set(views) == {a.title for a in state.activities.values()}
    for activity in state.activities.values():
        view = views[activity.title]
        assert view["status"] == activity.status, activity.key
        assert {r["member_id"] for r in view["registrations"]} == {ids[k] for k in activity.registered}, activity.key
        assert [w["member_id"] for w in view["waitlist"]] == [ids[k] for k in activity.waitlist], activity.key
        sessions = {datetime.fromisoformat(s["start"]): s for s in view["sessions"]}
        assert len(sessions) == len(activity.sessions), activity.key
        for session in activity.sessions.values():
            shown = sessions[session.start]
            assert shown["cancelled"] == (session.cancelled_at is not None), session.key
            assert set(shown["attended"]) == {ids[k] for k in session.attendance or []}, session.key
        assert len(view["outcomes"]) == len(activity.outcomes), activity.key
    assert "9 registrations waitlisted on arrival" in first.stdout
    heads = {s: system.readiness(s)["log_head"] for s in ("membership", "events")}

    again = load(system)
    assert again.returncode == 0, again.stderr + again.stdout
    assert {s: system.readiness(s)["log_head"] for s in ("membership", "events")} == heads
    forgotten = load(system, "--key-prefix", "forgotten-keys/")
    assert forgotten.returncode == 0, forgotten.stderr + forgotten.stdout
    assert {s: system.readiness(s)["log_head"] for s in ("membership", "events")} == heads


def test_the_load_waits_for_a_service_that_is_still_starting(system):
    # The loader is started with the events service down: it sends the members' first
    # steps, then keeps asking for the first activity until the service is up, which then
    # reads MEMBERSHIP from the start while the load goes on.
    require("events")
    programme = pm.load()
    first_activity = next(s for s in programme.replay_order() if s.section == "activity")
    before = sum(1 for s in programme.replay_order() if s.section == "member" and s.at < first_activity.at)
    port = harness.free_port()
    command = [
        sys.executable, str(LOADER), "--membership", system.urls["membership"],
        "--events", f"http://127.0.0.1:{port}", "--token", harness.COORDINATOR, "--deadline", "60",
    ]  # fmt: skip
    loader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        harness.eventually(
            "the members' steps before the first activity",
            lambda: system.readiness("membership")["log_head"] == before,
            process=loader,
        )
        system.start("events", port=port)
        out, err = loader.communicate(timeout=120)
    finally:
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == 0, err + out
    retries = int(out.split("events: ")[1].split(" retries")[0].rsplit(", ", 1)[1])
    assert retries > 0, out
    status, body = harness.http("GET", system.urls["events"] + "/v1/activities?year=2018", harness.ANALYST)
    assert status == 200 and len(body["activities"]) == len(programme.activities), body


def refused_registrations(system: harness.System) -> float:
    with urllib.request.urlopen(system.urls["events"] + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("http_requests_total{") and "/registrations" in line and 'status="409"' in line
    )


def test_registrations_refused_until_the_events_service_learns_the_admissions_are_sent_again(system):
    # With NATS down, membership admits members (its outbox keeps them) while the events
    # service cannot learn of it, and refuses their registrations with 409
    # member_not_eligible. The loader asks again under derived keys until NATS is back.
    require("events")
    system.start("events")
    system.stop_nats()
    loader = subprocess.Popen(
        [
            sys.executable, str(LOADER), "--membership", system.urls["membership"],
            "--events", system.urls["events"], "--token", harness.COORDINATOR, "--deadline", "60",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        harness.eventually("a registration refused", lambda: refused_registrations(system) > 0, process=loader)
        system.start_nats()
        out, err = loader.communicate(timeout=120)
    finally:
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == 0, err + out
    assert "9 registrations waitlisted on arrival" in out
    assert " 0 retries); highest" not in out.split("events: ")[1], out
    heads = {s: system.readiness(s)["log_head"] for s in ("membership", "events")}
    refused = refused_registrations(system)

    # Again: the remembered refusals come back, then the remembered acceptances.
    again = load(system)
    assert again.returncode == 0, again.stderr + again.stdout
    assert {s: system.readiness(s)["log_head"] for s in ("membership", "events")} == heads
    events = again.stdout.split("events: ")[1]
    requests = events.split(" requests")[0]
    assert f"({requests} given their first answer again, 0 retries)" in events, again.stdout
    assert refused_registrations(system) > refused
