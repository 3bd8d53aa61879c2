"""Markets (issue #15): the same simulator behaviours in Kenya and Ethiopia, and Ethiopia's own.

Each market runs as its own simulator process (``start_simulator(market=...)``), over real HTTP.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import subprocess
import sys
import urllib.parse
import uuid

import pytest
from conftest import b2c_body, credential

from mpesa_sim import markets, organisation
from mpesa_sim.testing import CallbackSink, RunningSimulator, http_json, start_simulator

MARKETS = ["KE", "ET"]
RECEIPT = re.compile(r"^[A-Z][A-L][1-9A-V][A-Z0-9]{7}$")
_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)
OTHER = {"KE": "ET", "ET": "KE"}
# A number of the market's country that is not an M-Pesa customer's: Tanzanian for Kenya (no
# such thing as a non-M-Pesa Kenyan mobile in the simulator), Ethio telecom's 09 for Ethiopia.
NOT_MPESA = {"KE": "255712345678", "ET": "251911234567"}
MONEY = {"KE": "Ksh", "ET": "ETB "}


@pytest.fixture(scope="module", params=MARKETS)
def _market_sim(request) -> RunningSimulator:
    with start_simulator(market=request.param) as running:
        yield running


@pytest.fixture
def msim(_market_sim: RunningSimulator) -> RunningSimulator:
    if not _market_sim.running:
        _market_sim.start()
    _market_sim.reset_faults()
    _market_sim.admin("POST", "/sim/admin/initiator/unlock")
    _market_sim.set_config(**organisation.default_config(markets.get(_market_sim.market_code)))
    return _market_sim


@pytest.fixture
def et_sim(tmp_path) -> RunningSimulator:
    with start_simulator(db_path=str(tmp_path / "et.sqlite3"), market="ET") as running:
        yield running


@pytest.fixture
def sink() -> CallbackSink:
    with CallbackSink() as running:
        yield running


def msisdn_for(sim: RunningSimulator) -> str:
    return sim.market["country_code"] + "7%08d" % (next(_counter) % 10**8)


def wallet(sim: RunningSimulator, **fields) -> str:
    msisdn = fields.pop("msisdn", None) or msisdn_for(sim)
    sim.seed(wallets=[{"msisdn": msisdn, "first_name": "Test", "last_name": "Person", **fields}])
    return msisdn


def pay(sim, sink, party_b: str, amount=500, **overrides):
    """(ack status, ack, result body) of a B2C on the market's own path."""
    body = b2c_body(sim, sink, party_b, amount, **overrides)
    status, ack = sim.call("POST", sim.path("b2c"), json=body, token=sim.token())
    if status != 200:
        return status, ack, None
    ocid = ack["OriginatorConversationID"]
    return status, ack, sink.wait_for(lambda c: c.ocid == ocid and c.path == "/result").body


def query_body(sim, sink, command: str, **fields) -> dict:
    body = {
        "Initiator": sim.initiator_name,
        "SecurityCredential": credential(sim),
        "CommandID": command,
        "PartyA": sim.shortcode,
        "IdentifierType": "4",
        "ResultURL": sink.url("/query-result"),
        "QueueTimeOutURL": sink.url("/query-timeout"),
        "Remarks": "check",
    }
    body.update(fields)
    return body


def query(sim, sink, role: str, command: str, **fields) -> dict:
    status, ack = sim.call(
        "POST", sim.path(role), json=query_body(sim, sink, command, **fields), token=sim.token()
    )
    assert status == 200, ack
    ocid = ack["OriginatorConversationID"]
    return sink.wait_for(lambda c: c.ocid == ocid and c.path == "/query-result").body["Result"]


def params(result: dict) -> dict:
    return {p["Key"]: p.get("Value") for p in result["ResultParameters"]["ResultParameter"]}


