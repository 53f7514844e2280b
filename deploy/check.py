#!/usr/bin/env python3
"""Checks that the deployment files agree with each other and with the contract.

Run by tests/run.sh (CI) with the venv's Python (PyYAML) and $NATS_SERVER:

    target/tools/venv/bin/python deploy/check.py [--root DIR] [--nats-server PATH]

What it checks, failing on the first run with all problems listed:

- every NATS config in deploy/nats/ is valid for nats-server (`nats-server -t`), with
  the variables of deploy/env.example, and env.example names every variable they read;
- deploy/Dockerfile: a target per service and one for the CLI, each running its
  binary as a non-root user, the service's port (DESIGN.md section 5.1) in EXPOSE, in
  CIRCLEMADE_HTTP_ADDR and in the HEALTHCHECK, its data dir in CIRCLEMADE_DATA_DIR and
  VOLUME; where a service's source exists, its default port is the same;
- deploy/compose.yaml: 3 NATS nodes running deploy/nats/cluster.conf, routed to each
  other by name, each with a store volume, a health check and every variable its
  config reads; each service built from its Dockerfile target, publishing and checking
  its port, its data dir on a volume of its own, logging in to all NATS nodes as its
  own user, streams replicated on every node, waiting for healthy NATS nodes, tokens
  from a file, no password written out;
- every read replica of reporting in compose (another service built from the
  `reporting` target): the same as a service, on the port of its CIRCLEMADE_HTTP_ADDR,
  with a valid CIRCLEMADE_REPLICA name whose consumers (reporting-NAME-STREAM) its NATS
  user is granted and the subscriber is denied; no two services on one host port;
- every NATS user a compose service logs in as is a user of deploy/nats/accounts.conf.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# The contract (DESIGN.md section 5): service -> (binary, port).
SERVICES = {
    "membership": ("circlemade-membership", 8081),
    "events": ("circlemade-events", 8082),
    "reporting": ("circlemade-reporting", 8083),
}
CLI = ("cli", "circlemade")
# The service that may run as read replicas (CIRCLEMADE_REPLICA), and what it consumes.
REPLICATED = "reporting"
REPLICA_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
CONSUMED_STREAMS = ("MEMBERSHIP", "EVENTS", "REPORTING")
ACCOUNTS_CONF = "deploy/nats/accounts.conf"
DATA_DIR = "/var/lib/circlemade"
NATS_CLIENT_PORT = 4222
NATS_ROUTE_PORT = 6222
HEALTH_PATHS = ("/healthz", "/readyz")
# Variables a node's config reads that are settings of the node, not secrets: compose
# sets them per node, env.example need not list them.
NODE_VARIABLES = {"NATS_SERVER_NAME", "NATS_STORE_DIR"}


class Problems:
    """Everything found wrong, so that one run reports it all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")

    def check(self, ok: bool, where: str, what: str) -> bool:
        if not ok:
            self.add(where, what)
        return ok


# ---------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    """What a Dockerfile stage ends up with, its base stage's settings included."""

    name: str
    base: str
    env: dict[str, str] = field(default_factory=dict)
    expose: list[int] = field(default_factory=list)
    user: str | None = None
    volumes: list[str] = field(default_factory=list)
    healthcheck: str | None = None
    entrypoint: list[str] = field(default_factory=list)

    def inherit(self, name: str, base: str) -> "Stage":
        return Stage(
            name=name,
            base=base,
            env=dict(self.env),
            expose=list(self.expose),
            user=self.user,
            volumes=list(self.volumes),
            healthcheck=self.healthcheck,
            entrypoint=list(self.entrypoint),
        )


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    result = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        result.append((keyword.upper(), rest.strip()))
        current = ""
    return result


