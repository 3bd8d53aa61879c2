"""What M-Pesa answers about a payment, a status query, a balance or a reversal, whatever the
API family: each family's parser fills these in from its own wire format (a callback body, or a
synchronous answer where the API gives the result in the response)."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# A failed reversal's TransactionID placeholder ("SKE0000000"): not a receipt.
PLACEHOLDER_TRANSACTION_ID = re.compile(r"[A-Z0-9]{3}0{7}")


@dataclass(frozen=True)
class B2CResult:
    originator_conversation_id: str
    conversation_id: str | None
    result_type: str | None
    result_code: str
    result_desc: str
    transaction_id: str | None
    receipt: str | None = None
    amount: Decimal | None = None
    receiver_msisdn: str | None = None
    receiver_name: str | None = None
    completed_at: datetime | None = None
    utility_funds: Decimal | None = None
    working_funds: Decimal | None = None
    charges_paid_funds: Decimal | None = None
    recipient_registered: bool | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # The family's code for success (Daraja "0", OpenAPI "INS-0").
    success_code: str = "0"

    @property
    def is_success(self) -> bool:
        return self.result_code == self.success_code


@dataclass(frozen=True)
class StatusResult:
    # The query's own ids; the transaction looked up is in original_conversation_id / receipt.
    originator_conversation_id: str
    conversation_id: str | None
    result_code: str
    result_desc: str
    receipt: str | None = None
    amount: Decimal | None = None
    status: str | None = None
    credit_party_name: str | None = None
    finalised_at: datetime | None = None
    original_conversation_id: str | None = None
    credit_party_msisdn: str | None = None
    debit_party_name: str | None = None
    initiated_at: datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # M-Pesa has no transaction under the reference asked about: it never received the request.
    not_found: bool = False
    # The family's code for success (Daraja "0", OpenAPI "INS-0").
    success_code: str = "0"

    @property
    def is_success(self) -> bool:
        """The query itself succeeded (the transaction was found); see ``status`` for its state."""
        return self.result_code == self.success_code

    @property
    def transaction_found(self) -> bool:
        """The result describes the transaction (it carries its TransactionStatus).

        A non-zero ResultCode WITH a status is the transaction's own failure; WITHOUT one it is
        the query that failed (2001 bad credential, 8006 locked, 17/26 busy, 2032/2033 not
        found) and says nothing about the payment: never mark a payment failed on that.
        """
        return self.status is not None


@dataclass(frozen=True)
class AccountBalance:
    currency: str
    current: Decimal
    available: Decimal
    reserved: Decimal
    uncleared: Decimal


@dataclass(frozen=True)
class BalanceResult:
    result_code: str
    result_desc: str
    accounts: dict[str, AccountBalance]
    originator_conversation_id: str | None = None
    conversation_id: str | None = None
    completed_at: datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # The family's code for success (Daraja "0", OpenAPI "INS-0").
    success_code: str = "0"

    @property
    def is_success(self) -> bool:
        return self.result_code == self.success_code


@dataclass(frozen=True)
class ReversalResult:
    """The result of a Transaction Reversal request (posted to its ResultURL)."""

    # M-Pesa's ids of the reversal request (M-Pesa makes both: the request carries none).
    originator_conversation_id: str
    conversation_id: str | None
    result_type: str | None
    result_code: str
    result_desc: str
    # On success the reversal's own receipt; on a failure a placeholder ("SKE0000000").
    transaction_id: str | None
    original_transaction_id: str | None = None
    amount_cents: int | None = None
    charge_cents: int | None = None
    completed_at: datetime | None = None
    debit_party_name: str | None = None
    credit_party_name: str | None = None
    debit_account_balance: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    # The family's code for success (Daraja "0", OpenAPI "INS-0").
    success_code: str = "0"

    @property
    def is_success(self) -> bool:
        return self.result_code == self.success_code

    @property
    def receipt(self) -> str | None:
        """The reversal's receipt: TransactionID of a success that is not a placeholder."""
        if not self.is_success or not self.transaction_id:
            return None
        if PLACEHOLDER_TRANSACTION_ID.fullmatch(self.transaction_id):
            return None
        return self.transaction_id

    @property
    def utility_funds(self) -> Decimal | None:
        """The Utility account's available balance after the reversal, where the result reports
        it (Daraja's DebitAccountBalance, "Utility Account|KES|Current|Available|Reserved|
        Uncleared"); None when it names another account or cannot be read."""
        for entry in (self.debit_account_balance or "").split("&"):
            parts = [part.strip() for part in entry.split("|")]
            if len(parts) == 6 and parts[0] == "Utility Account":
                try:
                    available = Decimal(parts[3])
                except ArithmeticError:
                    return None
                return available if available.is_finite() else None
        return None


@dataclass(frozen=True)
class ReversalTimeoutNotice:
    """M-Pesa gave up waiting for a reversal in its queue: the outcome is unknown."""

    originator_conversation_id: str | None = None
    conversation_id: str | None = None
    original_transaction_id: str | None = None


@dataclass(frozen=True)
class QueueTimeoutNotice:
    """M-Pesa gave up waiting in its queue: the outcome is unknown, never "failed"."""

    originator_conversation_id: str
    conversation_id: str | None = None
