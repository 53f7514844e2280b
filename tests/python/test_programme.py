"""The 2018 programme file (deploy/programme/programme-2018.toml) keeps its promises.

It must load through the public APIs without a single refusal, in the loader's order,
and produce the figures it states (and its README repeats): the members KPI above 50,
more than 10 activities, 2 trainings, 3 working groups, 2 collective accompaniments with
12 sessions, by the counting rules of DESIGN.md section 5.1. Every organisation and
person in it is fictitious. `programme_model` holds the replay and the counting; each
test here checks one promise, and `test_a_wrong_edit_fails` shows they can fail.
"""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import datetime, timezone

import pytest

import programme_model as pm

PLACEHOLDER_SURNAMES = {
    "Exemple",
    "Voorbeeld",
    "Beispiel",
    "Esempio",
    "Ejemplo",
    "Fictif",
    "Fictief",
    "Modèle",
    "Proef",
    "Muster",
}
TARGETS_2018 = {
    "members": 51,
    "activities": 11,
    "trainings": 2,
    "working_groups": 3,
    "collective_accompaniments": 2,
    "collective_accompaniment_sessions": 12,
}


@pytest.fixture(scope="module")
def raw() -> dict:
    with pm.PROGRAMME.open("rb") as file:
        return tomllib.load(file)


@pytest.fixture(scope="module")
def programme(raw) -> pm.Programme:
    return pm.parse(copy.deepcopy(raw))


@pytest.fixture(scope="module")
def state(programme) -> pm.Replay:
    return pm.replay(programme)


@pytest.fixture(scope="module")
def as_of(raw) -> datetime:
    return raw["expected"]["as_of"]


def steps_of(programme: pm.Programme, do: str) -> list[pm.Step]:
    return [step for step in programme.steps if step.do == do]


def status_at(programme: pm.Programme, member: str, at: datetime) -> str | None:
    """The member's status just before `at`, from its own entry alone."""
    status = None
    for step in programme.steps:
        if step.owner == member and step.section == "member" and step.at < at:
            status = {
                "apply": "applied",
                "admit": "admitted",
                "reject": "rejected",
                "suspend": "suspended",
                "reinstate": "admitted",
                "withdraw": "withdrawn",
            }.get(step.do, status)
    return status


# --- format ---------------------------------------------------------------------


def test_every_item_has_an_offset_at_and_a_key_unique_in_the_file(programme):
    keys = [step.key for step in programme.steps] + list(programme.sessions)
    assert len(keys) == len(set(keys))
    for step in programme.steps:
        assert step.at.tzinfo is not None, step
        assert pm.KEY.match(step.key) and len(step.key) <= 120, step
    prefix = programme.data["programme"]["idempotency_prefix"]
    longest = max(
        len(step.key) + 1 + max((len(m) for m in step.fields.get("members", [])), default=0)
        for step in programme.steps
    )
    assert len(prefix) + longest <= 255, "an Idempotency-Key holds at most 255 characters"


def test_every_time_is_brussels_time_in_2018(programme):
    times = [(step.key, step.at) for step in programme.steps]
    for activity in programme.activities.values():
        for session in activity["sessions"]:
            times += [(session["key"], session["start"]), (session["key"], session["end"])]
    for step in steps_of(programme, "add_session") + steps_of(programme, "reschedule_session"):
        times += [(step.key, step.fields["start"]), (step.key, step.fields["end"])]
    for key, moment in times:
        assert moment.utcoffset() == pm.brussels_offset(moment), f"{key}: not the Brussels offset"
        assert pm.local_year(moment) == 2018, key


def test_the_steps_of_each_item_are_in_time_order_in_the_file(programme):
    last: dict[str, datetime] = {}
    for step in programme.steps:
        assert step.at >= last.get(step.owner, step.at), f"{step} is earlier than the step before"
        last[step.owner] = step.at


