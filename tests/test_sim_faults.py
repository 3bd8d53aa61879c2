"""Every fault switch, the callback log and replay, and the stats counter."""

from __future__ import annotations

import time

import pytest
from conftest import b2c_body, code_of_result, pay

B2C = "/mpesa/b2c/v3/paymentrequest"


def submit(sim, sink, msisdn, amount=100, **overrides):
    body = b2c_body(sim, sink, msisdn, amount, **overrides)
    status, answer = sim.call("POST", B2C, json=body, token=sim.token())
    return body, status, answer


def balance(sim, msisdn):
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def stats(sim):
    return sim.admin("GET", "/sim/admin/stats")[1]["faults_injected"]


def test_sync_500_not_processed(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    sim.set_faults(sync_500={"rate": 1.0})
    body, status, answer = submit(sim, callback_sink, msisdn)
    assert status == 500 and answer["errorCode"] == "500.001.1001"
    sim.drain()
    assert sim.transactions(originator_conversation_id=body["OriginatorConversationID"]) == []
    sim.reset_faults()
    # Not processed, so the same id may be sent again and is paid once.
    status, _ = sim.call("POST", B2C, json=body, token=sim.token())
    assert status == 200
    callback_sink.wait_for(lambda c: c.ocid == body["OriginatorConversationID"])
    assert balance(sim, msisdn) == 10000


def test_sync_500_processed_outcome_unknown(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    sim.set_faults(sync_500_processed={})
    body, status, answer = submit(sim, callback_sink, msisdn)
    assert status == 500 and answer["errorCode"] == "500.001.1001"
    callback_sink.wait_for(lambda c: c.ocid == body["OriginatorConversationID"])
    assert balance(sim, msisdn) == 10000
    sim.reset_faults()
    status, answer = sim.call("POST", B2C, json=body, token=sim.token())  # the client's retry
    assert status == 500 and answer["errorCode"] == "500.002.1001"
    sim.drain()
    assert balance(sim, msisdn) == 10000


def test_spike_arrest(sim, callback_sink, new_wallet):
    sim.set_faults(spike_arrest={"rate": 1.0})
    body, status, answer = submit(sim, callback_sink, new_wallet())
    assert status == 500 and answer["errorCode"] == "500.003.02"
    assert sim.transactions(originator_conversation_id=body["OriginatorConversationID"]) == []


def test_slow_response(sim, callback_sink, new_wallet):
    sim.set_faults(slow_response={"delay_ms": 600})
    started = time.monotonic()
    _, status, _ = submit(sim, callback_sink, new_wallet())
    assert status == 200 and time.monotonic() - started >= 0.6


def test_no_callback_but_paid(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    sim.set_faults(no_callback={})
    body, status, _ = submit(sim, callback_sink, msisdn)
    assert status == 200
    sim.drain()
    time.sleep(0.2)
    assert callback_sink.received() == []
    [txn] = sim.transactions(originator_conversation_id=body["OriginatorConversationID"])
    assert txn["status"] == "completed" and balance(sim, msisdn) == 10000


def test_duplicate_callbacks(sim, callback_sink, new_wallet):
    sim.set_faults(duplicate_callback={"copies": 3})
    body, _, _ = submit(sim, callback_sink, new_wallet())
    got = callback_sink.wait_for_count(3, lambda c: c.ocid == body["OriginatorConversationID"])
    assert len({c.result["TransactionID"] for c in got}) == 1


def test_late_callback(sim, callback_sink, new_wallet):
    sim.set_faults(late_callback={"delay_ms": 800})
    started = time.monotonic()
    body, _, _ = submit(sim, callback_sink, new_wallet())
    callback_sink.wait_for(lambda c: c.ocid == body["OriginatorConversationID"], timeout=5)
    assert time.monotonic() - started >= 0.8


def test_out_of_order_callbacks(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    sim.set_faults(out_of_order_callback={"delay_ms": 1500}, seed=3)
    ocids = [submit(sim, callback_sink, msisdn, 10)[0]["OriginatorConversationID"] for _ in range(12)]
    got = callback_sink.wait_for_count(12, lambda c: c.ocid in ocids, timeout=10)
    assert [c.ocid for c in got] != ocids


@pytest.mark.parametrize("processed", [False, True])
def test_queue_timeout(sim, callback_sink, new_wallet, processed):
    msisdn = new_wallet()
    sim.set_faults(queue_timeout={"processed": processed})
    body, status, _ = submit(sim, callback_sink, msisdn)
    assert status == 200
    notice = callback_sink.wait_for(lambda c: c.ocid == body["OriginatorConversationID"])
    assert notice.path == "/timeout"
    assert notice.result["ResultCode"] == 1037
    time.sleep(0.1)
    assert callback_sink.received("/result") == []
    [txn] = sim.transactions(originator_conversation_id=body["OriginatorConversationID"])
    assert txn["status"] == ("completed" if processed else "failed")
    assert balance(sim, msisdn) == (10000 if processed else 0)


def test_queue_timeout_echo_shape(sim, callback_sink, new_wallet):
    sim.set_faults(queue_timeout={"shape": "echo"})
    body, _, _ = submit(sim, callback_sink, new_wallet())
    notice = callback_sink.wait_for(lambda c: c.ocid == body["OriginatorConversationID"])
    assert notice.body["PartyB"] == body["PartyB"] and notice.body["SecurityCredential"] == "REDACTED"


@pytest.mark.parametrize("code", [17, 26])
def test_transient_results_move_no_money(sim, callback_sink, new_wallet, code):
    msisdn = new_wallet()
    sim.set_faults(transient_result={"code": code})
    _, _, result = pay(sim, callback_sink, msisdn)
    assert code_of_result(result) == code
    assert balance(sim, msisdn) == 0


def test_delivery_failure_recorded_and_replayed(sim, callback_sink, new_wallet):
    sim.set_faults(callback_delivery_failure={})
    body, _, _ = submit(sim, callback_sink, new_wallet())
    sim.drain()
    ocid = body["OriginatorConversationID"]
    [record] = sim.admin("GET", f"/sim/admin/callbacks?originator_conversation_id={ocid}")[1]
    assert not record["delivered"] and "callback_delivery_failure" in record["error"]
    assert callback_sink.received() == []
    status, replay = sim.admin("POST", f"/sim/admin/callbacks/{record['id']}/replay")
    assert status == 200 and replay["delivered"] and replay["replay_of"] == record["id"]
    assert callback_sink.wait_for(lambda c: c.ocid == ocid).result["ResultCode"] == 0


def test_receiver_errors_recorded_not_retried(sim, callback_sink, new_wallet):
    callback_sink.set_status(503)
    body, _, _ = submit(sim, callback_sink, new_wallet())
    callback_sink.wait_for(lambda c: c.ocid == body["OriginatorConversationID"])
    sim.drain()
    records = sim.admin(
        "GET", f"/sim/admin/callbacks?originator_conversation_id={body['OriginatorConversationID']}"
    )[1]
    assert len(records) == 1 and records[0]["http_status"] == 503 and not records[0]["delivered"]
    assert records[0]["latency_ms"] is not None and records[0]["url"] == callback_sink.url("/result")


def test_unreachable_receiver_recorded(sim, callback_sink, new_wallet):
    body, _, _ = submit(sim, callback_sink, new_wallet(), ResultURL="http://127.0.0.1:9/nothing-here")
    sim.drain()
    [record] = sim.admin(
        "GET", f"/sim/admin/callbacks?originator_conversation_id={body['OriginatorConversationID']}"
    )[1]
    assert not record["delivered"] and record["error"]


def test_msisdn_pattern_glob_and_regex(sim, callback_sink, new_wallet):
    a, b = new_wallet(), new_wallet()
    sim.set_faults(spike_arrest={"msisdn": a})
    assert submit(sim, callback_sink, a)[1] == 500
    assert submit(sim, callback_sink, b)[1] == 200
    sim.set_faults(spike_arrest={"msisdn_regex": "^" + b[:-1] + "[0-9]$"})
    assert submit(sim, callback_sink, b)[1] == 500


def test_rate_is_reproducible_with_seed(sim, callback_sink, new_wallet):
    msisdn = new_wallet()

    def run():
        sim.set_faults(spike_arrest={"rate": 0.5}, seed=42)
        return [submit(sim, callback_sink, msisdn, 10)[1] for _ in range(16)]

    first, second = run(), run()
    assert first == second and 200 in first and 500 in first


def test_stats_count_faults(sim, callback_sink, new_wallet):
    before = stats(sim).get("spike_arrest", 0)
    sim.set_faults(spike_arrest={})
    submit(sim, callback_sink, new_wallet())
    assert stats(sim)["spike_arrest"] == before + 1


def test_bad_fault_config_refused(sim):
    for bad in (
        {"faults": {"nope": {}}},
        {"faults": {"sync_500": {"rate": 2}}},
        {"seed": "x"},
        {"faults": {"transient_result": {"code": 5}}},
        {"faults": {"late_callback": {"delay_ms": -1}}},
    ):
        status, _ = sim.admin("PUT", "/sim/admin/faults", bad)
        assert status == 400
    status, current = sim.admin("GET", "/sim/admin/faults")
    assert status == 200 and current["faults"] == {} and "sync_500" in current["kinds"]


def test_reset_faults(sim, callback_sink, new_wallet):
    sim.set_faults(spike_arrest={})
    assert sim.admin("POST", "/sim/admin/reset-faults")[0] == 200
    assert submit(sim, callback_sink, new_wallet())[1] == 200
