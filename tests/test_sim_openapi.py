"""Vodacom's M-Pesa OpenAPI markets (Tanzania, DR Congo, Lesotho, Ghana) on the simulator's ledger.

Each market runs as its own simulator process (``start_simulator(market=...)``), over real HTTP:
the session handshake, B2C single stage (sync and async), queryTransactionStatus, reversal (PUT),
every documented refusal with its HTTP status and INS code, the faults, and an independent client
(PyPI ``pypesa``, openpesa's copy of Vodacom's PortalSDK) used unchanged against a base URL.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import time
import urllib.parse
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mpesa_sim import credentials, markets, organisation
from mpesa_sim.testing import CallbackSink, RunningSimulator, http_json, start_simulator

try:  # an independent client: Vodacom's PortalSDK as openpesa/pypesa ships it
    from pypesa.open_api import APIContext, APIMethodType, APIRequest
    from pypesa.vodacom import MPESA
except ImportError:  # pragma: no cover - the test extra installs it
    APIContext = None

MARKETS = ["TZ", "CD", "LS", "GH", "MZ"]
# A Vodacom M-Pesa number prefix per market (country code + the first national digits).
MPESA_PREFIX = {"TZ": "25575", "CD": "24382", "LS": "2665", "GH": "23320", "MZ": "25884"}
# A number of the market's country that passes the MSISDN regex but is another operator's.
NOT_MPESA = {
    "TZ": "255654000001",
    "CD": "243990000001",
    "LS": "26662000001",
    "GH": "233240000001",
    "MZ": "258821000001",
}
MONEY = {"TZ": "Tsh", "CD": "USD ", "LS": "LSL ", "GH": "GHS ", "MZ": "MZN "}
# DR Congo's handset speaks French, Mozambique's Portuguese (tests/test_sim_ussd_languages.py):
# the B2C and reversal SMS in the market's language.
RECEIVED = {"CD": "Vous avez reçu {} de {}", "MZ": "Recebeu {} de {}"}
REVERSED = {"CD": "La transaction {} de {}", "MZ": "A transacção {} de {}"}
RECEIPT = re.compile(r"^[A-Z0-9]{10}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)


@pytest.fixture(scope="module", params=MARKETS)
def _openapi_sim(request) -> RunningSimulator:
    with start_simulator(market=request.param) as running:
        yield running


def reset(sim: RunningSimulator, **config) -> None:
    sim.reset_faults()
    defaults = organisation.default_config(markets.get(sim.market_code))
    sim.set_config(**{**defaults, "openapi_session_delay_seconds": 0, **config})


@pytest.fixture
def osim(_openapi_sim: RunningSimulator) -> RunningSimulator:
    if not _openapi_sim.running:
        _openapi_sim.start()
    reset(_openapi_sim)
    yield _openapi_sim
    _openapi_sim.reset_faults()


@pytest.fixture
def sink() -> CallbackSink:
    with CallbackSink() as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------
def msisdn_for(sim: RunningSimulator) -> str:
    prefix = MPESA_PREFIX[sim.market_code]
    digits = len(sim.market["country_code"]) + sim.market["national_length"] - len(prefix)
    return prefix + "%0*d" % (digits, next(_counter) % 10**digits)


def wallet(sim: RunningSimulator, **fields) -> str:
    msisdn = fields.pop("msisdn", None) or msisdn_for(sim)
    sim.seed(wallets=[{"msisdn": msisdn, "first_name": "Test", "last_name": "Person", **fields}])
    return msisdn


def tpcid() -> str:
    return uuid.uuid4().hex  # 32 alphanumerics: fits input_ThirdPartyConversationID and a QueryReference


def b2c_body(sim: RunningSimulator, msisdn: str, amount="100.00", **overrides) -> dict:
    body = {
        "input_Amount": amount,
        "input_CustomerMSISDN": msisdn,
        "input_Country": sim.openapi["country"],
        "input_Currency": sim.openapi["currency"],
        "input_ServiceProviderCode": sim.openapi["service_provider_code"],
        "input_TransactionReference": "T1234C",
        "input_ThirdPartyConversationID": tpcid(),
        "input_PaymentItemsDesc": "Salary payment",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def pay(sim, session_id, msisdn, amount="100.00", **overrides):
    return sim.openapi_call("POST", "b2cPayment", session_id, json=b2c_body(sim, msisdn, amount, **overrides))


def query(sim, session_id, reference, **overrides):
    params = {
        "input_QueryReference": reference,
        "input_ServiceProviderCode": sim.openapi["service_provider_code"],
        "input_ThirdPartyConversationID": tpcid(),
        "input_Country": sim.openapi["country"],
    }
    params.update(overrides)
    return sim.openapi_call(
        "GET", "queryTransactionStatus", session_id, query={k: v for k, v in params.items() if v}
    )


def reversal_body(sim, receipt, **overrides) -> dict:
    body = {
        "input_TransactionID": receipt,
        "input_ServiceProviderCode": sim.openapi["service_provider_code"],
        "input_ThirdPartyConversationID": tpcid(),
        "input_Country": sim.openapi["country"],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def reverse(sim, session_id, receipt, **overrides):
    return sim.openapi_call("PUT", "reversal", session_id, json=reversal_body(sim, receipt, **overrides))


def balance(sim, msisdn) -> int:
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def utility(sim) -> int:
    return next(a for a in sim.admin("GET", "/sim/admin/accounts")[1] if a["ref"] == "org:utility")[
        "balance_cents"
    ]


def recorded(sim, third_party_id: str) -> list[dict]:
    return sim.transactions(originator_conversation_id=third_party_id)


def dial(sim, msisdn: str, text: str, service_code: str | None = None) -> str:
    form = {
        "sessionId": "s-" + uuid.uuid4().hex[:8],
        "serviceCode": service_code or sim.market["ussd_code"],
        "phoneNumber": "+" + msisdn,
        "text": text,
    }
    status, body = http_json(
        "POST",
        sim.base_url + "/ussd",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and body.startswith(("CON ", "END ")) and len(body) <= 160, body
    return body


def till_payment(sim, msisdn: str, amount: int) -> str:
    """The receipt of a USSD till payment by this wallet (PIN 1234): not the organisation's."""
    answer = dial(sim, msisdn, f"2*123456*{amount}*1234*1")
    assert "Confirm" in answer, answer  # Confirmed, Confirme (French), Confirmado (Portuguese)
    return answer.split()[1]


