"""A model of the 2018 programme file as the loader replays it.

`deploy/programme/programme-2018.toml` (its format: `deploy/programme/README.md`) holds
members and activities, each with the steps of its story. The loader's own module,
`deploy/programme/programme_file.py`, reads the file into steps and puts them in the
loader's order (by `at`, ties in file order); this module replays that order against the
rules of DESIGN.md sections 4 and 5.1, refusing any step the services would refuse, and
counts what the replay produced with the counting rules of section 5.1.

The model is deliberately independent of the services: it is what the file promises,
checked by `test_programme.py`, and the figures it computes are those the reporting
service must show once the demo has loaded the file.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "programme"))

# The file's format and the replay order are the loader's: one definition, used by both.
from programme_file import (  # noqa: E402, F401  (found on the path above; re-exported)
    KEY,
    PROGRAMME,
    Programme,
    Refused,
    Step,
    enterprise_number_digits,
    load,
    parse,
)

README = ROOT / "deploy" / "programme" / "README.md"

CATEGORIES = ("company", "academic", "institutional", "support")
SUPPORT_KINDS = ("financial", "communication", "other")
DOMAINS = (
    "eco_design",
    "prevention",
    "repair_reuse",
    "recycling",
    "energy_recovery",
    "industrial_ecology",
)
SIZE_BANDS = ("micro", "small", "medium", "large")
ACTIVITY_KINDS = (
    "meeting",
    "promotion",
    "training",
    "working_group",
    "collective_accompaniment",
)
OUTCOME_KINDS = ("multi_actor_project", "partnership", "value_chain")
KPIS = (
    "members",
    "activities",
    "trainings",
    "working_groups",
    "collective_accompaniments",
    "collective_accompaniment_sessions",
)
BRUSSELS_MUNICIPALITIES = (
    "Anderlecht",
    "Auderghem",
    "Berchem-Sainte-Agathe",
    "Bruxelles",
    "Etterbeek",
    "Evere",
    "Forest",
    "Ganshoren",
    "Ixelles",
    "Jette",
    "Koekelberg",
    "Molenbeek-Saint-Jean",
    "Saint-Gilles",
    "Saint-Josse-ten-Noode",
    "Schaerbeek",
    "Uccle",
    "Watermael-Boitsfort",
    "Woluwe-Saint-Lambert",
    "Woluwe-Saint-Pierre",
)

PROFILE_FIELDS = (
    "name",
    "category",
    "support_kind",
    "domains",
    "nace_code",
    "size_band",
    "municipality",
    "website",
    "offer_summary",
)

NACE = re.compile(r"^(?:[A-V]|\d{2}(?:\.\d{1,3})?)$")


def brussels_offset(instant: datetime) -> timedelta:
    """The UTC offset of Europe/Brussels at `instant`: summer time (+02:00) from the
    last Sunday of March to the last Sunday of October, at 01:00 UTC, else +01:00."""

    def last_sunday(year: int, month: int) -> datetime:
        day = date(year, month + 1, 1) - timedelta(days=1)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        return datetime(day.year, day.month, day.day, 1, tzinfo=timezone.utc)

    utc = instant.astimezone(timezone.utc)
    summer = last_sunday(utc.year, 3) <= utc < last_sunday(utc.year, 10)
    return timedelta(hours=2 if summer else 1)


def local_year(instant: datetime) -> int:
    """The calendar year of `instant` on a Brussels clock."""
    return (instant.astimezone(timezone.utc) + brussels_offset(instant)).year


# ---------------------------------------------------------------------------------
# The replay


@dataclass
class MemberState:
    key: str
    profile: dict
    status: str = "applied"
    applied_at: datetime | None = None
    transitioned_at: datetime | None = None
    admitted_at: datetime | None = None  # first admission: the member counts from here
    withdrawn_at: datetime | None = None  # ... until here
    rejected_at: datetime | None = None
    offers: list[str] = field(default_factory=list)
    accompaniment_hours: float = 0.0


@dataclass
class SessionState:
    key: str
    start: datetime
    end: datetime
    location: str
    added_at: datetime
    cancelled_at: datetime | None = None
    attendance: list[str] | None = None


@dataclass
class ActivityState:
    key: str
    kind: str
    title: str
    year: int
    capacity: int
    scheduled_at: datetime
    status: str = "scheduled"
    cancelled_at: datetime | None = None
    completed_at: datetime | None = None
    sessions: dict[str, SessionState] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)
    waitlist: list[str] = field(default_factory=list)
    ever_registered: list[str] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)

    def active_sessions(self) -> list[SessionState]:
        return [s for s in self.sessions.values() if s.cancelled_at is None]


@dataclass
class Replay:
    """The state the services reach by the end of the replay, and what happened on the
    way (for the counts that are not states: waitlisting, promotions, cancellations)."""

    members: dict[str, MemberState] = field(default_factory=dict)
    activities: dict[str, ActivityState] = field(default_factory=dict)
    registrations: int = 0
    waitlisted: int = 0
    promoted: int = 0
    cancelled_by_member: int = 0
    cancelled_by_membership: int = 0
    # (at, member, activity, change) for every registration change, in replay order.
    journal: list[tuple[datetime, str, str, str]] = field(default_factory=list)


def replay(programme: Programme, order: list[Step] | None = None) -> Replay:
    """Replays the steps in the loader's order (or in `order`); `Refused` names the first
    step that a service would refuse (or that breaks the file's own rules)."""
    state = Replay()
    last_at: dict[str, datetime] = {}
    for step in programme.replay_order() if order is None else order:
        if step.at < last_at.get(step.owner, step.at):
            raise Refused(f"{step}: earlier than the step before it of {step.owner!r}")
        last_at[step.owner] = step.at
        try:
            if step.section == "member":
                _member_step(state, step)
            else:
                _activity_step(state, programme, step)
        except Refused as refused:
            raise Refused(f"{step}: {refused}") from None
    return state


def _text(value: object, what: str, max_chars: int, one_line: bool = True) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise Refused(f"{what}: a non-blank, trimmed text")
    if len(value) > max_chars:
        raise Refused(f"{what}: at most {max_chars} characters")
    if one_line and any(c in value for c in "\n\r\t"):
        raise Refused(f"{what}: one line")
    return value


def check_profile(profile: dict, what: str) -> None:
    """The field rules of `POST /v1/members` (services/membership's command.rs)."""
    _text(profile.get("name"), f"{what}.name", 200)
    category = profile.get("category")
    if category not in CATEGORIES:
        raise Refused(f"{what}.category {category!r}")
    support_kind = profile.get("support_kind")
    if (category == "support") != (support_kind is not None):
        raise Refused(f"{what}.support_kind: required for support, refused otherwise")
    if support_kind is not None and support_kind not in SUPPORT_KINDS:
        raise Refused(f"{what}.support_kind {support_kind!r}")
    domains = profile.get("domains")
    if (
        not isinstance(domains, list)
        or not domains
        or len(set(domains)) != len(domains)
        or not set(domains) <= set(DOMAINS)
    ):
        raise Refused(f"{what}.domains {domains!r}: one or more circular domains, none twice")
    nace = profile.get("nace_code")
    if not isinstance(nace, str) or not NACE.match(nace):
        raise Refused(f"{what}.nace_code {nace!r}")
    if profile.get("size_band") not in SIZE_BANDS:
        raise Refused(f"{what}.size_band {profile.get('size_band')!r}")
    _text(profile.get("municipality"), f"{what}.municipality", 100)
    website = profile.get("website")
    if not isinstance(website, str) or not re.fullmatch(r"https://[a-z0-9-]+\.example/?", website):
        raise Refused(f"{what}.website {website!r}: https://<name>.example")
    _text(profile.get("offer_summary"), f"{what}.offer_summary", 1000, one_line=False)


def _member_step(state: Replay, step: Step) -> None:
    f = step.fields
    if step.do == "apply":
        if step.owner in state.members:
            raise Refused("applied twice")
        check_profile(f, step.owner)
        digits = enterprise_number_digits(f["enterprise_number"])
        for other in state.members.values():
            if other.status not in ("withdrawn", "rejected") and digits == enterprise_number_digits(
                other.profile["enterprise_number"]
            ):
                raise Refused(f"enterprise number already held by {other.key!r}")
        profile = {k: v for k, v in f.items() if k != "contact"}
        state.members[step.owner] = MemberState(
            step.owner, profile, applied_at=step.at, transitioned_at=step.at
        )
        return

    member = state.members[step.owner]
    allowed_from = {
        "admit": ("applied",),
        "reject": ("applied",),
        "suspend": ("admitted",),
        "reinstate": ("suspended",),
        "withdraw": ("admitted", "suspended"),
        "update_profile": ("applied", "admitted", "suspended"),
        "publish_offer": ("admitted",),
        "accompaniment": ("admitted", "suspended"),
    }[step.do]
    if member.status not in allowed_from:
        raise Refused(f"illegal from {member.status}")
    transition = step.do in ("admit", "reject", "suspend", "reinstate", "withdraw")
    not_before = member.transitioned_at if transition else member.applied_at
    if step.at < not_before:
        raise Refused("earlier than the member's previous transition")
    if "reason" in f:
        _text(f["reason"], "reason", 1000, one_line=False)

    if transition:
        member.status = {
            "admit": "admitted",
            "reject": "rejected",
            "suspend": "suspended",
            "reinstate": "admitted",
            "withdraw": "withdrawn",
        }[step.do]
        member.transitioned_at = step.at
        if step.do == "admit":
            member.admitted_at = step.at
        elif step.do == "reject":
            member.rejected_at = step.at
        elif step.do == "withdraw":
            member.withdrawn_at = step.at
            member.offers.clear()
        if step.do in ("suspend", "withdraw"):
            _cancel_registrations_of(state, member.key, step.at)
    elif step.do == "update_profile":
        changes = f["changes"]
        if not isinstance(changes, dict) or not changes or not set(changes) <= set(PROFILE_FIELDS):
            raise Refused(f"changes {changes!r}: some of {PROFILE_FIELDS}")
        if all(member.profile.get(k) == v for k, v in changes.items()):
            raise Refused("a profile update that changes nothing")
        updated = {**member.profile, **changes}
        check_profile(updated, step.owner)
        member.profile = updated
    elif step.do == "publish_offer":
        _text(f["title"], "title", 200)
        _text(f["description"], "description", 4000, one_line=False)
        member.offers.append(step.key)
    elif step.do == "accompaniment":
        _text(f["advisor"], "advisor", 200)
        _text(f["topic"], "topic", 500)
        hours = f["hours"]
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24:
            raise Refused(f"hours {hours!r}: above 0, at most 24")
        member.accompaniment_hours += hours


def _cancel_registrations_of(state: Replay, member: str, at: datetime) -> None:
    """What the events service does when a member is suspended or withdrawn: its
    registrations to activities not yet completed (nor cancelled) are cancelled, and
    waitlists move up."""
    for activity in state.activities.values():
        if activity.status in ("completed", "cancelled"):
            continue
        if member in activity.registered or member in activity.waitlist:
            _remove_registration(state, activity, member, at)
            state.cancelled_by_membership += 1
            state.journal.append((at, member, activity.key, "cancelled_by_membership"))


def _remove_registration(state: Replay, activity: ActivityState, member: str, at: datetime) -> None:
    if member in activity.waitlist:
        activity.waitlist.remove(member)
        return
    activity.registered.remove(member)
    if activity.waitlist:
        promoted = activity.waitlist.pop(0)
        activity.registered.append(promoted)
        state.promoted += 1
        state.journal.append((at, promoted, activity.key, "promoted"))


def _session(start: object, end: object, location: object, what: str) -> tuple:
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise Refused(f"{what}: start and end must be offset date-times")
    if start.tzinfo is None or end.tzinfo is None:
        raise Refused(f"{what}: start and end need an offset")
    if end <= start:
        raise Refused(f"{what}: ends before it starts")
    if end - start > timedelta(hours=12):
        raise Refused(f"{what}: longer than a day's session")
    if local_year(start) != 2018 or local_year(end) != 2018:
        raise Refused(f"{what}: not in 2018")
    _text(location, f"{what}.location", 200)
    return start, end, location


def _activity_step(state: Replay, programme: Programme, step: Step) -> None:
    f = step.fields
    if step.do == "schedule":
        if f.get("kind") not in ACTIVITY_KINDS:
            raise Refused(f"kind {f.get('kind')!r}")
        _text(f.get("title"), "title", 200)
        _text(f.get("theme"), "theme", 500)
        if f.get("year") != 2018:
            raise Refused("year must be 2018")
        capacity = f.get("capacity")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise Refused(f"capacity {capacity!r}")
        if any(a.title == f["title"] and a.year == f["year"] for a in state.activities.values()):
            raise Refused("the same title twice in one programme year")
        activity = ActivityState(step.owner, f["kind"], f["title"], f["year"], capacity, step.at)
        if not f.get("sessions"):
            raise Refused("an activity needs at least one session")
        for session in f["sessions"]:
            start, end, location = _session(
                session.get("start"), session.get("end"), session.get("location"), session["key"]
            )
            if set(session) != {"key", "start", "end", "location"}:
                raise Refused(f"session {session['key']!r}: key, start, end, location")
            activity.sessions[session["key"]] = SessionState(
                session["key"], start, end, location, step.at
            )
        state.activities[step.owner] = activity
        return

    activity = state.activities[step.owner]
    if step.at < activity.scheduled_at:
        raise Refused("before the activity was scheduled")
    open_only = ("register", "unregister", "attendance", "complete")
    if step.do in open_only and activity.status != "registration_opened":
        raise Refused(f"the activity is {activity.status}")
    if activity.status in ("completed", "cancelled") and step.do != "outcome":
        raise Refused(f"the activity is {activity.status}")

    def session_of(key: str) -> SessionState:
        if programme.sessions.get(key) != activity.key or key not in activity.sessions:
            raise Refused(f"no session {key!r} in this activity")
        session = activity.sessions[key]
        if session.cancelled_at is not None:
            raise Refused(f"session {key!r} is cancelled")
        return session

    def member_keys(keys: object) -> list[str]:
        if not isinstance(keys, list) or not keys or len(set(keys)) != len(keys):
            raise Refused("members: a non-empty list of member keys, none twice")
        for key in keys:
            if key not in programme.members:
                raise Refused(f"no member {key!r} in the file")
        return keys

    if step.do == "open_registration":
        if activity.status != "scheduled":
            raise Refused(f"the activity is {activity.status}")
        activity.status = "registration_opened"
    elif step.do == "register":
        first = min(s.start for s in activity.active_sessions())
        if step.at >= first:
            raise Refused("registration after the activity started")
        for key in member_keys(f["members"]):
            member = state.members.get(key)
            if member is None or member.status != "admitted":
                status = member.status if member else "unknown"
                raise Refused(f"member {key!r} is {status}: member_not_eligible")
            if step.at <= member.transitioned_at:
                raise Refused(f"member {key!r} registered at its admission's instant")
            if key in activity.registered or key in activity.waitlist:
                raise Refused(f"member {key!r} registered twice")
            state.registrations += 1
            activity.ever_registered.append(key)
            if len(activity.registered) < activity.capacity:
                activity.registered.append(key)
                state.journal.append((step.at, key, activity.key, "registered"))
            else:
                activity.waitlist.append(key)
                state.waitlisted += 1
                state.journal.append((step.at, key, activity.key, "waitlisted"))
    elif step.do == "unregister":
        for key in member_keys(f["members"]):
            if key not in activity.registered and key not in activity.waitlist:
                raise Refused(f"member {key!r} is not registered")
            _remove_registration(state, activity, key, step.at)
            state.cancelled_by_member += 1
            state.journal.append((step.at, key, activity.key, "cancelled_by_member"))
    elif step.do == "add_session":
        start, end, location = _session(f["start"], f["end"], f["location"], f["session"])
        activity.sessions[f["session"]] = SessionState(f["session"], start, end, location, step.at)
    elif step.do == "reschedule_session":
        session = session_of(f["session"])
        if step.at >= session.start:
            raise Refused("rescheduling a session that has started")
        session.start, session.end, session.location = _session(
            f["start"], f["end"], f["location"], f["session"]
        )
    elif step.do == "cancel_session":
        session = session_of(f["session"])
        if step.at >= session.start:
            raise Refused("cancelling a session that has started")
        session.cancelled_at = step.at
        if not activity.active_sessions():
            raise Refused("cancelling the last session: cancel the activity instead")
    elif step.do == "attendance":
        session = session_of(f["session"])
        if step.at < session.end:
            raise Refused("attendance recorded before the session ended")
        if session.attendance is not None:
            raise Refused("attendance recorded twice for one session")
        keys = member_keys(f["members"])
        absent = [k for k in keys if k not in activity.registered]
        if absent:
            raise Refused(f"attendance of members not registered: {absent}")
        session.attendance = list(keys)
    elif step.do == "outcome":
        if activity.status == "cancelled":
            raise Refused("outcome of a cancelled activity")
        if f["kind"] not in OUTCOME_KINDS:
            raise Refused(f"outcome kind {f['kind']!r}")
        keys = member_keys(f["members"])
        if len(keys) < 2:
            raise Refused("an outcome involves at least two members")
        for key in keys:
            if state.members[key].status != "admitted" or key not in activity.registered:
                raise Refused(f"outcome member {key!r} is not an admitted participant")
        jobs = f["jobs_created"]
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
            raise Refused(f"jobs_created {jobs!r}")
        _text(f["description"], "description", 2000, one_line=False)
        activity.outcomes.append({"kind": f["kind"], "members": keys, "jobs": jobs, "at": step.at})
    elif step.do == "complete":
        for session in activity.active_sessions():
            if step.at < session.end:
                raise Refused(f"completed before session {session.key!r} ended")
            if session.attendance is None:
                raise Refused(f"completed without the attendance of {session.key!r}")
        activity.status = "completed"
        activity.completed_at = step.at
    elif step.do == "cancel":
        activity.status = "cancelled"
        activity.cancelled_at = step.at


# ---------------------------------------------------------------------------------
# Counting (DESIGN.md section 5.1, "Counting rules")


def _before(moment: datetime | None, as_of: datetime) -> bool:
    return moment is not None and moment <= as_of


def members_count(state: Replay, as_of: datetime) -> int:
    """A member counts from admission until withdrawal (suspended ones still count)."""
    return sum(
        1
        for m in state.members.values()
        if _before(m.admitted_at, as_of) and not _before(m.withdrawn_at, as_of)
    )


def counted_activities(state: Replay, year: int, as_of: datetime) -> list[ActivityState]:
    """An activity counts in its programme year from its scheduling until its
    cancellation."""
    return [
        a
        for a in state.activities.values()
        if a.year == year and _before(a.scheduled_at, as_of) and not _before(a.cancelled_at, as_of)
    ]


def kpis(state: Replay, year: int, as_of: datetime) -> dict[str, int]:
    activities = counted_activities(state, year, as_of)
    accompaniments = [a for a in activities if a.kind == "collective_accompaniment"]
    return {
        "members": members_count(state, as_of),
        "activities": len(activities),
        "trainings": sum(a.kind == "training" for a in activities),
        "working_groups": sum(a.kind == "working_group" for a in activities),
        "collective_accompaniments": len(accompaniments),
        # A session counts from when it is added until it, or its activity, is cancelled.
        "collective_accompaniment_sessions": sum(
            1
            for a in accompaniments
            for s in a.sessions.values()
            if _before(s.added_at, as_of) and not _before(s.cancelled_at, as_of)
        ),
    }


def month_end(year: int, month: int) -> datetime:
    """The last instant of a month (to the second) on a Brussels clock."""
    first_next = date(year + month // 12, month % 12 + 1, 1)
    naive = datetime(first_next.year, first_next.month, first_next.day) - timedelta(seconds=1)
    guess = naive.replace(tzinfo=timezone(timedelta(hours=1)))
    return naive.replace(tzinfo=timezone(brussels_offset(guess)))


def growth(state: Replay, year: int) -> dict[str, list[int]]:
    """Per month of `year`: members admitted (first admission), withdrawn, and the count
    at the month's end."""

    def month_of(moment: datetime) -> tuple[int, int]:
        local = moment.astimezone(timezone(brussels_offset(moment)))
        return local.year, local.month

    joined = [0] * 12
    left = [0] * 12
    for m in state.members.values():
        if m.admitted_at and month_of(m.admitted_at)[0] == year:
            joined[month_of(m.admitted_at)[1] - 1] += 1
        if m.withdrawn_at and month_of(m.withdrawn_at)[0] == year:
            left[month_of(m.withdrawn_at)[1] - 1] += 1
    total = [members_count(state, month_end(year, month)) for month in range(1, 13)]
    return {"joined": joined, "left": left, "total": total}


def composition(state: Replay, as_of: datetime) -> dict[str, dict[str, int]]:
    counted = [
        m
        for m in state.members.values()
        if _before(m.admitted_at, as_of) and not _before(m.withdrawn_at, as_of)
    ]
    return {
        "by_category": {c: sum(m.profile["category"] == c for m in counted) for c in CATEGORIES},
        "by_support_kind": {
            k: sum(m.profile.get("support_kind") == k for m in counted) for k in SUPPORT_KINDS
        },
        "by_domain": {d: sum(d in m.profile["domains"] for m in counted) for d in DOMAINS},
    }


def applications(state: Replay, as_of: datetime) -> dict[str, int]:
    members = list(state.members.values())
    return {
        "applied": sum(_before(m.applied_at, as_of) for m in members),
        "admitted": sum(_before(m.admitted_at, as_of) for m in members),
        "rejected": sum(_before(m.rejected_at, as_of) for m in members),
        "pending": sum(m.status == "applied" for m in members),
        "withdrawn": sum(_before(m.withdrawn_at, as_of) for m in members),
        "suspended": sum(m.status == "suspended" for m in members),
    }


def participation(state: Replay, year: int, as_of: datetime) -> dict[str, int]:
    counted = {
        m.key
        for m in state.members.values()
        if _before(m.admitted_at, as_of) and not _before(m.withdrawn_at, as_of)
    }
    engaged = {
        key for a in state.activities.values() if a.year == year for key in a.ever_registered
    }
    return {
        "registrations": state.registrations,
        "waitlisted": state.waitlisted,
        "promoted": state.promoted,
        "cancelled_by_member": state.cancelled_by_member,
        "cancelled_by_membership": state.cancelled_by_membership,
        "attendances": sum(
            len(s.attendance or [])
            for a in counted_activities(state, year, as_of)
            for s in a.active_sessions()
        ),
        "members_never_engaged": len(counted - engaged),
    }


def collaboration(state: Replay, year: int) -> dict:
    outcomes = [o for a in state.activities.values() if a.year == year for o in a.outcomes]
    return {
        "outcomes": {k: sum(o["kind"] == k for o in outcomes) for k in OUTCOME_KINDS},
        "jobs_created": sum(o["jobs"] for o in outcomes),
        "members_involved": len({m for o in outcomes for m in o["members"]}),
    }


def targets_reached(
    state: Replay, programme: Programme, year: int, targets: dict[str, int], as_of: datetime
) -> dict[str, datetime]:
    """For each KPI, the first instant (a step's `at`, up to `as_of`) at which its actual
    figure reaches its target: when reporting may say `reporting.target.reached`."""
    reached: dict[str, datetime] = {}
    for moment in sorted({step.at for step in programme.steps if step.at <= as_of}):
        actual = kpis(state, year, moment)
        for kpi, target in targets.items():
            if kpi not in reached and actual[kpi] >= target:
                reached[kpi] = moment
    return reached


def figures(state: Replay, year: int, as_of: datetime) -> dict:
    """Every figure the file states in its `[expected]` table, computed."""
    return {
        "kpis": kpis(state, year, as_of),
        "growth": growth(state, year),
        "composition": composition(state, as_of),
        "applications": applications(state, as_of),
        "participation": participation(state, year, as_of),
        "collaboration": collaboration(state, year),
    }
