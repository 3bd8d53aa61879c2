"""The Transaction Reversal wire code: request shape, outcomes, result parsing, and the simulator.

Payload shapes: Safaricom's Reversal page as scraped in /tmp/research_statement.md (the success
and R000002 samples below are copied from it) and contract B of issue #14 (the simulator's).
"""

import base64
import copy
import json
import urllib.parse
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from daraja_support import TOKEN_OK, FakeResponse, fake_client, key_and_certificate, make_config
from test_daraja_sim import make_client

from mpesa_wire import (
    B2CRequest,
    InvalidAmount,
    MalformedPayload,
    OutcomeKind,
    ReversalClass,
    ReversalRequest,
)
from mpesa_wire.daraja import (
    DarajaConfig,
    classify_reversal_code,
    describe_reversal_code,
    parse_result,
    parse_reversal_result,
    parse_reversal_timeout,
    reversal_payload,
)

TOKEN = "/oauth/v1/generate"
REVERSAL = "/mpesa/reversal/v1/request"

# Safaricom's documented success result (developer.safaricom.co.ke/apis/Reversal).
SUCCESS = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "dad6-4c34-8787-c8cb963a496d1268232",
        "ConversationID": "AG_20211114_201018edbbf9f1582eaa",
        "TransactionID": "SKE52PAWR9",
        "ResultParameters": {
            "ResultParameter": [
                {
                    "Key": "DebitAccountBalance",
                    "Value": "Utility Account|KES|7722179.62|7722179.62|0.00|0.00",
                },
                {"Key": "Amount", "Value": 1.00},
                {"Key": "TransCompletedTime", "Value": 20211114132711},
                {"Key": "OriginalTransactionID", "Value": "SKC82PACB8"},
                {"Key": "Charge", "Value": 0.00},
                {"Key": "CreditPartyPublicName", "Value": "254705912645 - NICHOLAS JOHN SONGOK"},
                {"Key": "DebitPartyPublicName", "Value": "600992 - Safaricom Daraja 992"},
            ]
        },
        "ReferenceData": {
            "ReferenceItem": {
                "Key": "QueueTimeoutURL",
                "Value": "https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit",
            }
        },
    }
}

# Safaricom's documented failure: ResultCode a string, no ResultParameters, placeholder ID.
FAILURE = {
    "Result": {
        "ResultType": 0,
        "ResultCode": "R000002",
        "ResultDesc": "The OriginalTransactionID is invalid.",
        "OriginatorConversationID": "dad6-4c34-8787-c8cb963a496d1268233",
        "ConversationID": "AG_20211114_201018edbbf9f1582eab",
        "TransactionID": "SKE0000000",
        "ReferenceData": {
            "ReferenceItem": {
                "Key": "QueueTimeoutURL",
                "Value": "https://internalsandbox.safaricom.co.ke/mpesa/reversalresults/v1/submit",
            }
        },
    }
}

# Contract B's shape of a B2C reversal as the simulator sends it (debit party: the customer).
CONTRACT_SUCCESS = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "4c1e-8f1b-reversal-0001",
        "ConversationID": "AG_20261202_000011112222aaaabbbb",
        "TransactionID": "UL24ZX81QP",
        "ResultParameters": {
            "ResultParameter": [
                {
                    "Key": "DebitAccountBalance",
                    "Value": "Utility Account|KES|9995500.00|9995500.00|0.00|0.00",
                },
                {"Key": "Amount", "Value": 1500.0},
                {"Key": "TransCompletedTime", "Value": 20261202103000},
                {"Key": "OriginalTransactionID", "Value": "UL17AB2CD3"},
                {"Key": "Charge", "Value": 0},
                {"Key": "CreditPartyPublicName", "Value": "600000 - G2P ORGANISATION"},
                {"Key": "DebitPartyPublicName", "Value": "254712345678 - JANE DOE"},
            ]
        },
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://g2p.test/timeout"}},
    }
}


def _variant(body, **result_changes):
    body = copy.deepcopy(body)
    body["Result"].update(result_changes)
    return body


