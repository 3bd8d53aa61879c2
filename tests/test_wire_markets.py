"""The wire layer's one interface, for every Daraja market, against the real simulator of that market
(the OpenAPI markets: tests/test_wire_openapi.py).

The addon reaches M-Pesa only through ``wire.for_market(market)``: a config from the manager's
settings, a client (submit, status, balance, reversal) and the readers of what M-Pesa posts back,
all answering in the outcome classes. Each market here runs its own simulator process over HTTP.
"""

from __future__ import annotations

import ast
import base64
import itertools
import os
import uuid
from pathlib import Path

import pytest
import requests

import mpesa_wire as wire
from mpesa_sim.testing import CallbackSink, RunningSimulator, start_simulator
from mpesa_wire import B2CRequest, OutcomeKind, ResultClass, ReversalClass, ReversalRequest, markets

ADDON = Path(__file__).resolve().parents[1] / "g2p_payment_mpesa"
_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)


DARAJA_MARKETS = sorted(code for code, m in markets.MARKETS.items() if m.api_family == "daraja")


@pytest.fixture(scope="module", params=DARAJA_MARKETS)
def market_sim(request) -> RunningSimulator:
    with start_simulator(market=request.param) as running:
        yield running


@pytest.fixture
def sink() -> CallbackSink:
    with CallbackSink() as running:
        yield running


def market_of(sim: RunningSimulator):
    return markets.market(sim.market_code)


def settings(sim: RunningSimulator, market) -> dict:
    """What a manager holds, as the addon hands it to the family (certificate in base64)."""
    values = {
        **sim.app_settings(),
        "certificate": base64.b64encode(sim.certificate_pem()),
        "min_amount": market.min_amount,
        "max_amount": market.max_amount,
    }
    family = wire.for_market(market)
    assert set(family.required_settings) <= set(values), "the simulator offers every required setting"
    return values


def client_for(sim: RunningSimulator):
    market = market_of(sim)
    family = wire.for_market(market)
    config = family.config(settings(sim, market), market)
    return family, family.client(config, wire.NO_THROTTLE)


def new_wallet(sim: RunningSimulator, name=("Test", "Person")) -> str:
    msisdn = f"{sim.market['country_code']}712{next(_counter) % 10**6:06d}"
    sim.seed(wallets=[{"msisdn": msisdn, "first_name": name[0], "last_name": name[1]}])
    return msisdn


def pay(sim, sink, client, msisdn, amount):
    ocid = str(uuid.uuid4())
    outcome = client.b2c_submit(
        B2CRequest(
            originator_conversation_id=ocid,
            msisdn=msisdn,
            amount=amount,
            remarks="Cycle payment",
            result_url=sink.url("/result"),
            timeout_url=sink.url("/timeout"),
        )
    )
    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    return ocid, sink.wait_for(lambda c: c.ocid == ocid and c.path == "/result").body


def test_every_market_has_a_family_and_its_config_carries_the_markets_routes_and_numbers(market_sim):
    market = market_of(market_sim)
    family = wire.for_market(market)
    assert family is wire.for_market(market.code) is wire.family(market.api_family)
    config = family.config(settings(market_sim, market), market)
    assert config.number_plan is market.number_plan
    assert config.budget_key.startswith(market_sim.base_url)
    for name, path in market.api_paths.items():
        assert getattr(config, name) == path


def test_a_payment_through_the_interface_is_read_and_classed_by_the_same_family(market_sim, sink):
    family, client = client_for(market_sim)
    msisdn = new_wallet(market_sim, ("Amina", "Otieno"))
    with client:
        ocid, body = pay(market_sim, sink, client, msisdn, 120)
    result = family.parse_result(body)
    assert result.originator_conversation_id == ocid
    assert family.classify_result_code(result.result_code) is ResultClass.PAID
    assert result.amount == 120
    assert wire.msisdn_matches(result.receiver_msisdn or msisdn, msisdn, market_of(market_sim).number_plan)


