"""Parsing of the bodies M-Pesa posts to the ResultURL and QueueTimeOutURL.

Callbacks are unsigned, so the parsers are strict about the envelope (anything that is not
M-Pesa's shape raises :class:`MalformedPayload` and is never applied) and tolerant about the
variants M-Pesa is known to send: codes as numbers or strings, a parameter list or a single
object, parameters without a Value, amounts as numbers or strings.
"""

import contextlib
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import InvalidMsisdn, MalformedPayload
from ..http import json_object
from ..numbers import normalise_msisdn
from ..results import (
    PLACEHOLDER_TRANSACTION_ID,
    AccountBalance,
    B2CResult,
    BalanceResult,
    QueueTimeoutNotice,
    ReversalResult,
    ReversalTimeoutNotice,
    StatusResult,
)
from .result_codes import normalise_result_code

# M-Pesa writes times in Kenyan time (EAT, UTC+3, no daylight saving); Odoo stores naive UTC.
KENYA_UTC_OFFSET = timedelta(hours=3)


# --- helpers -------------------------------------------------------------------------------


def _result(body) -> dict:
    data = json_object(body)
    result = data.get("Result")
    if result is None:
        raise MalformedPayload("Callback body has no 'Result' object")
    if not isinstance(result, dict):
        raise MalformedPayload("Callback 'Result' must be an object")
    return result


def _text(result: dict, key: str, *, required: bool = False) -> str | None:
    value = result.get(key)
    if value is None or value == "":
        if required:
            raise MalformedPayload(f"Result has no {key}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedPayload(f"Result {key} must be a string, not {type(value).__name__}")
    return str(value).strip()


def _code(result: dict) -> str:
    if "ResultCode" not in result:
        raise MalformedPayload("Result has no ResultCode")
    try:
        code = normalise_result_code(result["ResultCode"])
    except ValueError:
        raise MalformedPayload(f"Result ResultCode is not a code: {result['ResultCode']!r}") from None
    if not code:
        raise MalformedPayload("Result ResultCode is empty")
    return code


def _items(container, list_key: str, where: str) -> list[dict]:
    """A list of {"Key", "Value"} items that M-Pesa sometimes sends as a single object."""
    if container is None or container == "":
        return []
    if not isinstance(container, dict):
        raise MalformedPayload(f"{where} must be an object")
    items = container.get(list_key)
    if items is None:
        return []
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise MalformedPayload(f"{where}.{list_key} must be a list or an object")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise MalformedPayload(f"{where}.{list_key} items must be objects with a string Key")
    return items


def _parameters(result: dict) -> dict[str, Any]:
    items = _items(result.get("ResultParameters"), "ResultParameter", "ResultParameters")
    return {item["Key"]: item.get("Value") for item in items}


def _decimal(params: dict, key: str, *, strict: bool) -> Decimal | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float):
            # repr() is the shortest string that round-trips, i.e. what M-Pesa wrote (8959269.6).
            number = Decimal(repr(value))
        elif isinstance(value, int | str):
            number = Decimal(str(value).strip().replace(",", ""))
        else:
            raise TypeError
        if not number.is_finite():
            raise TypeError
        return number
    except (InvalidOperation, TypeError):
        if strict:
            raise MalformedPayload(f"Result parameter {key} is not an amount: {value!r}") from None
        return None