def _with_param(body, key, value):
    body = copy.deepcopy(body)
    for item in body["Result"]["ResultParameters"]["ResultParameter"]:
        if item["Key"] == key:
            item["Value"] = value
    return body


# --- result parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize("as_type", ["dict", "str", "bytes"])
def test_documented_success_is_parsed(as_type):
    body = {"dict": SUCCESS, "str": json.dumps(SUCCESS), "bytes": json.dumps(SUCCESS).encode()}[as_type]
    result = parse_reversal_result(body)
    assert result.is_success
    assert result.result_code == "0"
    assert result.result_type == "0"
    assert result.originator_conversation_id == "dad6-4c34-8787-c8cb963a496d1268232"
    assert result.conversation_id == "AG_20211114_201018edbbf9f1582eaa"
    # TransactionID is the reversal's own receipt; the reversed one is OriginalTransactionID.
    assert result.transaction_id == result.receipt == "SKE52PAWR9"
    assert result.original_transaction_id == "SKC82PACB8"
    assert result.amount_cents == 100 and isinstance(result.amount_cents, int)
    assert result.charge_cents == 0
    # 2021-11-14 13:27:11 in Kenya (UTC+3) is 10:27:11 UTC, naive as Odoo stores it.
    assert result.completed_at == datetime(2021, 11, 14, 10, 27, 11)
    assert result.credit_party_name == "254705912645 - NICHOLAS JOHN SONGOK"
    assert result.debit_party_name == "600992 - Safaricom Daraja 992"
    assert result.debit_account_balance.startswith("Utility Account|KES|")


def test_contract_b2c_reversal_shape_is_parsed():
    result = parse_reversal_result(CONTRACT_SUCCESS)
    assert result.is_success and result.receipt == "UL24ZX81QP"
    assert result.original_transaction_id == "UL17AB2CD3"
    assert result.amount_cents == 150000
    # The Utility account's balance after the money came back: the float the manager shows.
    assert result.utility_funds == Decimal("9995500.00")
    assert result.completed_at == datetime(2026, 12, 2, 7, 30, 0)
    assert result.debit_party_name == "254712345678 - JANE DOE"


def test_documented_failure_is_parsed_without_parameters():
    result = parse_reversal_result(FAILURE)
    assert not result.is_success
    assert result.result_code == "R000002"
    assert result.result_desc == "The OriginalTransactionID is invalid."
    assert result.transaction_id == "SKE0000000"
    assert result.receipt is None  # a placeholder is never a receipt
    assert result.original_transaction_id is None
    assert result.amount_cents is None and result.completed_at is None
    assert result.parameters == {}


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0, "0"), ("0", "0"), (0.0, "0"), ("R000001", "R000001"), (1, "1"), ("2001", "2001"), (8006, "8006")],
)
def test_result_code_is_a_string_whatever_its_json_type(code, expected):
    assert parse_reversal_result(_variant(FAILURE, ResultCode=code)).result_code == expected


@pytest.mark.parametrize(
    ("value", "cents"),
    [(1500, 150000), (1500.0, 150000), ("1500.00", 150000), ("1,500.00", 150000), (0.5, 50), (1.01, 101)],
)
def test_amount_is_integer_minor_units(value, cents):
    assert parse_reversal_result(_with_param(CONTRACT_SUCCESS, "Amount", value)).amount_cents == cents


@pytest.mark.parametrize("value", ["abc", 1.005, "1.001", [1], True])
def test_amount_that_is_not_money_is_refused(value):
    with pytest.raises(MalformedPayload):
        parse_reversal_result(_with_param(CONTRACT_SUCCESS, "Amount", value))


@pytest.mark.parametrize("value", [20261202103000, "20261202103000", "02.12.2026 10:30:00"])
def test_completion_time_as_number_or_string(value):
    result = parse_reversal_result(_with_param(CONTRACT_SUCCESS, "TransCompletedTime", value))
    assert result.completed_at == datetime(2026, 12, 2, 7, 30, 0)


