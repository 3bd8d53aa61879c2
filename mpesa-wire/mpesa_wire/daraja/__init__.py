"""Safaricom's Daraja (Kenya; Ethiopia with its own routes): one API family of the wire layer.

No Odoo import. The addon reaches it only through :data:`FAMILY` (``mpesa_wire.for_market``).
"""

from ..interface import Family
from .client import DarajaClient
from .config import DarajaConfig, config_from_settings
from .credential import load_certificate
from .errors import DarajaAuthError, DarajaError, DarajaTokenUnavailable
from .payloads import (
    AccountBalance,
    B2CResult,
    BalanceResult,
    QueueTimeoutNotice,
    ReversalResult,
    ReversalTimeoutNotice,
    StatusResult,
    callback_answer,
    parse_balance_result,
    parse_queue_timeout,
    parse_result,
    parse_reversal_result,
    parse_reversal_timeout,
    parse_status_result,
    reversal_payload,
)
from .result_codes import (
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
    scan_file,
)

FAMILY = Family(
    name="daraja",
    label="Safaricom Daraja",
    required_settings=(
        "base_url",
        "consumer_key",
        "consumer_secret",
        "shortcode",
        "initiator_name",
        "initiator_password",
        "certificate",
    ),
    optional_settings=("reversal_identifier_type",),
    config=config_from_settings,
    client=lambda config, throttle: DarajaClient(config, throttle=throttle),
    parse_result=parse_result,
    parse_queue_timeout=parse_queue_timeout,
    parse_status_result=parse_status_result,
    parse_balance_result=parse_balance_result,
    parse_reversal_result=parse_reversal_result,
    parse_reversal_timeout=parse_reversal_timeout,
    classify_result_code=classify_result_code,
    describe_result_code=describe_result_code,
    classify_reversal_code=classify_reversal_code,
    describe_reversal_code=describe_reversal_code,
    parse_statement=parse_file,
    statement_error=StatementError,
    callback_answer=callback_answer,
    scan_statement=scan_file,
)

__all__ = [
    "FAMILY",
    "AccountBalance",
    "B2CResult",
    "BalanceResult",
    "DarajaAuthError",
    "DarajaClient",
    "DarajaConfig",
    "DarajaError",
    "DarajaTokenUnavailable",
    "QueueTimeoutNotice",
    "ReversalResult",
    "ReversalTimeoutNotice",
    "Statement",
    "StatementError",
    "StatementLine",
    "StatusResult",
    "classify_result_code",
    "classify_reversal_code",
    "config_from_settings",
    "describe_result_code",
    "describe_reversal_code",
    "load_certificate",
    "parse_balance_result",
    "parse_csv",
    "parse_file",
    "scan_file",
    "parse_queue_timeout",
    "parse_result",
    "parse_reversal_result",
    "parse_reversal_timeout",
    "parse_rows",
    "parse_status_result",
    "parse_xlsx",
    "reversal_payload",
]
