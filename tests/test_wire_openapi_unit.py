"""The OpenAPI client's reading of answers, over a scripted transport (no sockets): the bearer
encryption, the session's activation delay, and how every documented INS code and HTTP status is
sorted into the outcome classes. Real HTTP against the simulator: tests/test_wire_openapi.py."""

import base64
import json
import urllib.parse
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from daraja_support import FakeDaraja, FakeResponse, key_and_certificate

import mpesa_wire as wire
from mpesa_wire import (
    B2CRequest,
    MalformedPayload,
    OutcomeKind,
    ResultClass,
    ReversalClass,
    ReversalRequest,
    TokenCache,
    markets,
)
from mpesa_wire.openapi import OpenApiAuthError, OpenApiClient, config_from_settings, parse_result

PREFIX = "/sandbox/ipg/v2/vodacomTZN"
SESSION = f"{PREFIX}/getSession/"
B2C = f"{PREFIX}/b2cPayment/"
QUERY = f"{PREFIX}/queryTransactionStatus/"
REVERSAL = f"{PREFIX}/reversal/"
SESSION_OK = FakeResponse(
    200,
    {"output_ResponseCode": "INS-0", "output_ResponseDesc": "Request processed successfully",
     "output_SessionID": "01234567890123456789012345678901"},
)  # fmt: skip


def private_key():
    return key_and_certificate("openapi")[0]


def public_key_b64() -> str:
    der = (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def decrypt_bearer(request) -> str:
    token = request.headers["Authorization"].removeprefix("Bearer ")
    return private_key().decrypt(base64.b64decode(token), padding.PKCS1v15()).decode()


def client_for(routes, market=markets.TANZANIA, **overrides):
    settings = {
        "base_url": "https://openapi.m-pesa.test",
        "api_key": "the-API-key",
        "public_key": public_key_b64(),
        "shortcode": "000000",
        "min_amount": market.min_amount,
        "max_amount": market.max_amount,
        **overrides,
    }
    config = config_from_settings(settings, market)
    transport = FakeDaraja(routes)
    session = requests.Session()
    session.mount("https://", transport)
    sleeps = []
    client = OpenApiClient(config, session=session, token_cache=TokenCache(), sleep=sleeps.append)
    return client, transport, sleeps


def b2c(msisdn="255741234567", amount=500, ocid=None) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=ocid or uuid.uuid4().hex,
        msisdn=msisdn,
        amount=amount,
        remarks="Cycle payment",
        result_url="https://odoo.test/result",
        timeout_url="https://odoo.test/timeout",
    )


def answer(status, code, desc="", **fields):
    return FakeResponse(status, {"output_ResponseCode": code, "output_ResponseDesc": desc, **fields})


def test_the_session_is_asked_with_the_encrypted_api_key_and_each_call_with_the_encrypted_session():
    ok = answer(201, "INS-0", "Request processed successfully", output_TransactionID="8H1ABCDEF0",
                output_ConversationID="c" * 32, output_ThirdPartyConversationID="x")  # fmt: skip
    client, transport, sleeps = client_for({SESSION: [SESSION_OK], B2C: [ok]})
    request = b2c()
    outcome = client.b2c_submit(request)
    (session_call,) = transport.calls(SESSION)
    assert session_call.method == "GET" and decrypt_bearer(session_call) == "the-API-key"
    (call,) = transport.calls(B2C)
    assert call.method == "POST" and decrypt_bearer(call) == SESSION_OK.body["output_SessionID"]
    assert call.headers["Origin"] == "*"
    body = json.loads(call.body)
    assert body == {
        "input_Amount": "500",
        "input_Country": "TZN",
        "input_Currency": "TZS",
        "input_CustomerMSISDN": "255741234567",
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": request.originator_conversation_id,
        "input_TransactionReference": request.originator_conversation_id[:20],
        "input_PaymentItemsDesc": "Cycle payment",
    }
    assert sleeps == [30.0], "a new session is used only after the documented 30 s"
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.result.receipt == "8H1ABCDEF0" and outcome.result.is_success
    assert wire.family("openapi").classify_result_code(outcome.result.result_code) is ResultClass.PAID


def test_one_session_serves_many_calls_and_its_delay_is_waited_once():
    async_ok = answer(201, "INS-0", output_ConversationID="c" * 32)
    client, transport, sleeps = client_for({SESSION: [SESSION_OK], B2C: [async_ok]})
    outcomes = [client.b2c_submit(b2c()) for _ in range(3)]
    assert len(transport.calls(SESSION)) == 1 and sleeps == [30.0]
    assert all(o.kind is OutcomeKind.ACCEPTED and o.result is None for o in outcomes), "async: result later"


