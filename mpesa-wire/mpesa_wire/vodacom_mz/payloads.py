"""What Vodacom Mozambique's M-Pesa API answers, read into the wire layer's result values.

Every answer is synchronous and carries ``output_*`` fields (docs/markets/vodacom-openapi.md
section 8): ``output_ConversationID, output_TransactionID, output_ResponseCode,
output_ResponseDesc, output_ThirdPartyReference``; a status answer adds
``output_ResponseTransactionStatus`` ("Completed": ivanruby's README [M]). Whether a status
answer names the transaction id is not documented: some integrations' captured answers carry
``output_TransactionID`` [L]; it is read where present. A "Completed" answer about our own
ThirdPartyReference is M-Pesa's word that the payment went through, receipt or not. No answer
carries the amount or the number: a result confirms the request it answers.
The API posts nothing back, so there is no callback to read.
"""

from ..errors import MalformedPayload
from ..results import B2CResult, StatusResult
from . import codes


def b2c_result(outcome, reference: str) -> B2CResult:
    """A B2C answer with INS-0 and output_TransactionID: the payment is done."""
    return B2CResult(
        originator_conversation_id=outcome.originator_conversation_id or reference,
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


def status_result(body: dict, query_id: str, reference: str) -> StatusResult:
    """A queryTransactionStatus answer about the transaction under ``reference``."""
    code = codes.normalise_code(body.get("output_ResponseCode"))
    status = body.get("output_ResponseTransactionStatus") if code == codes.SUCCESS else None
    if status is not None and not isinstance(status, str):
        raise MalformedPayload("output_ResponseTransactionStatus must be text")
    receipt = body.get("output_TransactionID") or body.get("output_OriginalTransactionID") or None
    status = (status or "").strip() or None
    return StatusResult(
        originator_conversation_id=body.get("output_ThirdPartyReference") or query_id,
        conversation_id=body.get("output_ConversationID") or None,
        result_code=code,
        result_desc=str(body.get("output_ResponseDesc") or codes.describe_code(code)),
        receipt=receipt.strip() if isinstance(receipt, str) and receipt.strip() else None,
        status=status,
        original_conversation_id=reference,
        parameters=dict(body),
        # INS-23 "Unknown Status" to a query about our own reference: M-Pesa knows no such
        # transaction. The request may then go again under the same references (a request M-Pesa
        # did receive answers INS-10, never a second payment).
        not_found=code == codes.UNKNOWN_STATUS,
        success_code=codes.SUCCESS,
    )


def no_callbacks(body):
    """This API posts no results: anything posted to a listener is not M-Pesa's."""
    del body
    raise MalformedPayload("Vodacom Mozambique's M-Pesa API posts no results to a listener")


def callback_answer(body, accepted: bool) -> dict:
    del body
    if accepted:
        return {"output_ResponseCode": "0", "output_ResponseDesc": "Accepted"}
    return {"output_ResponseCode": "1", "output_ResponseDesc": "Rejected"}