def test_members_come_in_order_of_application_and_activities_of_first_session(programme):
    applications = [member["at"] for member in programme.members.values()]
    assert applications == sorted(applications)
    first_sessions = [
        min(session["start"] for session in activity["sessions"])
        for activity in programme.activities.values()
    ]
    assert first_sessions == sorted(first_sessions)


def test_the_replay_order_sorts_by_time_and_keeps_file_order_for_ties(programme):
    order = programme.replay_order()
    assert [s.at for s in order] == sorted(s.at for s in programme.steps)
    for before, after in zip(order, order[1:]):
        if before.at == after.at:
            assert before.order < after.order


def test_items_at_the_same_instant_do_not_depend_on_each_other(programme, state, as_of):
    # Ties broken the other way round (last in the file first) replay just as well and
    # give the same figures: the file order only matters within one item.
    reverse_ties = sorted(programme.steps, key=lambda step: (step.at, -step.order))
    other = pm.replay(programme, reverse_ties)
    assert pm.figures(other, 2018, as_of) == pm.figures(state, 2018, as_of)


# --- members --------------------------------------------------------------------


def test_enterprise_numbers_are_valid_belgian_numbers_and_all_distinct(programme):
    digits = [
        pm.enterprise_number_digits(member["enterprise_number"])
        for member in programme.members.values()
    ]
    assert len(digits) == len(set(digits))
    for number in digits:
        assert len(number) == 10 and number[0] in "01"
        assert number.startswith("018"), "in the block the README names"
        assert int(number[8:]) == 97 - int(number[:8]) % 97


def test_every_profile_follows_the_membership_rules(programme):
    for key, member in programme.members.items():
        pm.check_profile(member, key)
        assert member["website"] == f"https://{key}.example"


def test_members_are_seated_in_brussels_unless_rejected_for_it(programme):
    for key, member in programme.members.items():
        if member["municipality"] in pm.BRUSSELS_MUNICIPALITIES:
            continue
        rejections = [s for s in programme.steps if s.owner == key and s.do == "reject"]
        assert rejections, f"{key}: seated outside Brussels and not rejected"
        assert "outside the Brussels-Capital Region" in rejections[0].fields["reason"], key


def test_personal_data_is_fictitious(programme, raw):
    for key, member in programme.members.items():
        contact = member["contact"]
        first, last = contact["name"].rsplit(" ", 1)
        assert last in PLACEHOLDER_SURNAMES, f"{key}: {contact['name']!r}"
        assert contact["email"].endswith(f"@{key}.example"), key
        assert re.fullmatch(r"[a-z]+\.[a-z]+@[a-z0-9-]+\.example", contact["email"]), key
        if "phone" in contact:
            assert re.fullmatch(r"\+32 2 000 \d{2} \d{2}", contact["phone"]), key
    for step in steps_of(programme, "accompaniment"):
        assert step.fields["advisor"].rsplit(" ", 1)[1] in PLACEHOLDER_SURNAMES, step
    text = pm.PROGRAMME.read_text(encoding="utf-8")
    for address in re.findall(r"[\w.+-]+@[\w.-]+", text):
        assert address.endswith(".example"), address
    for url in re.findall(r"https?://[^\s\"]+", text):
        assert re.fullmatch(r"https://[a-z0-9-]+\.example/?", url), url


def test_every_category_support_kind_and_domain_is_among_admitted_members(programme, state):
    admitted = [m for m in state.members.values() if m.admitted_at is not None]
    assert {m.profile["category"] for m in admitted} == set(pm.CATEGORIES)
    assert {m.profile.get("support_kind") for m in admitted} - {None} == set(pm.SUPPORT_KINDS)
    assert {d for m in admitted for d in m.profile["domains"]} == set(pm.DOMAINS)
    assert {m.profile["size_band"] for m in admitted} == set(pm.SIZE_BANDS)


def test_applications_and_admissions_spread_over_may_to_december(state):
    applied = {m.applied_at.month for m in state.members.values()}
    assert applied == set(range(5, 13))
    growth = pm.growth(state, 2018)
    assert growth["joined"][:4] == [0, 0, 0, 0]
    assert all(growth["joined"][month - 1] > 0 for month in range(5, 13))
    assert max(growth["joined"]) <= 15, "no month takes in a quarter of the members"
    assert growth["total"][4] < 51 <= growth["total"][11], "the target is reached during the year"


