"""Vodacom Mozambique's own M-Pesa API (developer.mpesa.vm.co.mz, "v1x") on a Mozambique simulator.

Served beside the OpenAPI, on the same ledger, over real HTTP: B2C, the status query, reversal,
every refusal with its HTTP status and INS code, the faults, asynchronous mode, the extra ports
(``--mz-ports``), and an independent client used unchanged: PyPI ``paymentsds-mpesa`` 0.1a10
(paymentsds/mpesa-python-sdk), given only a host.

That client appends fixed ports to the host (18345 B2C, 18352 C2B, 18353 query, 18354 reversal,
18349 B2B: its ``constants.DEFAULT_OPERATIONS``) and cannot be given others. So this module's
simulator listens on exactly those ports, on a loopback address of its own (127.x.y.z, any of
which is this machine on Linux) checked free first, and its own port is a free one. The extra
ports with free numbers are tested on their own simulator (``test_extra_ports_are_free_ports``).
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import pytest
import requests

from mpesa_sim import credentials, markets, organisation
from mpesa_sim.testing import CallbackSink, RunningSimulator, free_port, http_json, start_simulator

try:  # the independent client, unchanged
    from paymentsds.mpesa import Client
    from paymentsds.mpesa.constants import DEFAULT_OPERATIONS
    from paymentsds.mpesa.exceptions import MissingPropertyError, ValidationError
except ImportError:  # pragma: no cover - pip install paymentsds-mpesa
    Client = None
    DEFAULT_OPERATIONS = {}

MZ = markets.get("MZ")
RECEIPT = re.compile(r"^[A-Z0-9]{10}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
ANSWER_FIELDS = {
    "output_ConversationID",
    "output_TransactionID",
    "output_ResponseCode",
    "output_ResponseDesc",
    "output_ThirdPartyReference",
}
# The real API's port of each operation (vodacom-openapi.md 8), the same as the client's.
REAL_PORTS = {"b2c": 18345, "b2b": 18349, "c2b": 18352, "query": 18353, "reversal": 18354}


def library_ports() -> dict[str, int]:
    """The ports the client appends, read from the client itself."""
    if not DEFAULT_OPERATIONS:
        return dict(REAL_PORTS)
    names = {"B2C_PAYMENT": "b2c", "B2B_PAYMENT": "b2b", "C2B_PAYMENT": "c2b"}
    names |= {"QUERY_TRANSACTION_STATUS": "query", "REVERSAL": "reversal"}
    return {names[op]: int(spec["port"]) for op, spec in DEFAULT_OPERATIONS.items()}


def loopback_with_free(ports) -> str | None:
    """A 127.x.y.z address on which every one of ``ports`` is free, or None."""
    rng = random.Random()
    for _ in range(20):
        host = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(2, 254)}"
        probes = []
        try:
            for port in ports:
                sock = socket.socket()
                probes.append(sock)
                sock.bind((host, port))
            return host
        except OSError:
            continue
        finally:
            for sock in probes:
                sock.close()
    return None


@pytest.fixture(scope="module")
def _mz_sim():
    ports = library_ports()
    host = loopback_with_free(ports.values())
    if host is None:  # pragma: no cover - no free loopback address: the client's ports are fixed
        pytest.skip("no 127.x.y.z address with the client's fixed ports free")
    with start_simulator(market="MZ", host=host, mz_ports=sorted(set(ports.values()))) as running:
        yield running


@pytest.fixture
def mz(_mz_sim: RunningSimulator) -> RunningSimulator:
    if not _mz_sim.running:
        _mz_sim.start()
    reset(_mz_sim)
    yield _mz_sim
    _mz_sim.reset_faults()


def reset(sim: RunningSimulator, **config) -> None:
    sim.reset_faults()
    sim.set_config(**{**organisation.default_config(MZ), "openapi_session_delay_seconds": 0, **config})


@pytest.fixture
def sink():
    with CallbackSink() as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------
_numbers = iter(range(int.from_bytes(os.urandom(2), "big") * 1000, 10**9))


def wallet(sim: RunningSimulator, prefix: str = "25884", **fields) -> str:
    msisdn = fields.pop("msisdn", None) or prefix + "%07d" % (next(_numbers) % 10**7)
    sim.seed(wallets=[{"msisdn": msisdn, "first_name": "Test", "last_name": "Pessoa", **fields}])
    return msisdn


def ref() -> str:
    return "r" + uuid.uuid4().hex[:24]


def balance(sim: RunningSimulator, msisdn: str) -> int:
    return sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"]


def utility(sim: RunningSimulator) -> int:
    accounts = sim.admin("GET", "/sim/admin/accounts")[1]
    return next(a for a in accounts if a["ref"] == "org:utility")["balance_cents"]


def recorded(sim: RunningSimulator, reference: str) -> list[dict]:
    return sim.transactions(originator_conversation_id=reference)


def url(sim: RunningSimulator, role: str, port: int | None = None) -> str:
    """The operation's URL on its real port when the simulator listens there, else its own."""
    if port is None:
        port = sim.mz["ports"][role] if sim.mz["ports"][role] in sim.mz["listening_ports"] else sim.port
    return f"http://{sim.host}:{port}{sim.mz['paths'][role]}"


