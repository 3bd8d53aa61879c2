"""Vodacom's M-Pesa OpenAPI (Tanzania, the DR Congo, Lesotho, Ghana): one API family of the wire
layer, built from the OpenAPI portal's documentation (docs/markets/vodacom-openapi.md).

No Odoo import. The addon reaches it only through :data:`FAMILY` (``mpesa_wire.for_market``).
"""

import uuid

from ..interface import Family
from ..vodacom import StatementUnavailable, parse_statement
from .client import OpenApiAuthError, OpenApiClient, OpenApiError, OpenApiSessionUnavailable, encrypt
from .codes import classify_result_code, classify_reversal_code, describe_code
from .config import OpenApiConfig, config_from_settings
from .payloads import (
    callback_answer,
    parse_balance_result,
    parse_queue_timeout,
    parse_result,
    parse_reversal_result,
    parse_reversal_timeout,
    parse_status_result,
)

FAMILY = Family(
    name="openapi",
    label="Vodacom M-Pesa OpenAPI",
    required_settings=("base_url", "api_key", "public_key", "shortcode"),
    optional_settings=("session_delay_seconds", "session_lifetime_seconds", "environment"),
    config=config_from_settings,
    client=lambda config, throttle: OpenApiClient(config, throttle=throttle),
    parse_result=parse_result,
    parse_queue_timeout=parse_queue_timeout,
    parse_status_result=parse_status_result,
    parse_balance_result=parse_balance_result,
    parse_reversal_result=parse_reversal_result,
    parse_reversal_timeout=parse_reversal_timeout,
    classify_result_code=classify_result_code,
    describe_result_code=describe_code,
    classify_reversal_code=classify_reversal_code,
    describe_reversal_code=describe_code,
    parse_statement=parse_statement,
    scan_statement=parse_statement,
    statement_error=StatementUnavailable,
    has_balance=False,
    results_in_response=True,
    results_carry_amount=False,
    callback_answer=callback_answer,
    # input_ThirdPartyConversationID: letters and digits only (the portal's regex), up to 40.
    new_conversation_id=lambda: uuid.uuid4().hex,
)

__all__ = [
    "FAMILY",
    "OpenApiAuthError",
    "OpenApiClient",
    "OpenApiConfig",
    "OpenApiError",
    "OpenApiSessionUnavailable",
    "StatementUnavailable",
    "config_from_settings",
    "encrypt",
    "parse_statement",
]
