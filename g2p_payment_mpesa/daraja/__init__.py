"""M-Pesa Daraja wire code: no Odoo import, usable from the addon and from plain Python."""

from .amounts import to_whole_shillings
from .client import B2CRequest, DarajaClient, ReversalRequest
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
    ReversalResult,
    ReversalTimeoutNotice,
    StatusResult,
    parse_balance_result,
    parse_queue_timeout,
    parse_result,
    parse_reversal_result,
    parse_reversal_timeout,
    parse_status_result,
    reversal_payload,
)
from .result_codes import (
    ResultClass,
    ReversalClass,
    classify_result_code,
    classify_reversal_code,
    describe_result_code,
    describe_reversal_code,
)
from .statement import (
    Statement,
    StatementError,
    StatementLine,
    parse_csv,
    parse_file,
    parse_rows,
    parse_xlsx,
)
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
    "ReversalClass",
    "ReversalRequest",
    "ReversalResult",
    "ReversalTimeoutNotice",
    "Statement",
    "StatementError",
    "StatementLine",
    "StatusResult",
    "SubmitOutcome",
    "Throttle",
    "TokenCache",
    "classify_result_code",
    "classify_reversal_code",
    "describe_result_code",
    "describe_reversal_code",
    "load_certificate",
    "msisdn_matches",
    "normalise_msisdn",
    "parse_balance_result",
    "parse_csv",
    "parse_file",
    "parse_queue_timeout",
    "parse_result",
    "parse_reversal_result",
    "parse_reversal_timeout",
    "parse_rows",
    "parse_status_result",
    "parse_xlsx",
    "reversal_payload",
    "to_whole_shillings",
]
