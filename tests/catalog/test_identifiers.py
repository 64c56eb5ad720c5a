"""HSA-ID and personnummer validation (DOMAIN §2.4), table-driven plus property-based."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from catalog.identifiers import (
    InvalidIdentifier,
    hsa_org_number,
    is_samordningsnummer,
    make_hsa_id,
    validate_hsa_id,
    validate_org_number,
    validate_personnummer,
)

VALID_HSA = [
    "SE2321000255-ABC1",
    "SE2321000131-E000000000001",  # VGR's vårdgivare (DOMAIN §2.4)
    "SE165565594230-1000",  # Inera's national logical address, 16-prefixed org number
    "SE2321000255-bup-malmo",
    "SE2321000255-a b'()+,-./:=?",  # every PrintableString punctuation character
    "SE2321000255-" + "X" * 18,  # exactly 31 characters
]


@pytest.mark.parametrize("value", VALID_HSA)
def test_valid_hsa_ids_pass_unchanged(value: str) -> None:
    assert validate_hsa_id(value) == value


@pytest.mark.parametrize(("value", "says"), [
    ("", "saknas"),
    ("SE2321000255-" + "X" * 19, "32 tecken"),
    ("DK2321000255-ABC1", "SE"),
    ("se2321000255-ABC1", "SE"),
    ("SE232100025-ABC1", "formen"),
    ("SE2321000255ABC1", "formen"),
    ("SE2321000256-ABC1", "kontrollsiffra"),
    ("SE2321000255-", "lokal del"),
    ("SE2321000255-ÅSA", "'Å'"),
    ("SE2321000255-a*b", "'*'"),
    ("SE2321000255-x)(cn=*", "'*'"),
    (" SE2321000255-ABC1", "mellanslag"),
    ("SE172321000255-ABC1", "formen"),
])
def test_invalid_hsa_ids_say_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_hsa_id(value)
    assert says in caught.value.message
    assert caught.value.value == value


def test_org_number_inside_hsa_id() -> None:
    assert hsa_org_number("SE165565594230-1000") == "5565594230"
    assert validate_org_number("232100-0255") == "2321000255"
    assert make_hsa_id("232100-0255", "V1") == "SE2321000255-V1"
    with pytest.raises(InvalidIdentifier, match="kontrollsiffra"):
        validate_org_number("2321000256")


@pytest.mark.parametrize(("value", "expected"), [
    ("19121212-1212", "191212121212"),
    ("191212121212", "191212121212"),
    ("121212+1212", "191212121212"),  # '+' = 100 years or older
    ("19800101-0001", "198001010001"),
    ("19701063-2391", "197010632391"),  # samordningsnummer: day 3 + 60
])
def test_valid_personnummer_normalise_to_12_digits(value: str, expected: str) -> None:
    assert validate_personnummer(value) == expected


@pytest.mark.parametrize(("value", "says"), [
    ("", "saknas"),
    ("19121212-1213", "kontrollsiffra"),
    ("19650229-1234", "datum"),  # 1965 is no leap year
    ("19121212-123", "12 siffror"),
    ("1912121a-1212", "siffror"),
])
def test_invalid_personnummer_say_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_personnummer(value)
    assert says in caught.value.message


def test_samordningsnummer_is_recognised() -> None:
    assert is_samordningsnummer(validate_personnummer("19701063-2391"))
    assert not is_samordningsnummer(validate_personnummer("19121212-1212"))


@given(st.integers(min_value=0, max_value=999_999_999), st.from_regex(r"[0-9A-Za-z'()+,\-./:=? ]{1,17}",
                                                                       fullmatch=True))
def test_any_valid_org_number_and_printable_local_part_is_accepted(body: int, local: str) -> None:
    digits = f"{body:09d}"
    org = digits + luhn.calc_check_digit(digits)
    hsa_id = f"SE{org}-{local}"
    if hsa_id != hsa_id.strip():  # only surrounding whitespace is refused; inner spaces are PrintableString
        with pytest.raises(InvalidIdentifier):
            validate_hsa_id(hsa_id)
    else:
        assert validate_hsa_id(hsa_id) == hsa_id


@given(st.text(min_size=1, max_size=40))
def test_validation_never_crashes_and_rejections_carry_a_message(text: str) -> None:
    for validate in (validate_hsa_id, validate_personnummer):
        try:
            validate(text)
        except InvalidIdentifier as exc:
            assert exc.message
