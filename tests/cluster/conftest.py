"""The cluster profile's directory: two OpenLDAP providers replicating each other, started once per module."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from catalog.ldapconn import DirectoryConfig
from catalog.slapd import ManagedSlapd, start_provider_pair
from demo import organisation as catalog_demo
from tests.conftest import free_port

# Per-server bookkeeping of syncrepl (one CSN per serverID, placed and updated by each server on its own).
PER_SERVER_ATTRIBUTES = ("contextCSN:",)


def dump(provider: ManagedSlapd) -> dict[str, list[str]]:
    """Every entry of the provider as OpenLDAP's own ldapsearch prints it (user and operational attributes), keyed
    by its ``dn:`` line (base64, ``dn::``, when not ASCII)."""
    result = subprocess.run(
        ["ldapsearch", "-x", "-H", provider.url, "-D", provider.admin_dn, "-w", provider.credentials()["admin"],
         "-b", provider.base, "-LLL", "-o", "ldif-wrap=no", "*", "+"],
        capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    entries: dict[str, list[str]] = {}
    for block in result.stdout.strip().split("\n\n"):
        dn, *lines = block.splitlines()
        entries[dn] = sorted(line for line in lines if not line.startswith(PER_SERVER_ATTRIBUTES))
    return dict(sorted(entries.items()))


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds have passed; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


@dataclass(frozen=True)
class ProviderPair:
    """Two providers of one replicated Skånekatalogen (multi-provider, serverIDs 1 and 2)."""

    first: ManagedSlapd
    second: ManagedSlapd

    def app_config(self) -> DirectoryConfig:
        """The application's bind with both servers, the first one preferred."""
        return replace(self.first.app_config(), url=f"{self.first.url} {self.second.url}")

    def ensure_running(self) -> None:
        """Start whichever provider is down (a test may have killed one) and wait until both serve the base."""
        for provider in (self.first, self.second):
            provider.start()
        for provider in (self.first, self.second):
            provider.wait_for_base()

    def wait_in_step(self, timeout: float = 5.0) -> None:
        """Wait until both providers hold the same entries (`dump`); fail the test when they do not in time."""
        assert wait_until(lambda: dump(self.first) == dump(self.second), timeout, step=0.1), (
            f"{self.first.url} and {self.second.url} still differ after {timeout} s")


def _two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


@pytest.fixture(scope="module")
def provider_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderPair]:
    """A started provider pair holding the demo catalog (20 persons), written on the first and replicated."""
    first, second = start_provider_pair(tmp_path_factory.mktemp("ldap-pair"), _two_free_ports())
    pair = ProviderPair(first, second)
    try:
        # The bulk loader speaks to one server (catalog/bulk.py), so it writes through the first provider.
        report = catalog_demo.load(first.app_config(), catalog_demo.generate(persons=20, seed=1))
        assert report.failed == [], report.failed
        pair.wait_in_step(timeout=15)
        yield pair
    finally:
        first.destroy()
        second.destroy()
