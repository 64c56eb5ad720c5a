"""The managed slapd: config accepted by slaptest, start/stop/status, limits and access rules, clear failures."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from ldap3 import NONE, Connection, Server

from catalog import Directory
from catalog.model import CareUnit, Person
from catalog.slapd import SCHEMA_FILE, ManagedSlapd, SlapdError
from tests.conftest import Org, free_port


def test_schema_and_generated_config_pass_slaptest(tmp_path: Path) -> None:
    instance = ManagedSlapd(tmp_path / "ldap", port=free_port())
    instance.write_config()  # raises SlapdError when slaptest refuses
    text = instance.conf_path.read_text()
    assert str(SCHEMA_FILE) in text
    assert "index hsaIdentity eq" in text and "index hsaCommissionMember eq" in text
    assert f'limits dn.exact="{instance.app_dn}" size=unlimited' in text


def test_a_broken_schema_is_refused_with_slaptests_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.schema"
    broken.write_text(SCHEMA_FILE.read_text().replace("SUP top AUXILIARY", "SUP nosuchclass AUXILIARY", 1))
    monkeypatch.setattr("catalog.slapd.SCHEMA_FILE", broken)  # a file path, not our code
    with pytest.raises(SlapdError, match="slaptest rejected"):
        ManagedSlapd(tmp_path / "ldap", port=free_port()).write_config()


def test_start_status_stop_and_restart_keep_the_data(make_slapd) -> None:  # type: ignore[no-untyped-def]
    instance = make_slapd()
    assert not instance.status().running
    assert instance.start() is True
    assert instance.start() is False  # already running: idempotent
    status = instance.status()
    assert status.running and status.pid and status.initialised
    creds = instance.credentials_path
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    gateway = Directory(instance.app_config())
    gateway.ensure_role  # noqa: B018 - attribute exists
    org = Org(gateway)
    assert instance.stop() is True
    assert not instance.status().running
    assert instance.stop() is False
    instance.start()
    again = Directory(instance.app_config())
    assert again.provider(org.provider.hsa_id) is not None  # data survived the restart
    again.close()
    gateway.close()
    instance.destroy()
    assert not instance.root.exists()


def test_a_stale_pidfile_does_not_block_start(make_slapd) -> None:  # type: ignore[no-untyped-def]
    instance = make_slapd()
    instance.root.mkdir(parents=True)
    instance.pid_path.write_text("999999\n")
    assert instance.start() is True
    instance.destroy()


def test_a_taken_port_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(SlapdError, match="already taken"):
            ManagedSlapd(tmp_path / "ldap", port=port).start()


def test_app_bind_has_no_500_entry_size_limit_but_anonymous_sees_nothing(slapd: ManagedSlapd,
                                                                         directory: Directory) -> None:
    org = Org(directory)
    unit = directory.create_unit(CareUnit(org.hsa("V0900"), "", "Stor enhet", org.provider.hsa_id))
    from catalog import entries as E
    from catalog.bulk import BulkWriter

    with BulkWriter(slapd.app_config()) as writer:
        for n in range(620):
            person = Person(org.hsa(f"B{n:04d}"), "", "Bulk", f"Person{n}", unit_hsa_id=unit.hsa_id)
            writer.add(n, E.child_dn(unit.dn, person.hsa_id), E.PERSON_CLASSES, E.person_attributes(person))
        assert len(writer.finish().done) == 620
    # one unpaged search as the application: more than 500 entries come back, no "size limit exceeded"
    conn = Connection(Server(slapd.url, get_info=NONE), slapd.app_dn, slapd.credentials()["app"], auto_bind=True)
    conn.search(unit.dn, "(objectClass=hsaPerson)", attributes=["hsaIdentity"])
    assert conn.result["result"] == 0 and len(conn.entries) == 620
    conn.unbind()
    anonymous = Connection(Server(slapd.url, get_info=NONE), auto_bind=True)
    anonymous.search(unit.dn, "(objectClass=*)")
    assert anonymous.entries == []
    anonymous.unbind()


def test_openldap_client_tools_find_data_through_the_app_bind(slapd: ManagedSlapd, directory: Directory) -> None:
    org = Org(directory)
    directory.ensure_commission(org.unit_a.hsa_id)
    config = slapd.app_config()
    found = subprocess.run(
        ["ldapsearch", "-x", "-LLL", "-H", config.url, "-D", config.bind_dn, "-w", config.password, "-b",
         org.provider.dn, "(hsaCommissionPurpose=Vård och behandling)", "hsaIdentity"],
        capture_output=True, text=True, check=True).stdout
    assert f"hsaIdentity: {org.unit_a.hsa_id}-SJF" in found
