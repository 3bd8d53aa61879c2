"""The API families a simulator serves, each registered by its own modules.

The simulator is layered, and imports only go down:

1. the application (``app``, ``cli``) puts the routes together;
2. the routes (``daraja_api``, ``openapi_api``, ``mz_api``, ``admin_api``, ``console_api``,
   ``phone_api``, ``simple_mpesa``) read requests and write answers;
3. one processing module per API family (``payments`` for Daraja, ``openapi_payments`` for
   Vodacom's OpenAPI, ``mz_payments`` for Vodacom Mozambique's own API) and the phone's ``ussd``;
4. the ledger and state they share (``state``, ``db``, ``ledger``, ``directory``, ``markets``,
   ``callbacks``, ``faults``, ``shared``, this registry ...).

A lower module never imports a higher one, and no family imports another
(tests/test_sim_layering.py). The state still has to find a family's hooks (which processor
resumes a pending request after a restart, what a family keeps per simulator, what it shows on
``/sim/admin/info``): each family's processing module adds a :class:`Family` here, and its routes
module a :class:`Routes`, when it is imported; ``app`` imports them all. Adding a family adds
files (and one import in ``app``) and touches no other family's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# The simulator (``state.Simulator``) is ``Any`` here: this module is below ``state``.
Processor = Callable[[Any, int], None]  # (simulator, transactions.id) -> None


@dataclass(frozen=True)
class Family:
    """One API family's processing hooks."""

    name: str  # "daraja", "openapi", "mz": also its key in /sim/admin/info and sim.family_state
    serves: Callable[[Any], bool]  # (markets.Market) -> whether that market's simulator serves it
    # transactions.api -> the processor that settles one of its pending rows (asynchronous mode,
    # and requests accepted before a stop)
    resume: Mapping[str, Processor] = field(default_factory=lambda: MappingProxyType({}))
    # (simulator) -> what the family keeps per simulator (sim.family_state[name]); run at start,
    # before pending rows are resumed
    start: Callable[[Any], Any] | None = None
    # (simulator) -> this family's section of /sim/admin/info (what a client is configured with)
    info: Callable[[Any], dict] | None = None
    # (simulator, base URL) -> lines for the start-up banner (`mpesa-sim serve`, `mpesa-sim info`)
    banner: Callable[[Any, str], list[str]] | None = None


@dataclass(frozen=True)
class Routes:
    """One API family's routes."""

    family: str
    build: Callable[[Any], Any]  # (markets.Market) -> a FastAPI APIRouter
    # (simulator) -> {name: security scheme} for the OpenAPI document
    schemes: Callable[[Any], dict] = lambda _sim: {}
    summary: str = ""  # what the routes are, for the application's description


_families: dict[str, Family] = {}
_routes: dict[str, Routes] = {}


def register(family: Family) -> Family:
    """Add (or replace: a module imported twice) a family."""
    _families[family.name] = family
    return family


def register_routes(routes: Routes) -> Routes:
    _routes[routes.family] = routes
    return routes


def serving(market) -> list[Family]:
    """The registered families this market's simulator serves, in registration order."""
    return [family for family in _families.values() if family.serves(market)]


def routes(market) -> list[Routes]:
    """The routes of the families this market serves."""
    served = {family.name for family in serving(market)}
    return [r for r in _routes.values() if r.family in served]


def resumer(api: str | None) -> Processor | None:
    """The processor of a pending transaction of this ``api``; None when no registered family
    claims it."""
    for family in _families.values():
        if api in family.resume:
            return family.resume[api]
    return None
