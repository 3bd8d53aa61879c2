"""G2P Bridge's ``BankConnectorInterface`` for M-Pesa, and the factory that hands it out.

1.1.0: the bridge's workers ask ``BankConnectorFactory.get_component().get_bank_connector(code)``
with the program's sponsor bank code; :class:`MpesaBankConnectorFactory` knows every code
configured under ``G2P_BRIDGE_MPESA_`` and passes any other to the stock factory. It must be
created before the stock one (the component registry returns the first instance of a class):
:mod:`g2p_bridge_mpesa.worker` does that.

1.2: connectors are chosen by configuration,
``G2P_BRIDGE_BANK_CONNECTORS_IMPLS={"MPESA_KE": "g2p_bridge_mpesa.MpesaBankConnector"}``; the
class is created without its code and finds its bank by the account each call names
(``account_numbers`` in the bank's settings). ``retrieve_reconciliation_id`` is 1.2's name of
``retrieve_disbursement_id``.

No method raises into the bridge: 1.1.0's disbursement task calls ``initiate_payment`` again on an
exception (past its attempt limit); an error is an answer with an error code.
"""

from __future__ import annotations

import logging
import threading

from openg2p_g2p_bridge_bank_connectors.bank_connectors import BankConnectorFactory
from openg2p_g2p_bridge_bank_connectors.bank_interface.bank_connector_interface import (
    BankConnectorInterface,
    BlockFundsResponse,
    CheckFundsResponse,
    DisbursementPaymentPayload,
    PaymentResponse,
    PaymentStatus,
)
from openg2p_g2p_bridge_models.models import FundsAvailableWithBankEnum, FundsBlockedWithBankEnum

from . import mt940
from .engine import Engine
from .settings import MpesaBridgeSettings, SettingsError, load_settings

_logger = logging.getLogger(__name__)

_SETTINGS: MpesaBridgeSettings | None = None
_SETTINGS_LOCK = threading.Lock()


def current_settings() -> MpesaBridgeSettings:
    """The process's settings, read once (environment and the working directory's .env)."""
    global _SETTINGS
    with _SETTINGS_LOCK:
        if _SETTINGS is None:
            _SETTINGS = load_settings()
        return _SETTINGS


def _error_code(exc: Exception) -> str:
    if isinstance(exc, SettingsError):
        return f"MPESA_SETTINGS: {exc}"
    # The type only: a message might carry a value from a payload or a setting.
    return f"MPESA_ERROR: {type(exc).__name__}"