def dial(sim, msisdn: str, text: str, service_code: str | None = None) -> str:
    form = {
        "sessionId": "s-" + uuid.uuid4().hex[:8],
        "serviceCode": service_code or sim.market["ussd_code"],
        "phoneNumber": "+" + msisdn,
        "networkCode": "63902",
        "text": text,
    }
    status, body = http_json(
        "POST",
        sim.base_url + "/ussd",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert body.startswith(("CON ", "END ")) and len(body) <= 160 and body.isascii(), body
    return body


def basic(key: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


# -- both markets -------------------------------------------------------------------------------
def test_the_market_is_public_and_in_the_admin_info(msim):
    code = msim.market_code
    market = markets.get(code)
    status, body = msim.call("GET", "/sim/market")
    assert status == 200
    assert (body["code"], body["country"], body["currency"], body["ussd_code"]) == (
        code,
        market.country,
        market.currency,
        market.ussd_code,
    )
    assert "consumer_key" not in body and "initiator_password" not in body
    assert msim.admin("GET", "/sim/admin/info")[1]["market"]["code"] == code
    assert (msim.shortcode, msim.org_name) == (market.org["shortcode"], market.org["org_name"])


def test_the_pages_show_the_market(msim):
    for page in ("/phone", "/console"):
        status, html = msim.call("GET", page)
        assert status == 200 and 'id="market-badge"' in html
    status, js = msim.call("GET", "/sim/static/common.js")
    assert status == 200 and "/sim/market" in js


def test_only_the_markets_own_daraja_paths_are_served(msim):
    own, other = markets.get(msim.market_code), markets.get(OTHER[msim.market_code])
    token = msim.token()
    for role, path in other.api_paths.items():
        if path in own.api_paths.values():
            continue  # the same path in both (transaction status v1)
        method = "GET" if role == "token" else "POST"
        status, _ = msim.call(
            method,
            path + ("?grant_type=client_credentials" if role == "token" else ""),
            json=None if role == "token" else {},
            token=token,
        )
        assert status == 404, (role, path)


def test_token_on_the_markets_path(msim):
    status, body = msim.call(
        "GET",
        msim.path("token") + "?grant_type=client_credentials",
        headers=basic(msim.consumer_key, msim.consumer_secret),
    )
    assert status == 200 and body["access_token"] and body["expires_in"] == "3599"


def test_demo_wallets_exist_per_market(msim):
    market = markets.get(msim.market_code)
    wallets = {w["msisdn"]: w for w in msim.admin("GET", "/sim/admin/wallets?limit=10000")[1]}
    for demo in market.demo_wallets:
        assert demo["msisdn"] in wallets
        assert market.mobile.match(demo["msisdn"])
    assert any(
        not w["registered"] for m, w in wallets.items() if m in {d["msisdn"] for d in market.demo_wallets}
    )


def test_b2c_pays_in_the_markets_currency(msim, sink):
    msisdn = wallet(msim, balance="0")
    status, ack, result = pay(msim, sink, msisdn, 1500)
    assert status == 200 and ack["ResponseCode"] == "0"
    result = result["Result"]
    assert result["ResultCode"] == 0 and RECEIPT.match(result["TransactionID"])
    values = params(result)
    assert values["TransactionAmount"] == 1500 and values["TransactionReceipt"] == result["TransactionID"]
    assert values["ReceiverPartyPublicName"] == f"{msisdn} - TEST PERSON"
    assert msim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"] == 150000
    sms = msim.admin("GET", f"/sim/phones/{msisdn}/sms")[1]
    text = sms[0]["body"] if isinstance(sms, list) else sms["messages"][0]["body"]
    assert f"You have received {MONEY[msim.market_code]}1,500.00 from {msim.org_name.upper()}" in text


def test_a_number_that_is_not_the_markets_m_pesa_is_sfc_ic0003(msim, sink):
    status, _ack, result = pay(msim, sink, NOT_MPESA[msim.market_code])
    assert status == 200
    assert result["Result"]["ResultCode"] == "SFC_IC0003"


def test_unregistered_demo_line_is_2040(msim, sink):
    unregistered = next(
        w["msisdn"] for w in markets.get(msim.market_code).demo_wallets if w.get("registered") is False
    )
    assert pay(msim, sink, unregistered)[2]["Result"]["ResultCode"] == 2040


def test_the_markets_limits(msim, sink):
    market = markets.get(msim.market_code)
    config = msim.admin("GET", "/sim/admin/config")[1]
    for key, value in market.limits.items():
        assert config[key] == value
    msisdn = wallet(msim)
    if market.limits["min_amount"] > 1:
        assert pay(msim, sink, msisdn, market.limits["min_amount"] - 1)[2]["Result"]["ResultCode"] == 2
    else:
        assert pay(msim, sink, msisdn, 1)[2]["Result"]["ResultCode"] == 0
    assert pay(msim, sink, msisdn, market.limits["max_amount"] + 1)[2]["Result"]["ResultCode"] == 3
    # The wallet cap: a payment that would take the balance over it is 8.
    capped = wallet(msim, balance=str(market.limits["recipient_balance_cap"] - 100))
    assert pay(msim, sink, capped, 101)[2]["Result"]["ResultCode"] == 8


def test_transaction_status_in_the_markets_currency(msim, sink):
    msisdn = wallet(msim)
    _status, ack, paid = pay(msim, sink, msisdn, 700)
    result = query(
        msim, sink, "status", "TransactionStatusQuery", OriginalConversationID=ack["OriginatorConversationID"]
    )
    values = params(result)
    assert (
        values["TransactionStatus"] == "Completed" and values["ReceiptNo"] == paid["Result"]["TransactionID"]
    )
    assert values["DebitPartyCharges"] == f"Fee For B2C Payment|{msim.market['currency']}|0.00"
    assert values["CreditPartyName"] == f"{msisdn} - TEST PERSON"


def test_account_balance_in_the_markets_currency(msim, sink):
    result = query(msim, sink, "balance", "AccountBalance")
    assert result["ResultCode"] == "0"
    balance = params(result)["AccountBalance"]
    currency = msim.market["currency"]
    entries = balance.split("&")
    assert entries[0].startswith(f"Working Account|{currency}|")
    assert any(e.startswith(f"Utility Account|{currency}|") for e in entries)
    assert ("KES" in balance) == (currency == "KES") and ("ETB" in balance) == (currency == "ETB")


def test_reversal_on_the_markets_path(msim, sink):
    msisdn = wallet(msim)
    receipt = pay(msim, sink, msisdn, 300)[2]["Result"]["TransactionID"]
    body = {
        "Initiator": msim.initiator_name,
        "SecurityCredential": credential(msim),
        "CommandID": "TransactionReversal",
        "TransactionID": receipt,
        "Amount": 300,
        "ReceiverParty": msim.shortcode,
        "RecieverIdentifierType": "11",
        "ResultURL": sink.url("/reversal-result"),
        "QueueTimeOutURL": sink.url("/reversal-timeout"),
        "Remarks": "Paid to the wrong person",
    }
    status, ack = msim.call("POST", msim.path("reversal"), json=body, token=msim.token())
    assert status == 200, ack
    ocid = ack["OriginatorConversationID"]
    result = sink.wait_for(lambda c: c.ocid == ocid and c.path == "/reversal-result").body["Result"]
    assert result["ResultCode"] == 0 and params(result)["OriginalTransactionID"] == receipt
    assert params(result)["DebitAccountBalance"].startswith(f"Utility Account|{msim.market['currency']}|")
    assert msim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"] == 0


def test_ussd_menu_and_balance(msim):
    msisdn = wallet(msim, balance="1000", pin="4321")
    home = dial(msim, msisdn, "")
    assert home.startswith("CON M-PESA\n1. Check balance")
    assert dial(msim, msisdn, "1*4321") == f"END Your M-PESA balance is {MONEY[msim.market_code]}1,000.00."
    msim.seed(tills=[{"till_number": "555002", "name": "Corner Shop"}])
    confirm = dial(msim, msisdn, "2*555002*200*4321")
    assert f"Pay {MONEY[msim.market_code]}200.00 to CORNER SHOP till 555002?" in confirm
    paid = dial(msim, msisdn, "2*555002*200*4321*1")
    assert f"New balance {MONEY[msim.market_code]}800.00." in paid


def test_the_other_markets_ussd_code_is_unknown_here(msim):
    msisdn = wallet(msim)
    other = markets.get(OTHER[msim.market_code]).ussd_code
    answer = dial(msim, msisdn, "", service_code=other)
    assert answer.startswith("END UNKNOWN APPLICATION") and msim.market["ussd_code"] in answer


def test_the_ussd_language_menu_offers_the_markets_languages(msim):
    msisdn = wallet(msim)
    menu = dial(msim, msisdn, "4*1")
    assert "1. English" in menu
    if msim.market_code == "KE":
        assert "2. Kiswahili" in menu
        assert dial(msim, msisdn, "4*1*2").startswith("END Lugha yako")
        dial(msim, msisdn, "4*1*1")
    else:
        # English only: the simulator writes no Amharic it cannot vouch for.
        assert "2." not in menu
        assert "Invalid choice." in dial(msim, msisdn, "4*1*2")
        assert dial(msim, msisdn, "4*1*1") == "END Your M-PESA language is now English."


# -- Ethiopia only ------------------------------------------------------------------------------
def test_ethiopian_token_errors_have_ethiopias_shape(et_sim):
    path = "/v1/token/generate"
    good = basic(et_sim.consumer_key, et_sim.consumer_secret)
    cases = [
        ("?grant_type=password", good, 400, "999998", "Required parameter [grant_type] is invalid or empty"),
        ("", good, 400, "999998", "Required parameter [grant_type] is invalid or empty"),
        ("?grant_type=client_credentials", basic("wrong", et_sim.consumer_secret), 400, "999991",
         "Invalid client id passed"),
        ("?grant_type=client_credentials", basic(et_sim.consumer_key, "wrong"), 401, "999997",
         "Invalid Authorization Header"),
        ("?grant_type=client_credentials", {"Authorization": "Bearer x"}, 401, "999996",
         "Invalid Authentication passed"),
    ]  # fmt: skip
    for query_string, headers, status, code, desc in cases:
        answer = et_sim.call("GET", path + query_string, headers=headers)
        assert answer == (status, {"resultCode": code, "resultDesc": desc}), (query_string, headers)
    status, body = et_sim.call("GET", path + "?grant_type=client_credentials", headers=good)
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == "3599"


def test_ethiopian_paths_and_kenyan_ones_404(et_sim):
    paths = et_sim.market["api_paths"]
    assert paths == {
        "token": "/v1/token/generate",
        "b2c": "/mpesa/b2c/v2/paymentrequest",
        "reversal": "/mpesa/reversal/v2/request",
        "status": "/mpesa/transactionstatus/v1/query",
        "balance": "/mpesa/accountbalance/v2/query",
    }
    token = et_sim.token()
    good = basic(et_sim.consumer_key, et_sim.consumer_secret)
    assert et_sim.call("GET", "/oauth/v1/generate?grant_type=client_credentials", headers=good)[0] == 404
    for path in (
        "/mpesa/b2c/v3/paymentrequest",
        "/mpesa/b2c/v1/paymentrequest",
        "/mpesa/b2cvalidate/v2/paymentrequest",
        "/mpesa/accountbalance/v1/query",
        "/mpesa/reversal/v1/request",
    ):
        assert et_sim.call("POST", path, json={}, token=token)[0] == 404, path


def test_ethiopian_v2_b2c_takes_the_callers_id_and_refuses_a_reused_one(et_sim, sink):
    msisdn = wallet(et_sim)
    body = b2c_body(et_sim, sink, msisdn, 100, OriginatorConversationID="Partner name -" + str(uuid.uuid4()))
    status, ack = et_sim.call("POST", "/mpesa/b2c/v2/paymentrequest", json=body, token=et_sim.token())
    assert status == 200 and ack["OriginatorConversationID"] == body["OriginatorConversationID"]
    again = et_sim.call("POST", "/mpesa/b2c/v2/paymentrequest", json=body, token=et_sim.token())
    assert again[0] == 500 and again[1]["errorCode"] == "500.002.1001"
    missing = {k: v for k, v in body.items() if k != "OriginatorConversationID"}
    status, error = et_sim.call("POST", "/mpesa/b2c/v2/paymentrequest", json=missing, token=et_sim.token())
    assert status == 400 and error["errorCode"] == "400.002.02"
    # "Occasion" (one s, as two Ethiopian SDKs spell it) is accepted too.
    body = b2c_body(et_sim, sink, msisdn, 100)
    body["Occasion"] = body.pop("Occassion")
    assert et_sim.call("POST", "/mpesa/b2c/v2/paymentrequest", json=body, token=et_sim.token())[0] == 200


def test_ethiopian_invalid_access_token(et_sim):
    status, body = et_sim.call("POST", "/mpesa/b2c/v2/paymentrequest", json={}, token="not-a-token")
    assert (
        status == 401 and body["errorCode"] == "401.002.01" and body["errorMessage"] == "Invalid Access Token"
    )


def test_ethio_telecom_09_numbers_are_not_m_pesa(et_sim, sink):
    assert pay(et_sim, sink, "251911234567")[2]["Result"]["ResultCode"] == "SFC_IC0003"
    status, error = et_sim.admin("POST", "/sim/admin/seed", {"wallets": [{"msisdn": "0911234567"}]})
    assert status == 400 and "2517XXXXXXXX" in error["detail"]
    # 07... is normalised into Ethiopia's plan.
    created = et_sim.seed(wallets=[{"msisdn": "0712000999", "first_name": "Hana"}])
    assert created["wallets"][0]["msisdn"] == "251712000999"


def test_ethiopian_demo_wallets_and_organisation(et_sim):
    info = et_sim.admin("GET", "/sim/admin/info")[1]
    assert (info["shortcode"], info["org_name"]) == ("610000", "OpenG2P Demo Ministry Ethiopia")
    abebe = et_sim.admin("GET", "/sim/admin/wallets/251712345678")[1]
    assert (abebe["first_name"], abebe["last_name"], abebe["balance_cents"]) == ("Abebe", "Kebede", 100000)
    assert re.fullmatch(r"\d{12}", abebe["id_number"])
    assert dial(et_sim, "251712345678", "1*1234") == "END Your M-PESA balance is ETB 1,000.00."
    assert et_sim.admin("GET", "/sim/admin/wallets/251799000004")[1]["registered"] is False
    assert et_sim.admin("GET", "/sim/admin/wallets/254712345678")[0] == 404


def test_ethiopian_ussd_is_733_in_english_and_birr(et_sim):
    home = dial(et_sim, "251712345678", "")
    assert home == "CON M-PESA\n1. Check balance\n2. Pay merchant (till)\n3. Mini statement\n4. My Account"
    assert "whole birr, 1 to 150,000" in dial(et_sim, "251712345678", "2*123456*150001")
    assert "Ksh" not in dial(et_sim, "251712345678", "2*123456*5")
    assert dial(et_sim, "251700000005", "") == "END Your M-PESA account is frozen. Contact customer care."


def test_the_market_is_kept_across_restarts_and_another_is_refused(tmp_path):
    db = str(tmp_path / "et.sqlite3")
    with start_simulator(db_path=db, market="ET") as sim:
        assert sim.market_code == "ET"
        sim.restart()  # same --market
        assert sim.market_code == "ET"
    with start_simulator(db_path=db) as sim:  # no --market: the database's own
        assert sim.market_code == "ET" and sim.path("b2c") == "/mpesa/b2c/v2/paymentrequest"
        assert sim.admin("GET", "/sim/admin/wallets/251712345678")[0] == 200
    with pytest.raises(RuntimeError, match="is a ET .Ethiopia. simulator; it cannot start as KE"):
        with start_simulator(db_path=db, market="KE"):
            pass
    # The CLI says why and exits non-zero; the file is untouched.
    done = subprocess.run(
        [sys.executable, "-m", "mpesa_sim", "serve", "--market", "KE", "--db", db, "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "cannot start as KE" in done.stderr
    info = subprocess.run(
        [sys.executable, "-m", "mpesa_sim", "info", "--db", db], capture_output=True, text=True, timeout=60
    )
    assert info.returncode == 0
    assert "market            ET (Ethiopia, Safaricom Ethiopia), currency ETB, USSD *733#" in info.stdout
    assert "251712345678  Abebe Kebede" in info.stdout


def test_a_kenyan_database_stays_kenyan(tmp_path):
    db = str(tmp_path / "ke.sqlite3")
    with start_simulator(db_path=db) as sim:
        assert sim.market_code == "KE" and sim.path("token") == "/oauth/v1/generate"
    with pytest.raises(RuntimeError, match="cannot start as ET"):
        with start_simulator(db_path=db, market="ET"):
            pass
    with start_simulator(db_path=db, market="KE") as sim:
        assert sim.market_code == "KE"


def test_unknown_market_is_refused_by_the_cli(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mpesa_sim", "serve", "--market", "XX", "--db", str(tmp_path / "x.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr
    assert not (tmp_path / "x.sqlite3").exists()