def test_status_balance_and_reversal_answer_in_the_outcome_classes(market_sim, sink):
    family, client = client_for(market_sim)
    msisdn = new_wallet(market_sim)
    with client:
        ocid, body = pay(market_sim, sink, client, msisdn, 300)
        receipt = family.parse_result(body).receipt
        status = client.transaction_status(
            originator_conversation_id=ocid, result_url=sink.url("/status"), timeout_url=sink.url("/timeout")
        )
        assert status.kind is OutcomeKind.ACCEPTED, status
        answer = family.parse_status_result(
            sink.wait_for(lambda c: c.path == "/status" and c.ocid == status.originator_conversation_id).body
        )
        assert answer.is_success and answer.receipt == receipt

        balance = client.account_balance(result_url=sink.url("/balance"), timeout_url=sink.url("/timeout"))
        assert balance.kind is OutcomeKind.ACCEPTED, balance
        accounts = family.parse_balance_result(
            sink.wait_for(
                lambda c: c.path == "/balance" and c.ocid == balance.originator_conversation_id
            ).body
        ).accounts
        assert accounts["Utility Account"].currency == market_of(market_sim).currency

        reversal = client.reverse(
            ReversalRequest(
                receipt=receipt,
                amount=300,
                remarks="Paid to the wrong person",
                result_url=sink.url("/reversal"),
                timeout_url=sink.url("/timeout"),
            )
        )
        assert reversal.kind is OutcomeKind.ACCEPTED, reversal
        result = family.parse_reversal_result(
            sink.wait_for(
                lambda c: c.path == "/reversal" and c.ocid == reversal.originator_conversation_id
            ).body
        )
        assert family.classify_reversal_code(result.result_code) is ReversalClass.REVERSED


def test_wrong_credentials_are_the_neutral_auth_error(market_sim):
    market = market_of(market_sim)
    family = wire.for_market(market)
    wrong = {"consumer_key": f"unknown-{uuid.uuid4().hex}", "consumer_secret": "wrong"}  # nothing cached
    config = family.config({**settings(market_sim, market), **wrong}, market)
    with family.client(config, wire.NO_THROTTLE) as client, pytest.raises(wire.AuthError):
        client.token()


def test_a_number_of_another_market_is_refused_before_it_is_sent(market_sim):
    _family, client = client_for(market_sim)
    other = next(m for code, m in markets.MARKETS.items() if code != market_sim.market_code)
    foreign = f"{other.number_plan.country_code}{'7' * other.number_plan.national_length}"
    with client, pytest.raises(wire.InvalidMsisdn):
        client.b2c_submit(
            B2CRequest(
                originator_conversation_id=str(uuid.uuid4()),
                msisdn=foreign,
                amount=100,
                remarks="Cycle payment",
                result_url="http://127.0.0.1:9/result",
                timeout_url="http://127.0.0.1:9/timeout",
            )
        )


def test_the_markets_statement_is_read_with_its_number_plan(market_sim, sink):
    family, client = client_for(market_sim)
    msisdn = new_wallet(market_sim, ("Kebede", "Alemu"))
    with client:
        _ocid, body = pay(market_sim, sink, client, msisdn, 150)
    receipt = family.parse_result(body).receipt
    response = requests.get(
        market_sim.base_url + "/sim/admin/statement?format=csv",
        headers={"Authorization": f"Bearer {market_sim.admin_token}"},
        timeout=10,
    )
    response.raise_for_status()
    plan = market_of(market_sim).number_plan
    statement = family.parse_statement(response.content, "statement.csv", number_plan=plan)
    line = next(line for line in statement.lines if line.receipt == receipt)
    assert line.withdrawn == 15_000
    assert line.msisdn and wire.msisdn_matches(line.msisdn, msisdn, plan)
    other = next(m for code, m in markets.MARKETS.items() if code != market_sim.market_code)
    foreign = family.parse_statement(response.content, "statement.csv", number_plan=other.number_plan)
    unmasked = next(line for line in foreign.lines if line.receipt == receipt)
    assert unmasked.msisdn is None or "*" in unmasked.msisdn, "another market's plan finds no number"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names |= {f"{module}.{alias.name}" for alias in node.names} | {module}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize("folder", ["models", "controllers", "wizard", "report"])
def test_the_addon_reaches_m_pesa_only_through_the_interface(folder):
    """No model, controller, wizard or report imports an API family: they call wire.for_market."""
    families = set(wire.FAMILIES)
    for path in sorted((ADDON / folder).glob("*.py")):
        for module in _imported_modules(path):
            parts = set(module.lstrip(".").split("."))
            assert not parts & families, f"{path.name} imports {module}"
