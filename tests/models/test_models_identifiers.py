from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from stdnum.cn import ric, uscc

from gateway.models import (
    IdentifierError,
    is_known_division,
    resident_id_check_char,
    uscc_check_char,
    validate_division_code,
    validate_id_number,
    validate_resident_id,
    validate_uscc,
)


def rid(head14: str, seq: str = "123") -> str:
    body = head14 + seq
    return body + resident_id_check_char(body)


def rules(warnings):
    return [w.rule for w in warnings]


# --- resident ID -----------------------------------------------------------------------------------------

def test_domain_example_is_accepted_without_a_finding():
    """DOMAIN.md: 310115 dates from 1992, its holder was born in 1985 — an ID carries the code in use when it was
    issued, so a code introduced after the birth year is legitimate (stdnum's full validate rejects it)."""
    value, warnings = validate_resident_id("310115198506011233")
    assert value == "310115198506011233" and warnings == []
    with pytest.raises(Exception):  # what stdnum's full validate would have done
        ric.validate("310115198506011233")


def test_a_place_code_retired_before_the_birth_year_is_a_finding():
    value, warnings = validate_resident_id("370181201801011235")  # 章丘市 (1992-2016), born 2018
    assert value == "370181201801011235"
    assert rules(warnings) == ["resident_id.place_code"]
    assert "retired before the holder's birth year" in warnings[0].message
    assert "370181" not in warnings[0].message and "2018" not in warnings[0].message  # flags travel unsealed


def test_valid_id_without_warnings():
    assert validate_resident_id("360426199101010071") == ("360426199101010071", [])


def test_check_char_agrees_with_stdnum():
    for head in ("11010119900307", "44030519851231", "51010420000229", "31011519930101"):
        for seq in ("001", "456", "999"):
            value = rid(head, seq)
            assert ric.calc_check_digit(value) == value[-1]


def test_normalisation_full_width_spaces_and_lower_x():
    value = rid("11010119900307", "002")
    x_value = next(v for v in (rid("11010119900307", f"{n:03d}") for n in range(1000)) if v[-1] == "X")
    full = "".join(chr(ord(c) + 0xFEE0) for c in value)
    assert validate_resident_id(full)[0] == value
    assert validate_resident_id(" " + value[:6] + "\u3000" + value[6:] + "\t")[0] == value
    assert validate_resident_id(x_value.lower())[0] == x_value


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("36042619910101007", "resident_id.length"),
        ("3604261991010100711", "resident_id.length"),
        ("", "resident_id.length"),
        ("36042619910101A071", "resident_id.format"),
        ("36042619910101007Y", "resident_id.format"),
        ("360426199101010072", "resident_id.checksum"),
        ("36042619910101007X", "resident_id.checksum"),
    ],
)
def test_resident_id_rejections(value, rule):
    with pytest.raises(IdentifierError) as info:
        validate_resident_id(value)
    assert info.value.rule == rule
    assert info.value.message


@pytest.mark.parametrize(
    "head",
    ["11010119900230",  # Feb 30
     "11010119900431",  # Apr 31
     "11010119001301",  # month 13
     "11010118490101",  # before 1850
     "11010119990229"],  # not a leap year
)
def test_impossible_birth_dates_are_rejected_even_with_a_good_checksum(head):
    with pytest.raises(IdentifierError) as info:
        validate_resident_id(rid(head))
    assert info.value.rule == "resident_id.birth_date"


def test_future_birth_date_is_rejected():
    future = (date.today() + timedelta(days=400)).strftime("%Y%m%d")
    with pytest.raises(IdentifierError) as info:
        validate_resident_id(rid("110101" + future))
    assert info.value.rule == "resident_id.birth_date"


def test_leap_day_and_1850_are_fine():
    assert validate_resident_id(rid("11010120000229"))[1] == []
    validate_resident_id(rid("11010118500101"))  # an old code at most warns


def test_unknown_place_code_warns():
    value, warnings = validate_resident_id(rid("99999919900101"))
    assert rules(warnings) == ["resident_id.place_code"]
    assert "not in GB/T 2260" in warnings[0].message


def test_fifteen_digit_id_is_converted_with_a_warning():
    value, warnings = validate_resident_id("360426910101007")
    assert value == "360426199101010071"
    assert rules(warnings) == ["resident_id.converted_15"]
    assert validate_resident_id(value)[0] == value


@pytest.mark.parametrize(("value", "rule"), [("360426910230007", "resident_id.birth_date"),
                                             ("36042691010100A", "resident_id.format")])
def test_bad_fifteen_digit_ids(value, rule):
    with pytest.raises(IdentifierError) as info:
        validate_resident_id(value)
    assert info.value.rule == rule


# --- USCC ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["91110000600037341L", "9111 0000 6000 3734 1l", "91110000-600037341L",
                                   "９１１１００００６０００３７３４１Ｌ"])
def test_uscc_good(value):
    assert validate_uscc(value) == ("91110000600037341L", [])


def test_uscc_agrees_with_stdnum_and_accepts_letter_authorities():
    for body in ("9131011500000000A", "1231000042500074X", "N2330105MF0000000", "Y1110000MA0000000"):
        code = body + uscc_check_char(body)
        assert validate_uscc(code)[0] == code
        assert uscc.calc_check_digit(code) == code[-1]


@pytest.mark.parametrize(
    ("value", "rule"),
    [("9111000060003734", "uscc.length"), ("91110000600037341LL", "uscc.length"),
     ("91110000600037341I", "uscc.charset"), ("911100006000373O1L", "uscc.charset"),
     ("91AB0000600037341L", "uscc.charset"), ("91110000600037341M", "uscc.checksum")],
)
def test_uscc_bad(value, rule):
    with pytest.raises(IdentifierError) as info:
        validate_uscc(value)
    assert info.value.rule == rule


# --- division codes ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["310115", "110000", "310115001000", "110103"])
def test_division_known(value):
    assert validate_division_code(value) == (value, [])


def test_division_unknown_warns():
    assert rules(validate_division_code("999999")[1]) == ["division.unknown"]
    assert is_known_division("310115") and not is_known_division("999999")


@pytest.mark.parametrize("value", ["31011", "3101150", "31011A", "", "3101150010"])
def test_division_format(value):
    with pytest.raises(IdentifierError) as info:
        validate_division_code(value)
    assert info.value.rule == "division.format"


# --- by ID type -------------------------------------------------------------------------------

def test_validate_id_number_dispatches_on_type():
    assert validate_id_number("111", "360426199101010071") == ("360426199101010071", [])
    assert validate_id_number("001", "91110000600037341l")[0] == "91110000600037341L"
    assert validate_id_number("414", " E1234\u30005678 ")[0] == "E12345678"
    with pytest.raises(IdentifierError) as info:
        validate_id_number("111", "360426199101010072")
    assert info.value.rule == "resident_id.checksum"
    with pytest.raises(IdentifierError) as info:
        validate_id_number("001", "91110000600037341M")
    assert info.value.rule == "uscc.checksum"


@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_empty_id_number(value):
    with pytest.raises(IdentifierError) as info:
        validate_id_number("414", value)
    assert info.value.rule == "id_number.empty"
