"""What happened to one request sent to Daraja, as far as the caller can know synchronously."""

from dataclasses import dataclass
from enum import Enum


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

    @property
    def accepted(self) -> bool:
        return self.kind is OutcomeKind.ACCEPTED
