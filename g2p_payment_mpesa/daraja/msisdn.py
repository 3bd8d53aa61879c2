"""Kenyan mobile numbers in the 12-digit form B2C wants (``2547XXXXXXXX`` / ``2541XXXXXXXX``)."""

import re

import phonenumbers
from phonenumbers import PhoneNumberType

from .errors import InvalidMsisdn

# Separators people type in registries; anything else (letters, "*") makes the number unusable.
_SEPARATORS = re.compile(r"[\s\-.()/]")
_ALLOWED = re.compile(r"\+?[0-9]+")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normalise_msisdn(raw: str) -> str:
    """Return ``254XXXXXXXXX`` for a Kenyan mobile number, or raise :class:`InvalidMsisdn`.

    Accepts the spellings found in beneficiary registries: ``0712 345-678``, ``+254712345678``,
    ``254712345678``, ``00254712345678``, ``712345678`` and the newer ``01x`` numbers.
    """
    if raw is None or not isinstance(raw, str | int) or isinstance(raw, bool):
        raise InvalidMsisdn("No phone number", "empty")
    text = _SEPARATORS.sub("", str(raw))
    if not text:
        raise InvalidMsisdn("No phone number", "empty")
    if not _ALLOWED.fullmatch(text):
        raise InvalidMsisdn(f"Phone number {raw!r} contains characters other than digits", "characters")
    if text.startswith("00"):
        # International call prefix used in Europe and elsewhere; Kenya's own is 000.
        text = "+" + text.lstrip("0")
    digits = text.lstrip("+")
    if len(digits) < 9:
        raise InvalidMsisdn(f"Phone number {raw!r} is too short", "too_short")
    if len(digits) > 15:
        raise InvalidMsisdn(f"Phone number {raw!r} is too long", "too_long")
    try:
        number = phonenumbers.parse(text, "KE")
    except phonenumbers.NumberParseException:
        raise InvalidMsisdn(f"Phone number {raw!r} is not a phone number", "invalid") from None
    if number.country_code != 254:
        raise InvalidMsisdn(
            f"Phone number {raw!r} is not Kenyan (+{number.country_code}): M-Pesa Kenya pays only +254",
            "not_kenyan",
        )
    length = len(str(number.national_number))
    if length < 9:
        raise InvalidMsisdn(f"Phone number {raw!r} is too short", "too_short")
    if length > 9:
        raise InvalidMsisdn(f"Phone number {raw!r} is too long", "too_long")
    if not phonenumbers.is_valid_number(number):
        raise InvalidMsisdn(f"Phone number {raw!r} is not a valid Kenyan number", "invalid")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidMsisdn(
            f"Phone number {raw!r} is not a mobile number (landline or service)", "not_mobile"
        )
    result = "254%d" % number.national_number
    if len(result) != 12:  # pragma: no cover - guarded by the length checks above
        raise InvalidMsisdn(f"Phone number {raw!r} is not a valid Kenyan number", "invalid")
    return result


def msisdn_matches(reported: str | None, expected: str) -> bool:
    """Whether a number M-Pesa reports in a result is consistent with the 12-digit one paid.

    Newer Daraja answers mask digits (``2547****5678``, ``0712***678``): masked positions match
    anything, visible digits must match. A missing or unreadable number matches nothing.
    """
    if not reported or not expected:
        return False
    text = _SEPARATORS.sub("", str(reported)).lstrip("+")
    if "*" not in text:
        try:
            return normalise_msisdn(text) == expected
        except InvalidMsisdn:
            return False
    if text.startswith("0"):
        text = "254" + text[1:]
    elif len(text) == 9:
        text = "254" + text
    if len(text) != len(expected) or not re.fullmatch(r"[0-9*]+", text):
        return False
    return all(got in ("*", want) for got, want in zip(text, expected, strict=True))