def _kenyan_time(params: dict, key: str, *, strict: bool) -> datetime | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else None
    for fmt in ("%d.%m.%Y %H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text, fmt) - KENYA_UTC_OFFSET
        except (ValueError, TypeError):
            continue
    if strict:
        raise MalformedPayload(f"Result parameter {key} is not a date: {value!r}")
    return None


def _cents(params: dict, key: str, *, strict: bool) -> int | None:
    """An amount in whole minor units (cents); a fraction of a cent is not M-Pesa's."""
    amount = _decimal(params, key, strict=strict)
    if amount is None:
        return None
    cents = amount * 100
    if cents != cents.to_integral_value():
        if strict:
            raise MalformedPayload(f"Result parameter {key} has a fraction of a cent: {params.get(key)!r}")
        return None
    return int(cents)


def _param_text(params: dict, key: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def _split_party(value: str | None) -> tuple[str | None, str | None]:
    """'254705912645 - JANE DOE' -> ('254705912645', 'JANE DOE').

    The number is normalised when it is a valid Kenyan mobile number (one fixture has
    '0113638169'); M-Pesa masks some digits in newer answers ('2547****2645'), and then the raw
    text is kept so that a caller comparing numbers sees the mismatch instead of a None.
    """
    if not value:
        return None, None
    number, sep, name = value.partition(" - ")
    if not sep:
        if re.fullmatch(r"\+?[0-9*]{9,15}", value.strip()):
            number, name = value, ""
        else:
            return None, value.strip() or None
    number = number.strip()
    with contextlib.suppress(InvalidMsisdn):
        number = normalise_msisdn(number)
    return number or None, name.strip() or None


def _yes_no(value) -> bool | None:
    if isinstance(value, str):
        value = value.strip().upper()
        if value in ("Y", "YES", "TRUE", "1"):
            return True
        if value in ("N", "NO", "FALSE", "0"):
            return False
    return None


def _receipt(params: dict, key: str, result: dict, success: bool) -> str | None:
    receipt = _param_text(params, key)
    if receipt is None and success:
        # A success without the receipt parameter still carries the receipt as TransactionID;
        # on failures TransactionID is a placeholder and must not pass for a receipt.
        transaction_id = _text(result, "TransactionID")
        if transaction_id and not PLACEHOLDER_TRANSACTION_ID.fullmatch(transaction_id):
            receipt = transaction_id
    return receipt


# --- parsers -------------------------------------------------------------------------------


def parse_result(body) -> B2CResult:
    """Parse the B2C result callback (the only proof of payment)."""
    result = _result(body)
    code = _code(result)
    params = _parameters(result)
    success = code == "0"
    receiver_msisdn, receiver_name = _split_party(_param_text(params, "ReceiverPartyPublicName"))
    return B2CResult(
        originator_conversation_id=_text(result, "OriginatorConversationID", required=True),
        conversation_id=_text(result, "ConversationID"),
        result_type=_text(result, "ResultType"),
        result_code=code,
        result_desc=_text(result, "ResultDesc") or "",
        transaction_id=_text(result, "TransactionID"),
        receipt=_receipt(params, "TransactionReceipt", result, success),
        amount=_decimal(params, "TransactionAmount", strict=True),
        receiver_msisdn=receiver_msisdn,
        receiver_name=receiver_name,
        completed_at=_kenyan_time(params, "TransactionCompletedDateTime", strict=True),
        utility_funds=_decimal(params, "B2CUtilityAccountAvailableFunds", strict=False),
        working_funds=_decimal(params, "B2CWorkingAccountAvailableFunds", strict=False),
        charges_paid_funds=_decimal(params, "B2CChargesPaidAccountAvailableFunds", strict=False),
        recipient_registered=_yes_no(params.get("B2CRecipientIsRegisteredCustomer")),
        parameters=params,
    )


# 2032: no transaction with this receipt; 2033: none with this OriginatorConversationID.
STATUS_NOT_FOUND_CODES = ("2032", "2033")


def parse_status_result(body) -> StatusResult:
    """Parse a TransactionStatusQuery result."""
    result = _result(body)
    code = _code(result)
    params = _parameters(result)
    credit_party_name = _param_text(params, "CreditPartyName")
    credit_msisdn, _name = _split_party(credit_party_name)
    return StatusResult(
        originator_conversation_id=_text(result, "OriginatorConversationID", required=True),
        conversation_id=_text(result, "ConversationID"),
        result_code=code,
        result_desc=_text(result, "ResultDesc") or "",
        receipt=_param_text(params, "ReceiptNo"),
        amount=_decimal(params, "Amount", strict=True),
        status=_param_text(params, "TransactionStatus"),
        credit_party_name=credit_party_name,
        finalised_at=_kenyan_time(params, "FinalisedTime", strict=True),
        original_conversation_id=_param_text(params, "OriginatorConversationID")
        or _param_text(params, "OriginalConversationID"),
        credit_party_msisdn=credit_msisdn,
        debit_party_name=_param_text(params, "DebitPartyName"),
        initiated_at=_kenyan_time(params, "InitiatedTime", strict=False),
        parameters=params,
        not_found=code in STATUS_NOT_FOUND_CODES,
    )


def _accounts(text) -> dict[str, AccountBalance]:
    if not isinstance(text, str):
        raise MalformedPayload("Result parameter AccountBalance must be a string")
    accounts = {}
    for chunk in text.split("&"):
        if not chunk.strip():
            continue
        parts = [part.strip() for part in chunk.split("|")]
        if len(parts) != 6 or not parts[0]:
            raise MalformedPayload(
                f"AccountBalance entry {chunk!r} is not Name|Currency|Current|Available|Reserved|Uncleared"
            )
        name, currency, *numbers = parts
        try:
            values = [Decimal(number) for number in numbers]
        except InvalidOperation:
            raise MalformedPayload(f"AccountBalance entry {chunk!r} has a non-numeric amount") from None
        if not all(value.is_finite() for value in values):
            raise MalformedPayload(f"AccountBalance entry {chunk!r} has a non-numeric amount")
        accounts[name] = AccountBalance(currency, *values)
    return accounts


def parse_balance_result(body) -> BalanceResult:
    """Parse an AccountBalance result (B2C pays out of the "Utility Account")."""
    result = _result(body)
    ocid = _text(result, "OriginatorConversationID", required=True)
    code = _code(result)
    params = _parameters(result)
    if code == "0" and "AccountBalance" not in params:
        raise MalformedPayload("Successful balance result has no AccountBalance parameter")
    accounts = _accounts(params["AccountBalance"]) if params.get("AccountBalance") is not None else {}
    return BalanceResult(
        result_code=code,
        result_desc=_text(result, "ResultDesc") or "",
        accounts=accounts,
        originator_conversation_id=ocid,
        conversation_id=_text(result, "ConversationID"),
        completed_at=_kenyan_time(params, "BOCompletedTime", strict=False),
        parameters=params,
    )


def parse_queue_timeout(body) -> QueueTimeoutNotice:
    """Parse a QueueTimeOutURL notice, sent either as a Result envelope or as the request echoed."""
    data = json_object(body)
    if "Result" in data:
        result = _result(data)
        return QueueTimeoutNotice(
            originator_conversation_id=_text(result, "OriginatorConversationID", required=True),
            conversation_id=_text(result, "ConversationID"),
        )
    ocid = _text(data, "OriginatorConversationID")
    if not ocid:
        raise MalformedPayload("Queue timeout body has neither a 'Result' nor an OriginatorConversationID")
    return QueueTimeoutNotice(originator_conversation_id=ocid, conversation_id=_text(data, "ConversationID"))


# --- Transaction Reversal ----------------------------------------------------------------------

REVERSAL_COMMAND_ID = "TransactionReversal"


def reversal_payload(
    *,
    initiator: str,
    security_credential: str,
    receipt: str,
    amount: int,
    receiver_party: str,
    receiver_identifier_type: str,
    result_url: str,
    timeout_url: str,
    remarks: str,
    occasion: str = "",
) -> dict:
    """The body of POST /mpesa/reversal/v1/request (field names and spelling as Daraja's docs).

    No OriginatorConversationID: M-Pesa makes it and returns it in the acknowledgement.
    """
    payload = {
        "Initiator": initiator,
        "SecurityCredential": security_credential,
        "CommandID": REVERSAL_COMMAND_ID,
        "TransactionID": receipt,
        "Amount": amount,
        "ReceiverParty": receiver_party,
        "RecieverIdentifierType": receiver_identifier_type,  # sic: Daraja's spelling
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": remarks,
    }
    if occasion:
        payload["Occasion"] = occasion
    return payload


def parse_reversal_result(body) -> ReversalResult:
    """Parse a Transaction Reversal result.

    ResultCode is a number on success (0) and a string on failures ("R000002"); failures carry
    no ResultParameters. TransactionID is the reversal's own receipt, OriginalTransactionID the
    receipt reversed.
    """
    result = _result(body)
    code = _code(result)
    params = _parameters(result)
    return ReversalResult(
        originator_conversation_id=_text(result, "OriginatorConversationID", required=True),
        conversation_id=_text(result, "ConversationID"),
        result_type=_text(result, "ResultType"),
        result_code=code,
        result_desc=_text(result, "ResultDesc") or "",
        transaction_id=_text(result, "TransactionID"),
        original_transaction_id=_param_text(params, "OriginalTransactionID"),
        amount_cents=_cents(params, "Amount", strict=True),
        charge_cents=_cents(params, "Charge", strict=False),
        completed_at=_kenyan_time(params, "TransCompletedTime", strict=True),
        debit_party_name=_param_text(params, "DebitPartyPublicName"),
        credit_party_name=_param_text(params, "CreditPartyPublicName"),
        debit_account_balance=_param_text(params, "DebitAccountBalance"),
        parameters=params,
    )


def parse_reversal_timeout(body) -> ReversalTimeoutNotice:
    """Parse a reversal's QueueTimeOutURL notice: a Result envelope, or the request echoed (which
    carries no OriginatorConversationID, only the receipt to reverse)."""
    data = json_object(body)
    if "Result" in data:
        result = _result(data)
        params = _parameters(result)
        return ReversalTimeoutNotice(
            originator_conversation_id=_text(result, "OriginatorConversationID"),
            conversation_id=_text(result, "ConversationID"),
            original_transaction_id=_param_text(params, "OriginalTransactionID"),
        )
    ocid = _text(data, "OriginatorConversationID")
    receipt = _text(data, "TransactionID") if data.get("CommandID") == REVERSAL_COMMAND_ID else None
    if not ocid and not receipt:
        raise MalformedPayload(
            "Reversal queue timeout body has neither a 'Result', an OriginatorConversationID nor the "
            "reversal request"
        )
    return ReversalTimeoutNotice(
        originator_conversation_id=ocid,
        conversation_id=_text(data, "ConversationID"),
        original_transaction_id=receipt,
    )


def callback_answer(body, accepted: bool) -> dict:
    """What the listener answers Daraja's result callbacks with (the body is not needed)."""
    del body
    if accepted:
        return {"ResultCode": 0, "ResultDesc": "Accepted"}
    return {"ResultCode": 1, "ResultDesc": "Rejected"}
