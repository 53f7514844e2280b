"""Real processes for the Python tests: a nats-server with JetStream and the service
binaries, each on a free port with its own temporary data dir, waited on by condition
with a deadline and stopped with SIGTERM at the end.

The binaries are those `cargo test --workspace` builds (`target/debug/`); the
nats-server is `$NATS_SERVER`, else the one `deploy/setup.sh` finds or installs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEBUG = ROOT / "target" / "debug"
PORTS = {"membership": 8081, "events": 8082, "reporting": 8083}
COORDINATOR = "coordinator-token-for-tests"
ANALYST = "analyst-token-for-tests"


def nats_server_path() -> str:
    given = os.environ.get("NATS_SERVER")
    if given:
        return given
    found = subprocess.run(
        ["bash", str(ROOT / "deploy" / "setup.sh"), "--nats-server-path"],
        check=True,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip()


def binary(service: str) -> Path:
    return DEBUG / f"circlemade-{service}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def eventually(what: str, check, deadline: float = 30.0, process: subprocess.Popen | None = None):
    """Calls `check` until it returns something truthy, at most `deadline` seconds; fails
    naming `what` (and at once if `process` exits meanwhile)."""
    end = time.monotonic() + deadline
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError) as error:
            last = error
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline} s (last error: {last})")
        time.sleep(0.05)


def http(method: str, url: str, token: str | None = None, body: object = None) -> tuple[int, object]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, (json.loads(raw) if raw else None)


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.file = log.open("wb")
        self.popen = subprocess.Popen(args, env=env, stdout=self.file, stderr=subprocess.STDOUT)

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.file.close()
        return self.popen.returncode

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


class System:
    """A nats-server and some services, in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.nats_port = free_port()
        self.nats_url = f"nats://127.0.0.1:{self.nats_port}"
        self.nats_monitor = f"http://127.0.0.1:{free_port()}"
        self.urls: dict[str, str] = {}
        self.processes: list[Process] = []

    def start_nats(self) -> None:
        """Starts the nats-server, or starts it again on the same port and store."""
        store = self.directory / "nats"
        args = [nats_server_path(), "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(self.nats_port)]
        args += ["-m", self.nats_monitor.rsplit(":", 1)[1]]
        runs = sum(p.name == "nats-server" for p in self.processes)
        process = Process("nats-server", args, dict(os.environ), self.directory / f"nats-{runs}.log")
        self.processes.append(process)

        def accepts() -> bool:
            with socket.create_connection(("127.0.0.1", self.nats_port), timeout=1):
                return True

        eventually("nats-server accepting connections", accepts, process=process.popen)

    def start(self, service: str, port: int | None = None) -> str:
        port = port or free_port()
        env = dict(os.environ)
        env.update(
            CIRCLEMADE_NATS_URL=self.nats_url,
            CIRCLEMADE_DATA_DIR=str(self.directory / service),
            CIRCLEMADE_HTTP_ADDR=f"127.0.0.1:{port}",
            CIRCLEMADE_API_TOKENS=f"coordinator:{COORDINATOR},analyst:{ANALYST}",
            CIRCLEMADE_LOG="warn",
        )
        process = Process(service, [str(binary(service))], env, self.directory / f"{service}.log")
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        self.urls[service] = url
        try:
            eventually(
                f"{service} ready",
                lambda: http("GET", f"{url}/readyz")[0] == 200,
                process=process.popen,
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{process.tail()}") from None
        return url

    def stop_nats(self) -> None:
        for process in self.processes:
            if process.name == "nats-server":
                process.stop()

    def readiness(self, service: str) -> dict:
        status, body = http("GET", f"{self.urls[service]}/readyz")
        assert status == 200, body
        return body

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
