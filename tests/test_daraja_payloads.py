"""Parsing of every callback body variant M-Pesa is known to send, and of bodies it never sends."""

import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from daraja_support import FIXTURES, fixture, fixture_text

from mpesa_wire import MalformedPayload
from mpesa_wire.daraja import parse_balance_result, parse_queue_timeout, parse_result, parse_status_result


def test_every_fixture_is_parsed_by_some_test():
    covered = {
        "b2c_ack.json",  # test_daraja_client_unit
        "b2c_result_failed.json",
        "b2c_result_failed_alnum_code.json",
        "b2c_result_single_parameter_object.json",
        "b2c_result_success.json",
        "b2c_result_success_string_codes.json",
        "balance_result.json",
        "error_bad_request.json",  # test_daraja_client_unit
        "error_duplicate_ocid.json",  # test_daraja_client_unit
        "error_invalid_token.json",  # test_daraja_client_unit
        "error_spike_arrest.json",  # test_daraja_client_unit
        "queue_timeout_request_echo.json",
        "queue_timeout_result_shape.json",
        "status_result_completed.json",
        "status_result_unknown.json",
        "token_ok_numeric_expiry.json",  # test_daraja_client_unit
        "token_ok_string_expiry.json",  # test_daraja_client_unit
    }
    assert {p.name for p in FIXTURES.glob("*.json")} == covered


@pytest.mark.parametrize("as_type", ["dict", "str", "bytes"])
def test_success_result(as_type):
    body = {"dict": fixture, "str": fixture_text, "bytes": lambda n: fixture_text(n).encode()}[as_type](
        "b2c_result_success.json"
    )
    result = parse_result(body)
    assert result.is_success
    assert result.result_code == "0"
    assert result.result_type == "0"
    assert result.result_desc == "The service request is processed successfully."
    assert result.originator_conversation_id == "5f0e9a52-6b0a-4c57-9d3e-2a1f64c1b0e7"
    assert result.conversation_id == "AG_20261127_201050b4ba2e0f8a3c1d"
    assert result.transaction_id == "UKR7Q2M9ZX"
    assert result.receipt == "UKR7Q2M9ZX"
    assert result.amount == Decimal("500") and isinstance(result.amount, Decimal)
    assert result.receiver_msisdn == "254712345678"
    assert result.receiver_name == "AMINA WANJIRU"
    # 23:10:51 in Nairobi (UTC+3) is 20:10:51 UTC, stored naive.
    assert result.completed_at == datetime(2026, 11, 27, 20, 10, 51)
    assert result.completed_at.tzinfo is None
    assert result.utility_funds == Decimal("1499500.00")
    assert result.working_funds == Decimal("250000.00")
    assert result.charges_paid_funds == Decimal("-1330.00")
    assert result.recipient_registered is True
    assert result.parameters["TransactionAmount"] == 500
    assert len(result.parameters) == 8


def test_success_result_with_string_codes_and_amounts():
    result = parse_result(fixture("b2c_result_success_string_codes.json"))
    assert result.is_success and result.result_code == "0"
    assert result.amount == Decimal("1500.00")
    assert result.receipt == "UKR8B3N1QA"
    # The number comes as '0113638169': normalised so it compares with the payment's MSISDN.
    assert result.receiver_msisdn == "254113638169"
    assert result.receiver_name == "PETER OTIENO"
    assert result.completed_at == datetime(2026, 11, 27, 20, 12, 5)
    assert result.utility_funds == Decimal("1498000.00")
    assert result.charges_paid_funds == Decimal("0.00")


def test_float_amounts_are_read_exactly():
    body = fixture("b2c_result_success.json")
    params = body["Result"]["ResultParameters"]["ResultParameter"]
    for item in params:
        if item["Key"] == "B2CUtilityAccountAvailableFunds":
            item["Value"] = 8959269.60
        if item["Key"] == "TransactionAmount":
            item["Value"] = 10.0
    result = parse_result(json.dumps(body))
    assert result.utility_funds == Decimal("8959269.6")
    assert result.amount == Decimal("10.0")


def test_failed_result_has_no_receipt_even_with_a_transaction_id():
    result = parse_result(fixture("b2c_result_failed.json"))
    assert not result.is_success
    assert result.result_code == "2040"
    assert result.transaction_id == "UKR0000000"
    assert result.receipt is None
    assert result.amount is None and result.completed_at is None and result.receiver_msisdn is None
    assert result.parameters == {}


