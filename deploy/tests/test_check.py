"""deploy/check.py fails on real mismatches: each test breaks one thing in a copy of
deploy/ and expects the checker to name it; the untouched copy passes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(DEPLOY))

import check  # noqa: E402  (the checker lives beside these tests, not in a package)

NATS_SERVER = check.find_nats_server(None) or str(DEPLOY.parent / "target/tools/venv/bin/nats-server")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of deploy/ (without secrets or data) under a fresh root."""
    target = tmp_path / "deploy"
    target.mkdir()
    for name in ("Dockerfile", "compose.yaml", "env.example"):
        shutil.copy(DEPLOY / name, target / name)
    shutil.copytree(DEPLOY / "nats", target / "nats")
    return tmp_path


def edit(root: Path, file: str, old: str, new: str, count: int = 1) -> None:
    path = root / "deploy" / file
    text = path.read_text()
    assert text.count(old) >= 1, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, count))


def problems(root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    status = check.main(["--root", str(root), "--nats-server", NATS_SERVER])
    err = capsys.readouterr().err
    assert status == 1, "the checker passed a broken deploy/"
    return err


def test_the_deploy_files_as_committed_pass(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main(["--root", str(root), "--nats-server", NATS_SERVER]) == 0, capsys.readouterr().err


def test_a_compose_port_other_than_the_service_s_fails(root, capsys) -> None:
    edit(root, "compose.yaml", '"127.0.0.1:8081:8081"', '"127.0.0.1:8081:8090"')
    assert "not the service's 8081" in problems(root, capsys)


def test_an_exposed_port_other_than_the_service_s_fails(root, capsys) -> None:
    edit(root, "Dockerfile", "EXPOSE 8082", "EXPOSE 8083")
    err = problems(root, capsys)
    assert "target events: EXPOSE [8083]" in err
    assert "service events: its image exposes [8083]" in err


def test_a_health_check_on_another_port_fails(root, capsys) -> None:
    edit(root, "Dockerfile", "http://127.0.0.1:8083/healthz", "http://127.0.0.1:8081/healthz")
    assert "target reporting: HEALTHCHECK asks (8081" in problems(root, capsys)


def test_a_service_without_health_check_fails(root, capsys) -> None:
    path = root / "deploy/Dockerfile"
    path.write_text(path.read_text().replace("HEALTHCHECK --interval", "# HEALTHCHECK --interval"))
    edit(root, "compose.yaml", "    healthcheck:\n      test: [\"CMD\", \"/usr/local/bin/wget\"", "    x-unchecked:\n      test: [\"CMD\", \"/usr/local/bin/wget\"")
    assert "service membership: no healthcheck" in problems(root, capsys)


def test_an_image_running_as_root_fails(root, capsys) -> None:
    edit(root, "Dockerfile", "USER 65532:65532", "USER root")
    assert "target membership: runs as root" in problems(root, capsys)


def test_a_data_dir_without_its_own_volume_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "events-data:/var/lib/circlemade", "membership-data:/var/lib/circlemade")
    assert "shares volume 'membership-data' with membership" in problems(root, capsys)


def test_a_node_missing_from_the_routes_fails(root, capsys) -> None:
    edit(root, "nats/cluster.conf", '    "nats://nats-3:6222"\n', "")
    assert "routes to ['nats-1', 'nats-2']" in problems(root, capsys)


def test_a_config_nats_server_refuses_fails(root, capsys) -> None:
    edit(root, "nats/accounts.conf", "jetstream = enabled", "jetstream = enabled\n    bogus {")
    assert "nats-server -t refuses it" in problems(root, capsys)


def test_a_password_variable_missing_from_env_example_fails(root, capsys) -> None:
    edit(root, "env.example", "NATS_EVENTS_PASSWORD=dev-only-events\n", "")
    assert "reads ['NATS_EVENTS_PASSWORD'], which deploy/env.example does not list" in problems(root, capsys)


def test_a_service_logging_in_as_another_user_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "nats://events:${NATS_EVENTS_PASSWORD}@nats-2", "nats://membership:${NATS_MEMBERSHIP_PASSWORD}@nats-2")
    assert "logs in to NATS as 'membership', not as its own user 'events'" in problems(root, capsys)


