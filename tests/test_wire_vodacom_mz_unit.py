"""Vodacom Mozambique's own M-Pesa API client over a scripted transport (no sockets): the bearer,
the port and path of each operation, the fields sent, and how each code of Mozambique's table is
sorted. Real HTTP against the simulator: tests/test_wire_vodacom_mz.py."""

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
    AuthError,
    B2CRequest,
    InvalidAmount,
    InvalidMsisdn,
    MalformedPayload,
    OutcomeKind,
    ResultClass,
    ReversalClass,
    ReversalRequest,
    TokenCache,
    markets,
)
from mpesa_wire.vodacom_mz import VodacomMzClient, config_from_settings, parse_ports

B2C = "/ipg/v1x/b2cPayment/"
QUERY = "/ipg/v1x/queryTransactionStatus/"
REVERSAL = "/ipg/v1x/reversal/"
MZ = markets.MOZAMBIQUE
URL = "https://odoo.test/unused"


def private_key():
    return key_and_certificate("vodacom_mz")[0]


def public_key_b64() -> str:
    der = (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(der).decode()


def client_for(routes, **overrides):
    settings = {
        "base_url": "https://api.sandbox.vm.co.mz",
        "api_key": "the-API-key",
        "public_key": public_key_b64(),
        "shortcode": "171717",
        "initiator_name": "MPesa2018",
        "initiator_password": "the-security-credential",
        "min_amount": MZ.min_amount,
        "max_amount": MZ.max_amount,
        **overrides,
    }
    transport = FakeDaraja(routes)
    session = requests.Session()
    session.mount("https://", transport)
    client = VodacomMzClient(config_from_settings(settings, MZ), session=session, token_cache=TokenCache())
    return client, transport


def b2c(msisdn="258841234567", amount=500, ref=None) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=ref or uuid.uuid4().hex,
        msisdn=msisdn,
        amount=amount,
        remarks="Cycle payment",
        result_url="https://odoo.test/result",  # unused: this API answers in the response
        timeout_url="https://odoo.test/timeout",
    )


def answer(status, code, desc="", **fields):
    return FakeResponse(status, {"output_ResponseCode": code, "output_ResponseDesc": desc, **fields})


def paid(request):
    body = json.loads(request.body)
    return answer(
        201, "INS-0", "Request processed successfully", output_TransactionID="MZ1A2B3C4D",
        output_ConversationID="conv-1", output_ThirdPartyReference=body["input_ThirdPartyReference"],
    )  # fmt: skip


def test_mozambique_offers_both_families_and_defaults_to_the_openapi():
    assert MZ.api_families == ("openapi", "vodacom_mz")
    assert wire.for_market(MZ).name == "openapi"
    assert wire.for_market("MZ", "vodacom_mz") is wire.FAMILIES["vodacom_mz"]
    assert MZ.base_urls_for("vodacom_mz")["sandbox"] == "https://api.sandbox.vm.co.mz"
    with pytest.raises(KeyError, match="not paid through 'vodacom_mz'"):
        wire.for_market("TZ", "vodacom_mz")


def test_b2c_is_posted_to_its_own_port_with_the_encrypted_api_key_and_answered_synchronously():
    client, transport = client_for({B2C: [paid]})
    req = b2c()
    outcome = client.b2c_submit(req)
    (sent,) = transport.calls(B2C)
    assert sent.method == "POST"
    assert sent.url.startswith("https://api.sandbox.vm.co.mz:18345/ipg/v1x/b2cPayment/")
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    assert private_key().decrypt(base64.b64decode(token), padding.PKCS1v15()).decode() == "the-API-key"
    assert sent.headers["Origin"] == "*"
    body = json.loads(sent.body)
    assert body == {
        "input_TransactionReference": req.originator_conversation_id[:20],
        "input_CustomerMSISDN": "258841234567",
        "input_Amount": "500",
        "input_ThirdPartyReference": req.originator_conversation_id,
        "input_ServiceProviderCode": "171717",
    }
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.result.receipt == "MZ1A2B3C4D"
    assert outcome.result.originator_conversation_id == req.originator_conversation_id
    assert wire.FAMILIES["vodacom_mz"].classify_result_code(outcome.result.result_code) is ResultClass.PAID