def test_completion_time_that_is_not_a_date_is_refused():
    with pytest.raises(MalformedPayload):
        parse_reversal_result(_with_param(CONTRACT_SUCCESS, "TransCompletedTime", "yesterday"))


def test_a_charge_that_is_not_money_is_ignored_not_fatal():
    assert parse_reversal_result(_with_param(CONTRACT_SUCCESS, "Charge", "n/a")).charge_cents is None


def test_single_parameter_object_and_reference_item_list():
    body = copy.deepcopy(CONTRACT_SUCCESS)
    body["Result"]["ResultParameters"]["ResultParameter"] = {
        "Key": "OriginalTransactionID",
        "Value": "UL17AB2CD3",
    }
    body["Result"]["ReferenceData"]["ReferenceItem"] = [{"Key": "QueueTimeoutURL", "Value": "x"}]
    result = parse_reversal_result(body)
    assert result.original_transaction_id == "UL17AB2CD3"
    assert result.amount_cents is None


def test_a_success_with_a_placeholder_transaction_id_has_no_receipt():
    assert parse_reversal_result(_variant(CONTRACT_SUCCESS, TransactionID="UL20000000")).receipt is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"Body": {}},
        {"Result": []},
        {"Result": {"ResultCode": 0}},  # no OriginatorConversationID
        _variant(FAILURE, ResultCode=None),
        _variant(FAILURE, ResultCode=True),
        _variant(FAILURE, ResultCode=1.5),
        _variant(FAILURE, OriginatorConversationID={"id": 1}),
        _variant(FAILURE, ResultParameters={"ResultParameter": [{"Value": 1}]}),
        "not json",
        b"\xff\xfe",
        "[1, 2]",
    ],
)
def test_bodies_mpesa_never_sends_are_refused(body):
    with pytest.raises(MalformedPayload):
        parse_reversal_result(body)


def test_a_b2c_result_is_not_mistaken_for_a_reversal_and_back():
    # A reversal result has no TransactionReceipt: read as a B2C result its receipt would be the
    # reversal's, so the two kinds of result go to different URLs (and parsers).
    reversal = parse_reversal_result(CONTRACT_SUCCESS)
    b2c = parse_result(CONTRACT_SUCCESS)
    assert b2c.amount is None and reversal.amount_cents == 150000


# --- queue timeout notices -----------------------------------------------------------------------


def test_timeout_as_a_result_envelope():
    notice = parse_reversal_timeout(_variant(FAILURE, ResultCode=1037))
    assert notice.originator_conversation_id == "dad6-4c34-8787-c8cb963a496d1268233"
    assert notice.conversation_id == "AG_20211114_201018edbbf9f1582eab"


def test_timeout_as_the_request_echoed_names_the_receipt():
    echo = reversal_payload(
        initiator="op",
        security_credential="x",
        receipt="UL17AB2CD3",
        amount=1500,
        receiver_party="600000",
        receiver_identifier_type="11",
        result_url="https://g2p.test/r",
        timeout_url="https://g2p.test/t",
        remarks="Wrong person",
    )
    notice = parse_reversal_timeout(echo)
    assert notice.originator_conversation_id is None
    assert notice.original_transaction_id == "UL17AB2CD3"


@pytest.mark.parametrize("body", [{}, {"TransactionID": "UL17AB2CD3"}, "nope", {"Result": "x"}])
def test_timeout_without_anything_to_match_is_refused(body):
    with pytest.raises(MalformedPayload):
        parse_reversal_timeout(body)


# --- result codes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "klass"),
    [
        (0, ReversalClass.REVERSED),
        ("0", ReversalClass.REVERSED),
        ("R000001", ReversalClass.ALREADY_REVERSED),
        ("R000002", ReversalClass.FAILED),
        (1, ReversalClass.FAILED),
        ("2001", ReversalClass.FAILED),
        (8006, ReversalClass.FAILED),
        (2006, ReversalClass.FAILED),
        (21, ReversalClass.FAILED),
        (17, ReversalClass.TRANSIENT),
        ("26", ReversalClass.TRANSIENT),
        ("SOMETHING_NEW", ReversalClass.FAILED),
    ],
)
def test_reversal_codes_are_classified(code, klass):
    assert classify_reversal_code(code) is klass


