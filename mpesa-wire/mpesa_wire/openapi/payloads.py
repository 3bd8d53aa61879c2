"""What the M-Pesa OpenAPI answers, read into the wire layer's result values.

Synchronous answers (the response to b2cPayment, queryTransactionStatus, reversal) carry
``output_*`` fields; an asynchronous result is POSTed to the application's listener with
``input_*`` fields (docs/markets/vodacom-openapi.md section 3). Neither carries the amount or the
receiver's number: the results leave them unset rather than echo what we sent.
"""

from ..errors import MalformedPayload
from ..http import json_object
from ..results import B2CResult, ReversalResult, StatusResult
from . import codes


def _text(body: dict, key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise MalformedPayload(f"OpenAPI result has no {key}")
        return None
    if not isinstance(value, str | int):
        raise MalformedPayload(f"OpenAPI result {key} must be text, not {type(value).__name__}")
    return str(value).strip()


def _code(body: dict, key: str) -> str:
    code = codes.normalise_code(_text(body, key, required=True))
    if not code.startswith("INS-") and code != "0":
        raise MalformedPayload(f"OpenAPI result {key} is not an INS code: {code!r}")
    return code


def b2c_result(outcome, conversation_id: str, amount: int, msisdn: str) -> B2CResult:
    """A synchronous B2C success (output_TransactionID given): the payment is done."""
    del amount, msisdn  # not in the answer: the result says only what M-Pesa said
    return B2CResult(
        originator_conversation_id=outcome.originator_conversation_id or conversation_id,
        conversation_id=outcome.conversation_id,
        result_type="synchronous",
        result_code=outcome.code,
        result_desc=outcome.message,
        transaction_id=outcome.request_id,
        receipt=outcome.request_id,
        amount=None,
        parameters=dict(outcome.raw or {}),
        success_code=codes.SUCCESS,
    )


def parse_result(body) -> B2CResult:
    """An asynchronous B2C result posted to the listener."""
    body = json_object(body)
    code = _code(body, "input_ResultCode")
    transaction_id = _text(body, "input_TransactionID")
    return B2CResult(
        originator_conversation_id=_text(body, "input_ThirdPartyConversationID", required=True),
        conversation_id=_text(body, "input_OriginalConversationID"),
        result_type="asynchronous",
        result_code=code,
        result_desc=_text(body, "input_ResultDesc") or codes.describe_code(code),
        transaction_id=transaction_id,
        receipt=transaction_id if code == codes.SUCCESS else None,
        parameters=body,
        success_code=codes.SUCCESS,
    )


def parse_reversal_result(body) -> ReversalResult:
    """An asynchronous reversal result posted to the listener (the same fields as B2C)."""
    body = json_object(body)
    code = _code(body, "input_ResultCode")
    return ReversalResult(
        originator_conversation_id=_text(body, "input_ThirdPartyConversationID", required=True),
        conversation_id=_text(body, "input_OriginalConversationID"),
        result_type="asynchronous",
        result_code=code,
        result_desc=_text(body, "input_ResultDesc") or codes.describe_code(code),
        transaction_id=_text(body, "input_TransactionID"),
        parameters=body,
        success_code=codes.SUCCESS,
    )


def status_result(body: dict, query_id: str, reference: str, conversation_id: str | None) -> StatusResult:
    """A queryTransactionStatus answer about the transaction under ``reference``."""
    code = codes.normalise_code(body.get("output_ResponseCode"))
    status = body.get("output_ResponseTransactionStatus") if code == codes.SUCCESS else None
    receipt = body.get("output_OriginalTransactionID") or None
    if status is not None and not isinstance(status, str):
        raise MalformedPayload("output_ResponseTransactionStatus must be text")
    return StatusResult(
        originator_conversation_id=body.get("output_ThirdPartyConversationID") or query_id,
        conversation_id=body.get("output_ConversationID") or None,
        result_code=code,
        result_desc=str(body.get("output_ResponseDesc") or codes.describe_code(code)),
        receipt=receipt if isinstance(receipt, str) and receipt.strip() else None,
        status=status.strip() if status else None,
        original_conversation_id=conversation_id or reference,
        parameters={**body, "reversed": str(body.get("output_Reversed", "")).strip().lower() == "true"},
        not_found=code == codes.NOT_FOUND,
        success_code=codes.SUCCESS,
    )


def parse_status_result(body) -> StatusResult:
    """A queryTransactionStatus answer given as a body (the OpenAPI answers it synchronously)."""
    body = json_object(body)
    query_id = _text(body, "output_ThirdPartyConversationID", required=True)
    return status_result(body, query_id, query_id, None)


def callback_answer(body, accepted: bool) -> dict:
    """What the listener answers (the portal: output_OriginalConversationID, output_ResponseCode
    "0", output_ResponseDesc "Successfully Accepted Result", output_ThirdPartyConversationID)."""
    body = body if isinstance(body, dict) else {}
    return {
        "output_OriginalConversationID": str(body.get("input_OriginalConversationID") or ""),
        "output_ResponseCode": "0" if accepted else "1",
        "output_ResponseDesc": "Successfully Accepted Result" if accepted else "Rejected",
        "output_ThirdPartyConversationID": str(body.get("input_ThirdPartyConversationID") or ""),
    }


def _none(what: str):
    def parse(body):
        raise MalformedPayload(f"the M-Pesa OpenAPI sends no {what}")

    return parse


parse_queue_timeout = _none("queue timeout notices")
parse_reversal_timeout = _none("reversal timeout notices")
parse_balance_result = _none("balance results (it has no balance query)")

__all__ = [
    "b2c_result",
    "parse_balance_result",
    "parse_queue_timeout",
    "parse_result",
    "parse_reversal_result",
    "parse_reversal_timeout",
    "parse_status_result",
    "status_result",
]
