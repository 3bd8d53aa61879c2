"""Fault lost_result: processed, but no result ever, and no status query about it ever answered."""

from __future__ import annotations

import time

from conftest import b2c_body, pay, query_body
from test_sim_reversal import REVERSAL, reversal_body

B2C = "/mpesa/b2c/v3/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"


def submit(sim, sink, msisdn, amount=100) -> str:
    body = b2c_body(sim, sink, msisdn, amount)
    status, ack = sim.call("POST", B2C, json=body, token=sim.token())
    assert status == 200, ack
    return ack["OriginatorConversationID"]


def ask_status(sim, sink, **ids) -> str:
    """Send a status query; returns the query's own OriginatorConversationID (its ack answered 200)."""
    status, ack = sim.call(
        "POST", STATUS, json=query_body(sim, sink, "TransactionStatusQuery", **ids), token=sim.token()
    )
    assert status == 200 and ack["ResponseCode"] == "0", ack
    return ack["OriginatorConversationID"]


def silent(sim, sink, ocid: str, wait: float = 0.4) -> bool:
    sim.drain()
    time.sleep(wait)
    return not [c for c in sink.received() if c.ocid == ocid]


def balance(sim, msisdn) -> int:
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def test_lost_result_is_a_known_fault(sim):
    kinds = sim.admin("GET", "/sim/admin/faults")[1]["kinds"]
    assert "lost_result" in kinds and "status query" in kinds["lost_result"]["doc"]
    assert sim.set_faults(lost_result={"rate": 0.05})["faults"]["lost_result"]["rate"] == 0.05


def test_paid_but_never_told_and_every_status_query_unanswered(sim, callback_sink, new_wallet):
    msisdn, other = new_wallet(), new_wallet()
    # The simulator is shared by the session: count this test's own firings.
    before = sim.admin("GET", "/sim/admin/stats")[1]["faults_injected"].get("lost_result", 0)
    sim.set_faults(lost_result={"msisdn": msisdn})
    ocid = submit(sim, callback_sink, msisdn, 700)
    assert silent(sim, callback_sink, ocid)
    [txn] = sim.transactions(originator_conversation_id=ocid)
    assert txn["status"] == "completed" and txn["silent"] == 1 and txn["receipt"]
    assert balance(sim, msisdn) == 70000  # the money moved
    assert sim.admin("GET", "/sim/admin/stats")[1]["faults_injected"]["lost_result"] == before + 1
    assert not callback_sink.received("/timeout")

    # A payment to a number outside the pattern is reported as usual.
    status, other_ack, result = pay(sim, callback_sink, other, 300)
    assert status == 200 and result["Result"]["ResultCode"] == 0

    # The mark is the transaction's, not the fault's: with the faults off, still no answer.
    sim.reset_faults()
    for ids in ({"OriginalConversationID": ocid}, {"TransactionID": txn["receipt"]}):
        query = ask_status(sim, callback_sink, **ids)
        assert silent(sim, callback_sink, query), ids
    # The query path itself works: a status query about the other payment is answered.
    query = ask_status(sim, callback_sink, OriginalConversationID=other_ack["OriginatorConversationID"])
    answer = callback_sink.wait_for(lambda c: c.ocid == query).body
    assert answer["Result"]["ResultCode"] == 0


def test_a_failure_result_is_lost_too(sim, callback_sink):
    sim.set_faults(lost_result={"msisdn": "254700000005"})  # the demo's frozen wallet: 2006
    ocid = submit(sim, callback_sink, "254700000005", 100)
    assert silent(sim, callback_sink, ocid)
    [txn] = sim.transactions(originator_conversation_id=ocid)
    assert txn["status"] == "failed" and txn["result_code"] == "2006" and txn["silent"] == 1
    query = ask_status(sim, callback_sink, OriginalConversationID=ocid)
    assert silent(sim, callback_sink, query)


def test_the_mark_survives_a_restart(fresh_sim, callback_sink, new_wallet):
    sim = fresh_sim
    msisdn = new_wallet(sim)
    sim.set_faults(lost_result={})
    ocid = submit(sim, callback_sink, msisdn, 150)
    assert silent(sim, callback_sink, ocid)
    sim.reset_faults()
    sim.restart()
    query = ask_status(sim, callback_sink, OriginalConversationID=ocid)
    assert silent(sim, callback_sink, query)
    assert balance(sim, msisdn) == 15000


def test_a_lost_reversal_result(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    status, _ack, result = pay(sim, callback_sink, msisdn, 900)
    original = result["Result"]["TransactionID"]
    sim.set_faults(lost_result={"msisdn": msisdn})
    status, ack = sim.call(
        "POST", REVERSAL, json=reversal_body(sim, callback_sink, original, 900), token=sim.token()
    )
    assert status == 200
    ocid = ack["OriginatorConversationID"]
    assert silent(sim, callback_sink, ocid)
    [txn] = sim.transactions(originator_conversation_id=ocid)
    assert txn["kind"] == "reversal" and txn["status"] == "completed" and txn["silent"] == 1
    assert balance(sim, msisdn) == 0
    query = ask_status(sim, callback_sink, TransactionID=txn["receipt"])
    assert silent(sim, callback_sink, query)
