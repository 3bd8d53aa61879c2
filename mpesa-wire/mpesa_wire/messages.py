"""What the addon asks of any API family: one B2C payment, one reversal.

Checked when built, not left to M-Pesa: a request M-Pesa rejects for our own mistake still uses up
its idempotency key and an API call. A family maps these onto its own wire fields (Daraja's
``OriginatorConversationID``, ``ResultURL``; another family's equivalents) and ignores what it has
no field for.
"""

import re
from dataclasses import dataclass

from .errors import InvalidAmount, InvalidMsisdn
from .markets import MARKETS

COMMAND_IDS = frozenset({"BusinessPayment", "SalaryPayment", "PromotionPayment"})
# The ID types a validated payment may name, in any market (Kenya's: 01 national ID, 02 military,
# 03 alien, 04 diplomatic, 05 passport); the client checks its own market's.
ID_TYPES = frozenset(code for market in MARKETS.values() for code, _name in market.id_types)

# Country code and national number, no "+": Kenya's mobile ranges exactly, another country's
# number by its form (the client checks it against its market's plan).
_MSISDN = re.compile(r"254[17][0-9]{8}|(?!254)[1-9][0-9]{10,13}")
# An M-Pesa receipt (TransactionID): 10 uppercase letters and digits in Daraja; a little slack.
_RECEIPT = re.compile(r"[A-Z0-9]{6,20}")


@dataclass(frozen=True)
class B2CRequest:
    originator_conversation_id: str
    msisdn: str
    amount: int
    remarks: str
    result_url: str
    timeout_url: str
    occasion: str = ""
    command_id: str = "BusinessPayment"
    id_type: str | None = None
    id_number: str | None = None

    def __post_init__(self):
        # Checked here, not left to M-Pesa: a request M-Pesa rejects for our own mistake still
        # uses up the OriginatorConversationID and an API call.
        if (
            not isinstance(self.originator_conversation_id, str)
            or not self.originator_conversation_id.strip()
        ):
            raise ValueError("originator_conversation_id is required")
        if not isinstance(self.msisdn, str) or not _MSISDN.fullmatch(self.msisdn):
            raise InvalidMsisdn(
                f"msisdn {self.msisdn!r} is not a country code and number such as 2547XXXXXXXX "
                "(use normalise_msisdn first)",
                "format",
            )
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount("amount must be an int of whole units (use to_whole_units)", "type")
        if self.amount <= 0:
            raise InvalidAmount(f"Amount {self.amount} must be positive", "not_positive")
        if not isinstance(self.remarks, str) or not 2 <= len(self.remarks) <= 100:
            raise ValueError("remarks must be 2 to 100 characters")
        if len(self.occasion or "") > 100:
            raise ValueError("occasion must be at most 100 characters")
        if self.command_id not in COMMAND_IDS:
            raise ValueError(f"command_id must be one of {sorted(COMMAND_IDS)}")
        for name in ("result_url", "timeout_url"):
            if not str(getattr(self, name) or "").startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL")
        if self.id_type is not None:
            if self.id_type not in ID_TYPES:
                raise ValueError(f"id_type must be one of {sorted(ID_TYPES)}")
            if not self.id_number or not str(self.id_number).strip():
                raise ValueError("id_number is required with id_type")
        elif self.id_number:
            raise ValueError("id_type is required with id_number")

    @property
    def validated(self) -> bool:
        return self.id_type is not None


@dataclass(frozen=True)
class ReversalRequest:
    """Reverse one completed transaction (a B2C payment) by its receipt, for its whole amount."""

    receipt: str
    amount: int
    remarks: str
    result_url: str
    timeout_url: str
    occasion: str = ""
    # Our idempotency key, where the API takes one (the OpenAPI's ThirdPartyConversationID);
    # Daraja makes its own ids for a reversal.
    reference: str | None = None

    def __post_init__(self):
        if not isinstance(self.receipt, str) or not _RECEIPT.fullmatch(self.receipt):
            raise ValueError(f"receipt {self.receipt!r} is not an M-Pesa receipt (TransactionID)")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount("amount must be an int of whole units (the original's)", "type")
        if self.amount <= 0:
            raise InvalidAmount(f"Amount {self.amount} must be positive", "not_positive")
        if not isinstance(self.remarks, str) or not 2 <= len(self.remarks) <= 100:
            raise ValueError("remarks must be 2 to 100 characters")
        if len(self.occasion or "") > 100:
            raise ValueError("occasion must be at most 100 characters")
        for name in ("result_url", "timeout_url"):
            if not str(getattr(self, name) or "").startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL")