def test_a_password_written_into_compose_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "nats://reporting:${NATS_REPORTING_PASSWORD}@nats-1", "nats://reporting:hunter2@nats-1")
    assert "must come from the environment" in problems(root, capsys)


def test_streams_with_fewer_replicas_than_nodes_fail(root, capsys) -> None:
    edit(root, "compose.yaml", 'CIRCLEMADE_STREAM_REPLICAS: "3"', 'CIRCLEMADE_STREAM_REPLICAS: "1"')
    assert "CIRCLEMADE_STREAM_REPLICAS is '1'" in problems(root, capsys)


def test_a_replica_logging_in_as_a_user_the_servers_lack_fails(root, capsys) -> None:
    edit(root, "nats/accounts.conf", "{ user = reporting-replica,", "{ user = reporting-copy,")
    err = problems(root, capsys)
    assert "service reporting-replica: logs in to NATS as 'reporting-replica', a user" in err
    assert "not granted" in err


def test_a_replica_checked_on_the_primary_s_port_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "http://127.0.0.1:8084/healthz", "http://127.0.0.1:8083/healthz")
    assert "service reporting-replica: healthcheck asks (8083" in problems(root, capsys)


def test_a_replica_on_the_primary_s_host_port_fails(root, capsys) -> None:
    edit(root, "compose.yaml", '"127.0.0.1:8084:8084"', '"127.0.0.1:8083:8084"')
    assert "service reporting-replica: publishes host port 127.0.0.1:8083 as reporting does" in problems(root, capsys)


def test_a_replica_sharing_the_primary_s_volume_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "reporting-replica-data:/var/lib/circlemade", "reporting-data:/var/lib/circlemade")
    assert "service reporting-replica: shares volume 'reporting-data' with reporting" in problems(root, capsys)


def test_a_second_reporting_without_a_replica_name_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "      CIRCLEMADE_REPLICA: replica\n", "")
    assert "without CIRCLEMADE_REPLICA would share the consumers" in problems(root, capsys)


def test_a_replica_name_out_of_the_contract_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "CIRCLEMADE_REPLICA: replica", "CIRCLEMADE_REPLICA: Replica-")
    assert "CIRCLEMADE_REPLICA 'Replica-' is not 1 to 32" in problems(root, capsys)


def test_a_replica_whose_consumers_are_not_granted_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "CIRCLEMADE_REPLICA: replica", "CIRCLEMADE_REPLICA: dashboard")
    err = problems(root, capsys)
    assert "'reporting-replica' is not granted ['$JS.API.CONSUMER.INFO.MEMBERSHIP.reporting-dashboard-MEMBERSHIP'" in err
    assert "deny list in deploy/nats/accounts.conf lacks ['$JS.API.CONSUMER.*.*.reporting-dashboard-MEMBERSHIP'" in err


def test_a_replica_consumer_left_open_to_the_subscriber_fails(root, capsys) -> None:
    edit(root, "nats/accounts.conf", '      "$JS.ACK.*.reporting-replica-EVENTS.>"\n', "")
    assert "lacks ['$JS.ACK.*.reporting-replica-EVENTS.>']" in problems(root, capsys)


def test_the_cli_logging_in_as_a_user_the_servers_lack_fails(root, capsys) -> None:
    edit(root, "compose.yaml", "nats://subscriber:${NATS_SUBSCRIBER_PASSWORD}@nats-1", "nats://reader:${NATS_SUBSCRIBER_PASSWORD}@nats-1")
    assert "service cli: logs in to NATS as 'reader', a user" in problems(root, capsys)


def test_a_replica_allowed_to_publish_fails(root, capsys) -> None:
    edit(
        root,
        "nats/accounts.conf",
        '      # The inbox of MEMBERSHIP.\n      "$JS.API.CONSUMER.INFO.MEMBERSHIP.reporting-replica-MEMBERSHIP"',
        '      "circlemade.reporting.>"\n      "$JS.API.STREAM.CREATE.REPORTING"\n'
        '      "$JS.API.CONSUMER.INFO.MEMBERSHIP.reporting-replica-MEMBERSHIP"',
    )
    err = problems(root, capsys)
    assert "is granted ['$JS.API.STREAM.CREATE.REPORTING', 'circlemade.reporting.>']" in err