class MpesaBankConnector(BankConnectorInterface):
    """Pays a program's disbursements through M-Pesa (any market mpesa_wire pays)."""

    def __init__(self, sponsor_bank_code: str | None = None, settings: MpesaBridgeSettings | None = None):
        super().__init__()
        self.sponsor_bank_code = sponsor_bank_code.upper() if sponsor_bank_code else None
        self._settings = settings
        self._engines: dict[str, Engine] = {}

    def __repr__(self):
        return f"MpesaBankConnector({self.sponsor_bank_code or 'by account'})"

    @property
    def settings(self) -> MpesaBridgeSettings:
        return self._settings or current_settings()

    def engine(self, account_number: str | None = None) -> Engine:
        code, _bank = self.settings.bank(self.sponsor_bank_code, account_number)
        engine = self._engines.get(code)
        if engine is None:
            engine = self._engines[code] = Engine.for_bank(self.settings, code)
        return engine

    # ------------------------------------------------------------------ funds
    def check_funds(self, account_number, currency, amount) -> CheckFundsResponse:
        try:
            answer = self.engine(account_number).check_funds(account_number, currency, amount)
        except Exception as exc:
            _logger.exception("M-Pesa check_funds failed for account %s", account_number)
            return CheckFundsResponse(
                status=FundsAvailableWithBankEnum.PENDING_CHECK, error_code=_error_code(exc)
            )
        status = {
            "available": FundsAvailableWithBankEnum.FUNDS_AVAILABLE,
            "not_available": FundsAvailableWithBankEnum.FUNDS_NOT_AVAILABLE,
            "pending": FundsAvailableWithBankEnum.PENDING_CHECK,
        }[answer.status]
        _logger.info(
            "M-Pesa check_funds %s %s for %s: %s %s",
            currency,
            amount,
            account_number,
            status.value,
            answer.error_code,
        )
        return CheckFundsResponse(status=status, error_code=answer.error_code)

    def block_funds(self, account_number, currency, amount) -> BlockFundsResponse:
        try:
            answer = self.engine(account_number).block_funds(account_number, currency, amount)
        except Exception as exc:
            _logger.exception("M-Pesa block_funds failed for account %s", account_number)
            return BlockFundsResponse(
                status=FundsBlockedWithBankEnum.PENDING_CHECK,
                block_reference_no="",
                error_code=_error_code(exc),
            )
        if answer.ok:
            status = FundsBlockedWithBankEnum.FUNDS_BLOCK_SUCCESS
        elif answer.pending:
            status = FundsBlockedWithBankEnum.PENDING_CHECK
        else:
            status = FundsBlockedWithBankEnum.FUNDS_BLOCK_FAILURE
        return BlockFundsResponse(
            status=status, block_reference_no=answer.reference, error_code=answer.error_code
        )

    # ------------------------------------------------------------------ payments
    def initiate_payment(self, payment_payloads: list[DisbursementPaymentPayload]) -> PaymentResponse:
        if not payment_payloads:
            return PaymentResponse(status=PaymentStatus.SUCCESS, error_code="")
        try:
            engine = self.engine(payment_payloads[0].remitting_account)
            answer = engine.initiate(payment_payloads)
        except Exception as exc:
            _logger.exception("M-Pesa initiate_payment failed (%s payments)", len(payment_payloads))
            return PaymentResponse(status=PaymentStatus.ERROR, error_code=_error_code(exc))
        _logger.info(
            "M-Pesa initiate_payment: %s payments, %s sent, %s refused before sending, %s already known",
            len(payment_payloads),
            answer.sent,
            answer.refused,
            answer.again,
        )
        if answer.ok:
            return PaymentResponse(status=PaymentStatus.SUCCESS, error_code="")
        return PaymentResponse(status=PaymentStatus.ERROR, error_code=answer.error_code)

    # ------------------------------------------------------------------ statements read back
    def retrieve_disbursement_id(self, bank_reference: str, customer_reference: str, narratives) -> str:
        return mt940.disbursement_id(bank_reference, customer_reference, narratives)

    def retrieve_reconciliation_id(self, bank_reference: str, customer_reference: str, narratives) -> str:
        """1.2's name of :meth:`retrieve_disbursement_id`."""
        return self.retrieve_disbursement_id(bank_reference, customer_reference, narratives)

    def retrieve_beneficiary_name(self, narratives) -> str:
        return mt940.beneficiary_name(narratives)

    def retrieve_reversal_reason(self, narratives) -> str:
        return mt940.reversal_reason(narratives)


class _Unconfigured(MpesaBankConnector):
    """A sponsor bank code the settings could not be read for: every call answers the reason
    (the bridge records it as the envelope's or batch's error code) instead of crashing its task."""

    def __init__(self, code: str, reason: str):
        super().__init__(code, settings=None)
        self.reason = reason

    def engine(self, account_number=None):
        raise SettingsError(self.reason)


class MpesaBankConnectorFactory(BankConnectorFactory):
    """1.1.0's factory, knowing the M-Pesa sponsor bank codes as well as the stock ones."""

    def __init__(self, settings: MpesaBridgeSettings | None = None, name: str = ""):
        super().__init__(name)
        self._settings = settings
        self._connectors: dict[str, MpesaBankConnector] = {}
        self._lock = threading.Lock()

    def get_bank_connector(self, sponsor_bank_code: str) -> BankConnectorInterface:
        code = (sponsor_bank_code or "").upper()
        try:
            settings = self._settings or current_settings()
        except SettingsError as exc:
            _logger.error("M-Pesa connector settings unusable: %s", exc)
            if code.startswith("MPESA"):
                return _Unconfigured(code, str(exc))
            return super().get_bank_connector(sponsor_bank_code)
        if code not in settings.banks:
            return super().get_bank_connector(sponsor_bank_code)
        with self._lock:
            connector = self._connectors.get(code)
            if connector is None:  # one per code: each BaseService joins the registry for good
                connector = self._connectors[code] = MpesaBankConnector(code, settings=self._settings)
        return connector
