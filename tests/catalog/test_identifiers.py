"""HSA-ID and personnummer validation (DOMAIN §2.4), table-driven plus property-based."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from catalog.identifiers import (
    HsaId,
    InvalidIdentifier,
    format_personnummer,
    hsa_org_number,
    is_hsa_id,
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
def test_valid_hsa_ids_pass_upper_cased_once(value: str) -> None:
    # HSA compares identities without regard to case; the value type upper-cases once where an id enters (D-57)
    valid = validate_hsa_id(value)
    assert (valid, type(valid)) == (value.upper(), HsaId)
    assert HsaId(valid) == valid == HsaId(value.lower())


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


@pytest.mark.parametrize("value", ["SE2321000255-A\x00B", "SE2321000255-\x1bABC", "SE2321000255-ABC\x7f"])
def test_a_control_character_in_an_hsa_id_is_named_as_such(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_hsa_id(value)
    assert caught.value.message == "HSA-id innehåller otillåtna styrtecken; skriv det med vanliga tecken."
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
        with pytest.raises(InvalidIdentifier, match="mellanslag"):
            validate_hsa_id(hsa_id)
    else:
        assert validate_hsa_id(hsa_id) == hsa_id.upper()


@given(st.text(min_size=1, max_size=40))
def test_validation_never_crashes_and_rejections_carry_a_message(text: str) -> None:
    for validate in (validate_hsa_id, validate_personnummer):
        try:
            validate(text)
        except InvalidIdentifier as exc:
            assert exc.message


def _with_check_digit(eleven: str) -> str:
    """YYYYMMDDNNN plus its Luhn check digit (computed over the last nine digits, as Skatteverket does)."""
    return eleven + luhn.calc_check_digit(eleven[2:])


@pytest.mark.parametrize("day", ["61", "60", "91", "92"])
def test_samordningsnummer_days_are_day_plus_60(day: str) -> None:
    number = _with_check_digit(f"198003{day}238")
    if day in {"61", "91"}:  # the 1st and the 31st of March
        assert validate_personnummer(number) == number and is_samordningsnummer(number)
    else:  # day 60 would be the 0th, day 92 the 32nd
        with pytest.raises(InvalidIdentifier, match="inget giltigt datum"):
            validate_personnummer(number)


def test_a_personnummer_for_the_first_of_a_month_is_no_samordningsnummer() -> None:
    number = _with_check_digit("19800301238")
    assert validate_personnummer(number) == number and not is_samordningsnummer(number)


@freeze_time("2026-11-25")
@pytest.mark.parametrize(("ten", "century"), [
    ("260105-123", "20"),  # born this year (January 2026): this century
    ("261124-123", "20"),  # born yesterday
    ("270105-123", "19"),  # a year "after" this one can only be 1927
    ("250105-123", "20"),
    ("000105-123", "20"),
    ("990105-123", "19"),
])
def test_a_ten_digit_personnummer_gets_its_century_from_today(ten: str, century: str) -> None:
    digits = ten.replace("-", "")
    number = digits + luhn.calc_check_digit(digits)
    assert validate_personnummer(f"{number[:6]}-{number[6:]}") == century + number
    older = f"{int(century) - 1:02d}"  # '+' is written from the year a person turns 100
    assert validate_personnummer(f"{number[:6]}+{number[6:]}") == older + number


@pytest.mark.parametrize("value", ["SE2321000255-A_B", "SE2321000255-_", "SE2321000255-ABC_"])
def test_an_underscore_is_no_printable_string_character(value: str) -> None:
    with pytest.raises(InvalidIdentifier, match=r"otillåtna tecken \('_'\)"):
        validate_hsa_id(value)
    assert not is_hsa_id(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("2321000255", "2321000255"),
    ("232100-0255", "2321000255"),
    ("162321000255", "2321000255"),  # the 16 prefix of Skatteverket's 12-digit form
    ("16232100-0255", "2321000255"),
    (" 232100-0255 ", "2321000255"),
    ("556559-4230", "5565594230"),
])
def test_valid_org_numbers_normalise_to_ten_digits(value: str, expected: str) -> None:
    assert validate_org_number(value) == expected


@pytest.mark.parametrize(("value", "says"), [
    ("2321000256", "fel kontrollsiffra"),  # Region Skåne's number with the last digit changed
    ("5565594231", "fel kontrollsiffra"),
    ("162321000256", "fel kontrollsiffra"),
    ("232100025", "ska ha 10 siffror"),
    ("23210002550", "ska ha 10 siffror"),
    ("172321000255", "ska ha 10 siffror"),  # 12 digits need the prefix 16
    ("232100-02a5", "bara innehålla siffror"),
    ("", "bara innehålla siffror"),
    ("2321-000255", "NNNNNN-NNNN"),  # the hyphen goes before the last four digits
    ("232100--0255", "NNNNNN-NNNN"),
    ("-2321000255", "NNNNNN-NNNN"),
])
def test_invalid_org_numbers_say_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        validate_org_number(value)
    assert says in caught.value.message and caught.value.value == value


def test_make_hsa_id_refuses_a_bad_org_number_or_local_part() -> None:
    with pytest.raises(InvalidIdentifier, match="fel kontrollsiffra"):
        make_hsa_id("232100-0256", "V1")
    with pytest.raises(InvalidIdentifier, match="otillåtna tecken"):
        make_hsa_id("232100-0255", "V_1")


@pytest.mark.parametrize(("validate", "value", "message"), [
    (validate_hsa_id, "", "HSA-id saknas."),
    (validate_hsa_id, "SE2321000255-A ", "HSA-id får inte börja eller sluta med mellanslag."),
    (validate_hsa_id, "SE2321000255-" + "X" * 19, "HSA-id är 32 tecken långt; högst 31 är tillåtet."),
    (validate_hsa_id, "DK2321000255-A", "HSA-id 'DK2321000255-A' ska börja med landskoden SE."),
    (validate_hsa_id, "SE23210002-A", "HSA-id 'SE23210002-A' ska ha formen SE + organisationsnummer (10 siffror, "
                                      "ev. med prefixet 16) + bindestreck + lokal del, t.ex. SE2321000255-ABC1."),
    (validate_hsa_id, "SE2321000256-A", "Organisationsnumret 2321000256 i HSA-id 'SE2321000256-A' har fel "
                                        "kontrollsiffra."),
    (validate_hsa_id, "SE2321000255-", "HSA-id 'SE2321000255-' saknar lokal del efter bindestrecket."),
    (validate_hsa_id, "SE2321000255-a*b_c*", "HSA-id 'SE2321000255-a*b_c*' innehåller otillåtna tecken ('*' '_'); "
                                             "tillåtna är A–Z, a–z, 0–9, mellanslag och ' ( ) + , - . / : = ?"),
    (validate_personnummer, "", "Personnummer saknas."),
    (validate_personnummer, "1912121a-1212", "Personnumret '1912121a-1212' får bara innehålla siffror och "
                                             "bindestreck."),
    (validate_personnummer, "1912121212121", "Personnumret '1912121212121' ska ha 12 siffror (ÅÅÅÅMMDD-NNNN) eller "
                                             "10 siffror."),
    (validate_personnummer, "19121312-1212", "Personnumret '19121312-1212' innehåller inget giltigt datum."),
    (validate_personnummer, "19121212-1213", "Personnumret '19121212-1213' har fel kontrollsiffra."),
    (validate_org_number, "2321-000255", "Organisationsnumret '2321-000255' skrivs NNNNNN-NNNN eller med 10 siffror "
                                         "utan bindestreck."),
    (validate_org_number, "23210002550", "Organisationsnumret '23210002550' ska ha 10 siffror (eller 12 med "
                                         "prefixet 16)."),
    (validate_org_number, "2321000256", "Organisationsnumret '2321000256' har fel kontrollsiffra."),
    (validate_org_number, "2321x00255", "Organisationsnumret '2321x00255' får bara innehålla siffror och "
                                        "bindestreck."),
])
def test_each_rejection_says_exactly_what_to_fix(validate, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    """The messages are shown beside the field the person typed into: they are the contract, word for word."""
    with pytest.raises(InvalidIdentifier) as caught:
        validate(value)
    assert (caught.value.message, caught.value.value, str(caught.value)) == (message, value, message)


def test_a_missing_personnummer_is_named_whatever_the_caller_passed() -> None:
    with pytest.raises(InvalidIdentifier, match="^Personnummer saknas.$") as caught:
        validate_personnummer(None)  # type: ignore[arg-type]
    assert caught.value.value == "None"
    with pytest.raises(InvalidIdentifier, match="^HSA-id saknas.$"):
        validate_hsa_id(None)  # type: ignore[arg-type]


def test_spaces_inside_a_personnummer_are_ignored() -> None:
    assert validate_personnummer("1912 1212 - 1212") == "191212121212"
    assert validate_personnummer(" 121212 1212 ") == "201212121212"  # 10 digits without "+": under 100


def test_is_hsa_id_answers_both_ways() -> None:
    assert is_hsa_id("SE2321000255-ABC1") is True
    assert is_hsa_id("SE2321000255-") is False


def test_a_personnummer_is_shown_with_its_hyphen() -> None:
    assert format_personnummer("191212121212") == "19121212-1212"


@freeze_time("2005-06-01")
def test_the_century_of_a_ten_digit_number_early_in_a_century() -> None:
    assert validate_personnummer("050101-1233")[:4] == "2005"  # born this year
    assert validate_personnummer("121212-1212")[:4] == "1912"  # "12" is after "05": the previous century
