"""The status page of a cluster (issue 16) shows every instance of every part on its own, with real parts: each
server of a pooled Skånekatalogen (two real replicating slapds) with its contextCSN, each web process (real uvicorn
servers, asked at /api/alive) with its pid, and the OCSP responder (a real `openssl ocsp`). With none of it
configured the page is the single process's one (test_status.py)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.x509.oid import NameOID

from api.app import create_app
from api.routes.status import DEADLINE, collect
from api.status import PartStatus
from api.status_cluster import NOT_IN_STEP
from catalog.slapd import ManagedSlapd, start_provider_pair
from kernel import runtime
from kernel.settings import Settings
from npo.certs import DevCA, dev_ca
from npo.ocsp import OcspResponder
from tests.api.conftest import Browser
from tests.api.test_mtls import running
from tests.api.test_status import configure, parts
from tests.conftest import free_port


def _ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedSlapd, ManagedSlapd]]:
    """Two providers of one Skånekatalogen, replicating each other (empty: only the base entries)."""
    first, second = start_provider_pair(tmp_path_factory.mktemp("status-pair"), tuple(_ports(2)))  # type: ignore[arg-type]
    try:
        yield first, second
    finally:
        first.destroy()
        second.destroy()


def on_directory(settings: Settings, *servers: ManagedSlapd) -> None:
    """Let the app bind to ``servers`` as one pooled directory (the first one's app account)."""
    config = servers[0].app_config()
    runtime.configure(settings.model_copy(update={
        "ldap_url": " ".join(server.url for server in servers), "ldap_base": config.base,
        "ldap_bind_dn": config.bind_dn, "ldap_password": config.password}))


def directory_parts() -> dict[str, PartStatus]:
    return {part.key: part for part in collect().parts if part.key.startswith("directory")}


def test_each_directory_server_is_a_part_and_one_that_is_down_leaves_the_pool_working(
        app_settings: Settings, pair: tuple[ManagedSlapd, ManagedSlapd]) -> None:
    first, second = pair
    on_directory(app_settings, first, second)
    found = directory_parts()
    assert list(found) == ["directory", "directory-1", "directory-2"]
    one, two = found["directory-1"], found["directory-2"]
    assert (one.name, one.where, two.name, two.where) == (
        "Skånekatalogen, server 1", first.url, "Skånekatalogen, server 2", second.url)
    assert one.healthy and two.healthy and found["directory"].healthy
    assert one.detail.startswith("svarar; contextCSN ") and "#001#" in one.detail
    assert one.detail == two.detail and NOT_IN_STEP not in one.detail  # in step: the same contextCSN on both

    second.stop()
    try:
        found = directory_parts()
        assert found["directory"].healthy, found["directory"]  # the pool binds to the server that answers
        assert found["directory-1"].healthy and NOT_IN_STEP not in found["directory-1"].detail
        assert not found["directory-2"].healthy and "cannot be reached" in found["directory-2"].detail
    finally:
        second.start()
        second.wait_for_base()


def test_providers_that_do_not_replicate_each_other_say_so_and_stay_healthy(
        app_settings: Settings, tmp_path: Path) -> None:
    ports, nowhere = _ports(2), f"ldap://127.0.0.1:{free_port()}"  # each one's peer never answers
    first = ManagedSlapd(tmp_path / "a", port=ports[0], server_id=1, peers=[nowhere])
    second = ManagedSlapd(tmp_path / "b", port=ports[1], server_id=2, peers=[nowhere],
                          credentials=first.credentials())  # seeded on its own: a contextCSN of serverID 2
    try:
        first.start()
        second.start()
        on_directory(app_settings, first, second)
        found = directory_parts()
        for key, server_id in (("directory-1", "#001#"), ("directory-2", "#002#")):
            assert found[key].healthy and server_id in found[key].detail, found[key]
            assert found[key].detail.endswith(NOT_IN_STEP)
        assert NOT_IN_STEP not in found["directory"].detail
    finally:
        first.destroy()
        second.destroy()


def test_one_directory_server_has_no_parts_of_its_own(app_settings: Settings) -> None:
    assert list(directory_parts()) == ["directory"]


def test_each_web_instance_is_asked_for_its_pid_and_one_down_or_hung_is_not_working(admin: Browser) -> None:
    one, two, down = _ports(3)
    hung = socket.socket()  # accepts connections into its backlog and never answers
    hung.bind(("127.0.0.1", 0))
    hung.listen()
    instances = [uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning") for port in (one, two)]
    with running(instances[0]) as first, running(instances[1]) as second, hung:
        hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        configure(web_instances=[first, second, f"http://127.0.0.1:{down}", hung_url])
        started = time.monotonic()
        found = parts(admin)
        assert time.monotonic() - started < DEADLINE  # the hung one is given up after its own timeout
        assert list(found)[:5] == ["web", "web-1", "web-2", "web-3", "web-4"]
        assert found["web"]["detail"] == f"svarar (visar den här sidan; process {os.getpid()})"
        assert (found["web-1"]["healthy"], found["web-1"]["detail"], found["web-1"]["where"]) == (
            True, f"svarar; process {os.getpid()}", first)
        assert found["web-2"]["where"] == second
        assert not found["web-3"]["healthy"] and "refused" in found["web-3"]["detail"].lower()
        assert not found["web-4"]["healthy"] and "timed out" in found["web-4"]["detail"]
        configure(web_instances=[first, second, f"http://127.0.0.1:{down}"])
        page = admin.client.get("/status").text
        assert '<tr class="ok" data-part="web-1">' in page and "Webbprocess 2" in page
        assert '<tr class="bad" data-part="web-3">' in page and "Driftstörning" in page
        admin.client.cookies.clear()
        assert "Webbprocess" not in admin.client.get("/status").text  # the detail is for NPÖ-förvaltningen only


def test_api_alive_answers_anyone_with_the_pid_and_asks_no_part(web: Browser) -> None:
    configure(ldap_url=f"ldap://127.0.0.1:{free_port()}", web_instances=[f"http://127.0.0.1:{free_port()}"])
    web.client.cookies.clear()
    started = time.monotonic()
    alive = web.client.get("/api/alive")
    assert (alive.status_code, alive.json()) == (200, {"ok": True, "pid": os.getpid()})  # the directory is down
    assert time.monotonic() - started < 1
    assert web.client.get("/api/health").json() == {"ok": False}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_the_ocsp_responder_answers_about_the_dev_ca_and_any_answer_counts_for_another_chain(
        admin: Browser, tmp_path: Path) -> None:
    assert "ocsp" not in parts(admin)  # not configured: not shown
    responder = OcspResponder(dev_ca(runtime.settings()), port=free_port(), log=tmp_path / "ocsp.log")
    with responder:
        configure(siths_ocsp_url=responder.url)
        ocsp = parts(admin)["ocsp"]
        assert (ocsp["healthy"], ocsp["detail"], ocsp["where"]) == (
            True, "svarar; utvecklings-CA:ns OCSP-certifikat är giltigt", responder.url)
        assert "SITHS-spärrkontroll (OCSP)" in admin.client.get("/status").text
        siths = DevCA.open(tmp_path / "siths", subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SITHS")]))
        configure(siths_ca_file=siths.cert_path)  # a chain we hold no card of: the responder is only reached
        ocsp = parts(admin)["ocsp"]
        assert ocsp["healthy"] and ocsp["detail"] == "svarar (HTTP 200)", ocsp
    ocsp = parts(admin)["ocsp"]
    assert not ocsp["healthy"] and "refused" in ocsp["detail"].lower()
