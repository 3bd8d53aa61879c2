"""The wire layer: how a payer talks to M-Pesa, with no Odoo import.

The Odoo addon and the G2P Bridge connector call one interface (:class:`~mpesa_wire.interface.Family`
and its client) for the market's API family, and read every answer in the outcome classes here.
What is shared by every family lives at this level (markets, numbers, amounts, names, outcomes,
errors, throttle, token cache); each family is one subpackage (``daraja``, ``openapi``). Everyone
imports it as ``mpesa_wire``.
"""

from . import daraja, markets, openapi, vodacom_mz
from .amounts import to_whole_units
from .errors import AuthError, InvalidAmount, InvalidMsisdn, MalformedPayload, TokenUnavailable, WireError
from .interface import Client, Family
from .messages import B2CRequest, ReversalRequest
from .names import names_match
from .numbers import NumberPlan, msisdn_matches, normalise_msisdn
from .outcomes import OutcomeKind, ResultClass, ReversalClass, SubmitOutcome
from .throttle import NO_THROTTLE, NoThrottle, Throttle
from .token_cache import TOKEN_CACHE, TokenCache

FAMILIES = {family.name: family for family in (daraja.FAMILY, openapi.FAMILY, vodacom_mz.FAMILY)}


def family(name: str) -> Family:
    """The API family of this name; KeyError names the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown M-Pesa API family {name!r}; known: {', '.join(FAMILIES)}") from None


def for_market(market, api_family: str | None = None) -> Family:
    """The API family a market (a :class:`~mpesa_wire.markets.Market` or its code) pays through:
    ``api_family`` where the market offers it (KeyError otherwise), else the market's default."""
    if isinstance(market, str) or market is None:
        market = markets.market(market)
    return family(market.family_name(api_family))


__all__ = [
    "FAMILIES",
    "NO_THROTTLE",
    "TOKEN_CACHE",
    "AuthError",
    "B2CRequest",
    "Client",
    "Family",
    "InvalidAmount",
    "InvalidMsisdn",
    "MalformedPayload",
    "NoThrottle",
    "NumberPlan",
    "OutcomeKind",
    "ResultClass",
    "ReversalClass",
    "ReversalRequest",
    "SubmitOutcome",
    "Throttle",
    "TokenCache",
    "TokenUnavailable",
    "WireError",
    "family",
    "for_market",
    "markets",
    "msisdn_matches",
    "names_match",
    "normalise_msisdn",
    "to_whole_units",
]