def test_failed_result_with_alphanumeric_code():
    result = parse_result(fixture("b2c_result_failed_alnum_code.json"))
    assert result.result_code == "SFC_IC0003"
    assert not result.is_success
    assert result.result_desc == "The operator does not exist."


def test_single_parameter_object_and_item_without_value():
    result = parse_result(fixture("b2c_result_single_parameter_object.json"))
    assert result.result_code == "1"
    assert result.parameters == {"BOCompletedTime": 20261127231301}
    assert result.receipt is None  # TransactionID is not a receipt on a failure


def test_success_without_receipt_parameter_falls_back_to_real_transaction_id():
    body = fixture("b2c_result_success.json")
    del body["Result"]["ResultParameters"]
    result = parse_result(body)
    assert result.receipt == "UKR7Q2M9ZX"
    body["Result"]["TransactionID"] = "UKR0000000"
    assert parse_result(body).receipt is None


def test_masked_receiver_number_is_kept_raw():
    body = fixture("b2c_result_success.json")
    for item in body["Result"]["ResultParameters"]["ResultParameter"]:
        if item["Key"] == "ReceiverPartyPublicName":
            item["Value"] = "2547****5678 - AMINA WANJIRU"
    result = parse_result(body)
    assert result.receiver_msisdn == "2547****5678"
    assert result.receiver_name == "AMINA WANJIRU"


def test_status_result_completed():
    result = parse_status_result(fixture("status_result_completed.json"))
    assert result.is_success
    assert result.originator_conversation_id == "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
    assert result.original_conversation_id == "5f0e9a52-6b0a-4c57-9d3e-2a1f64c1b0e7"
    assert result.receipt == "UKR7Q2M9ZX"
    assert result.amount == Decimal("500")
    assert result.status == "Completed"
    assert result.credit_party_name == "254712345678 - AMINA WANJIRU"
    assert result.credit_party_msisdn == "254712345678"
    assert result.debit_party_name == "600998 - G2P DEMO MINISTRY"
    assert result.finalised_at == datetime(2026, 11, 27, 20, 10, 51)
    assert result.initiated_at == datetime(2026, 11, 27, 20, 10, 50)
    assert result.parameters["TransactionReason"] is None
    assert result.transaction_found


def test_status_result_unknown_transaction():
    result = parse_status_result(fixture("status_result_unknown.json"))
    assert result.result_code == "2033"
    assert not result.is_success
    assert result.receipt is None and result.status is None and result.amount is None
    assert not result.transaction_found


def test_balance_result():
    result = parse_balance_result(fixture("balance_result.json"))
    assert result.is_success
    assert list(result.accounts) == [
        "Working Account",
        "Float Account",
        "Utility Account",
        "Charges Paid Account",
        "Organization Settlement Account",
    ]
    utility = result.accounts["Utility Account"]
    assert utility.currency == "KES"
    assert utility.current == Decimal("1498000.00")
    assert utility.available == Decimal("1498000.00")
    assert utility.reserved == Decimal("0.00") and utility.uncleared == Decimal("0.00")
    assert result.accounts["Charges Paid Account"].current == Decimal("-1330.00")
    assert result.completed_at == datetime(2026, 11, 27, 20, 17, 2)


def test_failed_balance_result_has_no_accounts():
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 2001,
            "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": "x-1",
            "ConversationID": "AG_1",
        }
    }
    result = parse_balance_result(body)
    assert result.result_code == "2001" and result.accounts == {}


@pytest.mark.parametrize(
    "value",
    ["Working Account|KES|1.00|1.00|0.00", "Working Account|KES|abc|1.00|0.00|0.00", 12, "|KES|1|1|0|0"],
)
def test_malformed_account_balance(value):
    body = fixture("balance_result.json")
    body["Result"]["ResultParameters"]["ResultParameter"][0]["Value"] = value
    with pytest.raises(MalformedPayload):
        parse_balance_result(body)


def test_successful_balance_result_without_balance_is_malformed():
    body = fixture("balance_result.json")
    del body["Result"]["ResultParameters"]
    with pytest.raises(MalformedPayload, match="AccountBalance"):
        parse_balance_result(body)


def test_queue_timeout_result_shape():
    notice = parse_queue_timeout(fixture("queue_timeout_result_shape.json"))
    assert notice.originator_conversation_id == "6f8a0c24-7a9b-4d1e-9a2b-5e6f7a8b9c0d"
    assert notice.conversation_id == "AG_20261127_2014c3b2a1f0e9d8c7b6"


