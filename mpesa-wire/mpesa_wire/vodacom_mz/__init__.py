"""Vodacom Mozambique's own M-Pesa API (developer.mpesa.vm.co.mz, api.sandbox.vm.co.mz /
api.mpesa.vm.co.mz, one port per operation, ``/ipg/v1x/`` paths): one API family of the wire
layer, built from public clients and copies of the portal's documentation
(docs/markets/vodacom-openapi.md section 8).

No Odoo import. The addon reaches it only through :data:`FAMILY` (``mpesa_wire.for_market``).
"""

import uuid

from ..interface import Family
from ..vodacom import StatementUnavailable, parse_statement
from .client import VodacomMzAuthError, VodacomMzClient, VodacomMzError, classify
from .codes import classify_result_code, classify_reversal_code, describe_code
from .config import VodacomMzConfig, config_from_settings, format_ports, parse_ports
from .payloads import callback_answer, no_callbacks, status_result

FAMILY = Family(
    name="vodacom_mz",
    label="Vodacom Mozambique M-Pesa API",
    required_settings=("base_url", "api_key", "public_key", "shortcode"),
    optional_settings=("initiator_name", "initiator_password", "vodacom_mz_ports", "reversal_amount_field"),
    config=config_from_settings,
    client=lambda config, throttle: VodacomMzClient(config, throttle=throttle),
    parse_result=no_callbacks,
    parse_queue_timeout=no_callbacks,
    parse_status_result=no_callbacks,
    parse_balance_result=no_callbacks,
    parse_reversal_result=no_callbacks,
    parse_reversal_timeout=no_callbacks,
    classify_result_code=classify_result_code,
    describe_result_code=describe_code,
    classify_reversal_code=classify_reversal_code,
    describe_reversal_code=describe_code,
    parse_statement=parse_statement,
    scan_statement=parse_statement,
    statement_error=StatementUnavailable,
    callback_answer=callback_answer,
    has_balance=False,
    results_in_response=True,
    results_carry_amount=False,
    token_is_local=True,
    status_names_receipt=False,
    # input_ThirdPartyReference: letters and digits (the public clients' \\w+ check).
    new_conversation_id=lambda: uuid.uuid4().hex,
)

__all__ = [
    "FAMILY",
    "VodacomMzAuthError",
    "VodacomMzClient",
    "VodacomMzConfig",
    "VodacomMzError",
    "classify",
    "config_from_settings",
    "format_ports",
    "parse_ports",
    "status_result",
]