def test_a_refused_session_is_renewed_and_the_same_request_sent_once_more():
    refused = answer(401, "INS-6", "Transaction Failed")
    ok = answer(201, "INS-0", output_TransactionID="8H1ABCDEF1")
    client, transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [refused, ok]})
    request = b2c()
    assert client.b2c_submit(request).result.receipt == "8H1ABCDEF1"
    sent = [json.loads(c.body)["input_ThirdPartyConversationID"] for c in transport.calls(B2C)]
    assert sent == [request.originator_conversation_id] * 2 and len(transport.calls(SESSION)) == 2


def test_refused_twice_is_a_final_refusal():
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [answer(401, "INS-6")]})
    outcome = client.b2c_submit(b2c())
    assert (outcome.kind, outcome.code, outcome.http_status) == (OutcomeKind.REJECTED, "INS-6", 401)


@pytest.mark.parametrize(
    "status, code, kind",
    [
        (408, "INS-9", OutcomeKind.UNKNOWN),  # request timeout: never a failure
        (400, "INS-1", OutcomeKind.UNKNOWN),  # internal error: says nothing of the outcome
        (409, "INS-10", OutcomeKind.UNKNOWN),  # duplicate: received before; ask
        (500, "", OutcomeKind.UNKNOWN),
        (503, "INS-16", OutcomeKind.UNKNOWN),
        (201, "", OutcomeKind.UNKNOWN),  # a success status we cannot read
        (422, "INS-2006", OutcomeKind.REJECTED),
        (400, "INS-2051", OutcomeKind.REJECTED),
        (400, "INS-15", OutcomeKind.REJECTED),
        (400, "INS-26", OutcomeKind.REJECTED),
        (400, "INS-995", OutcomeKind.REJECTED),
        (404, "", OutcomeKind.UNKNOWN),  # no code at all: one SDK issue saw that on processed payments
        (429, "", OutcomeKind.TRANSIENT),
    ],
)
def test_every_answer_is_sorted_into_an_outcome_class(status, code, kind):
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [answer(status, code)]})
    outcome = client.b2c_submit(b2c())
    assert outcome.kind is kind, outcome
    assert outcome.result is None


def test_nothing_sent_is_transient_and_a_lost_answer_unknown():
    lost = requests.ReadTimeout("read timed out")
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [lost]})
    assert client.b2c_submit(b2c()).kind is OutcomeKind.UNKNOWN
    refused = requests.ConnectTimeout("connect timed out")
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [refused]})
    assert client.b2c_submit(b2c()).kind is OutcomeKind.TRANSIENT


def test_a_wrong_api_key_stops_the_run_and_an_unreachable_session_is_transient():
    failed = answer(400, "INS-989", "Session Creation Failed")
    client, transport, _sleeps = client_for({SESSION: [failed], B2C: [answer(201, "INS-0")]})
    with pytest.raises(OpenApiAuthError, match="INS-989"):
        client.token()
    assert isinstance(OpenApiAuthError("x"), wire.AuthError)
    assert not transport.calls(B2C)
    client, transport, _sleeps = client_for({SESSION: [FakeResponse(502, None)], B2C: [answer(201, "INS-0")]})
    outcome = client.b2c_submit(b2c())
    assert (outcome.kind, outcome.code) == (OutcomeKind.TRANSIENT, "token_unavailable")
    assert not transport.calls(B2C)


def test_numbers_and_amounts_are_checked_before_anything_is_sent():
    client, transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [answer(201, "INS-0")]})
    with pytest.raises(wire.InvalidMsisdn):
        client.b2c_submit(b2c(msisdn="254712345678"))
    with pytest.raises(wire.InvalidAmount):
        client.b2c_submit(b2c(amount=markets.TANZANIA.max_amount + 1))
    assert not transport.requests


def test_remarks_are_sent_as_the_portals_free_text_allows():
    ok = answer(201, "INS-0", output_TransactionID="8H1ABCDEF6")
    client, transport, _sleeps = client_for({SESSION: [SESSION_OK], B2C: [ok]})
    request = B2CRequest(**{**b2c().__dict__, "remarks": "M-Pesa: cycle 1/2026 (Dodoma)"})
    client.b2c_submit(request)
    assert json.loads(transport.calls(B2C)[0].body)["input_PaymentItemsDesc"] == "M Pesa cycle 1 2026 Dodoma"


def test_lesotho_pays_eleven_digit_numbers():
    ok = answer(201, "INS-0", output_TransactionID="8H1ABCDEF2")
    routes = {path.replace("vodacomTZN", "vodacomLES"): [r] for path, r in ((SESSION, SESSION_OK), (B2C, ok))}
    client, transport, _sleeps = client_for(routes, market=markets.LESOTHO)
    assert client.b2c_submit(b2c(msisdn="26658123456")).result.receipt == "8H1ABCDEF2"
    body = json.loads(transport.requests[-1].body)
    assert (body["input_Country"], body["input_Currency"], body["input_CustomerMSISDN"]) == (
        "LES", "LSL", "26658123456",
    )  # fmt: skip