def test_queue_timeout_request_echo():
    notice = parse_queue_timeout(fixture_text("queue_timeout_request_echo.json"))
    assert notice.originator_conversation_id == "7a9b1d35-8b0c-4e2f-8b3c-6f7a8b9c0d1e"
    assert notice.conversation_id is None


@pytest.mark.parametrize(
    "body, message",
    [
        (b"\xff\xfe", "UTF-8"),
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ("", "not JSON"),
        ({}, "no 'Result'"),
        ({"Result": "x"}, "must be an object"),
        ({"Result": {"ResultCode": 0}}, "OriginatorConversationID"),
        ({"Result": {"ResultCode": 0, "OriginatorConversationID": ""}}, "OriginatorConversationID"),
        ({"Result": {"ResultCode": 0, "OriginatorConversationID": ["a"]}}, "must be a string"),
        ({"Result": {"OriginatorConversationID": "a"}}, "no ResultCode"),
        ({"Result": {"ResultCode": None, "OriginatorConversationID": "a"}}, "not a code"),
        ({"Result": {"ResultCode": True, "OriginatorConversationID": "a"}}, "not a code"),
        ({"Result": {"ResultCode": 0.5, "OriginatorConversationID": "a"}}, "not a code"),
        ({"Result": {"ResultCode": " ", "OriginatorConversationID": "a"}}, "empty"),
        ({"Result": {"ResultCode": 0, "OriginatorConversationID": "a", "ResultParameters": []}}, "object"),
        (
            {
                "Result": {
                    "ResultCode": 0,
                    "OriginatorConversationID": "a",
                    "ResultParameters": {"ResultParameter": 5},
                }
            },
            "list or an object",
        ),
        (
            {
                "Result": {
                    "ResultCode": 0,
                    "OriginatorConversationID": "a",
                    "ResultParameters": {"ResultParameter": [{"Value": 1}]},
                }
            },
            "string Key",
        ),
    ],
)
def test_malformed_bodies_are_refused(body, message):
    for parse in (parse_result, parse_status_result, parse_balance_result):
        with pytest.raises(MalformedPayload, match=message):
            parse(body)


@pytest.mark.parametrize(
    "key, value",
    [
        ("TransactionAmount", "ten"),
        ("TransactionAmount", {"x": 1}),
        ("TransactionAmount", True),
        ("TransactionAmount", "NaN"),
        ("TransactionCompletedDateTime", "2026-11-27T23:10:51"),
        ("TransactionCompletedDateTime", "31.02.2026 10:00:00"),
    ],
)
def test_unreadable_amount_or_date_on_a_result_is_malformed(key, value):
    body = fixture("b2c_result_success.json")
    for item in body["Result"]["ResultParameters"]["ResultParameter"]:
        if item["Key"] == key:
            item["Value"] = value
    with pytest.raises(MalformedPayload, match=key):
        parse_result(body)


def test_unreadable_balance_figures_are_ignored_not_fatal():
    body = fixture("b2c_result_success.json")
    for item in body["Result"]["ResultParameters"]["ResultParameter"]:
        if item["Key"] == "B2CUtilityAccountAvailableFunds":
            item["Value"] = "n/a"
    result = parse_result(body)
    assert result.utility_funds is None and result.amount == Decimal("500")


@pytest.mark.parametrize(
    "body", [{}, {"Foo": 1}, {"OriginatorConversationID": ""}, {"Result": {"ResultCode": 1}}]
)
def test_malformed_queue_timeout(body):
    with pytest.raises(MalformedPayload):
        parse_queue_timeout(body)


def test_malformed_payload_is_a_value_error():
    assert issubclass(MalformedPayload, ValueError)


def _shared_fixtures() -> Path | None:
    root = os.environ.get("G2P_SHARED_DIR")
    candidates = [Path(root)] if root else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared")
    for candidate in candidates:
        if (candidate / "fixtures" / "daraja").is_dir():
            return candidate / "fixtures" / "daraja"
    return None


@pytest.mark.skipif(_shared_fixtures() is None, reason="no shared design folder beside the repository")
def test_fixture_copies_match_the_shared_ones():
    shared = _shared_fixtures()
    for source in shared.glob("*.json"):
        assert (FIXTURES / source.name).read_bytes() == source.read_bytes(), f"{source.name} is out of date"