def test_the_bearer_is_made_once_per_client():
    client, transport = client_for({B2C: [paid]})
    client.b2c_submit(b2c())
    client.b2c_submit(b2c())
    first, second = transport.calls(B2C)
    assert first.headers["Authorization"] == second.headers["Authorization"]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "INS-2051", OutcomeKind.REJECTED),
        (422, "INS-2006", OutcomeKind.REJECTED),
        (400, "INS-15", OutcomeKind.REJECTED),
        (400, "INS-996", OutcomeKind.REJECTED),  # Mozambique: the customer's account is not active
        (401, "INS-6", OutcomeKind.REJECTED),  # a 401 that is a business refusal, not a credential
        (401, "INS-5", OutcomeKind.REJECTED),
        (408, "INS-9", OutcomeKind.UNKNOWN),
        (409, "INS-10", OutcomeKind.UNKNOWN),
        (503, "INS-16", OutcomeKind.UNKNOWN),
        (500, "INS-1", OutcomeKind.UNKNOWN),
        (400, "INS-1", OutcomeKind.UNKNOWN),
        (500, "", OutcomeKind.UNKNOWN),
        (201, "", OutcomeKind.UNKNOWN),  # success status without INS-0: may have been done
        (429, "", OutcomeKind.TRANSIENT),
    ],
)
def test_each_code_is_sorted_by_mozambiques_table(status, code, kind):
    client, _ = client_for({B2C: [answer(status, code)]})
    outcome = client.b2c_submit(b2c())
    assert outcome.kind is kind
    assert outcome.result is None


@pytest.mark.parametrize("code", ["INS-2", "INS-24", "INS-25", "INS-2001"])
def test_wrong_credentials_stop_the_run_without_a_retry(code):
    client, transport = client_for({B2C: [answer(401, code, "Invalid API Key")]})
    with pytest.raises(AuthError, match=code):
        client.b2c_submit(b2c())
    assert len(transport.calls(B2C)) == 1


def test_a_lost_connection_is_unknown_and_a_refused_one_transient():
    client, _ = client_for({B2C: [requests.ReadTimeout("slow")]})
    assert client.b2c_submit(b2c()).kind is OutcomeKind.UNKNOWN
    client, _ = client_for({B2C: [requests.ConnectTimeout("down")]})
    assert client.b2c_submit(b2c()).kind is OutcomeKind.TRANSIENT


@pytest.mark.parametrize(
    ("msisdn", "amount", "error"),
    [
        ("258821234567", 500, InvalidMsisdn),  # 82: mcel/tmcel, not Vodacom
        ("255741234567", 500, InvalidMsisdn),  # a Tanzanian number
        ("258841234567", 0, InvalidAmount),
        ("258841234567", MZ.max_amount + 1, InvalidAmount),
    ],
)
def test_numbers_and_amounts_m_pesa_would_refuse_fail_before_sending(msisdn, amount, error):
    client, transport = client_for({B2C: [paid]})
    with pytest.raises(error):
        client.b2c_submit(b2c(msisdn=msisdn, amount=amount))
    assert not transport.requests


def test_the_status_query_is_a_get_on_its_own_port_and_reads_the_status():
    def completed(request):
        return answer(
            200, "INS-0", "Request processed successfully", output_ResponseTransactionStatus="Completed",
            output_TransactionID="MZ1A2B3C4D", output_ConversationID="c",
            output_ThirdPartyReference=urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)[
                "input_ThirdPartyReference"][0],
        )  # fmt: skip

    client, transport = client_for({QUERY: [completed]})
    ref = uuid.uuid4().hex
    outcome = client.transaction_status(originator_conversation_id=ref)
    (sent,) = transport.calls(QUERY)
    assert sent.method == "GET" and ":18353/" in sent.url
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(sent.url).query)
    assert query["input_QueryReference"] == [ref]
    assert query["input_ServiceProviderCode"] == ["171717"]
    result = outcome.result
    assert result.status == "Completed" and result.receipt == "MZ1A2B3C4D"
    assert result.original_conversation_id == ref
    assert result.is_success and result.transaction_found and not result.not_found


