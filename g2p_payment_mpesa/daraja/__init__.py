"""M-Pesa Daraja wire code: no Odoo import, usable from the addon and from plain Python."""

from .amounts import to_whole_shillings
from .client import B2CRequest, DarajaClient
from .config import DarajaConfig
from .credential import load_certificate
from .errors import (
    DarajaAuthError,
    DarajaError,
    DarajaTokenUnavailable,
    InvalidAmount,
    InvalidMsisdn,
    MalformedPayload,
)
from .msisdn import msisdn_matches, normalise_msisdn
from .outcomes import OutcomeKind, SubmitOutcome
from .payloads import (
    AccountBalance,
    B2CResult,
    BalanceResult,
    QueueTimeoutNotice,
    StatusResult,
    parse_balance_result,
    parse_queue_timeout,
    parse_result,
    parse_status_result,
)
from .result_codes import ResultClass, classify_result_code, describe_result_code
from .throttle import NO_THROTTLE, NoThrottle, Throttle
from .token_cache import TOKEN_CACHE, TokenCache

__all__ = [
    "NO_THROTTLE",
    "TOKEN_CACHE",
    "AccountBalance",
    "B2CRequest",
    "B2CResult",
    "BalanceResult",
    "DarajaAuthError",
    "DarajaClient",
    "DarajaConfig",
    "DarajaError",
    "DarajaTokenUnavailable",
    "InvalidAmount",
    "InvalidMsisdn",
    "MalformedPayload",
    "NoThrottle",
    "OutcomeKind",
    "QueueTimeoutNotice",
    "ResultClass",
    "StatusResult",
    "SubmitOutcome",
    "Throttle",
    "TokenCache",
    "classify_result_code",
    "describe_result_code",
    "load_certificate",
    "msisdn_matches",
    "normalise_msisdn",
    "parse_balance_result",
    "parse_queue_timeout",
    "parse_result",
    "parse_status_result",
    "to_whole_shillings",
]
