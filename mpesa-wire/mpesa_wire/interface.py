"""The one interface the addon calls, whatever the market's API family.

A family (Safaricom's Daraja, ...) is one :class:`Family`: how to build a connection from the
manager's settings, a :class:`Client` that sends (submit, status, balance, reversal), and the
readers of what M-Pesa posts back. Every answer is in the outcome classes of :mod:`mpesa_wire.outcomes`
(a :class:`~mpesa_wire.outcomes.SubmitOutcome` for a call; ``ResultClass`` / ``ReversalClass`` for a
result), so the addon's models decide the same way for every family and never name one.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .messages import B2CRequest, ReversalRequest
from .outcomes import SubmitOutcome
from .throttle import Throttle


class Client(Protocol):
    """A connection to one M-Pesa organisation (one app, one shortcode, one initiator).

    Thread-safe; a context manager that closes its HTTP pool. Each call takes a slot from the
    client's throttle first. ACCEPTED never means paid: the result says that.
    """

    def token(self) -> str:
        """Prove the app's credentials (raises :class:`~mpesa_wire.errors.AuthError` when they are wrong)."""

    def b2c_submit(self, req: B2CRequest) -> SubmitOutcome: ...

    def transaction_status(
        self,
        *,
        originator_conversation_id: str | None = None,
        receipt: str | None = None,
        result_url: str,
        timeout_url: str,
        remarks: str = "Status",
    ) -> SubmitOutcome: ...

    def account_balance(
        self, *, result_url: str, timeout_url: str, remarks: str = "Balance"
    ) -> SubmitOutcome: ...

    def reverse(self, req: ReversalRequest) -> SubmitOutcome: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Client": ...

    def __exit__(self, *exc_info) -> None: ...


@dataclass(frozen=True)
class Family:
    """One API family: what the addon needs of it, and nothing of its wire format."""

    name: str  # as in Market.api_family
    label: str
    # The manager's settings this family needs (field names), and those it reads if set.
    required_settings: tuple[str, ...]
    optional_settings: tuple[str, ...]
    # settings (field name -> value, plus min_amount / max_amount), market -> a config with
    # ``base_url`` and ``budget_key`` (whose requests share one rate budget).
    config: Callable[[Mapping[str, Any], Any], Any]
    # config, throttle -> Client
    client: Callable[[Any, Throttle], Client]
    # What M-Pesa posts back, read into the family's result values (raise MalformedPayload).
    parse_result: Callable[[Any], Any]
    parse_queue_timeout: Callable[[Any], Any]
    parse_status_result: Callable[[Any], Any]
    parse_balance_result: Callable[[Any], Any]
    parse_reversal_result: Callable[[Any], Any]
    parse_reversal_timeout: Callable[[Any], Any]
    # Result codes -> ResultClass / ReversalClass, and a person's words for them.
    classify_result_code: Callable[[Any], Any]
    describe_result_code: Callable[[Any], str]
    classify_reversal_code: Callable[[Any], Any]
    describe_reversal_code: Callable[[Any], str]
    # The operator's statement export (bytes, filename, number_plan=) -> Statement.
    parse_statement: Callable[..., Any]
    statement_error: type[Exception]
    # (callback body or None, accepted) -> the JSON the listener answers M-Pesa with.
    callback_answer: Callable[[Any, bool], dict]
    # What the API offers besides B2C and status: a balance query; results in the response
    # (synchronous answers) rather than only in callbacks.
    has_balance: bool = True
    results_in_response: bool = False
    # Whether results name the amount paid (the OpenAPI's do not: they confirm our request).
    results_carry_amount: bool = True
    # Whether a token proves nothing by itself (no session, no token request: Vodacom
    # Mozambique's bearer is made locally): a connection test then asks a status query.
    token_is_local: bool = False
    # Whether a completed status answer names the transaction's receipt (Vodacom Mozambique's
    # documented query answer has no transaction id: "Completed" about our reference is all).
    status_names_receipt: bool = True
    # Our idempotency key of a new request, in the form the API takes.
    new_conversation_id: Callable[[], str] = lambda: str(uuid.uuid4())
    # The statement export read row by row (opener, filename, number_plan=) -> a scan with
    # ``statement`` (its head), ``line_count``, ``moved``, ``has_balances`` and ``lines()``: a
    # national statement imported in the memory of one row. None: as parse_statement refuses.
    scan_statement: Callable[..., Any] | None = None
