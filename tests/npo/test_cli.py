"""The `npo` command line: the embedded catalog cycle, sync, and clear failures (in this process, tests/cli.py; the
refused configuration also as the installed entry point, a real process)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from catalog.slapd import ManagedSlapd
from tests.cli import installed_npo, npo
from tests.conftest import Org, free_port


def test_embedded_catalog_cycle_env_and_ldapsearch(tmp_path: Path) -> None:
    env = {"NPO_VAR_DIR": str(tmp_path / "var"), "NPO_LDAP_PORT": str(free_port())}
    try:
        assert npo("catalog", "status", env=env).returncode == 1
        started = npo("catalog", "start", env=env, check=True)
        assert "startad" in started.stdout
        assert "körde redan" in npo("catalog", "start", env=env, check=True).stdout
        loaded = npo("demo", "load", "--persons", "120", "--seed", "3", env=env, check=True)
        assert "Demo inläst: 120 personer" in loaded.stdout
        exported = npo("catalog", "env", env=env, check=True).stdout
        shell = (f"{exported}\nldapsearch -x -LLL -H \"$NPO_LDAP_URL\" -D \"$NPO_LDAP_BIND_DN\" "
                 f"-w \"$NPO_LDAP_PASSWORD\" -b \"$NPO_LDAP_BASE\" '(hsaCommissionPurpose=Vård och behandling)' cn "
                 f"| grep -c '^dn:'; ldapsearch -x -LLL -H \"$NPO_LDAP_URL\" -D \"$NPO_LDAP_BIND_DN\" "
                 f"-w \"$NPO_LDAP_PASSWORD\" -b \"$NPO_LDAP_BASE\" '(hsaIdentity=SE2321000255-VCH2)' givenName")
        found = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout
        assert int(found.splitlines()[0]) >= 3  # the demo's VoB SJF commissions
        assert "givenName: Sara" in found
        hr_file = tmp_path / "var" / "hr" / "hr-export.csv"
        before = hr_file.stat().st_size and npo("sync", "--source", str(hr_file), "--dry-run", "--json", env=env)
        assert before.returncode == 0, before.stderr
        assert '"planned_create": 2' in before.stdout and '"applied_create": 0' in before.stdout
        again = npo("sync", "--source", str(hr_file), "--dry-run", env=env)
        assert "Förhandsgranskning" in again.stdout and "skapa: 2" in again.stdout  # dry run changed nothing
        summary = again.stdout.splitlines()  # counts, movers and rejected rows first; the changes only with --list
        assert summary[1].startswith("  nyanställda: 2  flyttar: ")
        at = summary.index("Avvisade rader (2), i filens ordning:")
        lines = [int(line.split()[1].rstrip(":")) for line in summary[at + 1:at + 3]]
        assert lines == sorted(lines) and all(line.startswith("  rad ") for line in summary[at + 1:at + 3])
        assert not [line for line in summary if line.startswith(("  skapa   ", "  ändra   ", "  inaktivera SE"))]
        assert summary[-1] == "Varje planerad ändring (8 st) visas med --list."
        listed = npo("sync", "--source", str(hr_file), "--dry-run", "--list", env=env).stdout.splitlines()
        assert listed[:at + 3] == summary[:at + 3] and "Planerade ändringar (8):" in listed
        assert len([line for line in listed if line.startswith("  skapa   ")]) == 2
        applied = npo("sync", "--source", str(hr_file), env=env)
        assert applied.returncode == 0 and "genomfört: skapade 2, ändrade 3, inaktiverade 3" in applied.stdout
        assert "skapa: 0  ändra: 0  inaktivera: 0" in npo("sync", "--source", str(hr_file), env=env).stdout
    finally:
        npo("catalog", "stop", env=env)
    assert "körde inte" in npo("catalog", "stop", env=env).stdout


def test_sync_refuses_a_mass_disable_with_exit_code_2(tmp_path: Path, org: Org, slapd: ManagedSlapd) -> None:
    config = slapd.app_config()
    env = {"NPO_LDAP_URL": config.url, "NPO_LDAP_BIND_DN": config.bind_dn, "NPO_LDAP_PASSWORD": config.password,
           "NPO_HR_PROVIDER_HSA_ID": org.provider.hsa_id, "NPO_VAR_DIR": str(tmp_path)}
    for n in range(3):
        org.person(personnummer=None, local=f"M{n}")  # no personnummer: HR never lists them, so all are leavers
    empty = tmp_path / "empty.csv"
    empty.write_text("personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end\n")
    refused = npo("sync", "--source", str(empty), env=env)
    assert refused.returncode == 2 and "AVBRUTET" in refused.stdout and "--force" in refused.stdout


@pytest.mark.parametrize(("content", "says"), [
    (None, "kan inte läsas"),
    ("a;b;c\n1;2;3\n", "saknar kolumnerna"),
])
def test_bad_sync_input_exits_3_with_a_message(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "hr.csv"
    if content is not None:
        path.write_text(content)
    result = npo("sync", "--source", str(path), env={"NPO_LDAP_URL": "ldap://127.0.0.1:1", "NPO_LDAP_BIND_DN": "x",
                                                      "NPO_LDAP_PASSWORD": "y", "NPO_VAR_DIR": str(tmp_path)})
    assert result.returncode == 3 and says in result.stderr and "Traceback" not in result.stderr


def test_ldap_down_exits_1_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text("personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end\n")
    result = npo("sync", "--source", str(path), env={"NPO_LDAP_URL": f"ldap://127.0.0.1:{free_port()}",
                                                      "NPO_LDAP_BIND_DN": "cn=x", "NPO_LDAP_PASSWORD": "y",
                                                      "NPO_VAR_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "Skånekatalogen svarar inte" in result.stderr and "Traceback" not in result.stderr


def test_production_refuses_the_dev_login(tmp_path: Path) -> None:
    result = installed_npo("catalog", "env", env={"NPO_ENV": "production", "NPO_DEV_LOGIN": "true",
                                                  "NPO_SECRET_KEY": "x" * 40, "NPO_VAR_DIR": str(tmp_path)})
    assert result.returncode == 3 and "NPO_DEV_LOGIN" in result.stderr


def test_embedded_slapd_is_untouched_when_an_external_directory_is_configured(tmp_path: Path) -> None:
    env = {"NPO_LDAP_URL": "ldap://ldap.example:389", "NPO_LDAP_BIND_DN": "cn=app", "NPO_LDAP_PASSWORD": "pw",
           "NPO_VAR_DIR": str(tmp_path)}
    result = npo("catalog", "start", env=env)
    assert result.returncode == 0 and "ingen slapd startas" in result.stderr
    assert not (tmp_path / "ldap").exists()
    assert "export NPO_LDAP_URL=ldap://ldap.example:389" in npo("catalog", "env", env=env, check=True).stdout
