"""``g2p-bridge-mpesa check-bridge``: does the G2P Bridge installed here (1.1.0 from PyPI, or a 1.2
image with the connector installed) offer what the connector needs, and will it choose it?

Checks: every method of the installed ``BankConnectorInterface`` is implemented by
``MpesaBankConnector`` (1.2 renamed ``retrieve_disbursement_id`` to ``retrieve_reconciliation_id``:
both are); the payload has the fields the connector reads; and the selection: with
``G2P_BRIDGE_BANK_CONNECTORS_IMPLS`` (1.2) every M-Pesa entry is importable, a
``BankConnectorInterface`` and has settings whose ``account_numbers`` name its accounts; without it
(1.1.0) the workers must run ``g2p_bridge_mpesa.worker``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os

PAYLOAD_FIELDS = (
    "disbursement_id",
    "remitting_account",
    "remitting_account_currency",
    "payment_amount",
    "funds_blocked_reference_number",
    "beneficiary_phone_no",
    "beneficiary_account_type",
    "beneficiary_mobile_wallet_provider",
)
PACKAGES = (
    "openg2p-g2p-bridge-bank-connectors",
    "openg2p-g2p-bridge-models",
    "openg2p-g2p-bridge-celery-workers",
    "openg2p-fastapi-common",
    "mpesa-wire",
    "g2p-bridge-mpesa",
)


def check(environ=None) -> tuple[bool, list[str]]:
    environ = os.environ if environ is None else environ
    lines, ok = [], True

    def fail(text):
        nonlocal ok
        ok = False
        lines.append("FAIL " + text)

    for name in PACKAGES:
        try:
            lines.append(f"  {name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"  {name} not installed")
    try:
        from openg2p_g2p_bridge_bank_connectors.bank_interface import bank_connector_interface as interface
    except ImportError as exc:
        fail(f"G2P Bridge's bank connector interface cannot be imported: {exc}")
        return ok, lines
    from .connector import MpesaBankConnector

    base = interface.BankConnectorInterface
    methods = sorted(
        name for name, value in vars(base).items() if callable(value) and not name.startswith("_")
    )
    for name in methods:
        if getattr(MpesaBankConnector, name, None) is getattr(base, name):
            fail(f"the installed interface's {name}() is not implemented by MpesaBankConnector")
    lines.append("ok   interface methods implemented: " + ", ".join(methods))
    fields = getattr(interface.DisbursementPaymentPayload, "model_fields", {})
    missing = [field for field in PAYLOAD_FIELDS if field not in fields]
    if missing:
        fail("the payment payload lacks " + ", ".join(missing))
    else:
        lines.append("ok   payment payload carries " + ", ".join(PAYLOAD_FIELDS))

    impls_text = environ.get("G2P_BRIDGE_BANK_CONNECTORS_IMPLS")
    if impls_text:
        try:
            impls = json.loads(impls_text)
        except ValueError:
            fail("G2P_BRIDGE_BANK_CONNECTORS_IMPLS is not JSON")
            return ok, lines
        from .settings import SettingsError, load_settings

        try:
            settings = load_settings()
        except SettingsError as exc:
            fail(f"G2P_BRIDGE_MPESA_ settings: {exc}")
            return ok, lines
        for code, path in impls.items():
            module, _, name = str(path).rpartition(".")
            try:
                cls = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as exc:
                fail(f"{code}: {path} cannot be imported ({exc})")
                continue
            if not (isinstance(cls, type) and issubclass(cls, MpesaBankConnector)):
                lines.append(f"  {code}: {path} (not the M-Pesa connector)")
                continue
            bank = settings.banks.get(code.upper())
            if bank is None:
                fail(f"{code}: no G2P_BRIDGE_MPESA_ settings for this sponsor bank code")
            elif not bank.account_numbers:
                fail(f"{code}: account_numbers is empty (1.2 creates the connector without its code)")
            else:
                lines.append(
                    f"ok   {code}: {path}, market {bank.market}, accounts {', '.join(bank.account_numbers)}"
                )
    else:
        lines.append(
            "  no G2P_BRIDGE_BANK_CONNECTORS_IMPLS (1.1.0): the workers must run "
            "`celery -A g2p_bridge_mpesa.worker.celery_app worker -Q g2p_bridge_celery_worker_tasks`"
        )
    return ok, lines
