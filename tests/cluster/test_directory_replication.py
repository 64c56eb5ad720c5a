"""Two OpenLDAP providers in multi-provider replication behind one Directory (issue 16).

Writes on either provider reach the other; the Directory fails over when its server is killed; a restarted provider
catches up by syncrepl; and only with both down is the directory unavailable, at once. The last test stops both
providers, so it stays last in this file.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from catalog import Directory, DirectoryUnavailable
from catalog.ldapconn import LdapSession
from catalog.slapd import ManagedSlapd
from tests.cluster.conftest import ProviderPair, dump, wait_until
from tests.conftest import Org

pytestmark = pytest.mark.cluster

def refuses(port: int) -> bool:
    """Whether nothing accepts TCP connections on ``port`` any more."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def kill(provider: ManagedSlapd) -> None:
    """SIGKILL the provider's slapd (no clean shutdown) and wait until the process and its listener are gone (the
    main thread shows as a zombie while other threads still hold the socket)."""
    pid = provider.pid()
    assert pid is not None, f"{provider.url} is not running"
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: provider.pid() is None and refuses(provider.port), timeout=5), f"{pid} survived"


@contextmanager
def resetting_listener() -> Iterator[int]:
    """A TCP port that accepts every connection and resets it at once, like a server dying mid-handshake."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_write_on_either_provider_is_read_on_the_other(provider_pair: ProviderPair) -> None:
    on_first = Directory(provider_pair.first.app_config(), cache_seconds=0)
    on_second = Directory(provider_pair.second.app_config(), cache_seconds=0)
    try:
        org = Org(on_first)
        person = org.person(given="Replika", surname="Först")
        assert wait_until(lambda: on_second.find_person(person.hsa_id) is not None, timeout=5)
        copy = on_second.find_person(person.hsa_id)
        assert copy is not None and (copy.dn, copy.given_name, copy.surname, copy.unit_hsa_id) == (
            person.dn, "Replika", "Först", org.unit_a.hsa_id)

        back = Org(on_second).person(given="Replika", surname="Andra")  # and the other way
        assert wait_until(lambda: on_first.find_person(back.hsa_id) is not None, timeout=5)
    finally:
        on_first.close()
        on_second.close()


def test_the_directory_fails_over_and_a_restarted_provider_catches_up(provider_pair: ProviderPair) -> None:
    first, second = provider_pair.first, provider_pair.second
    gateway = Directory(provider_pair.app_config(), cache_seconds=0)
    try:
        org = Org(gateway)
        before = org.person(given="Före")
        assert gateway.ldap.connection().server.port == first.port  # the pool prefers the first provider
        provider_pair.wait_in_step()  # replication is asynchronous: what is not on the second yet waits for the first

        kill(first)
        # The thread's connection is to the dead server: this read fails on it and is retried on the second.
        assert gateway.find_person(before.hsa_id) == before
        while_down = org.person(org.unit_b, given="Under", surname="Avbrottet")
        assert gateway.ldap.connection().server.port == second.port
        assert gateway.find_person(while_down.hsa_id) == while_down
        assert first.pid() is None  # really written while the first provider was down

        first.start()
        provider_pair.wait_in_step(timeout=15)
        caught_up = dump(first)
        assert f"dn: {while_down.dn}" in caught_up
        assert len(caught_up) > 100  # the demo catalog is there too, not two empty trees
    finally:
        gateway.close()
        provider_pair.ensure_running()


def test_a_paged_search_interrupted_by_a_dead_provider_finishes_on_the_other(provider_pair: ProviderPair) -> None:
    provider_pair.wait_in_step()
    config = replace(provider_pair.app_config(), page_size=5)
    session = LdapSession(config)
    expected = sorted(dn for dn, _ in LdapSession(provider_pair.second.app_config()).search(
        config.base, "(objectClass=hsaPerson)", attributes=["hsaIdentity"]))
    try:
        pages = session.iter_search(config.base, "(objectClass=hsaPerson)", attributes=["hsaIdentity"])
        seen = [next(pages)[0]]  # the first page came from the first provider, with its paging cookie
        kill(provider_pair.first)
        seen += [dn for dn, _ in pages]  # the next page goes to the second, which knows nothing of that cookie
        assert len(expected) > 3 * config.page_size
        assert sorted(seen) == expected  # each person once: the search started over and skipped what was given
    finally:
        session.close()
        provider_pair.ensure_running()


def test_a_server_that_accepts_and_drops_the_connection_is_passed_over(provider_pair: ProviderPair) -> None:
    with resetting_listener() as port:
        config = replace(provider_pair.app_config(), url=f"ldap://127.0.0.1:{port} {provider_pair.second.url}")
        gateway = Directory(config, cache_seconds=0)
        try:
            gateway.ping()  # the pool's probe (a bare TCP connect) finds the first one alive; its bind is reset
            assert gateway.ldap.connection().server.port == provider_pair.second.port
        finally:
            gateway.close()


def test_with_both_providers_down_the_directory_is_unavailable_at_once(provider_pair: ProviderPair) -> None:
    gateway = Directory(provider_pair.app_config(), cache_seconds=0)
    try:
        gateway.ping()
        kill(provider_pair.first)
        kill(provider_pair.second)
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable, match="none of its servers answers") as raised:
            gateway.ping()
        assert time.monotonic() - started < 3
        assert provider_pair.first.url in raised.value.message and provider_pair.second.url in raised.value.message

        provider_pair.ensure_running()
        gateway.ping()  # the same Directory recovers once a provider is back
    finally:
        gateway.close()
        provider_pair.ensure_running()
