"""`npo audit verify`, `npo log-extract` and the demo patients of `npo demo load` (in this process, tests/cli.py;
`npo audit verify` on an unreadable database also as the installed entry point)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, func, select

from catalog import DirectoryConfig
from catalog.model import RoleName
from overview import accesslog
from overview.models import Patient
from tests.cli import installed_npo, npo
from tests.conftest import Org, free_port
from tests.overview.test_accesslog import OTHER_PATIENT, PATIENT, tamper, write


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"NPO_DATABASE_URL": db_url, "NPO_VAR_DIR": str(tmp_path / "var")}


def test_audit_verify_passes_a_whole_chain_and_names_the_first_broken_row(session: Session, db_url: str,
                                                                           db_backend: str, tmp_path: Path) -> None:
    write(session, 5)
    env = _env(db_url, tmp_path)
    whole = npo("audit", "verify", env=env)
    assert whole.returncode == 0, whole.stderr
    assert "Åtkomstloggen är hel: 5 rader kontrollerade." in whole.stdout
    tamper(session, db_backend, "UPDATE access_log SET user_hsa_id = 'SE5591234567-P9999' WHERE seq = 2")
    tamper(session, db_backend, "UPDATE access_log SET detail = 'x' WHERE seq = 4")
    broken = npo("audit", "verify", env=env)
    assert broken.returncode == 2
    assert "bruten vid rad 2" in broken.stderr and "Rad 2 har ändrats" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_audit_seal_adopts_rows_older_than_the_bound_only_when_asked(session: Session, db_url: str,
                                                                     tmp_path: Path) -> None:
    write(session, 2)
    write(session, 3, sealed=False)  # written days ago (NOW) and never sealed: every sealer stood still
    env = _env(db_url, tmp_path)
    outside = npo("audit", "verify", env=env)
    assert outside.returncode == 2 and "Rad 3 är inte förseglad" in outside.stderr and "3 sådan(a)" in outside.stderr
    plain = npo("audit", "seal", env=env)
    assert plain.returncode == 0 and plain.stdout.startswith("0 rad(er) förseglade; kedjans huvud: 2:")
    assert npo("audit", "verify", env=env).returncode == 2
    adopted = npo("audit", "seal", "--adopt-late", env=env)
    assert adopted.returncode == 0 and adopted.stdout.startswith("3 rad(er) förseglade; kedjans huvud: 5:")
    whole = npo("audit", "verify", env=env)
    assert whole.returncode == 0 and "5 rader kontrollerade." in whole.stdout


def test_audit_head_prints_an_anchor_that_verify_checks(session: Session, db_url: str, db_backend: str,
                                                         tmp_path: Path) -> None:
    env = _env(db_url, tmp_path)
    empty = npo("audit", "head", env=env)
    assert empty.returncode == 3 and "tom" in empty.stderr
    write(session, 3)
    printed = npo("audit", "head", env=env)
    assert printed.returncode == 0, printed.stderr
    anchor = printed.stdout.strip()
    assert anchor.startswith("3:") and len(anchor) == 2 + 64
    held = npo("audit", "verify", "--anchor", anchor, env=env)
    assert held.returncode == 0 and "1 publicerade ankare stämmer" in held.stdout
    forged = npo("audit", "verify", "--anchor", "3:" + "0" * 64, env=env)
    assert forged.returncode == 2 and "bruten vid rad 3" in forged.stderr and "ankaret" in forged.stderr
    bad = npo("audit", "verify", "--anchor", "tre", env=env)
    assert bad.returncode == 3 and "RAD:HASH" in bad.stderr and "Traceback" not in bad.stderr


def test_audit_verify_reports_an_unreadable_database(tmp_path: Path) -> None:
    result = installed_npo("audit", "verify", env=_env(f"sqlite:///{tmp_path / 'tom.db'}", tmp_path))
    assert result.returncode == 1 and "kunde inte läsas" in result.stderr and "Traceback" not in result.stderr


def _ldap_env(db_url: str, tmp_path: Path, config: DirectoryConfig) -> dict[str, str]:
    return {**_env(db_url, tmp_path), "NPO_LDAP_URL": config.url, "NPO_LDAP_BASE": config.base,
            "NPO_LDAP_BIND_DN": config.bind_dn, "NPO_LDAP_PASSWORD": config.password}


def test_log_extract_prints_the_patients_accesses_with_their_basis_and_is_itself_logged(
        session: Session, db_url: str, tmp_path: Path, directory_config: DirectoryConfig, org: Org) -> None:
    admin = org.person(given="Lena", surname="Förvaltning")
    org.directory.add_role_member(RoleName.SYSTEM_ADMIN, admin.hsa_id)
    write(session, 2, relation="care_contact")
    write(session, 1, patient=OTHER_PATIENT)
    session.commit()  # SQLite has one writer: the command logs its extract, so the test holds no transaction open

    def logged() -> list[accesslog.ExtractLine]:
        lines = accesslog.extract(session, PATIENT)
        session.commit()
        return lines

    env = _ldap_env(db_url, tmp_path, directory_config)
    result = npo("log-extract", "19600401-1232", "--av", admin.hsa_id, env=env)
    assert result.returncode == 0, result.stderr
    assert "Loggutdrag för 19600401-1232: 2 åtkomster" in result.stdout
    assert result.stdout.count("Vårdcentralen Testa (SE5591234567-V0001)") == 2
    assert "Testvårdgivare" in result.stdout and "2026-11-25 13:00" in result.stdout
    assert result.stdout.count("grund: egen vårdgivare  patientrelation: vårdkontakt") == 2
    taken = logged()
    assert [(line.user_hsa_id, line.resource_type) for line in taken[2:]] == [(admin.hsa_id, "loggutdrag")]
    as_csv = npo("log-extract", "196004011232", "--av", admin.hsa_id, "--format", "csv", env=env)
    assert as_csv.returncode == 0 and as_csv.stdout.startswith("\ufeffTid;Händelse;Resurs;Utfall;Vårdenhet")
    assert as_csv.stdout.count("egen vårdgivare;vårdkontakt") == 2  # the CSV holds the extract taken before it too
    pdf = tmp_path / "utdrag.pdf"
    as_pdf = npo("log-extract", "196004011232", "--av", admin.hsa_id, "--format", "pdf", "--out", str(pdf), env=env)
    assert as_pdf.returncode == 0 and "skrivet till" in as_pdf.stdout and pdf.read_bytes().startswith(b"%PDF-")
    assert len(logged()) == 5  # every extract is a log row of its own


def test_log_extract_refuses_a_requester_without_the_role_a_pdf_without_a_file_and_an_unknown_format(
        db_url: str, tmp_path: Path, directory_config: DirectoryConfig, org: Org) -> None:
    env = _ldap_env(db_url, tmp_path, directory_config)
    someone = org.person()
    refused = npo("log-extract", "196004011232", "--av", someone.hsa_id, env=env)
    assert refused.returncode == 3 and "npo-forvaltning" in refused.stderr and "Traceback" not in refused.stderr
    no_file = npo("log-extract", "196004011232", "--av", someone.hsa_id, "--format", "pdf", env=env)
    assert no_file.returncode == 3 and "--out" in no_file.stderr
    unknown = npo("log-extract", "196004011232", "--av", someone.hsa_id, "--format", "xml", env=env)
    assert unknown.returncode == 3 and "text, csv eller pdf" in unknown.stderr


def test_log_extract_refuses_a_malformed_personnummer(tmp_path: Path) -> None:
    result = npo("log-extract", "19600401-1235", "--av", "SE5591234567-P0001",
                 env=_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path))
    assert result.returncode == 3 and "kontrollsiffra" in result.stderr and "Traceback" not in result.stderr


def test_demo_load_fills_the_database_with_patients_once(engine, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**_env(db_url, tmp_path), "NPO_LDAP_PORT": str(free_port())}
    try:
        first = npo("demo", "load", "--persons", "20", "--patients", "12", env=env)
        assert first.returncode == 0, first.stderr
        assert "Demopatienter: 12 nya, 0 fanns redan" in first.stdout
        again = npo("demo", "load", "--persons", "20", "--patients", "12", env=env)
        assert again.returncode == 0 and "Demopatienter: 0 nya, 12 fanns redan" in again.stdout
    finally:
        npo("catalog", "stop", env=env)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Patient)).one() == 12
        assert session.get(Patient, "194803123423") is not None  # Astrid Nilsson, the first named patient
