"""How G2P Bridge finds the M-Pesa connector, in the bridge's own venv (bridge_suite.sh):

- 1.1.0: ``BankConnectorFactory.get_component()`` returns the FIRST registered instance, so the M-Pesa
  factory wins only when created before the stock one (``g2p_bridge_mpesa.worker`` does that);
- 1.2: ``G2P_BRIDGE_BANK_CONNECTORS_IMPLS={"CODE": "package.Class"}``, the class created without
  arguments, ``retrieve_reconciliation_id`` instead of ``retrieve_disbursement_id``. 1.2 is not on
  PyPI: its selection is emulated here as its documentation describes it; docs/g2p-bridge.md says
  how to check a real 1.2 image.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "g2p-bridge-mpesa"))

pytest.importorskip(
    "openg2p_g2p_bridge_bank_connectors", reason="G2P Bridge 1.1.0 is not installed (bridge_suite.sh)"
)

from g2p_bridge_mpesa import MpesaBankConnector, MpesaBankConnectorFactory  # noqa: E402
from g2p_bridge_mpesa.settings import MpesaBridgeSettings  # noqa: E402
from openg2p_fastapi_common.context import component_registry  # noqa: E402
from openg2p_g2p_bridge_bank_connectors.bank_connectors import (  # noqa: E402
    BankConnectorFactory,
    ExampleBankConnector,
)
from openg2p_g2p_bridge_bank_connectors.bank_interface.bank_connector_interface import (  # noqa: E402
    BankConnectorInterface,
    DisbursementPaymentPayload,
    PaymentStatus,
)


@pytest.fixture
def registry():
    """The process-wide component registry, restored afterwards."""
    saved = list(component_registry.get())
    component_registry.get().clear()
    yield component_registry.get()
    component_registry.get()[:] = saved


def settings(**extra) -> MpesaBridgeSettings:
    bank = {
        "market": "KE",
        "base_url": "https://api.safaricom.co.ke",
        "account_numbers": ["KE-ACC"],
        "callback_base_url": "https://connector.example.org",
    }
    tz = {**bank, "market": "TZ", "account_numbers": ["TZ-ACC"]}
    return MpesaBridgeSettings(banks={"MPESA_KE": bank, "MPESA_TZ": tz}, **extra)


def test_1_1_0_the_factory_created_first_wins(registry):
    factory = MpesaBankConnectorFactory(settings=settings())
    BankConnectorFactory()  # what the stock Initializer then creates
    chosen = BankConnectorFactory.get_component()
    assert chosen is factory
    assert isinstance(chosen.get_bank_connector("MPESA_KE"), MpesaBankConnector)
    assert chosen.get_bank_connector("mpesa_tz").sponsor_bank_code == "MPESA_TZ"
    assert chosen.get_bank_connector("MPESA_KE") is chosen.get_bank_connector("MPESA_KE")  # one per code
    assert isinstance(
        chosen.get_bank_connector("EXAMPLE"), ExampleBankConnector
    )  # the stock codes still work
    with pytest.raises(NotImplementedError):
        chosen.get_bank_connector("NOBANK")


def test_1_1_0_created_after_the_stock_factory_it_is_ignored(registry):
    BankConnectorFactory()
    MpesaBankConnectorFactory(settings=settings())
    with pytest.raises(NotImplementedError):
        BankConnectorFactory.get_component().get_bank_connector("MPESA_KE")


def test_1_1_0_the_worker_module_registers_it_first(registry):
    assert "g2p_bridge_mpesa.worker" not in sys.modules
    worker = importlib.import_module("g2p_bridge_mpesa.worker")  # what `celery -A` loads
    assert isinstance(BankConnectorFactory.get_component(), MpesaBankConnectorFactory)
    assert worker.celery_app.main == "g2p_bridge_celery_worker"


def factory_1_2(impls_json: str):
    """G2P Bridge 1.2's keyed selection, as documented: {code: dotted path}, each class created
    without arguments, dispatched by the program's sponsor bank code."""
    impls = {}
    for code, path in json.loads(impls_json).items():
        module, _, name = path.rpartition(".")
        impls[code] = getattr(importlib.import_module(module), name)()
    return impls.__getitem__


def test_1_2_configuration_chosen_connector(registry, monkeypatch):
    monkeypatch.setattr("g2p_bridge_mpesa.connector._SETTINGS", settings())
    impls = json.dumps(
        {"MPESA_KE": "g2p_bridge_mpesa.MpesaBankConnector", "MPESA_TZ": "g2p_bridge_mpesa.MpesaBankConnector"}
    )
    get = factory_1_2(impls)
    connector = get("MPESA_KE")
    assert isinstance(connector, BankConnectorInterface) and connector.sponsor_bank_code is None
    # Created without its code, it finds its bank by the account each call names.
    assert connector.engine("KE-ACC").code == "MPESA_KE"
    assert get("MPESA_TZ").engine("TZ-ACC").code == "MPESA_TZ"
    # 1.2's name of the statement reader.
    narratives = ["MPESA B2C TC412ABCDE", "NAME JANE W"]
    assert (
        connector.retrieve_reconciliation_id("TC412ABCDE", "AbC_def-12345678", narratives)
        == "AbC_def-12345678"
    )
    assert connector.retrieve_beneficiary_name(narratives) == "JANE W"
    # 1.2's payload carries more fields (remitting account type and branch): still accepted.
    payload = DisbursementPaymentPayload.model_validate(
        {
            "disbursement_id": "AbC_def-12345678",
            "remitting_account": "KE-ACC",
            "remitting_account_type": "SAVINGS",
            "remitting_account_branch_code": "001",
            "remitting_account_currency": "KES",
            "payment_amount": 1500.0,
            "funds_blocked_reference_number": "MPB-X",
            "beneficiary_id": "token:x@nationalId",
            "payment_date": "2025-03-04",
        }
    )
    # No database configured: an answer with the reason, never an exception into the bridge.
    response = connector.initiate_payment([payload])
    assert response.status is PaymentStatus.ERROR and "DB_DATASOURCE" in response.error_code


def test_check_bridge_command(tmp_path, monkeypatch):
    """What an operator runs inside a bridge image (1.1.0 here; the same inside a 1.2 image)."""
    from g2p_bridge_mpesa.bridge_check import check

    for name in list(__import__("os").environ):
        if name.startswith("G2P_BRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    ok, lines = check()
    assert ok, lines
    assert any("retrieve_disbursement_id" in line for line in lines)
    assert any("g2p_bridge_mpesa.worker" in line for line in lines)  # 1.1.0: no IMPLS
    impls = {
        "G2P_BRIDGE_BANK_CONNECTORS_IMPLS": json.dumps({"MPESA_KE": "g2p_bridge_mpesa.MpesaBankConnector"})
    }
    monkeypatch.setenv(
        "G2P_BRIDGE_MPESA_BANK_MPESA_KE", json.dumps({"market": "KE", "base_url": "https://x.example"})
    )
    ok, lines = check(impls)
    assert not ok and any("account_numbers is empty" in line for line in lines)
    monkeypatch.setenv(
        "G2P_BRIDGE_MPESA_BANK_MPESA_KE",
        json.dumps({"market": "KE", "base_url": "https://x.example", "account_numbers": ["KE-1"]}),
    )
    ok, lines = check(impls)
    assert ok and any(line.startswith("ok   MPESA_KE") for line in lines), lines
    ok, lines = check({"G2P_BRIDGE_BANK_CONNECTORS_IMPLS": json.dumps({"MPESA_TZ": "nowhere.Nothing"})})
    assert not ok
