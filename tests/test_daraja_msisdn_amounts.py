"""Pre-flight checks: Kenyan mobile numbers, whole-shilling amounts, ResultCode classes."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpesa_wire import (
    InvalidAmount,
    InvalidMsisdn,
    ResultClass,
    msisdn_matches,
    normalise_msisdn,
    to_whole_units,
)
from mpesa_wire.daraja import classify_result_code, describe_result_code


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0712 345-678", "254712345678"),
        ("0712345678", "254712345678"),
        ("+254712345678", "254712345678"),
        ("+254 712 345 678", "254712345678"),
        ("254712345678", "254712345678"),
        ("00254712345678", "254712345678"),
        ("712345678", "254712345678"),
        ("(0712) 345.678", "254712345678"),
        (" 0712345678\t", "254712345678"),
        ("0110123456", "254110123456"),
        ("+254113638169", "254113638169"),
        ("113638169", "254113638169"),
        ("0799000111", "254799000111"),
    ],
)
def test_kenyan_mobile_numbers_are_normalised(raw, expected):
    assert normalise_msisdn(raw) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("+255712345678", "not_kenyan"),  # Tanzania
        ("+256712345678", "not_kenyan"),  # Uganda
        ("+14155552671", "not_kenyan"),
        ("0201234567", "not_mobile"),  # Nairobi landline
        ("+254201234567", "not_mobile"),
        ("07123", "too_short"),
        ("07123456", "too_short"),
        ("07123456789", "too_long"),
        ("2547123456789", "too_long"),
        ("0712345678901234567", "too_long"),
        ("07I2345678", "characters"),
        ("0712*45678", "characters"),
        ("tel:0712345678", "characters"),
        ("+2540712345", "too_short"),
        ("0912345678", "invalid"),
        ("0800123456", "invalid"),
        ("٠٧١٢٣٤٥٦٧٨", "characters"),  # Arabic-Indic digits: not what a Kenyan registry holds
    ],
)
def test_unusable_numbers_are_refused_with_a_reason(raw, code):
    with pytest.raises(InvalidMsisdn) as info:
        normalise_msisdn(raw)
    assert info.value.code == code
    assert info.value.reason == str(info.value) and info.value.reason
    assert isinstance(info.value, ValueError)


@given(st.from_regex(r"0(7[0-9]|1[01])[0-9]{7}", fullmatch=True))
def test_normalised_numbers_are_12_digits_and_stable(raw):
    try:
        normalised = normalise_msisdn(raw)
    except InvalidMsisdn as exc:
        # Some 07x/01x ranges are unallocated: refused, never mangled.
        assert exc.code in ("invalid", "not_mobile")
        return
    assert len(normalised) == 12 and normalised.isdigit() and normalised.startswith("254")
    assert normalised[3:] == raw[1:]
    assert normalise_msisdn(normalised) == normalised
    assert normalise_msisdn("+" + normalised) == normalised


@pytest.mark.parametrize(
    "amount, expected",
    [
        (10, 10),
        (250_000, 250_000),
        (Decimal("500"), 500),
        (Decimal("500.00"), 500),
        (Decimal("5E+2"), 500),
        ("500", 500),
        (" 1500.00 ", 1500),
        ("+20", 20),
    ],
)
def test_whole_shillings_are_accepted(amount, expected):
    result = to_whole_units(amount)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "amount, code",
    [
        (500.0, "float"),
        (0.1, "float"),
        (True, "not_a_number"),
        (None, "not_a_number"),
        ("abc", "not_a_number"),
        ("1e3", "not_a_number"),
        ("1,000", "not_a_number"),
        ("٥٠٠", "not_a_number"),
        ("", "not_a_number"),
        ([500], "not_a_number"),
        (Decimal("NaN"), "not_a_number"),
        (Decimal("Infinity"), "not_a_number"),
        (Decimal("500.50"), "fraction"),
        ("999.5", "fraction"),
        (Decimal("10.001"), "fraction"),
        (0, "not_positive"),
        (-50, "not_positive"),
        ("-50", "not_positive"),
        (9, "below_minimum"),
        (250_001, "above_maximum"),
    ],
)
def test_unpayable_amounts_are_refused_with_a_reason(amount, code):
    with pytest.raises(InvalidAmount) as info:
        to_whole_units(amount)
    assert info.value.code == code and info.value.reason


def test_limits_are_configurable():
    assert to_whole_units(150_001, max_amount=150_001) == 150_001
    with pytest.raises(InvalidAmount, match="maximum of 150000"):
        to_whole_units(150_001, max_amount=150_000)
    assert to_whole_units(1, min_amount=1) == 1
    with pytest.raises(InvalidAmount, match="minimum of 50"):
        to_whole_units("49", min_amount=50)


@given(st.decimals(min_value=-(10**7), max_value=10**7, allow_nan=False, allow_infinity=False, places=2))
def test_amount_is_never_rounded(amount):
    try:
        result = to_whole_units(amount)
    except InvalidAmount as exc:
        assert amount != amount.to_integral_value() or amount <= 0 or not 10 <= amount <= 250_000, exc.reason
        return
    assert Decimal(result) == amount


@given(st.integers(min_value=10, max_value=250_000))
def test_every_amount_in_limits_round_trips_as_text(amount):
    assert to_whole_units(str(amount)) == amount
    assert to_whole_units(f"{amount}.00") == amount


@pytest.mark.parametrize(
    "code, expected",
    [
        (0, ResultClass.PAID),
        ("0", ResultClass.PAID),
        (" 0 ", ResultClass.PAID),
        (0.0, ResultClass.PAID),
        (17, ResultClass.TRANSIENT),
        ("26", ResultClass.TRANSIENT),
        (1, ResultClass.FAILED),
        ("2001", ResultClass.FAILED),
        (2040, ResultClass.FAILED),
        ("SFC_IC0003", ResultClass.FAILED),
        ("R002", ResultClass.FAILED),
        ("R003", ResultClass.FAILED),
        ("1037", ResultClass.FAILED),
        ("00", ResultClass.FAILED),
        ("99999", ResultClass.FAILED),
    ],
)
def test_result_code_classes(code, expected):
    assert classify_result_code(code) is expected


@pytest.mark.parametrize(
    "code, words",
    [
        (0, "Paid"),
        (1, "Insufficient funds"),
        ("2", "below the minimum"),
        ("3", "above the maximum"),
        ("4", "daily"),
        ("8", "maximum balance"),
        ("11", "invalid state"),
        ("15", "duplicate"),
        ("17", "temporary"),
        ("21", "not allowed"),
        ("26", "busy"),
        ("2001", "Initiator information invalid"),
        ("2006", "account status"),
        ("2028", "B2C"),
        ("2032", "receipt"),
        ("2033", "OriginatorConversationID"),
        ("2040", "not a registered M-Pesa customer"),
        ("8006", "locked"),
        ("SFC_IC0003", "phone number"),
        ("R002", "ID type"),
        ("R003", "ID number"),
        ("4242", "M-Pesa result code 4242"),
    ],
)
def test_result_code_descriptions(code, words):
    assert words in describe_result_code(code)


@pytest.mark.parametrize("code", [None, True, 1.5])
def test_result_code_must_be_a_code(code):
    with pytest.raises(ValueError):
        classify_result_code(code)


@pytest.mark.parametrize(
    "reported, expected, matches",
    [
        ("254712345678", "254712345678", True),
        ("0712345678", "254712345678", True),
        ("+254 712 345 678", "254712345678", True),
        ("254712345679", "254712345678", False),
        ("2547****5678", "254712345678", True),
        ("2547****5679", "254712345678", False),
        ("0712***678", "254712345678", True),
        ("0712***670", "254712345678", False),
        ("2547***5678", "254712345678", False),  # wrong length
        ("", "254712345678", False),
        (None, "254712345678", False),
        ("JANE DOE", "254712345678", False),
    ],
)
def test_reported_number_matches_the_paid_one(reported, expected, matches):
    assert msisdn_matches(reported, expected) is matches