def test_the_status_query_is_a_get_with_query_parameters_answered_in_the_response():
    completed = answer(200, "INS-0", output_ResponseTransactionStatus="Completed",
                       output_OriginalTransactionID="8H1ABCDEF3", output_ConversationID="c" * 32,
                       output_Reversed="False")  # fmt: skip
    client, transport, _sleeps = client_for({SESSION: [SESSION_OK], QUERY: [completed]})
    ocid = uuid.uuid4().hex
    outcome = client.transaction_status(originator_conversation_id=ocid, result_url="", timeout_url="")
    (call,) = transport.calls(QUERY)
    assert call.method == "GET" and not call.body
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(call.url).query))
    assert params["input_QueryReference"] == ocid and params["input_Country"] == "TZN"
    assert params["input_ServiceProviderCode"] == "000000"
    assert params["input_ThirdPartyConversationID"] != ocid, "the query has its own id"
    result = outcome.result
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert (result.status, result.receipt, result.original_conversation_id) == (
        "Completed",
        "8H1ABCDEF3",
        ocid,
    )
    assert result.is_success and result.transaction_found and not result.not_found


def test_a_transaction_m_pesa_never_got_is_not_found():
    missing = answer(400, "INS-23", "Transaction not found. Contact M-Pesa Support")
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], QUERY: [missing]})
    outcome = client.transaction_status(originator_conversation_id="abc", result_url="", timeout_url="")
    assert outcome.result.not_found and not outcome.result.transaction_found


def test_a_timed_out_query_says_nothing():
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], QUERY: [answer(408, "INS-9")]})
    outcome = client.transaction_status(receipt="8H1ABCDEF3", result_url="", timeout_url="")
    assert outcome.kind is OutcomeKind.UNKNOWN and outcome.result is None


def reversal(reference="rev1"):
    return ReversalRequest(
        receipt="8H1ABCDEF4", amount=300, remarks="Wrong person", result_url="https://o.test/r",
        timeout_url="https://o.test/t", reference=reference,
    )  # fmt: skip


def test_a_reversal_is_a_put_with_our_reference_and_its_answer_is_final():
    ok = answer(201, "INS-0", output_TransactionID="8H1REVERS1", output_ThirdPartyConversationID="rev1")
    client, transport, _sleeps = client_for({SESSION: [SESSION_OK], REVERSAL: [ok]})
    outcome = client.reverse(reversal())
    (call,) = transport.calls(REVERSAL)
    assert call.method == "PUT"
    assert json.loads(call.body) == {
        "input_Country": "TZN", "input_ReversalAmount": "300", "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": "rev1", "input_TransactionID": "8H1ABCDEF4",
    }  # fmt: skip
    family = wire.family("openapi")
    assert family.classify_reversal_code(outcome.result.result_code) is ReversalClass.REVERSED
    assert outcome.result.receipt == "8H1REVERS1" and outcome.result.original_transaction_id == "8H1ABCDEF4"


@pytest.mark.parametrize(
    "status, code, klass",
    [(409, "INS-10", ReversalClass.ALREADY_REVERSED), (422, "INS-2006", ReversalClass.FAILED),
     (400, "INS-35", ReversalClass.FAILED)],
)  # fmt: skip
def test_reversal_refusals_carry_their_class(status, code, klass):
    client, _transport, _sleeps = client_for({SESSION: [SESSION_OK], REVERSAL: [answer(status, code)]})
    outcome = client.reverse(reversal())
    assert wire.family("openapi").classify_reversal_code(outcome.result.result_code) is klass


def test_there_is_no_balance_query_and_nothing_is_sent_for_one():
    client, transport, _sleeps = client_for({SESSION: [SESSION_OK]})
    outcome = client.account_balance(result_url="", timeout_url="")
    assert (outcome.kind, outcome.code) == (OutcomeKind.REJECTED, "unsupported")
    assert not transport.requests and not wire.family("openapi").has_balance


def test_an_asynchronous_result_is_read_and_a_malformed_one_refused():
    body = {
        "input_OriginalConversationID": "c" * 32,
        "input_TransactionID": "8H1ABCDEF5",
        "input_ResultCode": "INS-0",
        "input_ResultDesc": "Request processed successfully",
        "input_ThirdPartyConversationID": "our-id",
    }
    result = parse_result(json.dumps(body).encode())
    assert (result.originator_conversation_id, result.receipt, result.is_success) == (
        "our-id",
        "8H1ABCDEF5",
        True,
    )
    failed = parse_result({**body, "input_ResultCode": "INS-2006", "input_TransactionID": ""})
    assert not failed.is_success and failed.receipt is None
    for bad in (
        b"not json",
        [],
        {**body, "input_ThirdPartyConversationID": ""},
        {**body, "input_ResultCode": 7},
    ):
        with pytest.raises(MalformedPayload):
            parse_result(bad)
