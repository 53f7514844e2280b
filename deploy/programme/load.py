#!/usr/bin/env python3
"""Loads a programme file into the running services through their public HTTP APIs.

    python3 deploy/programme/load.py [--membership URL] [--events URL] [--token TOKEN]
                                     [--only members] [--positions-file PATH]

Every item of the file (README.md beside this file: its format, the request of each
item, the replay order) is sent in replay order, one request at a time, with its
back-dated `at`, a coordinator token, and `Idempotency-Key: <prefix><item key>`. The
loader keeps the map from the file's keys to the ids the services assign (members,
activities, sessions) and, at the end, prints the highest log position each service
answered.

Loading the same file again into the same data dirs writes nothing:

- while the services still remember the answers (a day, `shared/kit`), every request
  gets its first answer again, from which the loader learns the ids again;
- after that, the loader finds what is there by natural keys: a member by its
  enterprise number and the time it applied, a member's step by its event in the
  member's history (same type, same time), an activity by year and title. An activity
  found finished (completed or cancelled, the last step of every activity in the file)
  is left as it is; one found unfinished cannot be resumed, since nothing tells which of
  its steps were sent, and the loader stops and says so.

The events service learns about members from the MEMBERSHIP stream, a few milliseconds
after membership answers. A request that depends on it (a registration right after an
admission, the attendance of a member promoted after another's withdrawal) may be
refused until then; the loader retries those refusals, under a fresh derived key
(`<key>~2`, `~3`, ...: a refusal is a first answer too, and is remembered), until the
deadline. It retries a 503 or a connection refused (a service starting) under the same
key. Any other refusal stops the load with the item's key and the problem's code and
detail.

Python standard library only: it runs on a fresh machine before anything is installed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from programme_file import (  # noqa: E402  (found on the path above)
    PROGRAMME,
    Programme,
    Refused,
    Step,
    enterprise_number_digits,
    load,
)

MEMBERSHIP_URL = "http://127.0.0.1:8081"
EVENTS_URL = "http://127.0.0.1:8082"

# The event a member step appends, by which it is found in the member's history.
MEMBER_EVENTS = {
    "apply": "applied",
    "admit": "admitted",
    "reject": "rejected",
    "suspend": "suspended",
    "reinstate": "reinstated",
    "withdraw": "withdrawn",
    "update_profile": "profile_updated",
    "publish_offer": "offer_published",
    "accompaniment": "accompaniment_recorded",
}
# Refusals of the events service that last only until it has read MEMBERSHIP that far.
EVENTS_CATCHING_UP = frozenset({"member_not_eligible", "members_not_registered", "not_registered"})
FINISHED = frozenset({"completed", "cancelled"})
MAX_KEY = 255


class LoadError(Exception):
    """The load cannot go on; the message names the item and what went wrong."""


class Unreachable(Exception):
    """No HTTP answer: the service is down, starting, or the connection broke."""


@dataclass
class Answer:
    status: int
    body: object
    replayed: bool

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str:
        return self.body.get("code", "") if isinstance(self.body, dict) else ""

    def problem(self) -> str:
        """The problem document in one line: status, code, detail and failing fields."""
        if not isinstance(self.body, dict):
            return f"HTTP {self.status}: {str(self.body)[:300]}"
        text = f"HTTP {self.status} {self.body.get('code', '')}"
        detail = self.body.get("detail") or self.body.get("title")
        if detail:
            text += f": {detail}"
        for error in self.body.get("errors") or []:
            if isinstance(error, dict):
                text += f"; {error.get('field')}: {error.get('reason')}"
        return text


class Api:
    """One service's HTTP API, with the coordinator's token."""

    def __init__(self, name: str, base: str, token: str, timeout: float, patience: float) -> None:
        self.name = name
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.patience = patience
        self.highest_position = 0
        self.requests = 0
        self.replayed = 0
        self.retries = 0

    def request(self, method: str, path: str, body: object = None, key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, default=_json_default).encode()
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw, replayed = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, replayed = error.code, error.read(), error.headers
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Unreachable(f"{self.name} at {self.base}: {reason}") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        answer = Answer(status, parsed, replayed.get("Idempotent-Replayed") == "true")
        if method != "GET":
            self.requests += 1
            self.replayed += answer.replayed
            self.note_position(parsed)
        return answer

    def get(self, path: str) -> object:
        """A read, retried while the service is unreachable or not ready (503)."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                answer = self.request("GET", path)
            except Unreachable as error:
                last = str(error)
            else:
                if answer.ok:
                    return answer.body
                last = answer.problem()
                if answer.status != 503:
                    raise LoadError(f"GET {self.name} {path}: {last}")
            if time.monotonic() > deadline:
                raise LoadError(f"GET {self.name} {path}: no answer in {self.patience:.0f} s: {last}")
            time.sleep(0.2)

    def note_position(self, body: object) -> None:
        if isinstance(body, dict) and isinstance(body.get("position"), int):
            self.highest_position = max(self.highest_position, body["position"])


