"""The publication rules as data (D-54): the YAML document is validated with Swedish errors, stored as versions in
``publication_rules``, read back in one query; the demo's file is what the demo organisation gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import event
from sqlmodel import Session, select

from demo import publication as demo_publication
from demo.publication import demo_rules
from kernel import runtime
from kernel.settings import Settings
from npo.db import upgrade
from npo.overview_cli import ensure_demo_rules, load_demo_patients
from overview import publication
from overview.gate import Check, decide
from overview.models import PublicationRuleSet
from overview.producers import PASIS
from tests.overview.conftest import NOW, RULES
from tests.overview.test_gate_builders import facts, item, verdict

DEMO_TEXT = demo_publication.DATA_FILE.read_text(encoding="utf-8")
MINIMAL = """version: 1
systems:
  pasis:
    provider_hsa_id: SE2321000255-E00001
    categories: [diagnos]
"""


# ---------------------------------------------------------------------- the demo's file
def test_the_demo_file_is_what_the_demo_organisation_gives() -> None:
    # fails after the demo organisation changed: run `python -m demo.publication` to write the file again
    assert demo_publication.yaml_text() == DEMO_TEXT


def test_the_demo_file_reads_back_to_the_demo_rules() -> None:
    rules = publication.parse(DEMO_TEXT)
    assert rules == demo_publication.published_rules()
    assert rules.systems == demo_rules().systems
    assert rules.excluded_units == {"SE2321000255-V3001"}  # the demo's psychiatry unit produces nothing
    assert rules.names["SE2021006255-EHM"] == "eHälsomyndigheten"
    assert rules.names["SE2321000255-V1177"] == "1177 Vårdguiden på telefon"


@pytest.mark.parametrize("rules", [RULES, demo_rules(), demo_publication.published_rules()], ids=["test", "demo",
                                                                                                   "file"])
def test_dump_and_parse_are_inverse(rules: publication.PublicationRules) -> None:
    assert publication.parse(publication.dump(rules, header="Rad ett\nRad två")) == rules


def test_npo_demo_load_puts_the_demo_file_in_force_once(db_url: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    runtime.configure(Settings(var_dir=tmp_path / "var", database_url=db_url))
    try:
        load_demo_patients(runtime.settings(), patients=2, seed=1)
        load_demo_patients(runtime.settings(), patients=2, seed=1)  # `npo demo load` again
        with runtime.session_scope() as session:
            versions = session.exec(select(PublicationRuleSet)).all()
            assert [(v.source, v.loaded_by) for v in versions] == [("demo/data/publication_rules.yaml",
                                                                    "npo demo load")]
            assert publication.current(session) == demo_publication.published_rules()
    finally:
        runtime.configure(Settings(var_dir=tmp_path / "unused"))
    assert capsys.readouterr().out.count("Publiceringsregler: demo/data/publication_rules.yaml (version 1).") == 2


def test_make_runs_npo_demo_rules_fills_only_a_database_without_rules(db_url: str, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    upgrade(db_url)
    runtime.configure(Settings(var_dir=tmp_path / "var", database_url=db_url))
    try:
        ensure_demo_rules(runtime.settings())  # a var/ made before the rules were data: the demo's go in
        with runtime.session_scope() as session:
            imported = publication.store(session, MINIMAL, loaded_by="SE2321000255-ADM1", source="import.yaml",
                                         now=NOW)
        ensure_demo_rules(runtime.settings())  # the next start: the imported rules stay in force
        with runtime.session_scope() as session:
            versions = session.exec(select(PublicationRuleSet)).all()
            assert [(v.source, v.loaded_by) for v in versions] == [
                ("demo/data/publication_rules.yaml", "npo demo rules"), ("import.yaml", "SE2321000255-ADM1")]
            assert publication.current(session) == publication.parse(MINIMAL) and imported.id == versions[-1].id
    finally:
        runtime.configure(Settings(var_dir=tmp_path / "unused"))
    out = capsys.readouterr().out
    assert "Publiceringsregler: demo/data/publication_rules.yaml (version 1)." in out
    assert "Publiceringsregler finns redan; inget ändrat." in out


# ---------------------------------------------------------------------- the table
def test_before_any_import_nothing_is_published(session: Session) -> None:
    assert publication.current(session) is publication.NO_RULES
    found = verdict(decide(facts(items=(item(system=PASIS, category="diagnos"),), publication=publication.NO_RULES),
                           NOW))
    assert (found.check, found.code) == (Check.PUBLICATION, "publication.system_not_produced")


def test_store_adds_a_version_and_current_reads_the_newest(session: Session) -> None:
    first = demo_publication.load(session, now=NOW)
    assert (first.loaded_by, first.source, first.digest) == ("npo demo load", "demo/data/publication_rules.yaml",
                                                             publication.digest_of(DEMO_TEXT))
    assert publication.current(session) == demo_publication.published_rules()
    again = demo_publication.load(session, now=NOW + dt.timedelta(hours=1))
    assert again.id == first.id  # the same text twice adds no version
    newer = publication.store(session, MINIMAL, loaded_by="SE2321000255-ADM1", source="import.yaml",
                              now=NOW + dt.timedelta(days=1))
    assert newer.id is not None and first.id is not None and newer.id > first.id
    assert set(publication.current(session).systems) == {PASIS}
    assert [r.source for r in session.exec(select(PublicationRuleSet).order_by(PublicationRuleSet.id)).all()] == [
        "demo/data/publication_rules.yaml", "import.yaml"]  # the history


def test_the_rules_in_force_are_asked_for_at_most_every_few_seconds_and_a_new_version_counts_at_once(
        session: Session) -> None:
    demo_publication.load(session, now=NOW)
    session.flush()
    statements: list[str] = []
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with freeze_time(NOW) as clock:
            first = publication.current(session)
            asked = len(statements)
            clock.tick(publication.CURRENT_SECONDS - 1)
            assert publication.current(session) is first and len(statements) == asked  # not asked again
            clock.tick(2)
            statements.clear()
            assert publication.current(session) is first  # the same version: its parsed rules are kept
            assert len(statements) == 1 and "publication_rules" in statements[0]
            publication.store(session, publication.dump(RULES), loaded_by="SE2321000255-ADM1", now=NOW)
            assert publication.current(session) == RULES != first  # stored here: in force at once
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_an_invalid_document_is_refused_and_stores_nothing(session: Session) -> None:
    with pytest.raises(publication.InvalidPublicationRules) as refused:
        publication.store(session, "version: 2\nsystems: {}\n", loaded_by="x", now=NOW)
    assert refused.value.field == "document"
    assert str(refused.value) == "Publiceringsreglerna kan inte läsas in: version ska vara 1."
    assert session.exec(select(PublicationRuleSet)).all() == []


@pytest.mark.parametrize(("text", "message"), [
    ("version: [1\n", "texten är inte giltig YAML (rad 2)."),
    ("- 1\n", "dokumentet ska vara en samling nycklar med värden."),
    ("version: 1\nsystems: {}\n", "systems saknar producerande system."),
    ("version: 1\nsystem: {}\n", "dokumentet har okända nycklar: system (tillåtna är version, systems, "
                                 "excluded_units, names)."),
    (MINIMAL.replace("categories: [diagnos]", "categories: []"), "systems.pasis.categories är tom."),
    (MINIMAL.replace("categories: [diagnos]", "category: [diagnos]"),
     "systems.pasis har okända nycklar: category (tillåtna är provider_hsa_id, categories, from_date, unit_from, "
     "early, document_kinds, excluded_document_kinds, undated, future_only, doctor_only_outpatient)."),
    (MINIMAL.replace("categories: [diagnos]", "categories: diagnos"), "systems.pasis.categories ska vara en lista."),
    (MINIMAL.replace("SE2321000255-E00001", "SE2321000256-E00001"),
     "systems.pasis.provider_hsa_id: Organisationsnumret 2321000256 i HSA-id 'SE2321000256-E00001' har fel "
     "kontrollsiffra."),
    (MINIMAL + "    from_date: 2012-13-01\n", "systems.pasis.from_date ska vara ett datum ÅÅÅÅ-MM-DD."),
    (MINIMAL + "    unit_from: {SE2321000255-V1001: snart}\n",
     "systems.pasis.unit_from.SE2321000255-V1001 ska vara ett datum ÅÅÅÅ-MM-DD."),
    (MINIMAL + "    early: [{profession: lakare}]\n", "systems.pasis.early[0].document_kind ska vara en text."),
    (MINIMAL + "excluded_units: [V3001]\n", "excluded_units: HSA-id 'V3001' ska börja med landskoden SE."),
    (MINIMAL + "names: {SE2321000255-V1177: ''}\n", "names.SE2321000255-V1177 ska vara en text."),
])
def test_each_error_says_what_is_wrong_and_where(text: str, message: str) -> None:
    with pytest.raises(publication.InvalidPublicationRules) as refused:
        publication.parse(text)
    assert str(refused.value) == f"Publiceringsreglerna kan inte läsas in: {message}"


def test_a_system_key_of_digits_needs_no_quotes() -> None:
    rules = publication.parse("version: 1\nsystems:\n  1177:\n    categories: [sjukskoterskeanteckning]\n")
    assert set(rules.systems) == {"1177"} and rules.systems["1177"].system == "1177"