def test_offers_and_accompaniments_are_recorded(programme):
    assert len(steps_of(programme, "publish_offer")) >= 5
    accompaniments = steps_of(programme, "accompaniment")
    assert len(accompaniments) >= 5
    assert all(step.fields["hours"] > 0 for step in accompaniments)


# --- activities -----------------------------------------------------------------


def test_every_reference_resolves(programme):
    for step in programme.steps:
        for member in step.fields.get("members", []):
            assert member in programme.members, f"{step}: no member {member!r}"
        if "session" in step.fields:
            assert programme.sessions.get(step.fields["session"]) == step.owner, step


def test_sessions_end_after_they_start_in_2018(programme, state):
    for activity in state.activities.values():
        for session in activity.sessions.values():
            assert session.start < session.end, session.key
            assert pm.local_year(session.start) == pm.local_year(session.end) == 2018


def test_registered_members_are_admitted_at_the_registration_and_it_precedes_the_activity(
    programme, state
):
    for step in steps_of(programme, "register"):
        activity = state.activities[step.owner]
        first_session = min(s.start for s in activity.sessions.values())
        assert step.at < first_session, step
        for member in step.fields["members"]:
            assert status_at(programme, member, step.at) == "admitted", f"{step}: {member}"


def test_the_whole_file_replays_without_a_refusal(programme):
    # The fixture `state` does the same; here a refusal is reported as the test's failure.
    state = pm.replay(programme)
    assert all(a.status in ("completed", "cancelled") for a in state.activities.values())


def test_the_seed_programme_is_there(programme, state):
    by_key = state.activities
    touring, launch = by_key["touring-visit"], by_key["launch"]
    assert touring.kind == launch.kind == "meeting"
    assert [s.start.date().isoformat() for s in touring.sessions.values()] == ["2018-05-23"]
    assert [s.start.date().isoformat() for s in launch.sessions.values()] == ["2018-05-24"]
    counted = [a for a in by_key.values() if a.status == "completed"]
    assert sum(a.kind == "promotion" for a in counted) >= 2
    assert sum("large buyers" in a.title for a in counted) >= 2
    outcomes = [o for a in counted for o in a.outcomes]
    assert {o["kind"] for o in outcomes} == set(pm.OUTCOME_KINDS)
    assert all(len(o["members"]) >= 2 for o in outcomes)
    assert sum(o["jobs"] for o in outcomes) > 0


def test_waitlists_and_the_counting_rules_are_exercised(programme, state, as_of):
    assert state.waitlisted > 0 and state.promoted > 0
    assert state.cancelled_by_member > 0 and state.cancelled_by_membership > 0
    assert any(a.status == "cancelled" for a in state.activities.values())
    accompaniments = [a for a in state.activities.values() if a.kind == "collective_accompaniment"]
    cancelled = [s for a in accompaniments for s in a.sessions.values() if s.cancelled_at]
    assert cancelled, "a cancelled accompaniment session that does not count"
    assert sum(len(a.sessions) for a in accompaniments) > pm.kpis(state, 2018, as_of)[
        "collective_accompaniment_sessions"
    ]
    statuses = [m.status for m in state.members.values()]
    assert {"rejected", "suspended", "withdrawn", "applied"} <= set(statuses)
    reinstated = [
        m
        for m in state.members.values()
        if m.status == "admitted" and m.admitted_at != m.transitioned_at
    ]
    assert reinstated, "a suspended member reinstated"


# --- figures --------------------------------------------------------------------


