"""Reading HR exports: every bad row is reported with its line and reason; only an unreadable file is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.hrexport import HrExportError, read_export

HEADER = "personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end"
GOOD = "19121212-1212;Tolvan;Tolvansson;SE2321000255-V2001;Sjuksköterska;2020-01-01;"


def export(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


def test_a_good_row_is_read_and_normalised() -> None:
    result = read_export(export(GOOD))
    assert result.rejected == []
    [row] = result.rows
    assert (row.personnummer, row.given_name, row.unit_hsa_id) == ("191212121212", "Tolvan", "SE2321000255-V2001")
    assert row.employment_start == dt.date(2020, 1, 1) and row.employment_end is None
    assert row.hsa_titles is None and not row.has_mail  # optional columns absent: leave the directory alone


@pytest.mark.parametrize(("line", "reason"), [
    ("19121212-1213;A;B;SE2321000255-V2001;T;2020-01-01;", "kontrollsiffra"),
    ("19121212-1212;;B;SE2321000255-V2001;T;2020-01-01;", "given_name saknas"),
    ("19121212-1212;A;B;SE2321000256-V2001;T;2020-01-01;", "kontrollsiffra"),
    ("19121212-1212;A;B;;T;2020-01-01;", "unit_hsa_id"),
    ("19121212-1212;A;B;SE2321000255-V2001;T;2020-13-01;", "ÅÅÅÅ-MM-DD"),
    ("19121212-1212;A;B;SE2321000255-V2001;T;2020-02-01;2020-01-01", "före"),
    ("19121212-1212;A;B;SE2321000255-V2001;T;2020-01-01", "7"),  # a column short
    ("19121212-1212;A;B;SE2321000255-V2001;T;2020-01-01;;extra", "fel avgränsare"),
    ("19121212-1212;" + "A" * 65 + ";B;SE2321000255-V2001;T;2020-01-01;", "högst 64"),
])
def test_bad_rows_are_rejected_with_their_line_and_reason_and_the_rest_is_kept(line: str, reason: str) -> None:
    result = read_export(export(GOOD.replace("19121212-1212", "19800101-0001"), line))
    assert [r.personnummer for r in result.rows] == ["198001010001"]
    [rejected] = result.rejected
    assert rejected.line == 3
    assert reason in rejected.reason


def test_a_row_that_is_not_utf8_is_rejected_alone() -> None:
    good = GOOD.encode()
    latin1 = "19800101-0001;Åke;Öst;SE2321000255-V2001;Läkare;2020-01-01;".encode("latin-1")
    result = read_export(HEADER.encode() + b"\n" + good + b"\n" + latin1 + b"\n")
    assert len(result.rows) == 1
    [rejected] = result.rejected
    assert rejected.line == 3 and "UTF-8" in rejected.reason and "0xC5" in rejected.reason


def test_duplicated_persons_are_set_aside_entirely() -> None:
    result = read_export(export(GOOD, GOOD.replace("Tolvan;", "Tolvan2;"),
                                GOOD.replace("19121212-1212", "19800101-0001")))
    assert [r.personnummer for r in result.rows] == ["198001010001"]
    assert [r.line for r in result.rejected] == [2, 3]
    assert all("2, 3" in r.reason and r.personnummer == "191212121212" for r in result.rejected)


def test_missing_columns_refuse_the_whole_file_with_the_names() -> None:
    with pytest.raises(HrExportError, match="employment_end"):
        read_export(export(GOOD, header=HEADER.replace(";employment_end", "")))


def test_empty_file_and_unreadable_path_are_clear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HrExportError, match="tom"):
        read_export(b"")
    with pytest.raises(HrExportError, match="kan inte läsas"):
        read_export(tmp_path / "missing.csv")


def test_comma_delimiter_bom_quotes_and_optional_columns() -> None:
    text = ("\ufeffpersonnummer,given_name,surname,unit_hsa_id,title,employment_start,employment_end,hsa_title,mail\n"
            '191212121212,Tolvan,"Tolvansson, d.y.",SE2321000255-V2001,"Läkare, ST",2020-01-01,2030-12-31,'
            "Läkare|Specialistläkare,tolvan@example.org\n")
    [row] = read_export(text.encode()).rows
    assert row.surname == "Tolvansson, d.y." and row.title == "Läkare, ST"
    assert row.hsa_titles == ("Läkare", "Specialistläkare") and row.mail == "tolvan@example.org"
    assert row.employment_end == dt.date(2030, 12, 31)
