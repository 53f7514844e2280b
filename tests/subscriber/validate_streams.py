#!/usr/bin/env python3
"""Checks that what circlemade publishes on NATS JetStream is what its contracts say.

It does what a subscriber written in any language can do with the published files
alone: read each stream from its first message and check every message against
`asyncapi.json` (channels, headers, envelope) and `schemas/<type>.json` (the `data` of
each event type). It leaves nothing behind on the server: each stream is read by an
ordered consumer, which is ephemeral and goes away with the connection.

    python validate_streams.py --url nats://127.0.0.1:4222 \\
        --contracts shared/contracts --streams MEMBERSHIP --expect 14

It prints one line per problem, then a summary. Exit status: 0 when exactly the
expected number of messages was read and every one of them is valid; 1 when a message
is invalid, missing when --timeout runs out, or extra; 2 when it cannot check at all
(unreadable contracts, NATS unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nats
from jsonschema import Draft202012Validator, FormatChecker, SchemaError, ValidationError
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The address under which the AsyncAPI document is known to the schema registry, so
# that its `#/components/...` references resolve inside it.
ASYNCAPI_URI = "urn:circlemade:asyncapi"

# CloudEvents attributes every event carries as a non-empty string; `data` is required
# too, and its schema says what it holds.
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype")

# The extensions the producer's log stamps on every event it appends.
POSITION_EXTENSIONS = ("sequence", "streamversion")

# Streams whose producer consumes no other stream: every position of its log is one of
# its own events, so `sequence` runs without gaps. The events and reporting services
# also keep copies of the events they consume in their logs (their inbox), which are
# not republished, so on their streams `sequence` only increases.
GAPLESS_STREAMS = ("MEMBERSHIP",)

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def is_rfc3339(value: object) -> bool:
    """Whether `value` is an RFC 3339 date-time (the `time` attribute's form)."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def format_checker() -> FormatChecker:
    """jsonschema's format checks, with `date-time` checked by the standard library
    rather than left unchecked when the optional rfc3339 package is absent."""
    checker = FormatChecker()
    checker.checks("date-time")(lambda value: not isinstance(value, str) or is_rfc3339(value))
    return checker


class ContractError(Exception):
    """The contract files are missing or do not make sense."""


@dataclass
class MessageContract:
    """What the AsyncAPI document says about the messages of one event type."""

    headers: Draft202012Validator | None
    payload: Draft202012Validator


@dataclass
class Contracts:
    """The published contracts, as this program checks messages against them."""

    # Event type -> validator of its `data`, from schemas/<type>.json.
    data: dict[str, Draft202012Validator]
    # Event type -> the `$id` of its schema: what `dataschema` must say.
    schema_ids: dict[str, str]
    # NATS subject (channel address) -> the event types its messages may carry.
    channels: dict[str, set[str]]
    # Event type -> its AsyncAPI message.
    messages: dict[str, MessageContract]
    # Stream name -> its subjects, as the AsyncAPI document lists them.
    streams: dict[str, list[str]]


def load_contracts(directory: Path) -> Contracts:
    """Reads `schemas/` and `asyncapi.json` from the contracts directory."""
    checker = format_checker()
    data: dict[str, Draft202012Validator] = {}
    schema_ids: dict[str, str] = {}
    schema_files = sorted((directory / "schemas").glob("*.json"))
    if not schema_files:
        raise ContractError(f"{directory / 'schemas'} holds no schema")
    for path in schema_files:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        # The file is named for the event type, and so is the schema's $id.
        event_type = path.stem
        schema_id = schema.get("$id", "")
        if not schema_id.endswith(f"/{path.name}"):
            raise ContractError(f"{path}: $id {schema_id!r} does not name {path.name}")
        data[event_type] = Draft202012Validator(schema, format_checker=checker)
        schema_ids[event_type] = schema_id

    document = json.loads((directory / "asyncapi.json").read_text(encoding="utf-8"))
    if not str(document.get("asyncapi", "")).startswith("3."):
        raise ContractError("asyncapi.json is not an AsyncAPI 3 document")
    registry = Registry().with_resource(
        ASYNCAPI_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    resolver = registry.resolver(ASYNCAPI_URI)

    def validator(pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{ASYNCAPI_URI}{pointer}"}, registry=registry, format_checker=checker
        )

    channels: dict[str, set[str]] = {}
    messages: dict[str, MessageContract] = {}
    for channel_key, channel in document.get("channels", {}).items():
        types = channels.setdefault(channel["address"], set())
        for message_key, reference in channel.get("messages", {}).items():
            pointer = reference.get("$ref") or (
                f"#/channels/{escape(channel_key)}/messages/{escape(message_key)}"
            )
            message = resolver.lookup(f"{ASYNCAPI_URI}{pointer}").contents
            event_type = message.get("name")
            if not event_type or "payload" not in message:
                raise ContractError(f"asyncapi.json: message {pointer} has no name or payload")
            types.add(event_type)
            messages[event_type] = MessageContract(
                headers=validator(f"{pointer}/headers") if "headers" in message else None,
                payload=validator(f"{pointer}/payload"),
            )
    streams = {
        stream["name"]: list(stream.get("subjects", []))
        for stream in document.get("x-jetstream-streams", [])
    }
    return Contracts(data, schema_ids, channels, messages, streams)


def escape(token: str) -> str:
    """A JSON Pointer reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def json_path(prefix: str, error: ValidationError) -> str:
    """Where in the message a schema error is, e.g. `data.domains[0]`."""
    path = prefix
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(the whole object)"


def schema_errors(validator: Draft202012Validator, instance: object) -> Iterable[ValidationError]:
    """Every way `instance` breaks the schema, in the order of where they are."""
    return sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])


@dataclass
class StreamState:
    """What the checks remember from one stream's earlier messages."""

    next_sequence: int = 1
    # CloudEvents subject (the aggregate) -> its last `streamversion`.
    versions: dict[str, int] = field(default_factory=dict)


@dataclass
class Checker:
    """Checks messages one by one, in stream order, and keeps the problems found."""

    contracts: Contracts
    # Streams whose `sequence` must run without gaps; on the others it only increases.
    gapless: frozenset[str] = frozenset(GAPLESS_STREAMS)
    streams: dict[str, StreamState] = field(default_factory=dict)
    # Event id -> where it was first seen, to catch an event published twice.
    seen_ids: dict[str, str] = field(default_factory=dict)
    problems: int = 0

    def report(self, where: str, problem: str) -> None:
        self.problems += 1
        print(f"{where}: {problem}", flush=True)

    def check(self, stream: str, msg: Msg) -> None:
        where = f"{stream} #{msg.metadata.sequence.stream} on {msg.subject}"
        for problem in self.problems_of(stream, msg, where):
            self.report(where, problem)

    def problems_of(self, stream: str, msg: Msg, where: str) -> Iterable[str]:
        try:
            event = json.loads(msg.data)
        except ValueError as error:
            yield f"payload is not JSON: {error}"
            return
        if not isinstance(event, dict):
            yield "payload is not a JSON object"
            return

        envelope = list(self.envelope_problems(event))
        yield from envelope
        yield from self.position_problems(stream, event, where)
        event_type = event.get("type")
        if not isinstance(event_type, str):
            return
        yield from self.data_problems(event_type, event)
        yield from self.channel_problems(msg.subject, event_type)
        header_problems = list(self.header_problems(msg.headers or {}, event))
        yield from header_problems

        # The AsyncAPI message adds what is particular to the type (its source, the form
        # of its subject, the form of its headers). Checked only where the checks above
        # passed, and without what they cover (`data`, `dataschema`), so that one fault
        # is reported once.
        message = self.contracts.messages.get(event_type)
        if message is None:
            return
        if not envelope:
            for error in schema_errors(message.payload, event):
                if list(error.absolute_path)[:1] not in (["data"], ["dataschema"]):
                    path = json_path("", error)
                    yield f"{path}: {error.message} (AsyncAPI message {event_type})"
        if not header_problems and message.headers is not None:
            for error in schema_errors(message.headers, dict(msg.headers or {})):
                path = json_path("headers", error)
                yield f"{path}: {error.message} (AsyncAPI message {event_type})"

    def envelope_problems(self, event: dict) -> Iterable[str]:
        for name in REQUIRED_ATTRIBUTES:
            if name not in event:
                yield f"attribute {name} is missing"
            elif not isinstance(event[name], str) or not event[name]:
                yield f"attribute {name} is {event[name]!r}, not a non-empty string"
        if "data" not in event:
            yield "attribute data is missing"
        if event.get("specversion", "1.0") != "1.0":
            yield f"specversion is {event['specversion']!r}, not '1.0'"
        if event.get("datacontenttype", "application/json") != "application/json":
            yield f"datacontenttype is {event['datacontenttype']!r}, not 'application/json'"
        if isinstance(event.get("time"), str) and not is_rfc3339(event["time"]):
            yield f"time {event['time']!r} is not an RFC 3339 date-time"
        for name in POSITION_EXTENSIONS:
            value = event.get(name)
            if name not in event:
                yield f"extension {name} is missing"
            elif not is_positive_integer(value):
                yield f"extension {name} is {value!r}, not a positive integer"

    def position_problems(self, stream: str, event: dict, where: str) -> Iterable[str]:
        """`sequence` counts 1, 2, 3... through a gapless stream and increases through
        any other, `streamversion` runs 1, 2, 3... through each aggregate, and no event
        id comes twice."""
        state = self.streams.setdefault(stream, StreamState())
        sequence = event.get("sequence")
        if is_positive_integer(sequence):
            if sequence < state.next_sequence:
                yield (
                    f"sequence {sequence}, expected at least {state.next_sequence}: "
                    "repeated or out of order"
                )
            elif sequence > state.next_sequence and stream in self.gapless:
                yield f"sequence {sequence}, expected {state.next_sequence}: a gap"
            state.next_sequence = max(state.next_sequence, sequence + 1)

        subject, version = event.get("subject"), event.get("streamversion")
        if isinstance(subject, str) and is_positive_integer(version):
            expected = state.versions.get(subject, 0) + 1
            if version != expected:
                yield f"streamversion {version} of {subject}, expected {expected}"
            state.versions[subject] = max(state.versions.get(subject, 0), version)

        event_id = event.get("id")
        if isinstance(event_id, str):
            if event_id in self.seen_ids:
                yield f"event {event_id} was already published at {self.seen_ids[event_id]}"
            else:
                self.seen_ids[event_id] = where

    def data_problems(self, event_type: str, event: dict) -> Iterable[str]:
        validator = self.contracts.data.get(event_type)
        if validator is None:
            yield f"type {event_type} has no schema in the contracts"
            return
        schema_id = self.contracts.schema_ids[event_type]
        if "dataschema" in event and event["dataschema"] != schema_id:
            yield f"dataschema {event['dataschema']!r} is not {schema_id!r}, the $id of its schema"
        if "data" in event:
            for error in schema_errors(validator, event["data"]):
                yield f"{json_path('data', error)}: {error.message} (schema {event_type})"

    def channel_problems(self, nats_subject: str, event_type: str) -> Iterable[str]:
        types = self.contracts.channels.get(nats_subject)
        if types is None:
            yield f"subject {nats_subject} is not the address of any AsyncAPI channel"
        elif event_type not in types:
            yield f"channel {nats_subject} carries {', '.join(sorted(types))}, not {event_type}"

    def header_problems(self, headers: dict[str, str], event: dict) -> Iterable[str]:
        expected = {
            "Nats-Msg-Id": event.get("id"),
            "ce-id": event.get("id"),
            "ce-type": event.get("type"),
            "ce-source": event.get("source"),
        }
        if "traceparent" in event:
            expected["traceparent"] = event["traceparent"]
        for name, value in expected.items():
            if name not in headers:
                yield f"header {name} is missing"
            elif headers[name] != value:
                yield f"header {name} is {headers[name]!r}, but the event says {value!r}"


def is_positive_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


async def validate(args: argparse.Namespace, contracts: Contracts) -> int:
    """Reads the streams and checks their messages; returns the exit status."""
    checker = Checker(contracts, gapless=frozenset(args.gapless_streams))
    deadline = asyncio.get_running_loop().time() + args.timeout

    client_errors: list[Exception] = []

    async def note_client_error(error: Exception) -> None:
        client_errors.append(error)

    try:
        async with asyncio.timeout_at(deadline):
            client = await nats.connect(
                args.url,
                name="circlemade-stream-validator",
                connect_timeout=min(args.timeout, 5),
                allow_reconnect=False,
                error_cb=note_client_error,
            )
    except (OSError, TimeoutError, nats.errors.Error) as error:
        cause = client_errors[-1] if client_errors else error
        print(f"cannot connect to NATS at {args.url}: {cause!r}", flush=True)
        return 2
    try:
        seen = await read_streams(client, args, deadline, checker)
    except (TimeoutError, nats.errors.Error) as error:
        print(f"reading the streams failed: {error!r}", flush=True)
        return 2
    finally:
        await client.close()
    for error in client_errors:
        print(f"NATS client error while reading: {error!r}", file=sys.stderr, flush=True)

    names = ",".join(args.streams)
    if checker.problems:
        print(f"FAILED: {checker.problems} problem(s) in {seen} message(s) of {names}", flush=True)
        return 1
    print(f"OK: {seen} message(s) of {names} match the contracts", flush=True)
    return 0


async def read_streams(
    client: nats.NATS, args: argparse.Namespace, deadline: float, checker: Checker
) -> int:
    """Checks the first `args.expect` messages of the streams, in the order each stream
    holds them, then that the streams hold no more. Returns how many were read."""
    js = client.jetstream(timeout=min(args.timeout, 5))
    arrived: asyncio.Queue[tuple[str, Msg]] = asyncio.Queue()
    readable = []
    for stream in args.streams:
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            checker.report(stream, "the stream does not exist")
            continue
        subjects = info.config.subjects or []
        listed = checker.contracts.streams.get(stream)
        if listed != subjects:
            checker.report(
                stream, f"the stream's subjects are {subjects}, the AsyncAPI document says {listed}"
            )
        if not subjects:
            continue
        readable.append(stream)

        async def deliver(msg: Msg, stream: str = stream) -> None:
            await arrived.put((stream, msg))

        # An ordered consumer: ephemeral, no acks, every message from the first, in order.
        await js.subscribe(
            subjects[0],
            stream=stream,
            cb=deliver,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            config=ConsumerConfig(filter_subjects=subjects),
        )

    seen = 0
    try:
        async with asyncio.timeout_at(deadline):
            while seen < args.expect and readable:
                stream, msg = await arrived.get()
                checker.check(stream, msg)
                seen += 1
    except TimeoutError:
        pass
    if seen < args.expect:
        checker.report(
            "streams", f"read {seen} of the {args.expect} expected messages within {args.timeout}s"
        )
        return seen
    held = 0
    for stream in readable:
        held += (await js.stream_info(stream)).state.messages
    if held > args.expect:
        checker.report("streams", f"they hold {held} messages, but {args.expect} were expected")
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222", help="NATS server URL")
    parser.add_argument(
        "--contracts", type=Path, required=True, help="directory with schemas/ and asyncapi.json"
    )
    parser.add_argument(
        "--streams",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=["MEMBERSHIP", "EVENTS", "REPORTING"],
        help="comma-separated JetStream streams to read (default: all three)",
    )
    parser.add_argument(
        "--gapless-streams",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(GAPLESS_STREAMS),
        help="comma-separated streams whose `sequence` must have no gap; on the others "
        "it must only increase, as their producers' logs also hold consumed events "
        f"(default: {','.join(GAPLESS_STREAMS)})",
    )
    parser.add_argument(
        "--expect", type=int, required=True, help="how many messages the streams hold in total"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the expected messages"
    )
    args = parser.parse_args()
    try:
        contracts = load_contracts(args.contracts)
    except (OSError, ValueError, KeyError, SchemaError, ContractError) as error:
        print(f"cannot read the contracts in {args.contracts}: {error}", flush=True)
        return 2
    return asyncio.run(validate(args, contracts))


if __name__ == "__main__":
    sys.exit(main())