def words(arguments: str) -> list[str]:
    """A JSON array (exec form) or shell words."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return shlex.split(arguments)


def parse_dockerfile(text: str) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            parts = arguments.split()
            parts = [p for p in parts if not p.startswith("--")]
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else base
            stage = stages[base].inherit(name, base) if base in stages else Stage(name, base)
            stages[name] = stage
        elif stage is None:
            continue
        elif keyword == "ENV":
            items = shlex.split(arguments)
            if items and "=" not in items[0]:
                stage.env[items[0]] = " ".join(items[1:])
            else:
                for item in items:
                    key, _, value = item.partition("=")
                    stage.env[key] = value
        elif keyword == "EXPOSE":
            stage.expose = [int(p.split("/")[0]) for p in arguments.split()]
        elif keyword == "USER":
            stage.user = arguments.split()[0]
        elif keyword == "VOLUME":
            stage.volumes += words(arguments)
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = arguments
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = words(arguments)
    return stages


def is_root(user: str | None) -> bool:
    if user is None:
        return True
    name = user.split(":")[0]
    return name in ("", "root", "0")


def url_port_path(text: str) -> tuple[int, str] | None:
    """The port and path of the first http URL in a health check."""
    match = re.search(r"http://[^/:\s\"']+:(\d+)(/[^\s\"',\]]*)?", text)
    if not match:
        return None
    return int(match.group(1)), match.group(2) or "/"


def addr_port(addr: str) -> int | None:
    match = re.fullmatch(r"\S*:(\d+)", addr.strip())
    return int(match.group(1)) if match else None


def check_dockerfile(root: Path, problems: Problems) -> dict[str, Stage]:
    path = root / "deploy/Dockerfile"
    where = "deploy/Dockerfile"
    if not problems.check(path.is_file(), where, "missing"):
        return {}
    stages = parse_dockerfile(path.read_text())
    targets = list(SERVICES.items()) + [(CLI[0], (CLI[1], None))]
    for target, (binary, port) in targets:
        stage = stages.get(target)
        here = f"{where} target {target}"
        if not problems.check(stage is not None, where, f"no target {target!r}"):
            continue
        problems.check(
            not is_root(stage.user),
            here,
            f"runs as {stage.user or 'root (no USER)'}; images must run as a non-root user",
        )
        entry = Path(stage.entrypoint[0]).name if stage.entrypoint else None
        problems.check(entry == binary, here, f"ENTRYPOINT runs {entry}, not {binary}")
        problems.check(
            DATA_DIR in stage.volumes, here, f"no VOLUME for the data dir {DATA_DIR}"
        )
        problems.check(
            stage.env.get("CIRCLEMADE_DATA_DIR") == DATA_DIR,
            here,
            f"CIRCLEMADE_DATA_DIR is {stage.env.get('CIRCLEMADE_DATA_DIR')!r}, not {DATA_DIR!r}",
        )
        if port is None:
            continue
        problems.check(
            stage.expose == [port], here, f"EXPOSE {stage.expose}, but the service's port is {port}"
        )
        addr = stage.env.get("CIRCLEMADE_HTTP_ADDR", "")
        problems.check(
            addr == f"0.0.0.0:{port}",
            here,
            f"CIRCLEMADE_HTTP_ADDR is {addr!r}; in a container it must be 0.0.0.0:{port}",
        )
        health = stage.healthcheck
        if problems.check(
            health is not None and health.upper() != "NONE", here, "no HEALTHCHECK"
        ):
            found = url_port_path(health)
            problems.check(
                found is not None and found[0] == port and found[1] in HEALTH_PATHS,
                here,
                f"HEALTHCHECK asks {found}, not port {port} at {' or '.join(HEALTH_PATHS)}",
            )
    return stages


def check_service_sources(root: Path, problems: Problems, notes: list[str]) -> None:
    """Where a service's source exists, its default address uses the contract's port."""
    for service, (_, port) in SERVICES.items():
        crate = root / "services" / service
        if not crate.is_dir():
            notes.append(f"services/{service}: not built yet; its port is DESIGN.md's {port}")
            continue
        found = set()
        for source in crate.rglob("*.rs"):
            for match in re.finditer(r'http_addr:\s*"[\d.]+:(\d+)"', source.read_text()):
                found.add((int(match.group(1)), source.relative_to(root)))
        if not found:
            notes.append(f"services/{service}: no default http_addr found in its source")
        for default, source in sorted(found):
            problems.check(
                default == port,
                str(source),
                f"default port {default}, but deploy/ and DESIGN.md give {service} port {port}",
            )


# ---------------------------------------------------------------- NATS configs


def config_variables(text: str) -> set[str]:
    """Variables a NATS config reads ($NAME), minus those it defines itself."""
    uncommented = "\n".join(line.split("#")[0] for line in text.splitlines())
    # "$JS.API.>" in quotes is a subject, not a variable.
    uncommented = re.sub(r'"[^"\n]*"|\'[^\'\n]*\'', '""', uncommented)
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", uncommented))
    defined = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[=:]", uncommented, re.M))
    return used - defined


def all_variables(path: Path) -> set[str]:
    """Variables of a config and of the files it includes."""
    text = path.read_text()
    found = config_variables(text)
    for include in re.findall(r"^\s*include\s+\"?([^\s\"]+)\"?", text, re.M):
        found |= all_variables(path.parent / include)
    return found


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def check_nats_configs(root: Path, nats_server: str | None, problems: Problems) -> None:
    configs = sorted((root / "deploy/nats").glob("*.conf"))
    if not problems.check(bool(configs), "deploy/nats", "no NATS config"):
        return
    example_path = root / "deploy/env.example"
    if not problems.check(example_path.is_file(), "deploy/env.example", "missing"):
        return
    example = read_env_file(example_path)
    for config in configs:
        where = str(config.relative_to(root))
        missing = all_variables(config) - set(example) - NODE_VARIABLES
        problems.check(
            not missing,
            where,
            f"reads {sorted(missing)}, which deploy/env.example does not list",
        )
    if not problems.check(
        nats_server is not None, "nats-server", "not found: set NATS_SERVER or --nats-server"
    ):
        return
    with tempfile.TemporaryDirectory() as store:
        env = dict(os.environ)
        env.update(example)
        env.update({"NATS_SERVER_NAME": "nats-check", "NATS_STORE_DIR": store})
        for config in configs:
            run = subprocess.run(
                [nats_server, "-t", "-c", config.name],
                cwd=config.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            output = (run.stdout + run.stderr).strip()
            problems.check(
                run.returncode == 0,
                str(config.relative_to(root)),
                f"nats-server -t refuses it: {output}",
            )


def uncomment(text: str) -> str:
    return "\n".join(line.split("#")[0] for line in text.splitlines())


def nats_users(root: Path) -> dict[str, str]:
    """The users of accounts.conf, each with the text of its permissions block ("" when
    it has none, as admin)."""
    path = root / ACCOUNTS_CONF
    if not path.is_file():
        return {}
    text = uncomment(path.read_text())
    users = {}
    for entry in re.finditer(r"\{\s*user\s*[=:]\s*\"?([\w.-]+)\"?([^{}\n]*)\}", text):
        name, rest = entry.groups()
        variable = re.search(r"permissions\s*[=:]\s*\$(\w+)", rest)
        block = ""
        if variable:
            found = re.search(rf"^\s*{variable.group(1)}\s*[=:]\s*\{{(.*?)^\}}", text, re.M | re.S)
            block = found.group(1) if found else ""
        users[name] = block
    return users


def subject_list(block: str, kind: str) -> set[str]:
    """The quoted subjects of the `kind` (allow, deny) list under publish in a block."""
    publish = re.search(r"publish\s*[=:]\s*\{(.*?)\n\s*\}", block, re.S)
    if not publish:
        return set()
    found = re.search(rf"{kind}\s*[=:]\s*\[(.*?)\]", publish.group(1), re.S)
    return set(re.findall(r'"([^"]+)"', found.group(1))) if found else set()


def check_replica(here: str, env: dict[str, str], user: str | None, users: dict[str, str], problems: Problems) -> None:
    """A read replica has a valid name, and its NATS user may use its own consumers
    (reporting-NAME-STREAM), which the subscriber may not."""
    name = env.get("CIRCLEMADE_REPLICA")
    if not problems.check(
        bool(name),
        here,
        f"another {REPLICATED} service without CIRCLEMADE_REPLICA would share the consumers "
        f"of {REPLICATED!r} and take half of its messages",
    ):
        return
    if not problems.check(
        REPLICA_NAME.fullmatch(name) is not None,
        here,
        f"CIRCLEMADE_REPLICA {name!r} is not 1 to 32 of a-z, 0-9, '-', without '-' at either end",
    ):
        return
    granted = subject_list(users.get(user or "", ""), "allow")
    denied = subject_list(users.get("subscriber", ""), "deny")
    writes = sorted(
        subject
        for subject in granted
        if not subject.startswith("$JS.")
        or re.match(r"\$JS\.API\.STREAM\.(CREATE|UPDATE|DELETE|PURGE|MSG\.GET|MSG\.DELETE)\b", subject)
        or subject.startswith("$JS.API.STREAM.>")
        or subject in ("$JS.>", "$JS.API.>", ">")
    )
    problems.check(
        not writes,
        here,
        f"its NATS user {user!r} is granted {writes}: a replica publishes nothing and provisions no stream",
    )
    for stream in CONSUMED_STREAMS:
        consumer = f"{REPLICATED}-{name}-{stream}"
        needed = [
            f"$JS.API.CONSUMER.{request}.{stream}.{consumer}"
            for request in ("INFO", "CREATE", "MSG.NEXT")
        ] + [f"$JS.ACK.{stream}.{consumer}.>"]
        missing = [subject for subject in needed if subject not in granted]
        problems.check(
            not missing,
            here,
            f"its NATS user {user!r} is not granted {missing} in {ACCOUNTS_CONF}",
        )
        guard = [
            f"$JS.API.CONSUMER.*.*.{consumer}",
            f"$JS.API.CONSUMER.*.*.{consumer}.>",
            f"$JS.API.CONSUMER.*.*.*.{consumer}",
            f"$JS.ACK.*.{consumer}.>",
        ]
        open_to_subscriber = [subject for subject in guard if subject not in denied]
        problems.check(
            not open_to_subscriber,
            here,
            f"the subscriber's deny list in {ACCOUNTS_CONF} lacks {open_to_subscriber}",
        )


# ---------------------------------------------------------------- compose


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def container_ports(service: dict) -> list[int]:
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
        else:
            ports.append(int(str(entry).split(":")[-1].split("/")[0]))
    return ports


def mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume entry."""
    result = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            result.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            parts = str(entry).split(":")
            if len(parts) >= 2:
                result.append((parts[0], parts[1]))
    return result


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


