"""The Daraja Transaction Reversal API on the ledger: acknowledgement, result codes, money back."""

from __future__ import annotations

import re
import threading
import urllib.parse

import pytest
from conftest import credential, pay, query_body

from mpesa_sim.testing import http_json

REVERSAL = "/mpesa/reversal/v1/request"
RECEIPT = re.compile(r"^[A-Z][A-L][1-9A-V][A-Z0-9]{7}$")


def reversal_body(sim, sink, receipt: str, amount, **overrides) -> dict:
    body = {
        "Initiator": sim.initiator_name,
        "SecurityCredential": credential(sim),
        "CommandID": "TransactionReversal",
        "TransactionID": receipt,
        "Amount": amount,
        "ReceiverParty": sim.shortcode,
        "RecieverIdentifierType": "11",
        "ResultURL": sink.url("/reversal-result"),
        "QueueTimeOutURL": sink.url("/reversal-timeout"),
        "Remarks": "Paid to the wrong person",
        "Occasion": "cycle 1",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def reverse(sim, sink, receipt: str, amount, timeout: float = 10, **overrides):
    """Request a reversal and wait for its result: (ack status, ack body, result body)."""
    status, ack = sim.call(
        "POST", REVERSAL, json=reversal_body(sim, sink, receipt, amount, **overrides), token=sim.token()
    )
    if status != 200:
        return status, ack, None
    ocid = ack["OriginatorConversationID"]
    callback = sink.wait_for(lambda c: c.ocid == ocid and c.path == "/reversal-result", timeout=timeout)
    return status, ack, callback.body


def paid(sim, sink, msisdn: str, amount: int, **overrides) -> str:
    status, _ack, result = pay(sim, sink, msisdn, amount, **overrides)
    assert status == 200 and result["Result"]["ResultCode"] == 0, result
    return result["Result"]["TransactionID"]


def balance(sim, msisdn: str) -> int:
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def utility(sim) -> int:
    return sim.admin("GET", "/sim/admin/accounts?kind=org_utility")[1][0]["balance_cents"]


def params(result: dict) -> dict:
    return {p["Key"]: p.get("Value") for p in result["Result"]["ResultParameters"]["ResultParameter"]}


def test_reversal_moves_the_money_back_and_links_the_original(sim, callback_sink, new_wallet):
    msisdn = new_wallet(first_name="Jane", last_name="Reversal")
    original = paid(sim, callback_sink, msisdn, 1500)
    assert balance(sim, msisdn) == 150000
    before = utility(sim)

    status, ack, result = reverse(sim, callback_sink, original, 1500)
    assert status == 200
    assert set(ack) == {"OriginatorConversationID", "ConversationID", "ResponseCode", "ResponseDescription"}
    assert ack["ResponseCode"] == "0"
    assert ack["ResponseDescription"] == "Accept the service request successfully."
    assert ack["ConversationID"].startswith("AG_")
    r = result["Result"]
    assert r["ResultType"] == 0 and r["ResultCode"] == 0
    assert r["OriginatorConversationID"] == ack["OriginatorConversationID"]
    assert r["ConversationID"] == ack["ConversationID"]
    receipt = r["TransactionID"]
    assert RECEIPT.match(receipt) and receipt != original
    p = params(result)
    assert p["OriginalTransactionID"] == original
    assert p["Amount"] == 1500 and p["Charge"] == 0
    assert p["DebitPartyPublicName"] == f"{msisdn} - JANE REVERSAL"
    assert p["CreditPartyPublicName"] == f"{sim.shortcode} - {sim.org_name}"
    assert re.fullmatch(r"\d{14}", str(p["TransCompletedTime"]))
    after = before + 150000
    assert p["DebitAccountBalance"] == "Utility Account|KES|%d.%02d|%d.%02d|0.00|0.00" % (
        after // 100,
        after % 100,
        after // 100,
        after % 100,
    )
    assert r["ReferenceData"]["ReferenceItem"] == {
        "Key": "QueueTimeoutURL",
        "Value": callback_sink.url("/reversal-timeout"),
    }

    assert balance(sim, msisdn) == 0 and utility(sim) == after
    [txn] = sim.transactions(receipt=receipt)
    assert txn["kind"] == "reversal" and txn["status"] == "completed" and txn["result_code"] == "0"
    assert txn["linked_receipt"] == original
    assert txn["from_account"] == f"wallet:{msisdn}" and txn["to_account"] == "org:utility"
    assert txn["amount_cents"] == 150000 and "SecurityCredential" not in txn["request"]
    [paid_txn] = sim.transactions(receipt=original)
    assert paid_txn["reversed_by"] == receipt and paid_txn["status"] == "completed"
    sms = sim.admin("GET", f"/sim/admin/sms?msisdn={msisdn}")[1][0]["body"]
    assert sms.startswith(f"{receipt} Confirmed.") and original in sms and "reversed" in sms
    assert "New M-PESA balance is Ksh0.00." in sms
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]

    # A status query about the reversal reports it the other way round from a payment.
    status, ack = sim.call(
        "POST",
        "/mpesa/transactionstatus/v1/query",
        json=query_body(sim, callback_sink, "TransactionStatusQuery", TransactionID=receipt),
        token=sim.token(),
    )
    assert status == 200
    answer = callback_sink.wait_for(lambda c: c.ocid == ack["OriginatorConversationID"]).body
    q = params(answer)
    assert (
        q["ReceiptNo"] == receipt and q["ReasonType"] == "Reversal" and q["TransactionStatus"] == "Completed"
    )
    assert q["DebitPartyName"] == f"{msisdn} - JANE REVERSAL"