_other_key = None


def other_public_key() -> str:
    global _other_key
    if _other_key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _other_key = base64.b64encode(der).decode()
    return _other_key


# -- the market ---------------------------------------------------------------------------------
def test_the_market_and_its_openapi_settings(osim):
    market = markets.get(osim.market_code)
    status, public = osim.call("GET", "/sim/market")
    assert status == 200 and public["api_family"] == "openapi" and public["currency"] == market.currency
    assert public["openapi"]["context"] == market.openapi["context"] and "api_key" not in str(public)
    settings = osim.app_settings()
    assert set(settings) >= {
        "base_url", "api_key", "public_key", "service_provider_code", "market_context", "country",
        "currency", "path_prefix",
    }  # fmt: skip
    assert (settings["market_context"], settings["country"], settings["currency"]) == (
        market.openapi["context"],
        market.openapi["country"],
        market.currency,
    )
    assert settings["path_prefix"] == "/sandbox/ipg/v2" and settings["base_url"] == osim.base_url
    assert settings["service_provider_code"] == market.org["shortcode"] == osim.shortcode
    assert re.fullmatch(r"[0-9A-Za-z]{4,12}", settings["service_provider_code"])
    status, text = osim.call("GET", "/sim/openapi/public-key")
    assert status == 200 and text == settings["public_key"]
    key = serialization.load_der_public_key(base64.b64decode(text))  # DER SubjectPublicKeyInfo
    assert key.key_size == credentials.OPENAPI_KEY_BITS
    assert re.fullmatch(r"[a-z0-9]{32}", settings["api_key"])


def test_daraja_routes_are_not_served(osim):
    for path in ("/oauth/v1/generate?grant_type=client_credentials", "/v1/token/generate"):
        assert osim.call("GET", path)[0] == 404
    for path in (
        "/mpesa/b2c/v3/paymentrequest",
        "/mpesa/b2c/v2/paymentrequest",
        "/mpesa/reversal/v1/request",
    ):
        assert osim.call("POST", path, json={})[0] == 404
    # Another market's context, and the path some SDKs wrongly use, are not there either.
    other = "vodacomTZN" if osim.market_code != "TZ" else "vodacomLES"
    assert osim.call("GET", f"/sandbox/ipg/v2/{other}/getSession/")[0] == 404
    sid = osim.openapi_session()
    path = osim.openapi_path("b2cPayment") + "singleStage/"
    bearer = {"Authorization": "Bearer " + osim.openapi_bearer(sid)}
    status, body = osim.call("POST", path, json=b2c_body(osim, wallet(osim)), headers=bearer)
    assert status == 404 and isinstance(body, dict)


def test_demo_wallets_and_organisation(osim):
    market = markets.get(osim.market_code)
    wallets = {w["msisdn"]: w for w in osim.admin("GET", "/sim/admin/wallets?limit=10000")[1]}
    for demo in market.demo_wallets:
        assert market.mobile.match(demo["msisdn"]) and demo["msisdn"] in wallets
    assert any(not wallets[d["msisdn"]]["registered"] for d in market.demo_wallets)
    assert any(wallets[d["msisdn"]]["status"] == "frozen" for d in market.demo_wallets)
    info = osim.admin("GET", "/sim/admin/info")[1]
    assert (
        info["org_name"] == market.org["org_name"] and info["openapi"]["api_key"] == osim.openapi["api_key"]
    )
    assert market.notes["inactive account"] and "simulator's choice" in market.notes["limits"]
    # National numbers (Lesotho's are 8 digits, the others 9) are read into the market's plan.
    for local in (lambda n: n[len(market.country_code) :], lambda n: "0" + n[len(market.country_code) :]):
        msisdn = msisdn_for(osim)
        created = osim.seed(wallets=[{"msisdn": local(msisdn), "first_name": "Local"}])
        assert created["wallets"][0]["msisdn"] == msisdn
    status, error = osim.admin(
        "POST", "/sim/admin/seed", {"wallets": [{"msisdn": NOT_MPESA[osim.market_code]}]}
    )
    assert status == 400 and market.number_plan in error["detail"]


# -- sessions -----------------------------------------------------------------------------------
def test_get_session_and_a_wrong_key(osim):
    path = osim.openapi_path("getSession")
    status, body = osim.call(
        "GET",
        path,
        headers={"Authorization": "Bearer " + osim.openapi_bearer(osim.openapi["api_key"]), "Origin": "*"},
    )
    assert status == 200 and set(body) == {"output_ResponseCode", "output_ResponseDesc", "output_SessionID"}
    assert (body["output_ResponseCode"], body["output_ResponseDesc"]) == (
        "INS-0",
        "Request processed successfully",
    )
    assert HEX32.match(body["output_SessionID"])
    refused = {"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session Creation Failed"}
    wrong_key = credentials.openapi_bearer(osim.openapi["public_key"], "not-the-api-key")
    other_cipher = credentials.openapi_bearer(other_public_key(), osim.openapi["api_key"])
    for headers in (
        {"Authorization": "Bearer " + wrong_key},
        {"Authorization": "Bearer " + other_cipher},  # encrypted with another public key
        {"Authorization": "Bearer bm90IGVuY3J5cHRlZA=="},
        {"Authorization": "Basic " + osim.openapi_bearer(osim.openapi["api_key"])},
        {},
    ):
        assert osim.call("GET", path, headers=headers) == (400, refused), headers
    # The production prefix and a missing trailing slash are served too.
    for other in ("/openapi/ipg/v2", None):
        alt = osim.openapi_path("getSession", prefix=other)
        alt = alt if other else alt[:-1]
        bearer = {"Authorization": "Bearer " + osim.openapi_bearer(osim.openapi["api_key"])}
        assert osim.call("GET", alt, headers=bearer)[0] == 200, alt