def healthcheck_text(service: dict) -> str | None:
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check.get("test")
    return " ".join(test) if isinstance(test, list) else str(test)


def command_config(service: dict) -> str | None:
    command = service.get("command") or []
    command = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
    for flag in ("--config", "-c"):
        if flag in command and command.index(flag) + 1 < len(command):
            return command[command.index(flag) + 1]
    return None


def host_path(service: dict, container_path: str, compose_dir: Path) -> Path | None:
    """The host file a bind mount puts at container_path."""
    for source, target in mounts(service):
        if source.startswith((".", "/")) and (
            container_path == target or container_path.startswith(target.rstrip("/") + "/")
        ):
            return (compose_dir / source / os.path.relpath(container_path, target)).resolve()
    return None


def check_compose(root: Path, stages: dict[str, Stage], problems: Problems) -> None:
    path = root / "deploy/compose.yaml"
    where = "deploy/compose.yaml"
    if not problems.check(path.is_file(), where, "missing"):
        return
    compose = yaml.safe_load(path.read_text())
    services = compose.get("services") or {}
    declared_volumes = set((compose.get("volumes") or {}).keys())
    secrets = compose.get("secrets") or {}

    nodes = {
        name: service
        for name, service in services.items()
        if str(service.get("image", "")).startswith("nats:")
    }
    problems.check(len(nodes) == 3, where, f"{len(nodes)} NATS nodes, not 3")
    for name, node in nodes.items():
        here = f"{where} service {name}"
        env = env_of(node)
        conf = command_config(node)
        if not problems.check(conf is not None, here, "no --config in its command"):
            continue
        host = host_path(node, conf, path.parent)
        if not problems.check(
            host is not None and host.is_file(), here, f"{conf} is not a file of deploy/nats mounted in"
        ):
            continue
        text = host.read_text()
        routes = set(re.findall(rf"nats://([\w.-]+):{NATS_ROUTE_PORT}", text))
        problems.check(
            routes == set(nodes),
            here,
            f"{host.name} routes to {sorted(routes)}, but the nodes are {sorted(nodes)}",
        )
        missing = all_variables(host) - set(env)
        problems.check(not missing, here, f"{host.name} reads {sorted(missing)}, not set here")
        problems.check(
            env.get("NATS_SERVER_NAME") == name,
            here,
            f"NATS_SERVER_NAME is {env.get('NATS_SERVER_NAME')!r}; the routes name it {name!r}",
        )
        store = env.get("NATS_STORE_DIR")
        problems.check(
            any(is_named_volume(s) and t == store for s, t in mounts(node)),
            here,
            f"no volume at its JetStream store {store!r}",
        )
        problems.check(healthcheck_text(node) is not None, here, "no healthcheck")
    names = [env_of(node).get("NATS_SERVER_NAME") for node in nodes.values()]
    problems.check(len(set(names)) == len(names), where, f"NATS nodes share names {names}")

    users = nats_users(root)
    # The services of the contract, then every read replica: another service built from
    # the replicated service's target.
    checked: list[tuple[str, str, int | None]] = [
        (name, name, port) for name, (_, port) in SERVICES.items()
    ]
    for name, service in services.items():
        if name != REPLICATED and (service.get("build") or {}).get("target") == REPLICATED:
            checked.append((name, REPLICATED, None))

    data_volumes: dict[str, str] = {}
    host_ports: dict[str, str] = {}
    for service_name, image_target, port in checked:
        here = f"{where} service {service_name}"
        service = services.get(service_name)
        if not problems.check(service is not None, where, f"no service {service_name!r}"):
            continue
        env = env_of(service)
        build = service.get("build") or {}
        target = build.get("target")
        dockerfile = (path.parent / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve()
        problems.check(
            dockerfile == (root / "deploy/Dockerfile").resolve() and target == image_target,
            here,
            f"built from {dockerfile} target {target!r}, not deploy/Dockerfile target {image_target!r}",
        )
        stage = stages.get(target or "")
        if port is not None and stage is not None:
            problems.check(
                stage.expose == [port],
                here,
                f"its image exposes {stage.expose}, but compose serves port {port}",
            )
        if port is None:
            # A replica listens where its CIRCLEMADE_HTTP_ADDR says (the image's port
            # unless set): its ports and health check must follow.
            addr = env.get("CIRCLEMADE_HTTP_ADDR") or (stage.env.get("CIRCLEMADE_HTTP_ADDR") if stage else "")
            port = addr_port(addr or "")
            if not problems.check(port is not None, here, f"CIRCLEMADE_HTTP_ADDR {addr!r} names no port"):
                continue
        elif service_name == REPLICATED:
            problems.check(
                "CIRCLEMADE_REPLICA" not in env,
                here,
                "sets CIRCLEMADE_REPLICA: the primary decides targets; replicas are services of their own",
            )
        for entry in service.get("ports") or []:
            published = str(entry.get("published", "")) if isinstance(entry, dict) else ":".join(str(entry).split(":")[:-1])
            if published in host_ports:
                problems.add(here, f"publishes host port {published} as {host_ports[published]} does")
            host_ports[published] = service_name
        user = service.get("user")
        if user is not None:
            problems.check(not is_root(str(user)), here, f"runs as {user}, a root user")
        problems.check(
            port in container_ports(service),
            here,
            f"publishes container ports {container_ports(service)}, not the service's {port}",
        )
        addr = env.get("CIRCLEMADE_HTTP_ADDR") or (stage.env.get("CIRCLEMADE_HTTP_ADDR") if stage else "")
        problems.check(
            addr_port(addr or "") == port,
            here,
            f"CIRCLEMADE_HTTP_ADDR {addr!r} does not listen on {port}",
        )
        health = healthcheck_text(service) or (stage.healthcheck if stage else None)
        if problems.check(health is not None, here, "no healthcheck"):
            found = url_port_path(health)
            problems.check(
                found is not None and found[0] == port and found[1] in HEALTH_PATHS,
                here,
                f"healthcheck asks {found}, not port {port} at {' or '.join(HEALTH_PATHS)}",
            )
        data_dir = env.get("CIRCLEMADE_DATA_DIR") or (stage.env.get("CIRCLEMADE_DATA_DIR") if stage else None)
        data = [s for s, t in mounts(service) if t == data_dir and is_named_volume(s)]
        if problems.check(bool(data), here, f"no named volume at its data dir {data_dir!r}"):
            volume = data[0]
            problems.check(volume in declared_volumes, here, f"volume {volume!r} is not declared")
            if volume in data_volumes:
                problems.add(here, f"shares volume {volume!r} with {data_volumes[volume]}")
            data_volumes[volume] = service_name
        if stage is not None and data_dir is not None:
            problems.check(
                data_dir in stage.volumes,
                here,
                f"data dir {data_dir!r} is not a VOLUME of its image ({stage.volumes})",
            )

        urls = [u.strip() for u in env.get("CIRCLEMADE_NATS_URL", "").split(",") if u.strip()]
        hosts = set()
        for url in urls:
            match = re.fullmatch(r"nats://(?:([^:@/]+)(?::([^@/]*))?@)?([\w.-]+):(\d+)", url)
            if not problems.check(match is not None, here, f"CIRCLEMADE_NATS_URL entry {url!r} unreadable"):
                continue
            user, password, host, client_port = match.groups()
            hosts.add(host)
            problems.check(
                user == service_name,
                here,
                f"logs in to NATS as {user!r}, not as its own user {service_name!r}",
            )
            problems.check(
                user in users,
                here,
                f"logs in to NATS as {user!r}, a user {ACCOUNTS_CONF} does not have",
            )
            problems.check(
                password is not None and password.startswith("${"),
                here,
                "its NATS password must come from the environment (${...}), not be written here",
            )
            problems.check(
                int(client_port) == NATS_CLIENT_PORT, here, f"NATS port {client_port}, not {NATS_CLIENT_PORT}"
            )
        problems.check(
            hosts == set(nodes),
            here,
            f"CIRCLEMADE_NATS_URL lists {sorted(hosts)}, not every node {sorted(nodes)}",
        )
        problems.check(
            env.get("CIRCLEMADE_STREAM_REPLICAS") == str(len(nodes)),
            here,
            f"CIRCLEMADE_STREAM_REPLICAS is {env.get('CIRCLEMADE_STREAM_REPLICAS')!r}, "
            f"not the {len(nodes)} nodes",
        )
        depends = service.get("depends_on") or {}
        for node in nodes:
            condition = depends.get(node, {}).get("condition") if isinstance(depends, dict) else None
            problems.check(
                condition == "service_healthy", here, f"does not wait for {node} to be healthy"
            )
        if image_target == REPLICATED and service_name != REPLICATED:
            logins = {url.split("://", 1)[-1].split(":", 1)[0] for url in urls if "@" in url}
            check_replica(here, env, next(iter(logins), None), users, problems)
        problems.check(
            "CIRCLEMADE_API_TOKENS" not in env,
            here,
            "tokens written into the environment; give them as CIRCLEMADE_API_TOKENS_FILE",
        )
        tokens_file = env.get("CIRCLEMADE_API_TOKENS_FILE", "")
        mounted = {f"/run/secrets/{s if isinstance(s, str) else s.get('source')}" for s in service.get("secrets") or []}
        if problems.check(tokens_file in mounted, here, f"CIRCLEMADE_API_TOKENS_FILE {tokens_file!r} is no secret of it"):
            secret = Path(tokens_file).name
            problems.check(secret in secrets, here, f"secret {secret!r} is not declared")

    # The others that reach NATS (the CLI) log in as users the servers know.
    for service_name, service in services.items():
        if service_name in nodes or any(service_name == name for name, _, _ in checked):
            continue
        for url in env_of(service).get("CIRCLEMADE_NATS_URL", "").split(","):
            match = re.match(r"\s*nats://([^:@/]+)(?::[^@/]*)?@", url)
            if match:
                problems.check(
                    match.group(1) in users,
                    f"{where} service {service_name}",
                    f"logs in to NATS as {match.group(1)!r}, a user {ACCOUNTS_CONF} does not have",
                )


def find_nats_server(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("NATS_SERVER"), "target/tools/venv/bin/nats-server"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--nats-server", help="nats-server to run -t with (default $NATS_SERVER)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    problems = Problems()
    notes: list[str] = []
    nats_server = find_nats_server(args.nats_server)
    if nats_server is not None:
        nats_server = str(Path(nats_server).resolve())
    check_nats_configs(root, nats_server, problems)
    stages = check_dockerfile(root, problems)
    check_compose(root, stages, problems)
    check_service_sources(root, problems, notes)
    for note in notes:
        print(f"note: {note}")
    if problems.items:
        for item in problems.items:
            print(f"problem: {item}", file=sys.stderr)
        print(f"deploy check: {len(problems.items)} problem(s)", file=sys.stderr)
        return 1
    configs = ", ".join(p.name for p in sorted((root / "deploy/nats").glob("*.conf")))
    print(f"deploy check: ok (nats-server -t on {configs}; Dockerfile and compose agree)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
