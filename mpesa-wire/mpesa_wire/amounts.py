"""Whole-unit amounts for B2C (shillings, birr, ...).

M-Pesa B2C moves whole units of the market's currency only. A fraction is never rounded or
truncated here: paying 999 for 999.50 silently is a wrong payment, so it is refused and a person
decides.
"""

import re
from decimal import Decimal, InvalidOperation

from .errors import InvalidAmount

_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def to_whole_units(amount, *, min_amount: int = 10, max_amount: int = 250_000, currency: str = "KES") -> int:
    """Return ``amount`` as an int of whole ``currency`` units, or raise :class:`InvalidAmount`."""
    if isinstance(amount, bool) or amount is None:
        raise InvalidAmount(f"Amount {amount!r} is not a number", "not_a_number")
    if isinstance(amount, float):
        # Money is never float here: 0.1 + 0.2 style errors would pay the wrong sum.
        raise InvalidAmount("Amount given as a float; pass a Decimal, an int or a string", "float")
    if isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, str):
        text = amount.strip()
        if not _NUMBER.fullmatch(text):
            raise InvalidAmount(f"Amount {amount!r} is not a number", "not_a_number")
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern only lets valid decimals through
            raise InvalidAmount(f"Amount {amount!r} is not a number", "not_a_number") from None
    else:
        raise InvalidAmount(f"Amount of type {type(amount).__name__} is not a number", "not_a_number")
    if not value.is_finite():
        raise InvalidAmount(f"Amount {amount!r} is not a number", "not_a_number")
    if value != value.to_integral_value():
        raise InvalidAmount(
            f"Amount {value} has a fraction of a unit; M-Pesa pays whole {currency} only", "fraction"
        )
    units = int(value)
    if units <= 0:
        raise InvalidAmount(f"Amount {units} must be positive", "not_positive")
    if units < min_amount:
        raise InvalidAmount(f"Amount {units} is below the minimum of {min_amount}", "below_minimum")
    if units > max_amount:
        raise InvalidAmount(f"Amount {units} is above the maximum of {max_amount}", "above_maximum")
    return units
