"""Daraja over HTTP against a running simulator: token, B2C v3 and its result callbacks."""

from __future__ import annotations

import base64
import json
import pathlib
import re

from conftest import b2c_body, new_ocid, pay

FIXTURES = pathlib.Path("/work/shared/fixtures/daraja")
RECEIPT = re.compile(r"^[A-Z][A-L][1-9A-V][A-Z0-9]{7}$")


def _shape(value):
    """The structure of a JSON document: keys and types, not values (ints and floats alike)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "Key" in v for v in value):
            return {v["Key"]: _shape({k: x for k, x in v.items() if k != "Key"}) for v in value}
        return [_shape(v) for v in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def test_token_ok_and_string_expiry(sim):
    basic = base64.b64encode(f"{sim.consumer_key}:{sim.consumer_secret}".encode()).decode()
    status, body = sim.call(
        "GET", "/oauth/v1/generate?grant_type=client_credentials", headers={"Authorization": "Basic " + basic}
    )
    assert status == 200
    assert body["expires_in"] == "3599"
    assert re.fullmatch(r"[A-Za-z0-9]{28}", body["access_token"])


def test_token_bad_credentials(sim):
    basic = base64.b64encode(f"{sim.consumer_key}:wrong".encode()).decode()
    status, body = sim.call(
        "GET", "/oauth/v1/generate?grant_type=client_credentials", headers={"Authorization": "Basic " + basic}
    )
    assert status == 400 and body["errorCode"] == "400.008.01"
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    status, body = sim.call("GET", "/oauth/v1/generate?grant_type=client_credentials")
    assert status == 400 and body["errorCode"] == "400.008.01"


def test_bad_and_expired_bearer_token(sim, callback_sink, new_wallet):
    body = b2c_body(sim, callback_sink, new_wallet())
    status, answer = sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token="not-a-token")
    assert (
        status == 404
        and answer["errorCode"] == "404.001.03"
        and answer["errorMessage"] == "Invalid Access Token"
    )
    sim.set_config(token_ttl_seconds=1)
    token = sim.token()
    import time

    time.sleep(1.2)
    status, answer = sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)
    assert status == 404 and answer["errorCode"] == "404.001.03"


def test_certificate_download(sim):
    pem = sim.certificate_pem()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    status, _ = sim.call("GET", "/sim/certificate.cer")
    assert status == 200


def test_b2c_v3_success_callback_matches_fixture(sim, callback_sink, new_wallet):
    msisdn = new_wallet(first_name="Amina", last_name="Wanjiru", balance="1000")
    status, ack, result = pay(sim, callback_sink, msisdn, 500)
    assert status == 200
    assert ack["ResponseCode"] == "0"
    assert ack["ResponseDescription"] == "Accept the service request successfully."
    assert re.fullmatch(r"AG_\d{8}_[0-9a-f]{20}", ack["ConversationID"])
    assert _shape(result) == _shape(fixture("b2c_result_success.json"))
    r = result["Result"]
    params = {p["Key"]: p.get("Value") for p in r["ResultParameters"]["ResultParameter"]}
    assert r["ResultCode"] == 0 and r["ConversationID"] == ack["ConversationID"]
    assert RECEIPT.match(r["TransactionID"]) and params["TransactionReceipt"] == r["TransactionID"]
    assert params["TransactionAmount"] == 500
    assert params["ReceiverPartyPublicName"] == f"{msisdn} - AMINA WANJIRU"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", params["TransactionCompletedDateTime"])
    [txn] = sim.transactions(originator_conversation_id=ack["OriginatorConversationID"])
    assert (
        txn["status"] == "completed" and txn["receipt"] == r["TransactionID"] and txn["amount_cents"] == 50000
    )
    wallet = sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]
    assert wallet["balance_cents"] == 150000
    sms = sim.admin("GET", f"/sim/phones/{msisdn}/sms")[1]
    assert sms[0]["body"].startswith(
        f"{r['TransactionID']} Confirmed. You have received Ksh500.00 from OPENG2P DEMO"
    )
    assert "New M-PESA balance is Ksh1,500.00." in sms[0]["body"]


def test_b2c_failed_callback_matches_fixture(sim, callback_sink, new_wallet):
    msisdn = new_wallet(registered=False)
    _, _, result = pay(sim, callback_sink, msisdn)
    assert _shape(result) == _shape(fixture("b2c_result_failed.json"))
    assert result["Result"]["ResultCode"] == 2040
    assert result["Result"]["TransactionID"].endswith("0000000")


def test_duplicate_ocid(sim, callback_sink, new_wallet):
    body = b2c_body(sim, callback_sink, new_wallet())
    token = sim.token()
    assert sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)[0] == 200
    status, answer = sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)
    assert status == 500 and answer["errorCode"] == "500.002.1001"
    assert answer["errorMessage"] == "Duplicate OriginatorConversationID."
    sim.drain()
    assert len(sim.transactions(originator_conversation_id=body["OriginatorConversationID"])) == 1


def test_seed_and_transactions_query(sim, new_wallet):
    msisdn = new_wallet(balance="20.50", id_type="05", id_number="P123")
    status, wallet = sim.admin("GET", f"/sim/admin/wallets/{msisdn}")
    assert status == 200 and wallet["balance_cents"] == 2050 and wallet["id_type"] == "05"
    assert sim.transactions(msisdn=msisdn) == []
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_admin_requires_token(sim):
    assert sim.call("GET", "/sim/admin/transactions")[0] == 401
    assert sim.call("GET", "/sim/admin/transactions", token="wrong")[0] == 401


def test_new_ocid_unique():
    assert new_ocid() != new_ocid()