def test_a_completed_status_without_a_transaction_id_carries_no_receipt():
    client, _ = client_for(
        {QUERY: [answer(200, "INS-0", "ok", output_ResponseTransactionStatus="Completed")]}
    )
    result = client.transaction_status(originator_conversation_id="abc").result
    assert result.status == "Completed" and result.receipt is None


def test_an_unknown_status_says_m_pesa_knows_no_such_transaction():
    client, _ = client_for({QUERY: [answer(400, "INS-23", "Unknown Status")]})
    outcome = client.transaction_status(originator_conversation_id="abc")
    assert outcome.kind is OutcomeKind.ACCEPTED, "the query was answered"
    assert outcome.result.not_found and not outcome.result.transaction_found


def test_a_failed_query_is_no_result():
    client, _ = client_for({QUERY: [answer(400, "INS-21", "Parameter validations failed")]})
    outcome = client.transaction_status(originator_conversation_id="abc")
    assert outcome.kind is OutcomeKind.REJECTED and outcome.result is None


@pytest.mark.parametrize("field", ["input_ReversalAmount", "input_Amount"])
def test_the_reversal_is_a_put_with_the_initiator_and_the_amount_field_set_on_the_manager(field):
    def reversed_(request):
        body = json.loads(request.body)
        return answer(200, "INS-0", "ok", output_TransactionID="MZREV1",
                      output_ThirdPartyReference=body["input_ThirdPartyReference"])  # fmt: skip

    client, transport = client_for({REVERSAL: [reversed_]}, reversal_amount_field=field)
    req = ReversalRequest("MZ1A2B3C4D", 500, "Reversal", URL, URL, reference="rev1")
    outcome = client.reverse(req)
    (sent,) = transport.calls(REVERSAL)
    assert sent.method == "PUT" and ":18354/" in sent.url
    body = json.loads(sent.body)
    assert body["input_TransactionID"] == "MZ1A2B3C4D"
    assert body["input_InitiatorIdentifier"] == "MPesa2018"
    assert body["input_SecurityCredential"] == "the-security-credential"
    assert body[field] == "500"
    assert (
        wire.FAMILIES["vodacom_mz"].classify_reversal_code(outcome.result.result_code)
        is ReversalClass.REVERSED
    )
    assert outcome.result.transaction_id == "MZREV1"


def test_a_reversal_needs_the_initiator():
    client, transport = client_for({REVERSAL: [answer(200, "INS-0")]}, initiator_name="")
    with pytest.raises(AuthError, match="initiator"):
        client.reverse(ReversalRequest("MZ1A2B3C4D", 1, "Reversal", URL, URL, reference="r"))
    assert not transport.requests


def test_ports_are_a_setting_with_the_documented_defaults():
    assert parse_ports("") == {"b2c": 18345, "query": 18353, "reversal": 18354}
    assert parse_ports("b2c=1,reversal=3")["query"] == 18353
    with pytest.raises(ValueError, match="ports"):
        parse_ports("b2c=http")
    client, transport = client_for({B2C: [paid]}, vodacom_mz_ports="b2c=9000")
    client.b2c_submit(b2c())
    assert ":9000/ipg/v1x/b2cPayment/" in transport.requests[0].url


def test_nothing_is_posted_back_by_this_api():
    family = wire.FAMILIES["vodacom_mz"]
    with pytest.raises(MalformedPayload):
        family.parse_result(b'{"input_ResultCode": "INS-0"}')
    assert family.results_in_response and not family.has_balance
    assert family.new_conversation_id().isalnum()
