"""The blind index: one value per person, whichever form of their ID number a caller sends."""

from __future__ import annotations

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec, normalize_id
from gateway.models.identifiers import validate_id_number


def test_a_15_digit_id_has_the_blind_index_of_its_18_digit_form() -> None:
    """Review r10: the library indexes the converted 18-digit number, the API indexed what the caller sent."""
    pii = PiiCodec(GatewayKeys.generate())
    old = "370102850601123"
    stored, _ = validate_id_number("111", old)  # what the ledger and the library keep
    assert len(stored) == 18 and normalize_id(old) == stored
    assert pii.bidx(old) == pii.bidx(stored) == pii.bidx(" ３７０１０２８５０６０１１２３ ")  # full-width, spaces


def test_fifteen_digits_that_are_no_resident_id_stay_as_they_are() -> None:
    pii = PiiCodec(GatewayKeys.generate())
    registration = "370102991399123"  # month 13: no birth date, so no ID to convert (an old 注册号, say)
    assert normalize_id(registration) == registration
    assert pii.bidx(registration) != pii.bidx("370102850601123")
    assert normalize_id("91370102ma3c0q8x7k") == "91370102MA3C0Q8X7K"  # everything else as before


def test_invisible_format_characters_copied_with_a_number_are_no_part_of_it() -> None:
    """A zero-width space (or joiner, or BOM) pasted with the number filed a refused request under a blind index no
    holder reads: the refusal never reached the holder's "who used my data" log."""
    pii = PiiCodec(GatewayKeys.generate())
    number = "11010519491231002X"
    for invisible in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"):
        assert normalize_id(number + invisible) == number
        assert pii.bidx(invisible + number[:9] + invisible + number[9:]) == pii.bidx(number)