def test_a_session_is_live_only_after_the_delay_and_until_it_expires(osim):
    osim.set_config(openapi_session_delay_seconds=1, openapi_session_lifetime_seconds=2.2)
    sid = osim.openapi_session()
    started = time.monotonic()
    msisdn = wallet(osim, balance="0")
    refused = (401, {"output_ResponseCode": "INS-6", "output_ResponseDesc": "Transaction Failed"})
    body = b2c_body(osim, msisdn)
    assert osim.openapi_call("POST", "b2cPayment", sid, json=body) == refused
    assert recorded(osim, body["input_ThirdPartyConversationID"]) == [] and balance(osim, msisdn) == 0
    time.sleep(max(0.0, 1.1 - (time.monotonic() - started)))
    status, answer = osim.openapi_call("POST", "b2cPayment", sid, json=body)  # the same id: never received
    assert status == 201 and answer["output_ResponseCode"] == "INS-0"
    time.sleep(max(0.0, 2.3 - (time.monotonic() - started)))
    assert osim.openapi_call("POST", "b2cPayment", sid, json=b2c_body(osim, msisdn)) == refused
    assert query(osim, sid, answer["output_TransactionID"]) == refused
    assert balance(osim, msisdn) == 10_000


def test_an_unknown_or_undecryptable_session_is_refused_and_nothing_is_processed(osim):
    msisdn = wallet(osim, balance="0")
    body = b2c_body(osim, msisdn)
    refused = (401, {"output_ResponseCode": "INS-6", "output_ResponseDesc": "Transaction Failed"})
    path = osim.openapi_path("b2cPayment")
    for headers in (
        {"Authorization": "Bearer " + osim.openapi_bearer(uuid.uuid4().hex)},  # unknown SessionID
        {"Authorization": "Bearer " + osim.openapi_bearer(osim.openapi["api_key"])},  # the API key
        {"Authorization": "Bearer " + credentials.openapi_bearer(other_public_key(), osim.openapi_session())},
        {"Authorization": "Bearer garbage"},
        {},
    ):
        assert osim.call("POST", path, json=body, headers=headers) == refused
    assert recorded(osim, body["input_ThirdPartyConversationID"]) == [] and balance(osim, msisdn) == 0
    # The code is a setting (the real one is not documented).
    osim.set_config(openapi_invalid_session_status=401, openapi_invalid_session_code="INS-2")
    assert osim.call("POST", path, json=body, headers={})[1]["output_ResponseCode"] == "INS-2"


def test_openapi_settings_are_validated(osim):
    for bad in (
        {"openapi_b2c_mode": "maybe"},
        {"openapi_callback_url": "ftp://example.org/x"},
        {"openapi_session_delay_seconds": "soon"},
        {"openapi_invalid_session_status": 200},
        {"openapi_invalid_session_code": "6"},
    ):
        assert osim.admin("PUT", "/sim/admin/config", bad)[0] == 400, bad