def _json_default(value: object) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _instant(text: object) -> datetime | None:
    """An RFC 3339 time from a service, or `None`."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _position(body: object) -> int:
    position = body.get("position") if isinstance(body, dict) else None
    return position if isinstance(position, int) else 0


def _session_ids(body: object) -> list[str]:
    """The session ids an activity's answer (`session_ids`) or view (`sessions`) lists,
    in their order."""
    if not isinstance(body, dict):
        return []
    listed = body.get("session_ids")
    if isinstance(listed, list) and all(isinstance(sid, str) for sid in listed):
        return listed
    sessions = body.get("sessions")
    ids = []
    for session in sessions or []:
        if isinstance(session, dict):
            sid = session.get("session_id") or session.get("id")
            if isinstance(sid, str):
                ids.append(sid)
    return ids


@dataclass
class Found:
    """What a re-run finds already in the services by natural keys."""

    members: dict[str, dict] = field(default_factory=dict)  # file key -> member view
    histories: dict[str, set[tuple[str, datetime]]] = field(default_factory=dict)
    activities: dict[str, dict] = field(default_factory=dict)  # file key -> activity view


class Loader:
    def __init__(self, programme: Programme, args: argparse.Namespace, token: str) -> None:
        self.programme = programme
        self.prefix = args.key_prefix if args.key_prefix is not None else programme.idempotency_prefix
        self.only = args.only
        self.until = args.until
        self.patience = args.deadline
        self.verbose = args.verbose
        self.membership = Api("membership", args.membership, token, args.timeout, args.deadline)
        self.events = Api("events", args.events, token, args.timeout, args.deadline)
        self.member_ids: dict[str, str] = {}
        self.activity_ids: dict[str, str] = {}
        self.session_ids: dict[str, str] = {}
        self.found = Found()
        self.natural_keys = False
        self.skipped = 0
        self.waitlisted = 0

    # --- output ---------------------------------------------------------------------

    @staticmethod
    def say(text: str) -> None:
        print(text, flush=True)

    # --- requests -------------------------------------------------------------------

    def send(self, api: Api, step: Step, method: str, path: str, body: dict, key: str) -> Answer:
        """Sends one request until it is answered for good; `LoadError` on a refusal."""
        if len(key) > MAX_KEY - 4:
            raise LoadError(f"{step}: Idempotency-Key {key!r} is too long")
        transient = EVENTS_CATCHING_UP if api is self.events else frozenset()
        deadline = time.monotonic() + self.patience
        rotation, delay, last = 1, 0.02, ""
        while True:
            attempt_key = key if rotation == 1 else f"{key}~{rotation}"
            wait = True
            try:
                answer = api.request(method, path, body, attempt_key)
            except Unreachable as error:
                last = str(error)
            else:
                if answer.ok:
                    if self.verbose:
                        again = " (first answer, again)" if answer.replayed else ""
                        self.say(f"  {step.key}: {method} {api.name} {path} -> {answer.status}{again}")
                    return answer
                last = answer.problem()
                if answer.status == 503 or answer.code == "idempotency_key_in_use":
                    pass  # not remembered: the same key again
                elif answer.code in transient:
                    # Remembered: only a fresh key asks again. A remembered refusal from
                    # an earlier run comes back at once; the next key follows at once.
                    rotation += 1
                    wait = not answer.replayed
                else:
                    raise LoadError(
                        f"{step}: {method} {api.name} {path} refused: {last}"
                        f"\n  (Idempotency-Key {attempt_key!r})"
                    )
            if time.monotonic() > deadline:
                raise LoadError(
                    f"{step}: {method} {api.name} {path} still not accepted after "
                    f"{self.patience:.0f} s; last answer: {last}"
                )
            if wait:
                api.retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def key(self, step: Step, *suffix: str) -> str:
        return self.prefix + "/".join((step.key, *suffix))

    # --- what is there already ------------------------------------------------------

    def find_existing(self) -> None:
        """Looks up the file's members by enterprise number and application time, and
        decides how a re-run finds its ids: by the first answers, or by natural keys."""
        listed = self.membership.get("/v1/members")
        views = listed.get("members", []) if isinstance(listed, dict) else []
        by_number: dict[str, list[dict]] = {}
        for view in views:
            by_number.setdefault(view.get("enterprise_number", ""), []).append(view)
        for key, member in self.programme.members.items():
            digits = enterprise_number_digits(member["enterprise_number"])
            for view in by_number.get(digits, []):
                if _instant(view.get("applied_at")) == member["at"]:
                    self.found.members[key] = view
        if not self.found.members:
            self.say("the services hold none of these members: a first load")
            return

        # Ask for a member's application again under its key: a remembered answer comes
        # back as it was; a forgotten one is refused as a duplicate enterprise number.
        # Neither writes anything.
        probe = next(
            (k for k, v in self.found.members.items() if v.get("status") in ("applied", "admitted", "suspended")),
            None,
        )
        remembered = False
        if probe is not None:
            step = next(s for s in self.programme.steps if s.key == probe and s.do == "apply")
            answer = self.membership.request(
                "POST", "/v1/members", self.body(step), self.key(step)
            )
            if answer.ok and answer.replayed:
                remembered = True
            elif answer.code != "duplicate_enterprise_number":
                raise LoadError(f"{step}: asking for its first answer again: {answer.problem()}")
        if remembered:
            self.say(
                f"{len(self.found.members)} of the members are there already, and the services "
                "remember their answers: each request sent before gets its first answer again"
            )
            self.found = Found()
            return

        self.natural_keys = True
        self.say(
            f"{len(self.found.members)} of the members are there already, and their answers are "
            "forgotten (older than a day): finding what is there by natural keys"
        )
        for key, view in self.found.members.items():
            self.member_ids[key] = view["id"]
            history = self.membership.get(f"/v1/members/{view['id']}/history")
            done = set()
            for event in history if isinstance(history, list) else []:
                # brussels.circlemade.membership.member.<event>.v<N>
                name = (str(event.get("type", "")).split(".") + [""])[-3]
                moment = _instant(event.get("time"))
                if moment is not None:
                    done.add((name, moment))
                if isinstance(event.get("sequence"), int):
                    self.membership.highest_position = max(
                        self.membership.highest_position, event["sequence"]
                    )
            self.found.histories[key] = done
        if self.only != "members":
            for year in sorted({a["year"] for a in self.programme.activities.values()}):
                listed = self.events.get(f"/v1/activities?year={year}")
                views = listed.get("activities", []) if isinstance(listed, dict) else listed
                by_title = {v.get("title"): v for v in views or [] if isinstance(v, dict)}
                for key, activity in self.programme.activities.items():
                    view = by_title.get(activity["title"])
                    if activity["year"] == year and view is not None:
                        self.found.activities[key] = view

    def already_there(self, step: Step) -> bool:
        """In natural-key mode: whether the step's effect is in the services already."""
        if not self.natural_keys:
            return False
        if step.section == "member":
            if step.owner not in self.found.members:
                return False
            return (MEMBER_EVENTS[step.do], step.at) in self.found.histories[step.owner]
        view = self.found.activities.get(step.owner)
        if view is None:
            return False
        if view.get("status") in FINISHED:
            self.events.note_position(view)
            return True
        raise LoadError(
            f"{step}: activity {view.get('title')!r} ({view.get('id')}) is in the events service "
            f"but not finished ({view.get('status')}), and the answers to its requests are "
            "forgotten: nothing tells which of its steps were sent. Load the programme into "
            "empty data dirs."
        )

    # --- the requests of each step ---------------------------------------------------

    def body(self, step: Step) -> dict:
        """The request body of a member creation or step (README.md, the tables)."""
        f = step.fields
        if step.do == "apply":
            return {**f, "at": step.at}
        if step.do == "update_profile":
            return {**f["changes"], "at": step.at}
        return {**f, "at": step.at}

    def member_id(self, step: Step, key: str) -> str:
        member_id = self.member_ids.get(key)
        if member_id is None:
            raise LoadError(f"{step}: member {key!r} has no id: it was never created")
        return member_id

    def member_step(self, step: Step) -> None:
        api = self.membership
        if step.do == "apply":
            answer = self.send(api, step, "POST", "/v1/members", self.body(step), self.key(step))
            if not isinstance(answer.body, dict) or "id" not in answer.body:
                raise LoadError(f"{step}: the answer has no member id: {answer.body!r}")
            self.member_ids[step.owner] = answer.body["id"]
            return
        member = self.member_id(step, step.owner)
        method, path = {
            "update_profile": ("PATCH", f"/v1/members/{member}"),
            "publish_offer": ("POST", f"/v1/members/{member}/offers"),
            "accompaniment": ("POST", f"/v1/members/{member}/accompaniments"),
        }.get(step.do, ("POST", f"/v1/members/{member}/{step.do}"))
        self.send(api, step, method, path, self.body(step), self.key(step))

    def activity_step(self, step: Step) -> None:
        api, f, at = self.events, step.fields, step.at
        if step.do == "schedule":
            body = {k: v for k, v in f.items() if k != "sessions"}
            body["sessions"] = [
                {"start": s["start"], "end": s["end"], "location": s["location"]} for s in f["sessions"]
            ]
            body["at"] = at
            answer = self.send(api, step, "POST", "/v1/activities", body, self.key(step))
            if not isinstance(answer.body, dict) or "id" not in answer.body:
                raise LoadError(f"{step}: the answer has no activity id: {answer.body!r}")
            activity = answer.body["id"]
            self.activity_ids[step.owner] = activity
            ids = _session_ids(answer.body) or _session_ids(
                api.get(f"/v1/activities/{activity}?min_position={_position(answer.body)}")
            )
            if len(ids) < len(f["sessions"]):
                raise LoadError(f"{step}: the events service lists {len(ids)} sessions, the file {len(f['sessions'])}")
            for session, sid in zip(f["sessions"], ids):
                self.session_ids[session["key"]] = sid
            return

        activity = self.activity_ids.get(step.owner)
        if activity is None:
            raise LoadError(f"{step}: activity {step.owner!r} has no id: it was never scheduled")
        base = f"/v1/activities/{activity}"

        def session() -> str:
            sid = self.session_ids.get(f["session"])
            if sid is None:
                raise LoadError(f"{step}: session {f['session']!r} has no id")
            return sid

        if step.do == "register":
            for member in f["members"]:
                body = {"member_id": self.member_id(step, member), "at": at}
                answer = self.send(api, step, "POST", f"{base}/registrations", body, self.key(step, member))
                if isinstance(answer.body, dict) and answer.body.get("status") == "waitlisted":
                    self.waitlisted += 1
        elif step.do == "unregister":
            for member in f["members"]:
                path = f"{base}/registrations/{self.member_id(step, member)}"
                self.send(api, step, "DELETE", path, {"at": at}, self.key(step, member))
        elif step.do == "add_session":
            body = {"start": f["start"], "end": f["end"], "location": f["location"], "at": at}
            answer = self.send(api, step, "POST", f"{base}/sessions", body, self.key(step))
            sid = answer.body.get("session_id") if isinstance(answer.body, dict) else None
            if not isinstance(sid, str):
                known = set(self.session_ids.values())
                view = api.get(f"{base}?min_position={_position(answer.body)}")
                new = [s for s in _session_ids(view) if s not in known]
                if len(new) != 1:
                    raise LoadError(f"{step}: cannot tell the new session's id ({answer.body!r})")
                sid = new[0]
            self.session_ids[f["session"]] = sid
        elif step.do == "reschedule_session":
            body = {"start": f["start"], "end": f["end"], "location": f["location"], "at": at}
            self.send(api, step, "PUT", f"{base}/sessions/{session()}", body, self.key(step))
        elif step.do == "cancel_session":
            body = {"at": at, **({"reason": f["reason"]} if "reason" in f else {})}
            self.send(api, step, "POST", f"{base}/sessions/{session()}/cancel", body, self.key(step))
        elif step.do == "attendance":
            body = {"member_ids": [self.member_id(step, m) for m in f["members"]], "at": at}
            self.send(api, step, "POST", f"{base}/sessions/{session()}/attendance", body, self.key(step))
        elif step.do == "outcome":
            body = {
                "kind": f["kind"],
                "member_ids": [self.member_id(step, m) for m in f["members"]],
                "jobs_created": f["jobs_created"],
                "description": f["description"],
                "at": at,
            }
            self.send(api, step, "POST", f"{base}/outcomes", body, self.key(step))
        elif step.do in ("open_registration", "complete", "cancel"):
            path = f"{base}/{step.do.replace('_', '-')}"
            body = {"at": at, **({"reason": f["reason"]} if "reason" in f else {})}
            self.send(api, step, "POST", path, body, self.key(step))
        else:
            raise LoadError(f"{step}: the loader does not know this step")

    # --- the whole load -------------------------------------------------------------

    def run(self) -> None:
        order = [
            s
            for s in self.programme.replay_order()
            if (self.only != "members" or s.section == "member") and (self.until is None or s.at <= self.until)
        ]
        self.say(
            f"loading {len(self.programme.members)} members"
            + ("" if self.only == "members" else f" and {len(self.programme.activities)} activities")
            + ("" if self.until is None else f" up to {self.until.isoformat()}")
            + f": {len(order)} steps in replay order"
        )
        self.find_existing()
        month, done = None, Counter()
        for step in order:
            current = _local_month(step.at)
            if month is not None and current != month:
                self.progress(month, done)
                done = Counter()
            month = current
            if self.already_there(step):
                self.skipped += 1
                done["already there"] += 1
                if step.section == "member" and step.do == "apply":
                    self.member_ids[step.owner] = self.found.members[step.owner]["id"]
                continue
            if step.section == "member":
                self.member_step(step)
            else:
                self.activity_step(step)
            done[step.do] += 1
        if month is not None:
            self.progress(month, done)

    def progress(self, month: str, done: Counter) -> None:
        parts = ", ".join(f"{n} {what}" for what, n in done.items())
        positions = f"membership at {self.membership.highest_position}"
        if self.only != "members":
            positions += f", events at {self.events.highest_position}"
        self.say(f"{month}: {parts} ({positions})")

    def summary(self) -> dict[str, int]:
        apis = [self.membership] + ([] if self.only == "members" else [self.events])
        for api in apis:
            self.say(
                f"{api.name}: {api.requests} requests ({api.replayed} given their first answer again, "
                f"{api.retries} retries); highest log position {api.highest_position}"
            )
        if self.skipped:
            self.say(f"{self.skipped} steps found already there by natural keys, not sent again")
        if self.only != "members" and self.events.requests:
            self.say(f"{self.waitlisted} registrations waitlisted on arrival")
        return {api.name: api.highest_position for api in apis}