def test_reversal_codes_are_described():
    assert "already been reversed" in describe_reversal_code("R000001")
    assert "invalid" in describe_reversal_code("R000002")
    assert "insufficient" in describe_reversal_code(1)
    assert "Org Reversals Initiator" in describe_reversal_code(21)
    assert describe_reversal_code("X9") == "M-Pesa reversal result code X9"


# --- the request ---------------------------------------------------------------------------------


def reversal_request(**overrides) -> ReversalRequest:
    values = {
        "receipt": "UL17AB2CD3",
        "amount": 1500,
        "remarks": "Paid to the wrong person",
        "result_url": "https://g2p.test/g2p_payment_mpesa/1/s3cr3t/reversal/abc",
        "timeout_url": "https://g2p.test/g2p_payment_mpesa/1/s3cr3t/reversal_timeout/abc",
    }
    values.update(overrides)
    return ReversalRequest(**values)


ACK = FakeResponse(
    200,
    {
        "OriginatorConversationID": "f1e2-4b95-a71d-b30d3cdbb7a7735297",
        "ConversationID": "AG_20210706_20106e9209f64bebd05b",
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    },
)


def test_reverse_request_shape_and_acknowledgement():
    client, transport = fake_client({TOKEN: [TOKEN_OK], REVERSAL: [ACK]})
    outcome = client.reverse(reversal_request(occasion="Cycle 1"))
    assert outcome.kind is OutcomeKind.ACCEPTED
    # Both ids are M-Pesa's: the request carries none, the acknowledgement returns them.
    assert outcome.originator_conversation_id == "f1e2-4b95-a71d-b30d3cdbb7a7735297"
    assert outcome.conversation_id == "AG_20210706_20106e9209f64bebd05b"
    (call,) = transport.calls(REVERSAL)
    assert call.headers["Authorization"] == "Bearer tok-1"
    assert call.headers["Content-Type"] == "application/json"
    body = json.loads(call.body)
    credential = body.pop("SecurityCredential")
    assert body == {
        "Initiator": "g2p_initiator",
        "CommandID": "TransactionReversal",
        "TransactionID": "UL17AB2CD3",
        "Amount": 1500,
        "ReceiverParty": "600000",
        "RecieverIdentifierType": "11",
        "ResultURL": "https://g2p.test/g2p_payment_mpesa/1/s3cr3t/reversal/abc",
        "QueueTimeOutURL": "https://g2p.test/g2p_payment_mpesa/1/s3cr3t/reversal_timeout/abc",
        "Remarks": "Paid to the wrong person",
        "Occasion": "Cycle 1",
    }
    key = key_and_certificate()[0]
    assert key.decrypt(base64.b64decode(credential), padding.PKCS1v15()).decode() == "Init-PASSWORD"


def test_receiver_identifier_type_comes_from_the_config():
    client, transport = fake_client(
        {TOKEN: [TOKEN_OK], REVERSAL: [ACK]}, config=make_config(reversal_identifier_type="4")
    )
    client.reverse(reversal_request())
    body = json.loads(transport.calls(REVERSAL)[0].body)
    assert body["RecieverIdentifierType"] == "4"
    assert "Occasion" not in body


@pytest.mark.parametrize("bad", ["", "eleven", "111", " 11", 11])
def test_receiver_identifier_type_must_be_a_number(bad):
    with pytest.raises(ValueError):
        make_config(reversal_identifier_type=bad)


