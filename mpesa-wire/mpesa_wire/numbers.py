"""Mobile numbers in the form B2C wants: country code and national number, no ``+``
(Kenya: ``2547XXXXXXXX`` / ``2541XXXXXXXX``). The market's number plan says which country, and
which mobile ranges its M-Pesa pays where that is public (``mpesa_wire.markets``)."""

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from .errors import InvalidMsisdn

# Separators people type in registries; anything else (letters, "*") makes the number unusable.
_SEPARATORS = re.compile(r"[\s\-.()/]")
_ALLOWED = re.compile(r"\+?[0-9]+")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


@dataclass(frozen=True)
class NumberPlan:
    """A market's numbers: ``prefixes`` are the national-number prefixes its M-Pesa pays (empty:
    every mobile number of the country)."""

    country_code: int
    region: str  # phonenumbers' region code
    adjective: str  # "Kenyan": in messages and in the reason "not_kenyan"
    market: str  # "Kenya"
    national_length: int = 9
    prefixes: tuple[str, ...] = ()


KENYA = NumberPlan(254, "KE", "Kenyan", "Kenya")


def normalise_msisdn(raw: str, plan: NumberPlan = KENYA) -> str:
    """Return ``254XXXXXXXXX`` for a Kenyan mobile number (the plan's country code and national
    number for another market), or raise :class:`InvalidMsisdn`.

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
    if len(digits) < plan.national_length:
        raise InvalidMsisdn(f"Phone number {raw!r} is too short", "too_short")
    if len(digits) > 15:
        raise InvalidMsisdn(f"Phone number {raw!r} is too long", "too_long")
    try:
        number = phonenumbers.parse(text, plan.region)
    except phonenumbers.NumberParseException:
        raise InvalidMsisdn(f"Phone number {raw!r} is not a phone number", "invalid") from None
    if number.country_code != plan.country_code:
        raise InvalidMsisdn(
            f"Phone number {raw!r} is not {plan.adjective} (+{number.country_code}): M-Pesa "
            f"{plan.market} pays only +{plan.country_code}",
            f"not_{plan.adjective.lower()}",
        )
    national = str(number.national_number)
    if len(national) < plan.national_length:
        raise InvalidMsisdn(f"Phone number {raw!r} is too short", "too_short")
    if len(national) > plan.national_length:
        raise InvalidMsisdn(f"Phone number {raw!r} is too long", "too_long")
    if not phonenumbers.is_valid_number(number):
        raise InvalidMsisdn(f"Phone number {raw!r} is not a valid {plan.adjective} number", "invalid")
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidMsisdn(
            f"Phone number {raw!r} is not a mobile number (landline or service)", "not_mobile"
        )
    if plan.prefixes and not national.startswith(plan.prefixes):
        # Written as the country writes them: with its trunk prefix (Kenya's 0), or none (Lesotho).
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(plan.region)
        trunk = (metadata.national_prefix if metadata else None) or ""
        raise InvalidMsisdn(
            f"Phone number {raw!r} is not on M-Pesa {plan.market}'s network (numbers starting "
            f"{' / '.join(trunk + prefix for prefix in plan.prefixes)})",
            "not_mpesa",
        )
    return f"{plan.country_code}{national}"


def msisdn_matches(reported: str | None, expected: str, plan: NumberPlan = KENYA) -> bool:
    """Whether a number M-Pesa reports in a result is consistent with the 12-digit one paid.

    Newer Daraja answers mask digits (``2547****5678``, ``0712***678``): masked positions match
    anything, visible digits must match. A missing or unreadable number matches nothing.
    """
    if not reported or not expected:
        return False
    text = _SEPARATORS.sub("", str(reported)).lstrip("+")
    if "*" not in text:
        try:
            return normalise_msisdn(text, plan) == expected
        except InvalidMsisdn:
            return False
    if text.startswith("0"):
        text = f"{plan.country_code}{text[1:]}"
    elif len(text) == plan.national_length:
        text = f"{plan.country_code}{text}"
    if len(text) != len(expected) or not re.fullmatch(r"[0-9*]+", text):
        return False
    return all(got in ("*", want) for got, want in zip(text, expected, strict=True))
