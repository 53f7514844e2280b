#!/usr/bin/env python3
"""Waits until reporting has caught up with a load, then prints the year's KPIs.

    python3 deploy/programme/report.py --positions-file data/loaded.json
        [--membership URL] [--events URL] [--reporting URL] [--nats-monitor URL]
        [--token ANALYST_TOKEN] [--year 2018]

Caught up is decided by positions, never by waiting a while:

1. each producer's outbox has published up to the highest position the loader was
   answered (`/readyz`: `outbox.cursor`), so the streams hold everything loaded;
2. reporting's consumers of those streams have nothing pending or unacknowledged (the
   NATS monitoring endpoint, `/jsz?consumers=true`): reporting acknowledges a message
   only once it is in its own log;
3. the KPI query waits, with `?min_position=`, until reporting's read models reflect its
   log's head as it then stands (`/readyz`: `log_head`).

It then prints `GET /v1/reports/kpis?year=` as a table, next to the figures the
programme file says the load produces. Python standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRODUCERS = {"membership": "MEMBERSHIP", "events": "EVENTS"}


class NotCaughtUp(Exception):
    pass


def get(url: str, token: str | None = None, timeout: float = 10.0) -> tuple[int, object]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def until(what: str, check, deadline: float):
    """Calls `check` until it returns something, at most `deadline` seconds."""
    end = time.monotonic() + deadline
    last = "no answer yet"
    while True:
        try:
            result, last = check()
            if result is not None:
                return result
        except (OSError, ValueError) as error:
            last = str(error)
        if time.monotonic() > end:
            raise NotCaughtUp(f"{what}: not within {deadline:.0f} s ({last})")
        time.sleep(0.1)


def outbox_reached(url: str, position: int):
    def check():
        status, body = get(f"{url}/readyz")
        cursor = (body or {}).get("outbox", {}).get("cursor", 0) if isinstance(body, dict) else 0
        return (cursor if status == 200 and cursor >= position else None), f"outbox at {cursor} of {position}"

    return check


def consumers_drained(monitor: str, streams: list[str], consumer_prefix: str):
    def check():
        status, body = get(f"{monitor}/jsz?consumers=true")
        if status != 200 or not isinstance(body, dict):
            return None, f"NATS monitoring answered {status}"
        found = {}
        for account in body.get("account_details", []):
            for stream in account.get("stream_detail", []):
                for consumer in stream.get("consumer_detail", []) or []:
                    if stream.get("name") in streams and consumer.get("name", "").startswith(consumer_prefix):
                        found[stream["name"]] = consumer.get("num_pending", 1) + consumer.get("num_ack_pending", 1)
        missing = [s for s in streams if s not in found]
        if missing:
            return None, f"no {consumer_prefix} consumer on {', '.join(missing)} yet"
        pending = sum(found.values())
        return (found if pending == 0 else None), f"{pending} messages pending"

    return check


def table(report: dict, expected: dict) -> str:
    rows = [("kpi", "actual", "target", "", "the file gives")]
    for kpi in report.get("kpis", []):
        name = kpi.get("kpi")
        met = {True: "met", False: "NOT met"}.get(kpi.get("met"), "no target")
        promised = expected.get(name)
        note = "" if promised is None else str(promised)
        if promised is not None and promised != kpi.get("actual"):
            note += "  (differs!)"
        target = kpi.get("target")
        rows.append((name, str(kpi.get("actual")), "-" if target is None else str(target), met, note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [row[j].rjust(widths[j]) for j in (1, 2)] + [row[3].ljust(widths[3]), row[4]]
        lines.append("  " + "  ".join(cells).rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wait for reporting to catch up with a load, then print the KPIs.")
    parser.add_argument("--positions-file", type=Path, required=True, help="what load.py --positions-file wrote")
    parser.add_argument("--membership", default="http://127.0.0.1:8081")
    parser.add_argument("--events", default="http://127.0.0.1:8082")
    parser.add_argument("--reporting", default="http://127.0.0.1:8083")
    parser.add_argument("--nats-monitor", default="http://127.0.0.1:8222", help="nats-server's monitoring URL")
    parser.add_argument("--token", help="an analyst (or coordinator) token")
    parser.add_argument("--year", type=int, default=2018)
    parser.add_argument("--file", type=Path, default=HERE / "programme-2018.toml", help="for the figures it gives")
    parser.add_argument("--deadline", type=float, default=60.0, help="longest wait of each step, in seconds")
    args = parser.parse_args(argv)

    positions = json.loads(args.positions_file.read_text())
    urls = {"membership": args.membership, "events": args.events}
    try:
        for producer, position in positions.items():
            until(f"{producer} publishing up to position {position}", outbox_reached(urls[producer], position), args.deadline)
        streams = [PRODUCERS[p] for p in positions]
        until(
            f"reporting consuming {', '.join(streams)}",
            consumers_drained(args.nats_monitor, streams, "reporting"),
            args.deadline,
        )
        status, ready = get(f"{args.reporting}/readyz")
        if status != 200 or not isinstance(ready, dict):
            raise NotCaughtUp(f"reporting is not ready: {ready}")
        head = ready["log_head"]
        query = f"{args.reporting}/v1/reports/kpis?year={args.year}&min_position={head}"

        def kpis():
            status, body = get(query, args.token, timeout=args.deadline)
            if status == 200:
                return body, ""
            if status == 503:
                return None, f"503 {body}"
            raise NotCaughtUp(f"GET {query}: {status} {body}")

        report = until(f"reporting's read models reaching position {head}", kpis, args.deadline)
    except NotCaughtUp as error:
        print(f"report.py: {error}", file=sys.stderr)
        return 1

    expected = {}
    try:
        with args.file.open("rb") as file:
            data = tomllib.load(file)
        if data.get("programme", {}).get("year") == args.year:
            expected = data.get("expected", {}).get("kpis", {})
    except (OSError, ValueError):
        pass
    print(f"KPIs of {report.get('year', args.year)} against their targets, as of {report.get('as_of')}")
    print(f"(reporting at position {head}; loaded: " + ", ".join(f"{p} {n}" for p, n in positions.items()) + ")")
    print(table(report, expected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