def test_default_receiver_identifier_type_is_11():
    assert make_config().reversal_identifier_type == "11"
    assert DarajaConfig.__dataclass_fields__["reversal_identifier_type"].default == "11"


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        (
            FakeResponse(
                400,
                {
                    "requestId": "1",
                    "errorCode": "400.002.02",
                    "errorMessage": "Bad Request - Invalid TransactionID",
                },
            ),
            OutcomeKind.REJECTED,
            "400.002.02",
        ),
        (
            FakeResponse(500, {"requestId": "2", "errorCode": "500.003.02", "errorMessage": "Spike arrest"}),
            OutcomeKind.TRANSIENT,
            "500.003.02",
        ),
        (FakeResponse(503, None), OutcomeKind.UNKNOWN, "http_503"),
        (
            FakeResponse(200, {"ResponseCode": "1", "ResponseDescription": "Rejected"}),
            OutcomeKind.REJECTED,
            "1",
        ),
        (FakeResponse(200, {"ResponseCode": "0"}), OutcomeKind.UNKNOWN, "bad_response"),
    ],
)
def test_reverse_outcome_classes(answer, kind, code):
    client, _transport = fake_client({TOKEN: [TOKEN_OK], REVERSAL: [answer]})
    outcome = client.reverse(reversal_request())
    assert (outcome.kind, outcome.code) == (kind, code)


def test_reverse_takes_a_throttle_slot_and_refreshes_a_refused_token():
    class Counting:
        waits = 0

        def wait(self):
            Counting.waits += 1

        def pause(self, seconds):
            pass

    refused = FakeResponse(
        404, {"requestId": "x", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
    )
    client, transport = fake_client(
        {
            TOKEN: [TOKEN_OK, FakeResponse(200, {"access_token": "tok-2", "expires_in": "3599"})],
            REVERSAL: [refused, ACK],
        },
        throttle=Counting(),
    )
    assert client.reverse(reversal_request()).kind is OutcomeKind.ACCEPTED
    assert Counting.waits == 2
    assert [c.headers["Authorization"] for c in transport.calls(REVERSAL)] == ["Bearer tok-1", "Bearer tok-2"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"receipt": ""}, ValueError),
        ({"receipt": "ul17ab2cd3"}, ValueError),
        ({"receipt": "UL17AB2CD3; DROP"}, ValueError),
        ({"amount": 0}, InvalidAmount),
        ({"amount": 1500.0}, InvalidAmount),
        ({"amount": "1500"}, InvalidAmount),
        ({"amount": True}, InvalidAmount),
        ({"remarks": "x"}, ValueError),
        ({"remarks": "x" * 101}, ValueError),
        ({"occasion": "x" * 101}, ValueError),
        ({"result_url": "ftp://x"}, ValueError),
        ({"timeout_url": ""}, ValueError),
    ],
)
def test_reversal_request_refuses_what_mpesa_would_reject(overrides, error):
    with pytest.raises(error):
        reversal_request(**overrides)


# --- against the simulator -------------------------------------------------------------------------


def _sim_has_reversal(sim) -> bool:
    status, spec = sim.call("GET", "/openapi.json")
    return status == 200 and isinstance(spec, dict) and REVERSAL in spec.get("paths", {})


@pytest.fixture
def reversal_sim(sim):
    if not _sim_has_reversal(sim):
        pytest.skip("the simulator does not serve /mpesa/reversal/v1/request yet")
    return sim


def _client(sim):
    return make_client(sim)


def _pay(client, sink, msisdn, amount=1500):
    ocid = str(uuid.uuid4())
    outcome = client.b2c_submit(
        B2CRequest(
            originator_conversation_id=ocid,
            msisdn=msisdn,
            amount=amount,
            remarks="Cycle 2026-12",
            result_url=sink.url("/result"),
            timeout_url=sink.url("/timeout"),
        )
    )
    assert outcome.accepted, outcome
    result = parse_result(sink.wait_for(lambda r: r.path == "/result" and r.ocid == ocid, timeout=10).body)
    assert result.is_success, result
    return result.receipt


def _reverse(client, sink, receipt, amount=1500, tag=None):
    tag = tag or uuid.uuid4().hex
    outcome = client.reverse(
        ReversalRequest(
            receipt=receipt,
            amount=amount,
            remarks="Paid to the wrong person",
            result_url=sink.url(f"/reversal/{tag}"),
            timeout_url=sink.url(f"/reversal_timeout/{tag}"),
        )
    )
    return outcome, tag


