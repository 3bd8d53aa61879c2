"""The outcome classes every API family answers in.

:class:`SubmitOutcome` is what happened to one request, as far as the caller can know synchronously;
:class:`ResultClass` and :class:`ReversalClass` what a result (callback or query) means.
"""

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class OutcomeKind(str, Enum):
    # Queued by M-Pesa (never "paid": only the result callback or a status query says that).
    ACCEPTED = "accepted"
    # Refused for good; this request will never be processed. code + message say why.
    REJECTED = "rejected"
    # Not processed, provably: send again later with the SAME OriginatorConversationID.
    TRANSIENT = "transient"
    # The request may or may not have been processed: find out with a status query, and never
    # send it again under a new OriginatorConversationID before that.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SubmitOutcome:
    """The synchronous outcome of a B2C, status or balance request.

    ``code`` is M-Pesa's errorCode / ResponseCode when there was one, otherwise one of ours:
    ``connect_error``, ``connect_timeout``, ``read_timeout``, ``connection_lost``,
    ``token`` (token refused twice), ``token_unavailable``, ``http_<status>``, ``bad_response``.
    """

    kind: OutcomeKind
    conversation_id: str | None = None
    code: str | None = None
    message: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    # The OriginatorConversationID echoed by M-Pesa (for status/balance queries, M-Pesa's own).
    originator_conversation_id: str | None = None
    request_id: str | None = None
    # The final answer, where the API gives it in the response rather than in a callback (the
    # OpenAPI's synchronous B2C, status and reversal): a B2CResult, StatusResult or ReversalResult.
    result: Any = None
    # The answer's body, for the family's own parsers (never logged: it may name a customer).
    raw: dict | None = field(default=None, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.kind is OutcomeKind.ACCEPTED

    def with_result(self, result) -> "SubmitOutcome":
        """This outcome, holding the final result the answer gave."""
        return dataclasses.replace(self, result=result)


class ResultClass(str, Enum):
    PAID = "paid"
    # The transaction failed inside M-Pesa for a passing reason. Only after a status query has
    # confirmed the failure may the payment be sent again, and then with a NEW id.
    TRANSIENT = "transient"
    FAILED = "failed"


class ReversalClass(str, Enum):
    """What a Reversal result code means for the reversal request (and the payment behind it)."""

    # The money is back in the organisation's Utility account.
    REVERSED = "reversed"
    # R000001: M-Pesa has reversed this receipt before. Proof of nothing on its own: a caller that
    # holds no success result of its own must have a person check, never mark the payment reversed.
    ALREADY_REVERSED = "already_reversed"
    # M-Pesa failed this request for a passing reason: it may be sent again (a second reversal of
    # a receipt that was reversed meanwhile is refused with R000001, so it cannot move money twice).
    TRANSIENT = "transient"
    # Refused for good (invalid original, balance too low, credential, account rule): the payment
    # stays paid; a person is told.
    FAILED = "failed"