def test_the_targets_are_the_2018_defaults_and_are_met(raw, state, as_of):
    assert raw["expected"]["targets"] == TARGETS_2018
    actual = pm.kpis(state, 2018, as_of)
    for kpi, target in TARGETS_2018.items():
        assert actual[kpi] >= target, kpi
    assert actual["members"] > 50 and actual["activities"] > 10
    assert actual["trainings"] == 2 and actual["working_groups"] == 3
    assert actual["collective_accompaniments"] == 2
    assert actual["collective_accompaniment_sessions"] == 12


def test_the_figures_computed_from_the_file_are_the_stated_ones(raw, state, as_of):
    expected = raw["expected"]
    assert as_of == datetime(2018, 12, 31, 22, 59, 59, tzinfo=timezone.utc)
    computed = pm.figures(state, 2018, as_of)
    for section, figures in computed.items():
        assert figures == expected[section], section


def test_the_moments_the_targets_are_reached_are_the_stated_ones(raw, programme, state, as_of):
    reached = pm.targets_reached(state, programme, 2018, raw["expected"]["targets"], as_of)
    assert reached == raw["expected"]["targets_reached"]


def test_the_readme_states_the_same_figures(raw):
    readme = pm.README.read_text(encoding="utf-8")
    rows = dict(
        (kpi, (int(actual), int(target)))
        for kpi, actual, target in re.findall(r"^\| `(\w+)` \| (\d+) \| (\d+) \|", readme, re.M)
    )
    expected = raw["expected"]
    assert rows == {k: (expected["kpis"][k], expected["targets"][k]) for k in pm.KPIS}
    months = re.findall(r"^\| 2018-(\d\d) \| (\d+) \| (\d+) \| (\d+) \|", readme, re.M)
    assert len(months) == 8, "a growth row per month from May to December"
    for month, joined, left, total in months:
        i = int(month) - 1
        assert (int(joined), int(left), int(total)) == (
            expected["growth"]["joined"][i],
            expected["growth"]["left"][i],
            expected["growth"]["total"][i],
        ), month


# --- the checks above can fail ----------------------------------------------------


def edited(raw: dict, edit) -> dict:
    data = copy.deepcopy(raw)
    edit(data)
    return data


def member_entry(data: dict, key: str) -> dict:
    return next(m for m in data["members"] if m["key"] == key)


def activity_entry(data: dict, key: str) -> dict:
    return next(a for a in data["activities"] if a["key"] == key)


def drop_admission(data):
    entry = member_entry(data, "reprise")
    entry["then"] = [s for s in entry["then"] if s["do"] != "admit"]


def wrong_check_digits(data):
    entry = member_entry(data, "reprise")
    number = entry["enterprise_number"]
    entry["enterprise_number"] = number[:-1] + str((int(number[-1]) + 1) % 10)


def attend_while_waitlisted(data):
    steps = activity_entry(data, "promo-gifts")["then"]
    next(s for s in steps if s["do"] == "attendance")["members"].append("toits-nourriciers")


def register_after_start(data):
    steps = activity_entry(data, "launch")["then"]
    register = next(s for s in steps if s["do"] == "register")
    register["at"] = register["at"].replace(month=6)


def reuse_a_key(data):
    member_entry(data, "boucle-bois")["key"] = "reprise"


@pytest.mark.parametrize(
    "edit",
    [
        drop_admission,
        wrong_check_digits,
        attend_while_waitlisted,
        register_after_start,
        reuse_a_key,
    ],
)
def test_a_wrong_edit_fails(raw, edit):
    with pytest.raises(pm.Refused):
        pm.replay(pm.parse(edited(raw, edit)))


def test_a_wrong_edit_changes_the_figures(raw, as_of):
    def cancel_a_training(data):
        steps = activity_entry(data, "training-greenwashing")["then"]
        steps[:] = [s for s in steps if s["do"] == "open_registration"]
        steps.append({"at": steps[0]["at"], "key": "training-greenwashing/cancel", "do": "cancel"})

    state = pm.replay(pm.parse(edited(raw, cancel_a_training)))
    figures = pm.figures(state, 2018, as_of)
    assert figures["kpis"] != raw["expected"]["kpis"]
    assert figures["kpis"]["trainings"] == 1