def headers(sim: RunningSimulator, api_key: str | None = None, origin: str | None = "*") -> dict:
    bearer = credentials.openapi_bearer(sim.mz["public_key"], api_key or sim.mz["api_key"])
    found = {"Authorization": "Bearer " + bearer, "Content-Type": "application/json"}
    if origin is not None:
        found["Origin"] = origin
    return found


def b2c_body(sim: RunningSimulator, msisdn: str, amount="10", **overrides) -> dict:
    body = {
        "input_TransactionReference": "T12344C",
        "input_CustomerMSISDN": msisdn,
        "input_Amount": amount,
        "input_ThirdPartyReference": ref(),
        "input_ServiceProviderCode": sim.mz["service_provider_code"],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def reversal_body(sim: RunningSimulator, receipt: str, **overrides) -> dict:
    body = {
        "input_TransactionID": receipt,
        "input_SecurityCredential": sim.mz["security_credential"],
        "input_InitiatorIdentifier": sim.mz["initiator_identifier"],
        "input_ThirdPartyReference": ref(),
        "input_ServiceProviderCode": sim.mz["service_provider_code"],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def call(sim, method: str, role: str, body=None, params=None, hdrs=None, port=None, data=None):
    """(HTTP status, JSON answer) of one raw call."""
    response = requests.request(
        method,
        url(sim, role, port),
        json=body if data is None else None,
        data=data,
        params=params,
        headers=headers(sim) if hdrs is None else hdrs,
        timeout=30,
    )
    return response.status_code, response.json()


def pay(sim, msisdn, amount="10", **overrides):
    body = b2c_body(sim, msisdn, amount, **overrides)
    status, answer = call(sim, "POST", "b2c", body)
    return status, answer, body


def query(sim, reference: str, **overrides):
    params = {
        "input_QueryReference": reference,
        "input_ServiceProviderCode": sim.mz["service_provider_code"],
        "input_ThirdPartyReference": ref(),
    }
    params.update(overrides)
    return call(sim, "GET", "query", params={k: v for k, v in params.items() if v is not None})


def reverse(sim, receipt: str, **overrides):
    return call(sim, "PUT", "reversal", reversal_body(sim, receipt, **overrides))


def assert_answer(answer: dict, code: str, status: int, got_status: int, desc: str | None = None) -> None:
    assert (got_status, answer["output_ResponseCode"]) == (status, code), answer
    assert set(answer) == ANSWER_FIELDS, answer
    assert HEX32.match(answer["output_ConversationID"])
    if desc is not None:
        assert answer["output_ResponseDesc"] == desc


def dial(sim, msisdn: str, text: str) -> str:
    form = {
        "sessionId": "s-" + uuid.uuid4().hex[:8],
        "serviceCode": MZ.ussd_code,
        "phoneNumber": "+" + msisdn,
    }
    status, body = http_json(
        "POST",
        sim.base_url + "/ussd",
        data=urllib.parse.urlencode({**form, "text": text}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
    return body


def till_payment(sim, msisdn: str, amount: int) -> str:
    """The receipt of a USSD till payment by this wallet (PIN 1234): not the organisation's."""
    answer = dial(sim, msisdn, f"2*123456*{amount}*1234*1")
    assert "Confirmado" in answer, answer  # the menu speaks Portuguese (tests/test_sim_ussd_languages.py)
    return answer.split()[1]


def need_library() -> None:
    if Client is None:
        pytest.skip("paymentsds-mpesa is not installed: pip install paymentsds-mpesa==0.1a10")


def client(sim: RunningSimulator, **overrides) -> Client:
    """The client as its README configures it, given the simulator's host (no port: it appends its
    own) and the application's settings from /sim/admin/info."""
    settings = {
        "api_key": sim.mz["api_key"],
        "public_key": sim.mz["public_key"],
        "service_provider_code": sim.mz["service_provider_code"],
        "initiator_identifier": sim.mz["initiator_identifier"],
        "security_credential": sim.mz["security_credential"],
        "host": f"http://{sim.host}",
        "timeout": 30,
    }
    settings.update(overrides)
    return Client(**settings)


def receipt_of(sim: RunningSimulator, reference: str) -> str:
    (row,) = recorded(sim, reference)
    return row["receipt"]


# -- the application ----------------------------------------------------------------------------
def test_info_public_key_and_the_markets_that_serve_it(mz, sim):
    info = mz.mz
    assert info["service_provider_code"] == MZ.org["shortcode"] == "000258"
    assert re.fullmatch(r"[a-z0-9]{32}", info["api_key"]) and info["api_key"] != mz.openapi["api_key"]
    assert info["public_key"] != mz.openapi["public_key"]  # an application of its own
    assert info["initiator_identifier"] and re.fullmatch(r"\w{16}", info["security_credential"])
    assert info["ports"] == REAL_PORTS
    assert sorted(info["listening_ports"]) == sorted(set(library_ports().values()))
    assert info["paths"]["b2c"] == "/ipg/v1x/b2cPayment/"
    assert info["reversal_amount_fields"] == ["input_ReversalAmount", "input_Amount"]
    assert mz.call("GET", "/sim/mz/public-key") == (200, info["public_key"])
    # The OpenAPI is still served beside it.
    assert mz.call("GET", "/sim/openapi/public-key")[0] == 200
    spec = mz.call("GET", "/openapi.json")[1]
    assert "/ipg/v1x/b2cPayment/" in spec["paths"] and "MzApiKeyBearer" in str(spec["components"])
    # Kenya (Daraja) serves none of it.
    assert "mz" not in sim.admin("GET", "/sim/admin/info")[1]
    assert sim.call("POST", "/ipg/v1x/b2cPayment/", json={})[0] == 404
    assert sim.call("GET", "/sim/mz/public-key")[0] == 404


# -- the independent client ---------------------------------------------------------------------
def test_library_pays_queries_and_reverses(mz):
    need_library()
    msisdn = wallet(mz, balance="0")
    before = utility(mz)
    reference = ref()
    result = client(mz).send(
        {"to": msisdn, "reference": reference, "transaction": "T12344C", "amount": "250"}
    )
    assert result.success and (result.status.code, result.status.description) == (
        "INS-0",
        "Request processed successfully",
    )
    assert result.data["reference"] == reference and HEX32.match(result.data["conversation"])
    # The client never hands over output_TransactionID (it tests hasattr() on a dict): the receipt
    # is read from the simulator's own record.
    assert "transaction" not in result.data
    receipt = receipt_of(mz, reference)
    assert RECEIPT.match(receipt)
    assert balance(mz, msisdn) == 25_000 and utility(mz) == before - 25_000
    for subject in (reference, receipt, result.data["conversation"]):
        found = client(mz).query({"subject": subject, "reference": "Q1"})
        assert found.success and found.status.code == "INS-0"
        assert found.data == {"conversation": result.data["conversation"], "reference": "Q1"}
    # queryTransactionStatus' status is in the body the client keeps to itself: asked raw.
    assert query(mz, reference)[1]["output_ResponseTransactionStatus"] == "Completed"
    undo = client(mz).revert({"reference": ref(), "transaction": receipt, "amount": "250"})
    assert undo.success and undo.status.code == "INS-0"
    assert balance(mz, msisdn) == 0 and utility(mz) == before
    (row,) = mz.transactions(receipt=receipt)
    assert row["reversed_by"] and row["api"] == "mz_b2c"
    again = client(mz).revert({"reference": ref(), "transaction": receipt, "amount": "250"})
    assert not again.success and again.status.code == "INS-10"


def test_library_sees_each_refusal(mz):
    need_library()
    ok = wallet(mz, balance="0")
    frozen = wallet(mz, status="frozen")
    unregistered = wallet(mz, registered=False)

    def send(to, amount="10", reference=None, transaction="T1", **config):
        data = {"to": to, "reference": reference or ref(), "transaction": transaction, "amount": amount}
        return client(mz, **config).send(data)

    cases = [
        (send(ok, api_key="not-the-api-key"), "INS-2", "Invalid API Key"),
        (send(ok, service_provider_code="171717"), "INS-13", "Invalid Shortcode Used"),
        # The client accepts 84xxxxxxx and sends it as it is; the API wants 258 first.
        (send(ok[3:]), "INS-2051", "MSISDN invalid."),
        (send(unregistered), "INS-2002", "Receiver invalid."),
        (send(frozen), "INS-996", "Customer Account Status Not Active"),
        (send(ok, amount=str(MZ.limits["max_amount"] + 1)), "INS-15", "Invalid Amount Used"),
        # Its \w+ check matches a prefix only: a '-' gets through to the API.
        (send(ok, reference="ref-1"), "INS-19", "Invalid ThirdPartyReference Used"),
        (send(ok, transaction="T" * 21), "INS-17", None),
    ]
    for result, code, desc in cases:
        assert not result.success and result.status.code == code, (code, result.status)
        if desc:
            assert result.status.description == desc
    # A reference is spent by its first request, whatever came of it.
    reference = ref()
    assert send(ok, reference=reference).success
    assert send(ok, reference=reference).status.code == "INS-10"
    # Insufficient float.
    mz.set_config(max_amount=10**9, recipient_daily_limit=10**9, recipient_balance_cap=10**9)
    result = send(ok, amount=str(utility(mz) // 100 + 1))
    assert not result.success and result.status.code == "INS-2006"
    # Reversal refusals.
    receipt = receipt_of(mz, reference)
    for config, code in (
        ({"initiator_identifier": "SomeoneElse"}, "INS-24"),
        ({"security_credential": "WrongCredential"}, "INS-25"),
    ):
        result = client(mz, **config).revert({"reference": ref(), "transaction": receipt, "amount": "10"})
        assert not result.success and result.status.code == code
    result = client(mz).revert({"reference": ref(), "transaction": "NOSUCHTX01", "amount": "10"})
    assert result.status.code == "INS-18"
    result = client(mz).query({"subject": "NOSUCHTX01", "reference": "Q1"})
    assert not result.success and result.status.code == "INS-23"
    assert balance(mz, ok) == 1_000


def test_where_the_library_itself_falls_short(mz):
    """Documented gaps of paymentsds-mpesa 0.1a10, found against the simulator."""
    need_library()
    msisdn = wallet(mz, balance="0")
    # Its README configures reversals with initiatorIdentifier= and securityIdentifier=, names
    # the client silently ignores: the reversal then stops for missing properties.
    readme = Client(
        api_key=mz.mz["api_key"],
        public_key=mz.mz["public_key"],
        service_provider_code=mz.mz["service_provider_code"],
        initiatorIdentifier=mz.mz["initiator_identifier"],
        securityIdentifier=mz.mz["security_credential"],
        host=f"http://{mz.host}",
    )
    with pytest.raises(MissingPropertyError):
        readme.revert({"reference": ref(), "transaction": "ABCDEF1234", "amount": "10"})
    # Its amount pattern ^[1-9][0-9]*(\.[0-9])*$ refuses two decimals ("10.50") before sending.
    with pytest.raises(ValidationError):
        client(mz).send({"to": msisdn, "reference": ref(), "transaction": "T1", "amount": "10.50"})
    result = client(mz).send({"to": msisdn, "reference": ref(), "transaction": "T1", "amount": "10.5"})
    assert result.success and balance(mz, msisdn) == 1_050


# -- B2C over raw HTTP --------------------------------------------------------------------------
def test_b2c_answer_ledger_sms_and_statement(mz):
    msisdn = wallet(mz, balance="0")
    before = utility(mz)
    status, answer, body = pay(mz, msisdn, "125.50")
    assert_answer(answer, "INS-0", 201, status, "Request processed successfully")
    assert RECEIPT.match(answer["output_TransactionID"])
    assert answer["output_ThirdPartyReference"] == body["input_ThirdPartyReference"]
    assert balance(mz, msisdn) == 12_550 and utility(mz) == before - 12_550
    (row,) = recorded(mz, body["input_ThirdPartyReference"])
    assert (row["kind"], row["api"], row["status"], row["receipt"]) == (
        "b2c",
        "mz_b2c",
        "completed",
        answer["output_TransactionID"],
    )
    assert row["conversation_id"] == answer["output_ConversationID"]
    sms = mz.admin("GET", f"/sim/admin/sms?msisdn={msisdn}")[1]
    assert answer["output_TransactionID"] in str(sms) and "MZN 125.50" in str(sms)
    # In the organisation's statement like any B2C payment, and the ledger still adds up.
    csv = requests.get(
        mz.base_url + "/sim/admin/statement",
        headers={"Authorization": "Bearer " + mz.admin_token},
        timeout=30,
    ).text
    line = next(line for line in csv.splitlines() if line.startswith(answer["output_TransactionID"]))
    assert "Business Payment to " + msisdn in line and ",-125.50," in line
    assert mz.admin("GET", "/sim/admin/ledger/check")[1]["ok"] is True


def test_every_operation_answers_on_its_port_and_on_the_simulators_own(mz):
    msisdn = wallet(mz, balance="0")
    for port in (mz.mz["ports"]["b2c"], mz.port, mz.mz["ports"]["query"]):
        status, answer = call(mz, "POST", "b2c", b2c_body(mz, msisdn), port=port)
        assert (status, answer["output_ResponseCode"]) == (201, "INS-0")
    reference = answer["output_ThirdPartyReference"]
    for port in (mz.mz["ports"]["query"], mz.port):
        assert query(mz, reference)[0] == 200
        status, _ = call(
            mz,
            "GET",
            "query",
            params={
                "input_QueryReference": reference,
                "input_ServiceProviderCode": mz.mz["service_provider_code"],
                "input_ThirdPartyReference": "Q1",
            },
            port=port,
        )
        assert status == 200
    # Without the trailing slash too.
    response = requests.post(
        url(mz, "b2c").rstrip("/"), json=b2c_body(mz, msisdn), headers=headers(mz), timeout=30
    )
    assert response.status_code == 201
    # Every start is in the request log, by path.
    by_path = mz.admin("GET", "/sim/admin/requests")[1]["by_path"]
    assert by_path["/ipg/v1x/b2cPayment/"] >= 3 and by_path["/ipg/v1x/queryTransactionStatus/"] >= 2


def test_authentication(mz):
    msisdn = wallet(mz, balance="0")
    body = b2c_body(mz, msisdn)
    openapi_bearer = credentials.openapi_bearer(mz.openapi["public_key"], mz.openapi["api_key"])
    other_key = credentials.generate_openapi_key()[1]
    refused = [
        {"Origin": "*"},  # no Authorization
        {"Origin": "*", "Authorization": "Bearer "},
        {"Origin": "*", "Authorization": "Bearer not-base64!"},
        {"Origin": "*", "Authorization": "Basic " + headers(mz)["Authorization"][7:]},
        headers(mz, api_key="not-the-api-key"),
        # The API key encrypted with another key, and the OpenAPI application's key: not this API's.
        {"Origin": "*", "Authorization": "Bearer " + credentials.openapi_bearer(other_key, mz.mz["api_key"])},
        {"Origin": "*", "Authorization": "Bearer " + openapi_bearer},
    ]
    for hdrs in refused:
        for method, role, kw in (
            ("POST", "b2c", {"body": body}),
            ("GET", "query", {"params": {"input_QueryReference": "X"}}),
            ("PUT", "reversal", {"body": {}}),
        ):
            status, answer = call(mz, method, role, hdrs=hdrs, **kw)
            assert_answer(answer, "INS-2", 401, status, "Invalid API Key")
    # The API key but no Origin (or an empty one): refused.
    for origin in (None, ""):
        status, answer = call(mz, "POST", "b2c", body, hdrs=headers(mz, origin=origin))
        assert_answer(answer, "INS-26", 400, status, "Not authorized")
    # Any Origin is accepted (paymentsds sends '*', others the portal's domain).
    status, answer = call(mz, "POST", "b2c", body, hdrs=headers(mz, origin="developer.mpesa.vm.co.mz"))
    assert status == 201
    assert balance(mz, msisdn) == 1_000 and len(recorded(mz, body["input_ThirdPartyReference"])) == 1


def test_parameter_refusals(mz):
    msisdn = wallet(mz, balance="0")
    before = utility(mz)
    cases = [
        ({"input_Amount": None}, 400, "INS-20"),
        ({"input_ThirdPartyReference": ""}, 400, "INS-20"),
        ({"input_ServiceProviderCode": "171717"}, 400, "INS-13"),
        ({"input_ServiceProviderCode": "0002589"}, 400, "INS-13"),
        ({"input_ThirdPartyReference": "ref-1"}, 400, "INS-19"),
        ({"input_ThirdPartyReference": "r" * 41}, 400, "INS-19"),
        ({"input_TransactionReference": "T" * 21}, 400, "INS-17"),
        ({"input_TransactionReference": " T12344C"}, 400, "INS-14"),
        ({"input_Amount": "ten"}, 400, "INS-15"),
        ({"input_Amount": "10.001"}, 400, "INS-15"),
        ({"input_Amount": True}, 400, "INS-15"),
        ({"input_CustomerMSISDN": "841234567"}, 400, "INS-2051"),  # 258 first
        ({"input_CustomerMSISDN": "258821000001"}, 400, "INS-2051"),  # Movitel: not M-Pesa
        ({"input_CustomerMSISDN": "2588412345678"}, 400, "INS-2051"),
    ]
    for overrides, http, code in cases:
        status, answer, body = pay(mz, msisdn, **overrides)
        assert_answer(answer, code, http, status)
        assert answer["output_TransactionID"] == ""
        assert not recorded(mz, body.get("input_ThirdPartyReference") or "-")
    # Not JSON, not an object.
    for data in (b"{not json", b'["a list"]'):
        status, answer = call(mz, "POST", "b2c", data=data)
        assert_answer(answer, "INS-21", 400, status)
    # A JSON number where the portal shows a string is read as its text.
    status, answer, _ = pay(mz, msisdn, 20)
    assert (status, answer["output_ResponseCode"]) == (201, "INS-0")
    assert utility(mz) == before - 2_000


def test_business_refusals_move_nothing_and_spend_the_reference(mz):
    ok = wallet(mz, balance="0")
    cases = [
        (wallet(mz, registered=False), "10", 400, "INS-2002", "Receiver invalid."),
        (
            "25884" + "%07d" % (next(_numbers) % 10**7),
            "10",
            400,
            "INS-2002",
            "Receiver invalid.",
        ),  # no wallet
        (wallet(mz, status="frozen"), "10", 400, "INS-996", "Customer Account Status Not Active"),
        (ok, "0", 400, "INS-15", "Invalid Amount Used"),
        (ok, str(MZ.limits["max_amount"] + 1), 400, "INS-15", "Invalid Amount Used"),
    ]
    before = utility(mz)
    for msisdn, amount, http, code, desc in cases:
        status, answer, body = pay(mz, msisdn, amount)
        assert_answer(answer, code, http, status, desc)
        assert answer["output_TransactionID"] == ""
        (row,) = recorded(mz, body["input_ThirdPartyReference"])
        assert row["conversation_id"] == answer["output_ConversationID"] and row["status"] == "failed"
        # A client whose answer was lost learns it failed ...
        status, found = query(mz, body["input_ThirdPartyReference"])
        assert (status, found["output_ResponseTransactionStatus"]) == (200, "Failed")
        # ... and that the reference is spent.
        status, answer, _ = pay(mz, ok, "5", input_ThirdPartyReference=body["input_ThirdPartyReference"])
        assert_answer(answer, "INS-10", 409, status, "Duplicate Transaction")
    assert utility(mz) == before and balance(mz, ok) == 0
    # Insufficient float (422), and the recipient's limits (the customer's profile).
    mz.set_config(max_amount=10**9, recipient_daily_limit=10**9, recipient_balance_cap=10**9)
    status, answer, _ = pay(mz, ok, "%d" % (utility(mz) // 100 + 1))
    assert_answer(answer, "INS-2006", 422, status, "Insufficient balance")
    mz.set_config(recipient_balance_cap=50)
    status, answer, _ = pay(mz, ok, "51")
    assert_answer(answer, "INS-995", 400, status, "Customer's Profile Has Problems")
    assert balance(mz, ok) == 0


def test_a_second_request_with_the_same_reference_moves_nothing(mz):
    msisdn = wallet(mz, balance="0")
    status, first, body = pay(mz, msisdn, "250")
    assert status == 201
    for again in (body, {**body, "input_Amount": "999", "input_TransactionReference": "Other"}):
        status, answer = call(mz, "POST", "b2c", again)
        assert_answer(answer, "INS-10", 409, status, "Duplicate Transaction")
        assert answer["output_ThirdPartyReference"] == body["input_ThirdPartyReference"]
        assert answer["output_TransactionID"] == ""
    assert balance(mz, msisdn) == 25_000 and len(recorded(mz, body["input_ThirdPartyReference"])) == 1


def test_same_ledger_as_the_openapi(mz):
    """Both APIs pay from the one Utility account; a payment made through the OpenAPI can be
    reversed through Mozambique's API (the receipt names it); each API's query knows its own."""
    msisdn = wallet(mz, balance="0")
    before = utility(mz)
    sid = mz.openapi_session()
    tpcid = uuid.uuid4().hex
    status, answer = mz.openapi_call(
        "POST",
        "b2cPayment",
        sid,
        json={
            "input_Amount": "30",
            "input_CustomerMSISDN": msisdn,
            "input_Country": "MOZ",
            "input_Currency": "MZN",
            "input_ServiceProviderCode": mz.openapi["service_provider_code"],
            "input_TransactionReference": "T1",
            "input_ThirdPartyConversationID": tpcid,
            "input_PaymentItemsDesc": "Salary payment",
        },
    )
    assert status == 201
    openapi_receipt = answer["output_TransactionID"]
    status, _, body = pay(mz, msisdn, "20")
    assert status == 201 and utility(mz) == before - 5_000 and balance(mz, msisdn) == 5_000
    assert query(mz, tpcid)[1]["output_ResponseCode"] == "INS-23"  # not this API's
    status, answer = reverse(mz, openapi_receipt)
    assert_answer(answer, "INS-0", 201, status)
    assert balance(mz, msisdn) == 2_000 and utility(mz) == before - 2_000
    assert mz.admin("GET", "/sim/admin/ledger/check")[1]["ok"] is True


# -- query --------------------------------------------------------------------------------------
def test_query_by_each_reference_and_its_refusals(mz):
    msisdn = wallet(mz, balance="0")
    status, paid, body = pay(mz, msisdn)
    for reference in (
        paid["output_TransactionID"],
        body["input_ThirdPartyReference"],
        paid["output_ConversationID"],
    ):
        status, found = query(mz, reference, input_ThirdPartyReference="Q77")
        assert status == 200 and found == {
            "output_ConversationID": paid["output_ConversationID"],
            "output_ResponseCode": "INS-0",
            "output_ResponseDesc": "Request processed successfully",
            "output_ThirdPartyReference": "Q77",
            "output_ResponseTransactionStatus": "Completed",
        }
    status, answer = query(mz, "NOSUCHREF1", input_ThirdPartyReference="Q78")
    assert_answer(answer, "INS-23", 400, status, "Unknown Status. Contact M-Pesa Support")
    assert answer["output_ThirdPartyReference"] == "Q78"
    for overrides, code in (
        ({"input_QueryReference": None}, "INS-20"),
        ({"input_ThirdPartyReference": None}, "INS-20"),
        ({"input_ServiceProviderCode": "171717"}, "INS-13"),
        ({"input_ThirdPartyReference": "q-1"}, "INS-19"),
        ({"input_QueryReference": "a-b"}, "INS-21"),
    ):
        status, answer = query(mz, paid["output_TransactionID"], **overrides)
        assert_answer(answer, code, 400, status)


# -- reversal -----------------------------------------------------------------------------------
def test_reversal_with_either_amount_field_or_none(mz):
    for field in ("input_Amount", "input_ReversalAmount", None, "both"):
        msisdn = wallet(mz, balance="0")
        _, paid, _ = pay(mz, msisdn, "40")
        receipt = paid["output_TransactionID"]
        amounts = {
            "input_Amount": {"input_Amount": "40"},
            "input_ReversalAmount": {"input_ReversalAmount": "40.00"},
            None: {},
            "both": {"input_Amount": "40", "input_ReversalAmount": "40"},
        }[field]
        status, answer = reverse(mz, receipt, **amounts)
        assert_answer(answer, "INS-0", 201, status, "Request processed successfully")
        assert RECEIPT.match(answer["output_TransactionID"]) and answer["output_TransactionID"] != receipt
        assert balance(mz, msisdn) == 0
        (row,) = mz.transactions(receipt=answer["output_TransactionID"])
        assert (row["kind"], row["api"], row["linked_receipt"], row["amount_cents"]) == (
            "reversal",
            "mz_reversal",
            receipt,
            4_000,
        )
        assert row["request"]["input_SecurityCredential"] == "REDACTED"
        assert query(mz, receipt)[1]["output_ResponseTransactionStatus"] == "Completed"


def test_reversal_refusals(mz):
    msisdn = wallet(mz, balance="0")
    _, paid, _ = pay(mz, msisdn, "40")
    receipt = paid["output_TransactionID"]
    before = utility(mz)
    refusals = [
        ({"input_InitiatorIdentifier": "SomeoneElse"}, 400, "INS-24", "Invalid InitiatorIdentifier Used"),
        ({"input_SecurityCredential": "Wrong"}, 400, "INS-25", "Invalid SecurityCredential Used"),
        ({"input_SecurityCredential": None}, 400, "INS-20", None),
        ({"input_InitiatorIdentifier": None}, 400, "INS-20", None),
        ({"input_Amount": "20"}, 400, "INS-15", "Invalid Amount Used"),  # partial
        ({"input_Amount": "40", "input_ReversalAmount": "20"}, 400, "INS-15", None),  # disagree
        ({"input_ReversalAmount": "forty"}, 400, "INS-15", None),
        ({"input_TransactionID": "NOSUCHTX01"}, 400, "INS-18", "Invalid TransactionID Used"),
        ({"input_TransactionID": "BAD-ID"}, 400, "INS-18", None),
        ({"input_TransactionID": till_payment(mz, wallet(mz, balance="100"), 10)}, 400, "INS-26", None),
        ({"input_ServiceProviderCode": "171717"}, 400, "INS-13", None),
        ({"input_ThirdPartyReference": "r-1"}, 400, "INS-19", None),
    ]
    for overrides, http, code, desc in refusals:
        status, answer = reverse(mz, receipt, **overrides)
        assert_answer(answer, code, http, status, desc)
    assert balance(mz, msisdn) == 4_000 and utility(mz) == before
    # Credentials are checked before anything is recorded: the reference can be used again.
    body = reversal_body(mz, receipt, input_SecurityCredential="Wrong")
    assert call(mz, "PUT", "reversal", body)[1]["output_ResponseCode"] == "INS-25"
    status, answer = call(
        mz, "PUT", "reversal", {**body, "input_SecurityCredential": mz.mz["security_credential"]}
    )
    assert status == 201 and balance(mz, msisdn) == 0
    # Reversed before: a duplicate.
    status, answer = reverse(mz, receipt)
    assert_answer(answer, "INS-10", 409, status, "Duplicate Transaction")
    # The money is no longer in the wallet.
    spender = wallet(mz, balance="0")
    _, paid, _ = pay(mz, spender, "50")
    till_payment(mz, spender, 30)
    status, answer = reverse(mz, paid["output_TransactionID"])
    assert_answer(answer, "INS-2006", 422, status, "Insufficient balance")
    assert balance(mz, spender) == 2_000


# -- C2B and B2B --------------------------------------------------------------------------------
def test_c2b_and_b2b_are_not_offered(mz):
    msisdn = wallet(mz, balance="100")
    for role in ("c2b", "b2b"):
        status, answer = call(mz, "POST", role, b2c_body(mz, msisdn))
        assert_answer(answer, "INS-22", 400, status, "Invalid Operation Type")
        status, answer = call(mz, "POST", role, {}, hdrs={"Origin": "*"})
        assert_answer(answer, "INS-2", 401, status)
    assert balance(mz, msisdn) == 10_000


# -- faults -------------------------------------------------------------------------------------
def test_sync_faults(mz):
    msisdn = wallet(mz, balance="0")
    # sync_500: HTTP 500 INS-1, nothing recorded, nothing moved
    mz.set_faults(sync_500={})
    status, answer, body = pay(mz, msisdn)
    assert_answer(answer, "INS-1", 500, status, "Internal Error")
    assert not recorded(mz, body["input_ThirdPartyReference"])
    # ins_1 (INS-1 is HTTP 500 in Mozambique's table): unprocessed, then processed
    mz.set_faults(ins_1={})
    status, answer, body = pay(mz, msisdn)
    assert_answer(answer, "INS-1", 500, status)
    assert not recorded(mz, body["input_ThirdPartyReference"]) and balance(mz, msisdn) == 0
    mz.set_faults(ins_1={"processed": True})
    status, answer, body = pay(mz, msisdn)
    assert_answer(answer, "INS-1", 500, status)
    assert recorded(mz, body["input_ThirdPartyReference"])[0]["status"] == "completed"
    assert balance(mz, msisdn) == 1_000
    # sync_500_processed: paid, answered 408 INS-9; the query tells
    mz.set_faults(sync_500_processed={})
    status, answer, body = pay(mz, msisdn)
    assert_answer(answer, "INS-9", 408, status, "Request timeout")
    mz.reset_faults()
    assert query(mz, body["input_ThirdPartyReference"])[1]["output_ResponseTransactionStatus"] == "Completed"
    assert balance(mz, msisdn) == 2_000
    # spike_arrest: 503 INS-16, not processed
    mz.set_faults(spike_arrest={})
    status, answer, body = pay(mz, msisdn)
    assert_answer(answer, "INS-16", 503, status)
    assert not recorded(mz, body["input_ThirdPartyReference"])
    # slow_response: the answer comes late
    mz.set_faults(slow_response={"delay_ms": 300})
    started = time.monotonic()
    assert pay(mz, msisdn)[0] == 201
    assert time.monotonic() - started >= 0.3
    # lost_result: paid, 408 INS-9, and every query about it 408 INS-9 too
    mz.set_faults(lost_result={})
    status, answer, body = pay(mz, msisdn)
    assert_answer(answer, "INS-9", 408, status)
    mz.reset_faults()
    assert balance(mz, msisdn) == 4_000
    (row,) = recorded(mz, body["input_ThirdPartyReference"])
    for reference in (body["input_ThirdPartyReference"], row["receipt"]):
        status, answer = query(mz, reference)
        assert_answer(answer, "INS-9", 408, status)
    # Faults with a number pattern spare other numbers; the query and reversal obey them too.
    mz.set_faults(sync_500={"msisdn": "2588500*"})
    assert pay(mz, msisdn)[0] == 201
    mz.set_faults(sync_500={})
    assert query(mz, row["receipt"])[0] == 500
    assert reverse(mz, row["receipt"])[0] == 500


def test_async_mode_posts_the_result(mz, sink):
    reset(mz, openapi_b2c_mode="async", openapi_callback_url=sink.url("/mz/result"))
    msisdn = wallet(mz, balance="0")
    status, answer, body = pay(mz, msisdn, "15")
    assert (status, answer["output_ResponseCode"]) == (201, "INS-0")
    assert "output_TransactionID" not in answer  # MZDOC's asynchronous answer has none
    assert answer["output_ThirdPartyReference"] == body["input_ThirdPartyReference"]
    result = sink.wait_for(lambda c: c.path == "/mz/result", timeout=10).body
    (row,) = recorded(mz, body["input_ThirdPartyReference"])
    assert result == {
        "input_OriginalConversationID": answer["output_ConversationID"],
        "input_ThirdPartyReference": body["input_ThirdPartyReference"],
        "input_TransactionID": row["receipt"],
        "input_ResultCode": "INS-0",
        "input_ResultDesc": "Request processed successfully",
    }
    assert balance(mz, msisdn) == 1_500
    assert query(mz, row["receipt"])[1]["output_ResponseTransactionStatus"] == "Completed"
    # A failure comes the same way, with its code and no TransactionID.
    sink.clear()
    status, answer, body = pay(mz, wallet(mz, status="frozen"))
    assert status == 201
    result = sink.wait_for(timeout=10).body
    assert (result["input_ResultCode"], result["input_TransactionID"]) == ("INS-996", "")
    # A reversal too; its duplicate is still refused synchronously.
    sink.clear()
    status, answer = reverse(mz, row["receipt"])
    assert status == 201 and "output_TransactionID" not in answer
    result = sink.wait_for(timeout=10).body
    assert result["input_ResultCode"] == "INS-0" and balance(mz, msisdn) == 0
    # lost_result: processed, no callback, queries time out
    sink.clear()
    mz.set_faults(lost_result={})
    status, answer, body = pay(mz, msisdn, "5")
    assert status == 201
    mz.drain()
    mz.reset_faults()
    assert balance(mz, msisdn) == 500 and not sink.received()
    assert query(mz, body["input_ThirdPartyReference"])[0] == 408


# -- the extra ports ----------------------------------------------------------------------------
def test_extra_ports_are_free_ports():
    """--mz-ports with free port numbers: each is the same app on the same ledger."""
    ports = [free_port() for _ in range(2)]
    with start_simulator(market="MZ", mz_ports=ports) as sim:
        assert sim.mz["listening_ports"] == ports
        msisdn = wallet(sim, balance="0")
        for port in (*ports, sim.port):
            status, answer = call(sim, "POST", "b2c", b2c_body(sim, msisdn), port=port)
            assert (status, answer["output_ResponseCode"]) == (201, "INS-0")
            assert http_json("GET", f"http://127.0.0.1:{port}/sim/market")[1]["code"] == "MZ"
        assert balance(sim, msisdn) == 3_000


def _serve(*args: str) -> subprocess.CompletedProcess:
    workdir = tempfile.mkdtemp(prefix="mpesa-sim-")
    cmd = [sys.executable, "-m", "mpesa_sim", "serve", "--db", os.path.join(workdir, "s.sqlite3"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_extra_ports_are_refused_outside_mozambique_and_when_taken():
    port = free_port()
    for args, says in (
        (("--mz-ports", "18345,x"), "not a port"),
        (("--mz-ports", f"{port},{port}"), "twice"),
        (("--mz-ports", str(port), "--port", str(port)), "twice"),
        (("--market", "TZ", "--mz-ports", str(free_port())), "for Mozambique"),
    ):
        done = _serve("--port", str(free_port()), *args)
        assert done.returncode == 2 and says in done.stderr, done
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _serve("--market", "MZ", "--port", str(free_port()), "--mz-ports", str(taken.getsockname()[1]))
    assert done.returncode == 2