def _local_month(instant: datetime) -> str:
    """`YYYY-MM` of the file's own clock (the offset it was written with)."""
    return instant.strftime("%Y-%m")


def _until(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("an RFC 3339 time with its offset, e.g. 2018-09-30T23:59:59+02:00")
    return moment


def coordinator_token(args: argparse.Namespace) -> str:
    if args.token:
        return args.token
    for entry in os.environ.get("CIRCLEMADE_API_TOKENS", "").split(","):
        role, _, token = entry.strip().partition(":")
        if role == "coordinator" and token:
            return token
    raise SystemExit(
        "load.py: no coordinator token: give --token, or set CIRCLEMADE_TOKEN or "
        "CIRCLEMADE_API_TOKENS=coordinator:<token>,..."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Load a programme file into the membership and events services over HTTP, "
        "in replay order, with back-dated times and idempotency keys (see deploy/programme/README.md).",
    )
    parser.add_argument("--file", type=Path, default=PROGRAMME, help="the programme file (default: %(default)s)")
    parser.add_argument("--membership", default=MEMBERSHIP_URL, help="membership's base URL (default: %(default)s)")
    parser.add_argument("--events", default=EVENTS_URL, help="events' base URL (default: %(default)s)")
    parser.add_argument(
        "--token",
        default=os.environ.get("CIRCLEMADE_TOKEN"),
        help="a coordinator token (default: $CIRCLEMADE_TOKEN, else the coordinator's in $CIRCLEMADE_API_TOKENS)",
    )
    parser.add_argument(
        "--only", choices=["members"], help="load only the members and their steps (no events service needed)"
    )
    parser.add_argument(
        "--key-prefix",
        help="the Idempotency-Key prefix (default: the file's [programme].idempotency_prefix)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=30.0,
        help="longest wait, in seconds, for a request refused for a while (default: %(default)s)",
    )
    parser.add_argument(
        "--until",
        type=_until,
        help="load only the steps at or before this RFC 3339 time (the programme as it stood then)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="one request's timeout, in seconds")
    parser.add_argument("--positions-file", type=Path, help="also write the highest positions there, as JSON")
    parser.add_argument("--verbose", action="store_true", help="print every request")
    args = parser.parse_args(argv)

    token = coordinator_token(args)
    try:
        programme = load(args.file)
    except (OSError, ValueError, Refused) as error:
        print(f"load.py: {args.file}: {error}", file=sys.stderr)
        return 1
    loader = Loader(programme, args, token)
    started = time.monotonic()
    try:
        loader.run()
    except (LoadError, Unreachable) as error:
        print(f"load.py: the load stopped: {error}", file=sys.stderr)
        return 1
    positions = loader.summary()
    loader.say(f"loaded in {time.monotonic() - started:.1f} s")
    print("positions " + " ".join(f"{name}={p}" for name, p in positions.items()), flush=True)
    if args.positions_file:
        args.positions_file.write_text(json.dumps(positions) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