# -- B2C ----------------------------------------------------------------------------------------
def test_b2c_sync_pays_before_answering(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    before = utility(osim)
    body = b2c_body(osim, msisdn, "1500.50")
    status, answer = osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert status == 201
    assert list(answer) == [
        "output_ResponseCode",
        "output_ResponseDesc",
        "output_TransactionID",
        "output_ConversationID",
        "output_ThirdPartyConversationID",
    ]
    assert (answer["output_ResponseCode"], answer["output_ResponseDesc"]) == (
        "INS-0",
        "Request processed successfully",
    )
    assert RECEIPT.match(answer["output_TransactionID"]) and HEX32.match(answer["output_ConversationID"])
    assert answer["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    assert balance(osim, msisdn) == 150_050 and utility(osim) == before - 150_050
    sms = osim.admin("GET", f"/sim/phones/{msisdn}/sms")[1][0]["body"]
    assert sms.startswith(answer["output_TransactionID"] + " Confirm")
    received = RECEIVED.get(osim.market_code, "You have received {} from {}")
    assert received.format(f"{MONEY[osim.market_code]}1,500.50", osim.org_name.upper()) in sms
    assert osim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]
    # A whole amount without decimals, the production prefix, no trailing slash, any Origin and Host.
    for prefix, slash in (("/openapi/ipg/v2", True), (None, False)):
        path = osim.openapi_path("b2cPayment", prefix=prefix)
        headers = {
            "Authorization": "Bearer " + osim.openapi_bearer(sid),
            "Origin": "https://g2p.example.org",
            "Host": "openapi.m-pesa.com",
        }
        status, _ = osim.call(
            "POST", path if slash else path[:-1], json=b2c_body(osim, msisdn, "10"), headers=headers
        )
        assert status == 201
    assert balance(osim, msisdn) == 152_050


PARAMETER_REFUSALS = [
    ({"input_Amount": None}, "INS-20"),
    ({"input_CustomerMSISDN": None}, "INS-20"),
    ({"input_Country": None}, "INS-20"),
    ({"input_Currency": None}, "INS-20"),
    ({"input_ServiceProviderCode": None}, "INS-20"),
    ({"input_TransactionReference": None}, "INS-20"),
    ({"input_ThirdPartyConversationID": None}, "INS-20"),
    ({"input_PaymentItemsDesc": None}, "INS-20"),
    ({"input_PaymentItemsDesc": ""}, "INS-20"),
    ({"input_Country": "KEN"}, "INS-998"),
    ({"input_Currency": "KES"}, "INS-26"),
    ({"input_Currency": "EURO"}, "INS-26"),
    ({"input_ServiceProviderCode": "999999"}, "INS-13"),
    ({"input_ServiceProviderCode": "ab"}, "INS-13"),
    ({"input_TransactionReference": "R" * 21}, "INS-17"),
    ({"input_TransactionReference": "ref-1"}, "INS-17"),
    ({"input_ThirdPartyConversationID": "x" * 41}, "INS-28"),
    ({"input_ThirdPartyConversationID": "with-dash"}, "INS-28"),
    ({"input_PaymentItemsDesc": "d" * 257}, "INS-31"),
    ({"input_Amount": "ten"}, "INS-15"),
    ({"input_Amount": "10.123"}, "INS-15"),
    ({"input_Amount": "-5"}, "INS-15"),
    ({"input_Amount": True}, "INS-15"),
    ({"input_CustomerMSISDN": "07123"}, "INS-2051"),
    ({"input_CustomerMSISDN": "+255754123456"}, "INS-2051"),
]
DESCRIPTIONS = {
    "INS-20": "Not All Parameters Provided. Please try again.",
    "INS-998": "Invalid Market",
    "INS-26": "Invalid Currency Used",
    "INS-13": "Invalid Shortcode Used",
    "INS-17": "Invalid Transaction Reference. Length Should Be Between 1 and 20.",
    "INS-28": "Invalid ThirdPartyConversationID Used",
    "INS-31": "Invalid Payment Items Description Used",
    "INS-15": "Invalid Amount Used",
    "INS-2051": "MSISDN invalid.",
}


def test_b2c_parameter_refusals(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    for overrides, code in PARAMETER_REFUSALS:
        body = b2c_body(osim, msisdn, **overrides)
        answer = osim.openapi_call("POST", "b2cPayment", sid, json=body)
        assert answer == (
            400,
            {"output_ResponseCode": code, "output_ResponseDesc": DESCRIPTIONS[code]},
        ), overrides
        if body.get("input_ThirdPartyConversationID"):
            # Refused before it was received: nothing recorded, so the same id may be sent again.
            assert recorded(osim, body["input_ThirdPartyConversationID"]) == [], overrides
    assert balance(osim, msisdn) == 0


def test_b2c_that_is_not_json_is_refused(osim):
    sid = osim.openapi_session()
    headers = {"Authorization": "Bearer " + osim.openapi_bearer(sid), "Content-Type": "application/json"}
    status, body = osim.call("POST", osim.openapi_path("b2cPayment"), headers=headers, data=b"{not json")
    assert status == 400 and body["output_ResponseCode"] == "INS-21"
    assert osim.openapi_call("POST", "b2cPayment", sid, json=["a list"])[1]["output_ResponseCode"] == "INS-21"


def test_business_refusals_are_recorded_as_failed_payments(osim):
    market = markets.get(osim.market_code)
    unregistered = next(w["msisdn"] for w in market.demo_wallets if w.get("registered") is False)
    frozen = next(w["msisdn"] for w in market.demo_wallets if w.get("status") == "frozen")
    sid = osim.openapi_session()
    ok = wallet(osim, balance="0")
    cases = [
        (NOT_MPESA[osim.market_code], "100", 400, "INS-2051", "MSISDN invalid."),
        (unregistered, "100", 400, "INS-2051", "MSISDN invalid."),
        (frozen, "100", 400, "INS-2051", "MSISDN invalid."),
        (ok, "0", 400, "INS-15", "Invalid Amount Used"),
        (ok, str(market.limits["max_amount"] + 1), 400, "INS-15", "Invalid Amount Used"),
    ]
    before = utility(osim)
    for msisdn, amount, status, code, desc in cases:
        body = b2c_body(osim, msisdn, amount)
        got_status, answer = osim.openapi_call("POST", "b2cPayment", sid, json=body)
        assert (got_status, answer["output_ResponseCode"], answer["output_ResponseDesc"]) == (
            status,
            code,
            desc,
        )
        assert HEX32.match(answer["output_ConversationID"]) and "output_TransactionID" not in answer
        # A client whose answer was lost learns it failed ...
        status_q, found = query(osim, sid, body["input_ThirdPartyConversationID"])
        assert status_q == 200 and found["output_ResponseTransactionStatus"] == "Failed"
        assert found["output_OriginalTransactionID"] == "" and found["output_Reversed"] == "False"
        # ... and that id is spent.
        again = osim.openapi_call("POST", "b2cPayment", sid, json={**body, "input_Amount": "5"})
        assert again == (
            409,
            {"output_ResponseCode": "INS-10", "output_ResponseDesc": "Duplicate Transaction"},
        )
    assert utility(osim) == before and balance(osim, ok) == 0


def test_insufficient_float_is_422_and_the_recipients_limits_are_ins_990(osim):
    sid = osim.openapi_session()
    msisdn = wallet(osim, balance="0")
    osim.set_config(max_amount=10**9, recipient_daily_limit=10**9, recipient_balance_cap=10**9)
    too_much = "%d.00" % (utility(osim) // 100 + 1)
    body = b2c_body(osim, msisdn, too_much)
    status, answer = osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert (status, answer["output_ResponseCode"], answer["output_ResponseDesc"]) == (
        422,
        "INS-2006",
        "Insufficient balance",
    )
    assert (
        query(osim, sid, answer["output_ConversationID"])[1]["output_ResponseTransactionStatus"] == "Failed"
    )
    osim.set_config(recipient_balance_cap=50)
    status, answer = pay(osim, sid, msisdn, "51")
    assert (status, answer["output_ResponseCode"]) == (400, "INS-990")
    assert balance(osim, msisdn) == 0


def test_a_second_request_with_the_same_third_party_conversation_id_moves_nothing(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    body = b2c_body(osim, msisdn, "250")
    status, first = osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert status == 201
    for again in (body, {**body, "input_Amount": "999", "input_TransactionReference": "Other"}):
        assert osim.openapi_call("POST", "b2cPayment", sid, json=again) == (
            409,
            {"output_ResponseCode": "INS-10", "output_ResponseDesc": "Duplicate Transaction"},
        )
    assert (
        balance(osim, msisdn) == 25_000 and len(recorded(osim, body["input_ThirdPartyConversationID"])) == 1
    )
    assert (
        query(osim, sid, body["input_ThirdPartyConversationID"])[1]["output_OriginalTransactionID"]
        == (first["output_TransactionID"])
    )


# -- queryTransactionStatus ---------------------------------------------------------------------
def test_query_by_receipt_third_party_id_or_conversation_id(osim):
    msisdn = wallet(osim)
    sid = osim.openapi_session()
    body = b2c_body(osim, msisdn, "300")
    paid = osim.openapi_call("POST", "b2cPayment", sid, json=body)[1]
    for reference in (
        paid["output_TransactionID"],
        body["input_ThirdPartyConversationID"],
        paid["output_ConversationID"],
    ):
        own = tpcid()
        status, found = query(osim, sid, reference, input_ThirdPartyConversationID=own)
        assert status == 200
        assert found == {
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_ResponseTransactionStatus": "Completed",
            "output_ConversationID": paid["output_ConversationID"],
            "output_ThirdPartyConversationID": own,
            "output_OriginalTransactionID": paid["output_TransactionID"],
            "output_Reversed": "False",
        }
    assert query(osim, sid, "ZZ00000000") == (
        400,
        {
            "output_ResponseCode": "INS-23",
            "output_ResponseDesc": "Transaction not found. Contact M-Pesa Support",
        },
    )
    for missing in (
        "input_QueryReference",
        "input_ServiceProviderCode",
        "input_ThirdPartyConversationID",
        "input_Country",
    ):
        status, answer = query(osim, sid, paid["output_TransactionID"], **{missing: ""})
        assert (status, answer["output_ResponseCode"]) == (400, "INS-20"), missing
    assert (
        query(osim, sid, paid["output_TransactionID"], input_Country="XYZ")[1]["output_ResponseCode"]
        == "INS-998"
    )
    wrong_spc = query(osim, sid, paid["output_TransactionID"], input_ServiceProviderCode="ORG999")
    assert wrong_spc[1]["output_ResponseCode"] == "INS-13"
    assert query(osim, sid, "not-a-reference")[1]["output_ResponseCode"] == "INS-21"
    # The query carries no body: a POST is not the query.
    assert osim.openapi_call("POST", "queryTransactionStatus", sid, json={})[0] == 405


# -- reversal -----------------------------------------------------------------------------------
def test_reversal_puts_the_money_back(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    paid = pay(osim, sid, msisdn, "400")[1]
    before = utility(osim)
    body = reversal_body(osim, paid["output_TransactionID"])
    status, answer = osim.openapi_call("PUT", "reversal", sid, json=body)
    assert status == 201 and list(answer) == [
        "output_ResponseCode",
        "output_ResponseDesc",
        "output_TransactionID",
        "output_ConversationID",
        "output_ThirdPartyConversationID",
    ]
    assert answer["output_ResponseCode"] == "INS-0" and RECEIPT.match(answer["output_TransactionID"])
    assert answer["output_TransactionID"] != paid["output_TransactionID"] and HEX32.match(
        answer["output_ConversationID"]
    )
    assert answer["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    assert balance(osim, msisdn) == 0 and utility(osim) == before + 40_000
    sms = osim.admin("GET", f"/sim/phones/{msisdn}/sms")[1][0]["body"]
    reversed_ = REVERSED.get(osim.market_code, "Transaction {} of {}")
    assert reversed_.format(paid["output_TransactionID"], f"{MONEY[osim.market_code]}400.00") in sms
    original = query(osim, sid, paid["output_TransactionID"])[1]
    assert (original["output_ResponseTransactionStatus"], original["output_Reversed"]) == (
        "Completed",
        "True",
    )
    itself = query(osim, sid, answer["output_TransactionID"])[1]
    assert (itself["output_ResponseTransactionStatus"], itself["output_Reversed"]) == ("Completed", "False")
    again = reverse(osim, sid, paid["output_TransactionID"])  # already reversed
    assert (again[0], again[1]["output_ResponseCode"], again[1]["output_ResponseDesc"]) == (
        409,
        "INS-10",
        "Duplicate Transaction",
    )
    assert osim.openapi_call("PUT", "reversal", sid, json=body) == (  # the same id again
        409,
        {"output_ResponseCode": "INS-10", "output_ResponseDesc": "Duplicate Transaction"},
    )
    assert balance(osim, msisdn) == 0 and osim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_reversal_refusals(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    paid = pay(osim, sid, msisdn, "100")[1]["output_TransactionID"]
    spender = wallet(osim, balance="50")
    not_ours = till_payment(osim, spender, 5)
    cases = [
        (reversal_body(osim, "ZZ12345678"), 400, "INS-23", "Transaction not found. Contact M-Pesa Support"),
        (reversal_body(osim, not_ours), 400, "INS-35", "This transaction do not belong to you"),
        (reversal_body(osim, paid, input_ReversalAmount="50"), 400, "INS-15", "Invalid Amount Used"),
        (reversal_body(osim, "AB-12"), 400, "INS-18", "Invalid TransactionID Used"),
        (reversal_body(osim, paid, input_TransactionID=None), 400, "INS-20", None),
        (reversal_body(osim, paid, input_Country="TZA"), 400, "INS-998", "Invalid Market"),
        (
            reversal_body(osim, paid, input_ServiceProviderCode="ORG001"),
            400,
            "INS-13",
            "Invalid Shortcode Used",
        ),
    ]
    for body, status, code, desc in cases:
        got_status, answer = osim.openapi_call("PUT", "reversal", sid, json=body)
        assert (got_status, answer["output_ResponseCode"]) == (status, code), body
        assert desc is None or answer["output_ResponseDesc"] == desc
    assert balance(osim, msisdn) == 10_000
    # The full amount given explicitly is a full reversal.
    status, answer = reverse(osim, sid, paid, input_ReversalAmount="100.00")
    assert status == 201 and balance(osim, msisdn) == 0
    # The money is no longer in the wallet: 422 INS-2006.
    paid = pay(osim, sid, msisdn, "100")[1]["output_TransactionID"]
    till_payment(osim, msisdn, 60)
    status, answer = reverse(osim, sid, paid)
    assert (status, answer["output_ResponseCode"], answer["output_ResponseDesc"]) == (
        422,
        "INS-2006",
        "Insufficient balance",
    )
    assert balance(osim, msisdn) == 4_000


def test_a_reversal_posted_instead_of_put_is_405_and_moves_nothing(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    paid = pay(osim, sid, msisdn, "100")[1]["output_TransactionID"]
    body = reversal_body(osim, paid)
    status, answer = osim.openapi_call("POST", "reversal", sid, json=body)
    assert status == 405 and isinstance(answer, dict)
    assert balance(osim, msisdn) == 10_000 and recorded(osim, body["input_ThirdPartyConversationID"]) == []
    # The PUT that follows is the first one received with that id.
    assert osim.openapi_call("PUT", "reversal", sid, json=body)[0] == 201


# -- asynchronous answers -----------------------------------------------------------------------
def callback_for(sink: CallbackSink, third_party_id: str, timeout: float = 10):
    return sink.wait_for(
        lambda c: isinstance(c.body, dict) and c.body.get("input_ThirdPartyConversationID") == third_party_id,
        timeout=timeout,
    )


def test_async_mode_posts_the_results_to_the_callback_url(osim, sink):
    osim.set_config(openapi_b2c_mode="async", openapi_callback_url=sink.url("/mpesa/result"))
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    body = b2c_body(osim, msisdn, "120")
    status, ack = osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert status == 201 and list(ack) == [
        "output_ResponseCode",
        "output_ResponseDesc",
        "output_ConversationID",
        "output_ThirdPartyConversationID",
    ]
    callback = callback_for(sink, body["input_ThirdPartyConversationID"])
    assert callback.path == "/mpesa/result"
    result = callback.body
    assert list(result) == [
        "input_OriginalConversationID",
        "input_TransactionID",
        "input_ResultCode",
        "input_ResultDesc",
        "input_ThirdPartyConversationID",
    ]
    assert result["input_OriginalConversationID"] == ack["output_ConversationID"]
    assert (result["input_ResultCode"], result["input_ResultDesc"]) == (
        "INS-0",
        "Request processed successfully",
    )
    assert RECEIPT.match(result["input_TransactionID"]) and balance(osim, msisdn) == 12_000
    found = query(osim, sid, ack["output_ConversationID"])[1]
    assert (found["output_ResponseTransactionStatus"], found["output_OriginalTransactionID"]) == (
        "Completed",
        result["input_TransactionID"],
    )
    # A refusal comes in the callback too, after a 201.
    refused = b2c_body(osim, NOT_MPESA[osim.market_code])
    assert osim.openapi_call("POST", "b2cPayment", sid, json=refused)[0] == 201
    failure = callback_for(sink, refused["input_ThirdPartyConversationID"]).body
    assert (failure["input_ResultCode"], failure["input_ResultDesc"], failure["input_TransactionID"]) == (
        "INS-2051",
        "MSISDN invalid.",
        "",
    )
    # The reversal's result too.
    reversal = reversal_body(osim, result["input_TransactionID"])
    status, ack = osim.openapi_call("PUT", "reversal", sid, json=reversal)
    assert status == 201 and "output_TransactionID" not in ack
    reversed_ = callback_for(sink, reversal["input_ThirdPartyConversationID"]).body
    assert reversed_["input_ResultCode"] == "INS-0" and RECEIPT.match(reversed_["input_TransactionID"])
    assert balance(osim, msisdn) == 0
    # A duplicate is still refused at once.
    assert osim.openapi_call("POST", "b2cPayment", sid, json=body)[0] == 409


def test_async_callback_faults(osim, sink):
    osim.set_config(openapi_b2c_mode="async", openapi_callback_url=sink.url("/cb"))
    sid = osim.openapi_session()
    # no_callback: paid, nothing posted
    msisdn = wallet(osim, balance="0")
    osim.set_faults(no_callback={})
    body = b2c_body(osim, msisdn)
    assert osim.openapi_call("POST", "b2cPayment", sid, json=body)[0] == 201
    osim.drain()
    assert balance(osim, msisdn) == 10_000 and not sink.received()
    # duplicate_callback: the same result twice
    osim.set_faults(duplicate_callback={"copies": 2})
    body = b2c_body(osim, msisdn)
    osim.openapi_call("POST", "b2cPayment", sid, json=body)
    copies = sink.wait_for_count(
        2, lambda c: c.body.get("input_ThirdPartyConversationID") == body["input_ThirdPartyConversationID"]
    )
    assert copies[0].body == copies[1].body
    # late_callback: after delay_ms
    osim.set_faults(late_callback={"delay_ms": 400})
    body = b2c_body(osim, msisdn)
    sent = time.time()
    osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert callback_for(sink, body["input_ThirdPartyConversationID"]).received_at - sent >= 0.4
    # callback_delivery_failure: recorded, not delivered
    osim.set_faults(callback_delivery_failure={})
    body = b2c_body(osim, msisdn)
    osim.openapi_call("POST", "b2cPayment", sid, json=body)
    osim.drain()
    attempts = osim.admin(
        "GET", "/sim/admin/callbacks?originator_conversation_id=" + body["input_ThirdPartyConversationID"]
    )[1]
    assert attempts and not attempts[0]["delivered"] and "callback_delivery_failure" in attempts[0]["error"]
    # lost_result: paid, no callback, every query about it times out
    osim.set_faults(lost_result={})
    body = b2c_body(osim, msisdn)
    status, ack = osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert status == 201
    osim.drain()
    osim.reset_faults()
    assert balance(osim, msisdn) == 50_000
    assert not [
        c
        for c in sink.received()
        if c.body.get("input_ThirdPartyConversationID") == body["input_ThirdPartyConversationID"]
    ]
    assert query(osim, sid, ack["output_ConversationID"]) == (
        408,
        {"output_ResponseCode": "INS-9", "output_ResponseDesc": "Request timeout"},
    )


# -- faults (synchronous answers) ---------------------------------------------------------------
def test_sync_faults(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    # sync_500: not processed
    osim.set_faults(sync_500={})
    body = b2c_body(osim, msisdn)
    status, answer = osim.openapi_call("POST", "b2cPayment", sid, json=body)
    assert status == 500 and answer["output_ResponseCode"] == "INS-1"
    assert recorded(osim, body["input_ThirdPartyConversationID"]) == [] and balance(osim, msisdn) == 0
    # sync_500_processed: processed, the answer lost as a timeout
    osim.set_faults(sync_500_processed={})
    body = b2c_body(osim, msisdn)
    assert osim.openapi_call("POST", "b2cPayment", sid, json=body) == (
        408,
        {"output_ResponseCode": "INS-9", "output_ResponseDesc": "Request timeout"},
    )
    osim.reset_faults()
    assert balance(osim, msisdn) == 10_000
    assert (
        query(osim, sid, body["input_ThirdPartyConversationID"])[1]["output_ResponseTransactionStatus"]
        == "Completed"
    )
    # ins_1: says nothing about the outcome, either way
    for processed, expected in ((False, 10_000), (True, 20_000)):
        osim.set_faults(ins_1={"processed": processed})
        body = b2c_body(osim, msisdn)
        assert osim.openapi_call("POST", "b2cPayment", sid, json=body) == (
            400,
            {"output_ResponseCode": "INS-1", "output_ResponseDesc": "Internal Error"},
        )
        osim.reset_faults()
        assert balance(osim, msisdn) == expected
        found = query(osim, sid, body["input_ThirdPartyConversationID"])
        assert found[0] == (200 if processed else 400)
    # slow_response: the answer comes late
    osim.set_faults(slow_response={"delay_ms": 300})
    started = time.monotonic()
    assert pay(osim, sid, msisdn)[0] == 201
    assert time.monotonic() - started >= 0.3
    # lost_result (sync): processed, answered as a timeout, and so is every query about it
    osim.set_faults(lost_result={})
    body = b2c_body(osim, msisdn)
    assert osim.openapi_call("POST", "b2cPayment", sid, json=body)[0] == 408
    osim.reset_faults()
    assert balance(osim, msisdn) == 40_000
    assert query(osim, sid, body["input_ThirdPartyConversationID"])[0] == 408
    # a rule for another number does not fire, and the reversal's customer is the payment's
    osim.set_faults(sync_500={"msisdn": "000*"})
    assert pay(osim, sid, msisdn)[0] == 201
    paid = pay(osim, sid, msisdn)[1]["output_TransactionID"]
    osim.set_faults(sync_500={"msisdn": msisdn})
    assert reverse(osim, sid, paid)[0] == 500
    osim.reset_faults()
    assert reverse(osim, sid, paid)[0] == 201
    stats = osim.admin("GET", "/sim/admin/stats")[1]["faults_injected"]
    assert stats["ins_1"] >= 2 and stats["sync_500_processed"] >= 1
    assert osim.admin("PUT", "/sim/admin/faults", {"faults": {"ins_1": {"processed": "yes"}}})[0] == 400


def test_the_query_and_reversal_obey_the_faults_too(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    paid = pay(osim, sid, msisdn)[1]["output_TransactionID"]
    osim.set_faults(sync_500_processed={})
    status, answer = reverse(osim, sid, paid)
    assert (status, answer["output_ResponseCode"]) == (408, "INS-9")
    assert query(osim, sid, paid)[0] == 408  # the rule fires on the query too
    osim.reset_faults()
    assert query(osim, sid, paid)[1]["output_Reversed"] == "True" and balance(osim, msisdn) == 0
    osim.set_faults(ins_1={})
    assert query(osim, sid, paid)[1]["output_ResponseCode"] == "INS-1"


# -- USSD, statement, restart -------------------------------------------------------------------
def test_ussd_menu_in_the_markets_currency(osim):
    market = markets.get(osim.market_code)
    msisdn = wallet(osim, balance="1000", pin="4321")
    money = MONEY[osim.market_code]
    too_much = market.limits["max_amount"] + 1
    assert f" 1 {'a' if market.code in ('CD', 'MZ') else 'to'} {too_much - 1:,}." in dial(
        osim, msisdn, f"2*123456*{too_much}"
    )
    assert f"{money}1,000.00." in dial(osim, msisdn, "1*4321")
    assert f" {money}200.00 " in dial(osim, msisdn, "2*123456*200*4321")
    answer = dial(osim, msisdn, "", service_code="*334#")
    assert answer.startswith("END UNKNOWN APPLICATION") and market.ussd_code in answer
    menu = dial(osim, msisdn, "4*1")
    assert ("2. Kiswahili" in menu) == (osim.market_code == "TZ")
    if osim.market_code not in ("CD", "MZ"):  # French and Portuguese: tests/test_sim_ussd_languages.py
        assert dial(osim, msisdn, "").startswith("CON M-PESA\n1. Check balance")
        assert dial(osim, msisdn, "1*4321") == f"END Your M-PESA balance is {money}1,000.00."
        assert f"Pay {money}200.00 to" in dial(osim, msisdn, "2*123456*200*4321")
        frozen = next(w["msisdn"] for w in market.demo_wallets if w.get("status") == "frozen")
        assert dial(osim, frozen, "").startswith("END Your M-PESA account is frozen. " + market.help_line)
    status, page = osim.call("GET", "/phone")
    assert status == 200 and 'id="market-badge"' in page


def test_the_statement_lists_the_openapi_payments(osim):
    msisdn = wallet(osim, balance="0")
    sid = osim.openapi_session()
    paid = pay(osim, sid, msisdn, "77")[1]["output_TransactionID"]
    reversed_ = reverse(osim, sid, paid)[1]["output_TransactionID"]
    status, csv_text = osim.call("GET", "/sim/admin/statement?format=csv", token=osim.admin_token)
    assert status == 200
    lines = csv_text.splitlines()
    assert lines[1] == f"Short Code:,{osim.shortcode}"
    row = next(line for line in lines if line.startswith(paid + ","))
    assert f"Business Payment to {msisdn} - TEST PERSON" in row and ",-77.00," in row
    assert next(line for line in lines if line.startswith(reversed_ + ",")).count(paid) >= 1


def test_a_restart_keeps_the_market_the_keys_and_live_sessions(tmp_path):
    db = str(tmp_path / "tz.sqlite3")
    with start_simulator(db_path=db, market="TZ") as sim:
        settings = sim.app_settings()
        sim.set_config(openapi_session_delay_seconds=0)
        sid = sim.openapi_session()
        sim.restart()
        assert {k: v for k, v in sim.app_settings().items() if k != "base_url"} == {
            k: v for k, v in settings.items() if k != "base_url"
        }
        assert pay(sim, sid, "255754123456", "5")[0] == 201
    with pytest.raises(RuntimeError, match="is a TZ .Tanzania. simulator; it cannot start as KE"):
        with start_simulator(db_path=db, market="KE"):
            pass


def test_kenya_keeps_its_settings_and_serves_no_openapi(sim):
    assert set(sim.app_settings()) == {
        "base_url", "consumer_key", "consumer_secret", "shortcode", "initiator_name", "initiator_password",
    }  # fmt: skip
    assert sim.call("GET", "/sandbox/ipg/v2/vodacomTZN/getSession/")[0] == 404
    assert sim.call("GET", "/sim/openapi/public-key")[0] == 404
    status, body = sim.admin("PUT", "/sim/admin/config", {"openapi_b2c_mode": "async"})
    assert status == 400 and "unknown settings" in body["detail"]
    assert "openapi_b2c_mode" not in sim.admin("GET", "/sim/admin/config")[1]


# -- an independent client: pypesa (Vodacom's PortalSDK), unchanged -----------------------------
def _need_pypesa() -> None:
    if APIContext is None:
        pytest.skip(
            "pypesa is not installed (PyPI pypesa: openpesa's copy of Vodacom's PortalSDK, needs"
            " pycryptodome): pip install -e '.[test]'"
        )


def portal_context(sim: RunningSimulator, api_key: str, method, api: str, parameters: dict | None = None):
    """An APIContext as the PortalSDK samples build one, given only the simulator's address."""
    context = APIContext(
        api_key=api_key,
        public_key=sim.openapi["public_key"],
        ssl=False,
        method_type=method,
        address="127.0.0.1",
        port=sim.port,
        path=sim.openapi_path(api),
        headers={},  # pypesa's defaults are shared mutable dicts
        parameters={},
    )
    context.add_header("Origin", "*")
    for key, value in (parameters or {}).items():
        context.add_parameter(key, value)
    return context


def test_pypesa_drives_session_b2c_query_and_reversal(osim):
    _need_pypesa()
    response = APIRequest(
        portal_context(osim, osim.openapi["api_key"], APIMethodType.GET, "getSession")
    ).execute()
    assert response.status_code == 200 and response.body["output_ResponseCode"] == "INS-0"
    session_id = response.body["output_SessionID"]
    msisdn = wallet(osim, balance="0")
    b2c = b2c_body(osim, msisdn, "10.00")
    response = APIRequest(portal_context(osim, session_id, APIMethodType.POST, "b2cPayment", b2c)).execute()
    assert response.status_code == 201 and response.body["output_ResponseCode"] == "INS-0", response
    receipt = response.body["output_TransactionID"]
    assert balance(osim, msisdn) == 1_000
    status_query = {
        "input_QueryReference": b2c["input_ThirdPartyConversationID"],
        "input_ServiceProviderCode": osim.openapi["service_provider_code"],
        "input_ThirdPartyConversationID": tpcid(),
        "input_Country": osim.openapi["country"],
    }
    response = APIRequest(
        portal_context(osim, session_id, APIMethodType.GET, "queryTransactionStatus", status_query)
    ).execute()
    assert response.status_code == 200 and response.body["output_ResponseTransactionStatus"] == "Completed"
    assert response.body["output_OriginalTransactionID"] == receipt
    reversal = reversal_body(osim, receipt)
    response = APIRequest(portal_context(osim, session_id, APIMethodType.PUT, "reversal", reversal)).execute()
    assert response.status_code == 201 and response.body["output_ResponseCode"] == "INS-0", response
    assert balance(osim, msisdn) == 0
    # Its errors come through as the simulator sends them.
    response = APIRequest(portal_context(osim, "wrong-key", APIMethodType.GET, "getSession")).execute()
    assert (response.status_code, response.body["output_ResponseCode"]) == (400, "INS-989")
    response = APIRequest(portal_context(osim, session_id, APIMethodType.PUT, "reversal", reversal)).execute()
    assert (response.status_code, response.body["output_ResponseCode"]) == (409, "INS-10")


def test_pypesa_mpesa_class_with_its_address_changed(osim):
    """pypesa's MPESA class opens a session per call and never waits (delay 0 here); it also
    overwrites its context's API key with that SessionID, so one instance makes one call, and
    its getSession path is always vodacomTZN's."""
    _need_pypesa()
    if osim.market_code != "TZ":
        pytest.skip("pypesa's MPESA.get_session_id() always calls /sandbox/ipg/v2/vodacomTZN/getSession/")
    msisdn = wallet(osim, balance="0")

    def client():
        mpesa = MPESA(osim.openapi["api_key"], osim.openapi["public_key"], ssl=False)
        mpesa.context.update({"address": "127.0.0.1", "port": osim.port})
        return mpesa

    b2c = b2c_body(osim, msisdn, "25")
    response = client().business2customer(b2c, path=osim.openapi_path("b2cPayment"))
    assert response.status_code == 201 and balance(osim, msisdn) == 2_500
    found = client().status(
        {
            "input_QueryReference": response.body["output_TransactionID"],
            "input_ServiceProviderCode": osim.openapi["service_provider_code"],
            "input_ThirdPartyConversationID": tpcid(),
            "input_Country": osim.openapi["country"],
        },
        path=osim.openapi_path("queryTransactionStatus"),
    )
    assert found.body["output_ResponseTransactionStatus"] == "Completed"
    undone = client().reversal(
        reversal_body(osim, response.body["output_TransactionID"]), path=osim.openapi_path("reversal")
    )
    assert undone.status_code == 201 and balance(osim, msisdn) == 0
