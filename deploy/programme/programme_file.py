"""The programme file: its items, their keys, and the order in which they are sent.

`programme-2018.toml` (its format: README.md beside this file) holds members and
activities, each with the steps of its story. `load` reads a file into a `Programme`:
one `Step` per request (an item's creation, `apply` or `schedule`, and each entry of its
`then` list), checking the format as it goes (known tables and fields, offset date-times,
keys unique in the file and prefixed by their owner's, steps with the fields they need).
`Programme.replay_order` is the order the loader sends them in: by instant, ties in
file order.

Python standard library only: the loader that uses it runs on a fresh machine.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMME = HERE / "programme-2018.toml"

# What each step may carry besides `at`, `key` and `do`: (required, optional).
MEMBER_STEPS = {
    "admit": ((), ("reason",)),
    "reject": ((), ("reason",)),
    "suspend": ((), ("reason",)),
    "reinstate": ((), ("reason",)),
    "withdraw": ((), ("reason",)),
    "update_profile": (("changes",), ()),
    "publish_offer": (("title", "description"), ()),
    "accompaniment": (("advisor", "topic", "hours"), ()),
}
ACTIVITY_STEPS = {
    "open_registration": ((), ()),
    "register": (("members",), ()),
    "unregister": (("members",), ()),
    "add_session": (("session", "start", "end", "location"), ()),
    "reschedule_session": (("session", "start", "end", "location"), ()),
    "cancel_session": (("session",), ("reason",)),
    "attendance": (("session", "members"), ()),
    "outcome": (("kind", "members", "jobs_created", "description"), ()),
    "complete": ((), ()),
    "cancel": ((), ("reason",)),
}
MEMBER_FIELDS = (
    "key",
    "at",
    "name",
    "category",
    "support_kind",
    "domains",
    "enterprise_number",
    "nace_code",
    "size_band",
    "municipality",
    "website",
    "offer_summary",
    "contact",
    "then",
)
ACTIVITY_FIELDS = (
    "key",
    "at",
    "kind",
    "title",
    "theme",
    "year",
    "capacity",
    "sessions",
    "then",
)

KEY = re.compile(r"^[a-z0-9]+(?:[-/][a-z0-9]+)*$")


class Refused(Exception):
    """A step the services would refuse, or a file that breaks its own format."""


def enterprise_number_digits(text: str) -> str:
    """The ten digits of a valid Belgian enterprise number written as `0123.456.749`
    or `0123456749`; `Refused` otherwise (DESIGN section 4, services/membership's
    enterprise_number.rs)."""
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}\.\d{3}\.\d{3}|\d{10}", text):
        raise Refused(f"enterprise number {text!r}: not 0123.456.749 or 0123456749")
    digits = text.replace(".", "")
    if digits[0] not in "01":
        raise Refused(f"enterprise number {text!r}: the first digit must be 0 or 1")
    if int(digits[8:]) != 97 - int(digits[:8]) % 97:
        raise Refused(f"enterprise number {text!r}: wrong check digits")
    return digits


@dataclass
class Step:
    """One request of the replay: the owner's creation (`apply`, `schedule`) or one
    entry of its `then` list."""

    order: int
    owner: str
    section: str  # "member" or "activity"
    do: str
    key: str
    at: datetime
    fields: dict

    def __repr__(self) -> str:
        return f"step {self.key!r} ({self.do} at {self.at.isoformat()})"


@dataclass
class Programme:
    data: dict
    members: dict[str, dict]
    activities: dict[str, dict]
    sessions: dict[str, str]  # session key -> activity key
    steps: list[Step]  # in file order

    def replay_order(self) -> list[Step]:
        """The loader's order: by instant, ties in file order."""
        return sorted(self.steps, key=lambda step: (step.at, step.order))

    @property
    def idempotency_prefix(self) -> str:
        return self.data.get("programme", {}).get("idempotency_prefix", "")


def load(path: Path = PROGRAMME) -> Programme:
    with Path(path).open("rb") as file:
        return parse(tomllib.load(file))


def parse(data: dict) -> Programme:
    """Reads the file's tables into steps, checking the format as it goes."""
    unknown = set(data) - {"programme", "expected", "members", "activities"}
    if unknown:
        raise Refused(f"unknown top-level tables {sorted(unknown)}")
    members: dict[str, dict] = {}
    activities: dict[str, dict] = {}
    sessions: dict[str, str] = {}
    steps: list[Step] = []
    keys: set[str] = set()

    def add_key(key: object, owner: str | None) -> str:
        if not isinstance(key, str) or not KEY.match(key) or len(key) > 120:
            raise Refused(f"key {key!r}: lower-case words joined by - or /")
        if owner is not None and not key.startswith(owner + "/"):
            raise Refused(f"key {key!r}: must start with its owner's key {owner!r}/")
        if key in keys:
            raise Refused(f"key {key!r} used twice")
        keys.add(key)
        return key

    def at_of(item: dict, what: str) -> datetime:
        at = item.get("at")
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise Refused(f"{what}: `at` must be an offset date-time (RFC 3339)")
        return at

    def add_step(owner: str, section: str, item: dict, allowed: dict) -> None:
        do = item.get("do")
        if do not in allowed:
            raise Refused(f"{owner}: unknown step {do!r}")
        required, optional = allowed[do]
        fields = {k: v for k, v in item.items() if k not in ("at", "key", "do")}
        missing = set(required) - set(fields)
        extra = set(fields) - set(required) - set(optional)
        if missing or extra:
            raise Refused(f"{owner}: step {do}: missing {sorted(missing)}, unknown {sorted(extra)}")
        key = add_key(item.get("key"), owner)
        steps.append(Step(len(steps), owner, section, do, key, at_of(item, key), fields))

    for member in data.get("members", []):
        extra = set(member) - set(MEMBER_FIELDS)
        if extra:
            raise Refused(f"member {member.get('key')!r}: unknown fields {sorted(extra)}")
        key = add_key(member.get("key"), None)
        members[key] = member
        body = {k: v for k, v in member.items() if k not in ("key", "at", "then")}
        steps.append(Step(len(steps), key, "member", "apply", key, at_of(member, key), body))
        for item in member.get("then", []):
            add_step(key, "member", item, MEMBER_STEPS)

    for activity in data.get("activities", []):
        extra = set(activity) - set(ACTIVITY_FIELDS)
        if extra:
            raise Refused(f"activity {activity.get('key')!r}: unknown fields {sorted(extra)}")
        key = add_key(activity.get("key"), None)
        activities[key] = activity
        for session in activity.get("sessions", []):
            sessions[add_key(session.get("key"), key)] = key
        body = {k: v for k, v in activity.items() if k not in ("key", "at", "then")}
        steps.append(Step(len(steps), key, "activity", "schedule", key, at_of(activity, key), body))
        for item in activity.get("then", []):
            add_step(key, "activity", item, ACTIVITY_STEPS)
            if item["do"] == "add_session":
                sessions[add_key(item["session"], key)] = key

    return Programme(data, members, activities, sessions, steps)