def test_only_one_of_two_parallel_reversals_goes_through(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    original = paid(sim, callback_sink, msisdn, 800)
    results = []

    def run():
        results.append(reverse(sim, callback_sink, original, 800)[2]["Result"])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(str(r["ResultCode"]) for r in results)
    assert codes == ["0", "R000001"]
    refused = next(r for r in results if r["ResultCode"] == "R000001")
    assert refused["ResultDesc"] == "The transaction has already been reversed"
    assert "ResultParameters" not in refused and refused["TransactionID"].endswith("0000000")
    assert balance(sim, msisdn) == 0  # debited once

    # And later again: still R000001, nothing moves.
    _, _, result = reverse(sim, callback_sink, original, 800)
    assert result["Result"]["ResultCode"] == "R000001" and balance(sim, msisdn) == 0
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_unknown_receipt_or_not_a_b2c_is_r000002(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    original = paid(sim, callback_sink, msisdn, 300)
    _, _, result = reverse(sim, callback_sink, original, 300)
    reversal_receipt = result["Result"]["TransactionID"]
    for receipt in ("UL2ZZZZZZ9", original[:3] + "0000000", reversal_receipt):
        _, _, result = reverse(sim, callback_sink, receipt, 300)
        r = result["Result"]
        assert r["ResultCode"] == "R000002", receipt
        assert r["ResultDesc"] == "The OriginalTransactionID is invalid"
        assert "ResultParameters" not in r
    [txn] = sim.transactions(originator_conversation_id=r["OriginatorConversationID"])
    assert txn["status"] == "failed" and txn["result_code"] == "R000002"


def test_amount_other_than_the_original_is_2006(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    original = paid(sim, callback_sink, msisdn, 1200)
    for wrong in (1199, 1201, "1000"):
        _, _, result = reverse(sim, callback_sink, original, wrong)
        assert result["Result"]["ResultCode"] == 2006
        assert result["Result"]["ResultDesc"] == "Declined due to account rule"
    assert balance(sim, msisdn) == 120000
    _, _, result = reverse(sim, callback_sink, original, "1200")  # numeric string, as Daraja's sample
    assert result["Result"]["ResultCode"] == 0 and balance(sim, msisdn) == 0


def _pay_till(sim, msisdn: str, till: str, amount: int, pin: str) -> str:
    form = {"sessionId": "rev", "serviceCode": "*334#", "phoneNumber": "+" + msisdn, "networkCode": "63902"}
    form["text"] = f"2*{till}*{amount}*{pin}*1"
    status, body = http_json(
        "POST",
        sim.base_url + "/ussd",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and "Confirmed" in body, body
    return body


def test_money_already_spent_is_result_code_1(sim, callback_sink, new_wallet):
    msisdn = new_wallet(pin="4321")
    sim.seed(tills=[{"till_number": "555014", "name": "Reversal Test Shop"}])
    original = paid(sim, callback_sink, msisdn, 1000)
    _pay_till(sim, msisdn, "555014", 600, "4321")
    before = utility(sim)
    _, _, result = reverse(sim, callback_sink, original, 1000)
    assert result["Result"]["ResultCode"] == 1
    assert result["Result"]["ResultDesc"] == "The balance is insufficient"
    assert balance(sim, msisdn) == 40000 and utility(sim) == before
    [txn] = sim.transactions(originator_conversation_id=result["Result"]["OriginatorConversationID"])
    assert txn["status"] == "failed" and txn["result_code"] == "1"
    [original_txn] = sim.transactions(receipt=original)
    assert original_txn["reversed_by"] is None


def test_bad_credential_is_2001_and_not_our_shortcode_is_21(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    original = paid(sim, callback_sink, msisdn, 400)
    _, _, result = reverse(sim, callback_sink, original, 400, SecurityCredential=credential(sim, "not-it"))
    assert result["Result"]["ResultCode"] == 2001
    assert sim.admin("GET", "/sim/admin/initiator")[1]["consecutive_failures"] == 1
    _, _, result = reverse(sim, callback_sink, original, 400, ReceiverParty="600999")
    assert result["Result"]["ResultCode"] == 21
    assert balance(sim, msisdn) == 40000
    # The older samples' identifier type 4 is accepted too.
    _, _, result = reverse(sim, callback_sink, original, 400, RecieverIdentifierType="4")
    assert result["Result"]["ResultCode"] == 0 and balance(sim, msisdn) == 0


def test_a_client_originator_conversation_id_is_echoed(sim, callback_sink, new_wallet):
    original = paid(sim, callback_sink, new_wallet(), 250)
    status, ack, result = reverse(sim, callback_sink, original, 250, OriginatorConversationID="rev-own-id-1")
    assert status == 200 and ack["OriginatorConversationID"] == "rev-own-id-1"
    assert result["Result"]["OriginatorConversationID"] == "rev-own-id-1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("TransactionID", None),
        ("CommandID", "BusinessPayment"),
        ("Amount", "12.5"),
        ("Amount", None),
        ("ReceiverParty", "60A000"),
        ("RecieverIdentifierType", "2"),
        ("RecieverIdentifierType", None),
        ("Remarks", "x"),
        ("ResultURL", "ftp://example.org/result"),
        ("QueueTimeOutURL", None),
        ("Initiator", None),
    ],
)
def test_validation_errors(sim, callback_sink, field, value):
    body = reversal_body(sim, callback_sink, "UL2AAAAAA1", 100, **{field: value})
    if value is None:
        body.pop(field, None)
    status, answer = sim.call("POST", REVERSAL, json=body, token=sim.token())
    assert status == 400, answer
    assert answer["errorCode"] == "400.002.02"
    assert answer["errorMessage"] == f"Bad Request - Invalid {field}"
    assert set(answer) == {"requestId", "errorCode", "errorMessage"}


def test_token_and_content_type(sim, callback_sink):
    body = reversal_body(sim, callback_sink, "UL2AAAAAA1", 100)
    status, answer = sim.call("POST", REVERSAL, json=body, token="not-a-token")
    assert status == 404 and answer["errorCode"] == "404.001.03"
    status, answer = sim.call(
        "POST", REVERSAL, data=b"TransactionID=1", token=sim.token(), headers={"Content-Type": "text/plain"}
    )
    assert status == 400 and answer["errorMessage"] == "Bad Request - Invalid Content-Type"


def test_callback_faults_apply_to_reversal_results(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    first, second = paid(sim, callback_sink, msisdn, 100), paid(sim, callback_sink, msisdn, 200)
    sim.set_faults(no_callback={"msisdn": msisdn})
    body = reversal_body(sim, callback_sink, first, 100)
    status, ack = sim.call("POST", REVERSAL, json=body, token=sim.token())
    assert status == 200
    sim.drain()
    assert not [c for c in callback_sink.received() if c.ocid == ack["OriginatorConversationID"]]
    assert balance(sim, msisdn) == 20000  # processed all the same
    [txn] = sim.transactions(originator_conversation_id=ack["OriginatorConversationID"])
    assert txn["status"] == "completed"

    sim.set_faults(duplicate_callback={"msisdn": msisdn, "copies": 2})
    status, ack, _ = reverse(sim, callback_sink, second, 200)
    sim.drain()
    copies = [
        c for c in callback_sink.received("/reversal-result") if c.ocid == ack["OriginatorConversationID"]
    ]
    assert len(copies) == 2 and copies[0].body == copies[1].body
    assert balance(sim, msisdn) == 0
    assert sim.admin("GET", "/sim/admin/stats")[1]["faults_injected"]["duplicate_callback"] >= 1
