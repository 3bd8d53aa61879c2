"""Vodacom Mozambique's own M-Pesa API through the one interface, against the real simulator over
HTTP: B2C final in the answer, the same reference never paid twice, a lost answer settled by a
status query, refusals M-Pesa gives, wrong credentials, and a reversal."""

from __future__ import annotations

import itertools
import os
import uuid

import pytest

import mpesa_wire as wire
from mpesa_sim.testing import RunningSimulator, start_simulator
from mpesa_wire import (
    AuthError,
    B2CRequest,
    OutcomeKind,
    ResultClass,
    ReversalClass,
    ReversalRequest,
    markets,
)

MZ = markets.MOZAMBIQUE
FAMILY = wire.for_market(MZ, "vodacom_mz")
_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)


@pytest.fixture(scope="module")
def mzsim() -> RunningSimulator:
    with start_simulator(market="MZ") as running:
        yield running


@pytest.fixture
def sim(mzsim: RunningSimulator) -> RunningSimulator:
    mzsim.reset_faults()
    mzsim.set_config(openapi_b2c_mode="sync", openapi_callback_url="")
    return mzsim


def client_for(sim, **overrides):
    settings = {
        **sim.manager_settings("vodacom_mz"),
        "min_amount": MZ.min_amount,
        "max_amount": MZ.max_amount,
    }
    settings.update(overrides)
    return FAMILY.client(FAMILY.config(settings, MZ), wire.NO_THROTTLE)


def new_wallet(sim, status=None) -> str:
    msisdn = f"25884{next(_counter) % 10_000_000:07d}"
    wallet = {"msisdn": msisdn, "first_name": "Test", "last_name": "Pessoa"}
    if status:
        wallet["status"] = status
    sim.seed(wallets=[wallet])
    return msisdn


def b2c(msisdn, amount=100, ref=None) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=ref or FAMILY.new_conversation_id(),
        msisdn=msisdn,
        amount=amount,
        remarks="Cash transfer",
        result_url="http://127.0.0.1:9/unused",
        timeout_url="http://127.0.0.1:9/unused",
    )


def balance_cents(sim, msisdn) -> int:
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def test_a_payment_is_final_in_the_answer_with_m_pesas_receipt(sim):
    msisdn = new_wallet(sim)
    with client_for(sim) as client:
        outcome = client.b2c_submit(b2c(msisdn, 120))
    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    assert outcome.result.receipt
    assert FAMILY.classify_result_code(outcome.result.result_code) is ResultClass.PAID
    assert balance_cents(sim, msisdn) == 12_000
    (row,) = sim.transactions(originator_conversation_id=outcome.result.originator_conversation_id)
    assert row["receipt"] == outcome.result.receipt


def test_the_same_reference_again_is_a_duplicate_never_a_second_payment(sim):
    msisdn = new_wallet(sim)
    request = b2c(msisdn, 50)
    with client_for(sim) as client:
        first = client.b2c_submit(request)
        again = client.b2c_submit(request)
        status = client.transaction_status(originator_conversation_id=request.originator_conversation_id)
    assert first.result.receipt
    assert (again.kind, again.code) == (OutcomeKind.UNKNOWN, "INS-10")
    assert balance_cents(sim, msisdn) == 5_000
    assert status.result.status == "Completed"


def test_a_lost_answer_is_unknown_and_the_status_query_says_it_completed(sim):
    msisdn = new_wallet(sim)
    sim.set_faults(sync_500_processed={"rate": 1.0})
    request = b2c(msisdn, 70)
    with client_for(sim) as client:
        outcome = client.b2c_submit(request)
        sim.reset_faults()
        status = client.transaction_status(originator_conversation_id=request.originator_conversation_id)
    assert outcome.kind is OutcomeKind.UNKNOWN and outcome.result is None
    assert status.result.status == "Completed" and status.result.is_success
    assert balance_cents(sim, msisdn) == 7_000


def test_an_unknown_reference_is_not_found_never_a_failed_payment(sim):
    with client_for(sim) as client:
        status = client.transaction_status(originator_conversation_id=uuid.uuid4().hex)
    assert status.result.not_found and not status.result.transaction_found


@pytest.mark.parametrize(("status", "code"), [(None, "INS-2002"), ("frozen", "INS-996")])
def test_refusals_are_final_and_move_nothing(sim, status, code):
    msisdn = new_wallet(sim, status) if status else "258849999999"
    with client_for(sim) as client:
        outcome = client.b2c_submit(b2c(msisdn, 30))
    if status is None:
        assert outcome.code in ("INS-2002", "INS-2051"), outcome
    else:
        assert outcome.code == code, outcome
    assert outcome.kind is OutcomeKind.REJECTED


def test_a_wrong_api_key_stops_the_run(sim):
    with client_for(sim, api_key="not-the-key") as client, pytest.raises(AuthError):
        client.b2c_submit(b2c(new_wallet(sim), 10))


def test_a_payment_is_reversed_with_the_initiator_and_a_wrong_credential_is_refused(sim):
    msisdn = new_wallet(sim)
    with client_for(sim) as client:
        paid = client.b2c_submit(b2c(msisdn, 40))
        receipt = paid.result.receipt
        request = ReversalRequest(receipt, 40, "Reversal", "http://127.0.0.1:9/u", "http://127.0.0.1:9/u",
                                  reference=FAMILY.new_conversation_id())  # fmt: skip
        reversed_ = client.reverse(request)
    assert FAMILY.classify_reversal_code(reversed_.result.result_code) is ReversalClass.REVERSED, reversed_
    assert balance_cents(sim, msisdn) == 0
    with client_for(sim, initiator_password="wrong-credential") as client, pytest.raises(AuthError):
        client.reverse(ReversalRequest(receipt, 40, "Reversal", "http://127.0.0.1:9/u", "http://127.0.0.1:9/u",
                                       reference=FAMILY.new_conversation_id()))  # fmt: skip
