"""The OpenAPI wire client through the one interface, for every Vodacom market, against the real
simulator of that market over HTTP: session, B2C, status, reversal, and the answers that must never
read as failures (a lost answer, a duplicate) settled by a status query, never by a second payment.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid

import pytest

import mpesa_wire as wire
from mpesa_sim.testing import CallbackSink, RunningSimulator, start_simulator
from mpesa_wire import B2CRequest, OutcomeKind, ResultClass, ReversalClass, ReversalRequest, markets
from mpesa_wire.openapi import OpenApiClient

OPENAPI_MARKETS = sorted(code for code, m in markets.MARKETS.items() if m.api_family == "openapi")
# A Vodacom M-Pesa national number per market (the simulator registers the wallet).
NATIONAL = {"TZ": "74", "CD": "81", "LS": "5", "GH": "20", "MZ": "84"}
_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)


@pytest.fixture(scope="module", params=OPENAPI_MARKETS)
def vsim(request) -> RunningSimulator:
    with start_simulator(market=request.param) as running:
        yield running


@pytest.fixture
def sim(vsim: RunningSimulator) -> RunningSimulator:
    if not vsim.running:
        vsim.start()
    vsim.reset_faults()
    vsim.set_config(openapi_session_delay_seconds=0, openapi_b2c_mode="sync", openapi_callback_url="")
    return vsim


def market_of(sim):
    return markets.market(sim.market_code)


def settings(sim, **overrides) -> dict:
    """What a manager holds for this market (field names), as the addon hands them over."""
    app = sim.app_settings()
    market = market_of(sim)
    return {
        "base_url": app["base_url"],
        "api_key": app["api_key"],
        "public_key": app["public_key"],
        "shortcode": app["service_provider_code"],
        "min_amount": market.min_amount,
        "max_amount": market.max_amount,
        "environment": "simulator",
        "session_delay_seconds": 0.0,
        **overrides,
    }


def client_for(sim, **overrides):
    market = market_of(sim)
    family = wire.for_market(market)
    config = family.config(settings(sim, **overrides), market)
    return family, family.client(config, wire.NO_THROTTLE)


def new_wallet(sim, name=("Test", "Person"), **fields) -> str:
    plan = market_of(sim).number_plan
    lead = NATIONAL[sim.market_code]
    national = (
        lead + f"{next(_counter):0{plan.national_length - len(lead)}d}"[-(plan.national_length - len(lead)) :]
    )
    msisdn = f"{plan.country_code}{national}"
    sim.seed(wallets=[{"msisdn": msisdn, "first_name": name[0], "last_name": name[1], **fields}])
    return msisdn


def b2c(msisdn, amount=100, ocid=None) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=ocid or uuid.uuid4().hex,
        msisdn=msisdn,
        amount=amount,
        remarks="Cash transfer",
        result_url="http://127.0.0.1:9/unused",
        timeout_url="http://127.0.0.1:9/unused",
    )


def balance_cents(sim, msisdn) -> int:
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def test_the_family_config_matches_the_simulators_application(sim):
    app = sim.app_settings()
    family = wire.for_market(market_of(sim))
    config = family.config(settings(sim), market_of(sim))
    assert family.name == "openapi"
    assert (config.market_context, config.country, config.currency) == (
        app["market_context"],
        app["country"],
        app["currency"],
    )
    assert config.path_prefix == app["path_prefix"]


def test_a_payment_is_final_in_the_answer_and_moves_money_once(sim):
    family, client = client_for(sim)
    msisdn = new_wallet(sim)
    with client:
        outcome = client.b2c_submit(b2c(msisdn, 120))
    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    result = outcome.result
    assert result is not None and result.receipt
    assert family.classify_result_code(result.result_code) is ResultClass.PAID
    assert balance_cents(sim, msisdn) == 12_000


def test_the_same_id_sent_again_is_a_duplicate_never_a_second_payment(sim):
    _family, client = client_for(sim)
    msisdn = new_wallet(sim)
    request = b2c(msisdn, 50)
    with client:
        first = client.b2c_submit(request)
        again = client.b2c_submit(request)
        status = client.transaction_status(originator_conversation_id=request.originator_conversation_id)
    assert first.result.receipt
    assert (again.kind, again.code) == (OutcomeKind.UNKNOWN, "INS-10")
    assert balance_cents(sim, msisdn) == 5_000
    assert status.result.status == "Completed" and status.result.receipt == first.result.receipt


def test_a_lost_answer_is_unknown_and_the_status_query_finds_the_payment(sim):
    _family, client = client_for(sim)
    msisdn = new_wallet(sim)
    sim.set_faults(sync_500_processed={"rate": 1.0})
    request = b2c(msisdn, 70)
    with client:
        outcome = client.b2c_submit(request)
        sim.reset_faults()
        status = client.transaction_status(originator_conversation_id=request.originator_conversation_id)
    assert outcome.kind is OutcomeKind.UNKNOWN, outcome
    assert status.result.status == "Completed" and status.result.receipt
    assert balance_cents(sim, msisdn) == 7_000


def test_refusals_are_final_and_found_failed_by_a_query(sim):
    family, client = client_for(sim)
    unknown = f"{market_of(sim).number_plan.country_code}{NATIONAL[sim.market_code]}" + "9" * (
        market_of(sim).number_plan.national_length - len(NATIONAL[sim.market_code])
    )
    request = b2c(unknown, 40)
    with client:
        outcome = client.b2c_submit(request)
        status = client.transaction_status(originator_conversation_id=request.originator_conversation_id)
        missing = client.transaction_status(originator_conversation_id=uuid.uuid4().hex)
    assert (outcome.kind, outcome.code) == (OutcomeKind.REJECTED, "INS-2051")
    assert family.classify_result_code(outcome.code) is ResultClass.FAILED
    assert status.result.transaction_found and status.result.status == "Failed"
    assert missing.result.not_found


def test_a_reversal_takes_the_money_back_once(sim):
    family, client = client_for(sim)
    msisdn = new_wallet(sim)
    with client:
        receipt = client.b2c_submit(b2c(msisdn, 90)).result.receipt
        request = ReversalRequest(
            receipt=receipt,
            amount=90,
            remarks="Paid to the wrong person",
            result_url="http://127.0.0.1:9/unused",
            timeout_url="http://127.0.0.1:9/unused",
            reference=uuid.uuid4().hex,
        )
        reversed_ = client.reverse(request)
        again = client.reverse(ReversalRequest(**{**request.__dict__, "reference": uuid.uuid4().hex}))
    assert family.classify_reversal_code(reversed_.result.result_code) is ReversalClass.REVERSED
    assert reversed_.result.receipt and balance_cents(sim, msisdn) == 0
    assert family.classify_reversal_code(again.result.result_code) is ReversalClass.ALREADY_REVERSED


def test_a_new_session_waits_for_its_activation(sim):
    sim.set_config(openapi_session_delay_seconds=1)
    market = market_of(sim)
    config = wire.for_market(market).config(settings(sim, session_delay_seconds=1.2), market)
    client = OpenApiClient(config, token_cache=wire.TokenCache())  # a session of its own
    msisdn = new_wallet(sim)
    started = time.monotonic()
    with client:
        outcome = client.b2c_submit(b2c(msisdn, 30))
    assert outcome.result.receipt, outcome
    assert time.monotonic() - started >= 1.2


def test_a_session_used_before_it_is_live_is_renewed_then_refused(sim):
    """The client trusts the configured delay; when M-Pesa's is longer the request is refused at the
    gateway (401), the session renewed once, and the request refused: nothing moved."""
    sim.set_config(openapi_session_delay_seconds=30)
    market = market_of(sim)
    config = wire.for_market(market).config(settings(sim, session_delay_seconds=0.0), market)
    client = OpenApiClient(config, token_cache=wire.TokenCache())
    msisdn = new_wallet(sim)
    with client:
        outcome = client.b2c_submit(b2c(msisdn, 30))
    assert (outcome.kind, outcome.http_status) == (OutcomeKind.REJECTED, 401)
    assert balance_cents(sim, msisdn) == 0


def test_a_wrong_api_key_is_the_neutral_auth_error(sim):
    _family, client = client_for(sim, api_key=f"wrong-{uuid.uuid4().hex}")
    with client, pytest.raises(wire.AuthError):
        client.token()


def test_asynchronous_results_reach_the_listener_and_are_read_by_the_family(sim):
    family, client = client_for(sim)
    msisdn = new_wallet(sim)
    with CallbackSink() as sink:
        sim.set_config(openapi_b2c_mode="async", openapi_callback_url=sink.url("/result"))
        request = b2c(msisdn, 60)
        with client:
            outcome = client.b2c_submit(request)
        callback = sink.wait_for(lambda c: c.path == "/result")
    assert outcome.kind is OutcomeKind.ACCEPTED and outcome.result is None
    result = family.parse_result(callback.body)
    assert result.originator_conversation_id == request.originator_conversation_id
    assert result.is_success and result.receipt
    assert balance_cents(sim, msisdn) == 6_000