def _reversal_result(sink, tag):
    return parse_reversal_result(sink.wait_for(lambda r: r.path == f"/reversal/{tag}", timeout=10).body)


def _balance(sim, msisdn):
    status, wallet = sim.admin("GET", f"/sim/admin/wallets/{msisdn}")
    assert status == 200, wallet
    return wallet["balance_cents"]


def test_simulator_reverses_a_payment_once(reversal_sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    with _client(reversal_sim) as client:
        receipt = _pay(client, callback_sink, msisdn)
        paid_balance = _balance(reversal_sim, msisdn)
        outcome, tag = _reverse(client, callback_sink, receipt)
        assert outcome.kind is OutcomeKind.ACCEPTED, outcome
        assert outcome.originator_conversation_id and outcome.conversation_id
        result = _reversal_result(callback_sink, tag)
        assert result.is_success, result
        assert result.originator_conversation_id == outcome.originator_conversation_id
        assert result.original_transaction_id == receipt
        assert result.receipt and result.receipt != receipt
        assert result.amount_cents == 150000
        assert result.completed_at is not None
        assert _balance(reversal_sim, msisdn) == paid_balance - 150000

        # The same reversal again (a re-send after a lost acknowledgement) moves nothing.
        again, tag2 = _reverse(client, callback_sink, receipt)
        assert again.kind is OutcomeKind.ACCEPTED, again
        second = _reversal_result(callback_sink, tag2)
        assert second.result_code == "R000001"
        assert classify_reversal_code(second.result_code) is ReversalClass.ALREADY_REVERSED
        assert second.receipt is None
        assert _balance(reversal_sim, msisdn) == paid_balance - 150000


def test_simulator_refuses_an_unknown_receipt(reversal_sim, callback_sink):
    with _client(reversal_sim) as client:
        outcome, tag = _reverse(client, callback_sink, "UL10000001")
        if outcome.kind is OutcomeKind.ACCEPTED:
            result = _reversal_result(callback_sink, tag)
            assert result.result_code == "R000002"
            assert classify_reversal_code(result.result_code) is ReversalClass.FAILED
        else:  # refused at the gateway: an answer Daraja may give too
            assert outcome.kind is OutcomeKind.REJECTED, outcome


def test_simulator_refuses_a_reversal_the_wallet_cannot_cover(reversal_sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    with _client(reversal_sim) as client:
        receipt = _pay(client, callback_sink, msisdn)
        _spend(reversal_sim, msisdn)
        outcome, tag = _reverse(client, callback_sink, receipt)
        assert outcome.kind is OutcomeKind.ACCEPTED, outcome
        result = _reversal_result(callback_sink, tag)
        assert result.result_code == "1", result
        assert classify_reversal_code(result.result_code) is ReversalClass.FAILED


def _spend(sim, msisdn):
    """The beneficiary spends the money: pays a vendor's till from the phone (USSD, default PIN)."""
    shillings = _balance(sim, msisdn) // 100
    till = "5%05d" % (int(msisdn[-5:]) % 100000)
    sim.seed(tills=[{"till_number": till, "name": "Shop"}])
    form = urllib.parse.urlencode(
        {"sessionId": uuid.uuid4().hex, "phoneNumber": msisdn, "text": f"2*{till}*{shillings}*1234*1"}
    )
    status, screen = sim.call(
        "POST", "/ussd", data=form.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and str(screen).startswith("END"), screen
    assert _balance(sim, msisdn) < 150000, screen


@pytest.mark.parametrize(
    "balance",
    [
        None,
        "",
        "Working Account|KES|1.00|1.00|0.00|0.00",
        "Utility Account|KES|x|y|0|0",
        "Utility Account|KES",
    ],
)
def test_a_reversal_without_a_readable_utility_balance_reports_no_float(balance):
    body = copy.deepcopy(CONTRACT_SUCCESS)
    params = body["Result"]["ResultParameters"]["ResultParameter"]
    params[0]["Value"] = balance
    if balance is None:
        del params[0]
    assert parse_reversal_result(body).utility_funds is None
