"""An OpenG2P 17 program whose payment manager is OpenG2P's own ``g2p_payment_g2p_connect`` pays
M-Pesa wallets through a REAL G2P Bridge 1.1.0, OpenG2P's real SPAR 1.1.0, the M-Pesa connector and
the simulator, in Kenya (Daraja) and Tanzania (Vodacom's OpenAPI), and each payment's final status
comes back into the Odoo payment.

First the manager's own code is run against the bridge, as an admin would: its envelope request,
its Send and its status check. None of them passes 1.1.0 (no ``Signature`` header: HTTP 500; see
docs/g2p-bridge.md, *An OpenG2P 17 program paid through the bridge*), and the test
asserts exactly that. Then the cycle is paid the way current PBMS's workers drive the bridge, from
the Odoo side on the manager's own records (``g2p_payment_mpesa/g2p_bridge_partner.py`` in
``odoo shell``): signed envelope, disbursements per payment batch, status polled and written back
into the Odoo payments. The manager's own envelope summary (``generate_summary``, unauthenticated in
1.1.0) reads the bridge's counters. Asserted: every wallet paid once with its M-Pesa receipt in
Odoo, a failed payment failed with M-Pesa's reason, and Σ Odoo ``amount_paid`` = the simulator's
payout = the bridge's reconciled amount.

Runs in the bridge suite (``scripts/bridge_suite.sh``) where OpenG2P 17 is installed with
``g2p_payment_g2p_connect``'s dependencies (scripts/install_openg2p.sh); skipped LOUDLY otherwise.
Stand-ins, minimal: the key manager (``KeyManagerStandIn``, which really verifies each RS256
signature); PBMS's operator step of creating the bridge's benefit program configuration (PBMS 1.3
has none) is done by the test, signed as a partner.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "g2p-bridge-mpesa"))
sys.path.insert(0, str(ROOT / "scripts"))  # g2p_connect_odoo.py, odoo_cluster.py

pytest.importorskip(
    "openg2p_g2p_bridge_celery_workers", reason="G2P Bridge 1.1.0 is not installed (bridge_suite.sh)"
)
psycopg2 = pytest.importorskip("psycopg2")

from g2p_bridge_mpesa.testing import (  # noqa: E402
    BridgeStack,
    KeyManagerStandIn,
    Partner,
    PgCluster,
    RedisServer,
    Unavailable,
    canonical,
    detached_jws,
    new_rsa_key,
    private_pem,
)
from g2p_connect_odoo import DRIVE, ODOO_SENDER, SETUP, OdooSide, find_openg2p  # noqa: E402
from test_bridge_e2e import ARTIFACTS, SIM_PYTHON, bank, paid_out, sim_unregistered  # noqa: E402
from test_bridge_e2e import World as E2EWorld  # noqa: E402

from mpesa_sim.testing import start_simulator  # noqa: E402

ACCOUNTS = {"KE": "KE-G2P-ODOO", "TZ": "TZ-G2P-ODOO"}
OPENG2P_PYTHON, OPENG2P_ADDONS = find_openg2p()
if OPENG2P_PYTHON is None:
    print(f"\n*** ODOO G2P CONNECT PATH SKIPPED: {OPENG2P_ADDONS} ***\n", file=sys.stderr)
    pytest.skip(f"ODOO G2P CONNECT PATH SKIPPED: {OPENG2P_ADDONS}", allow_module_level=True)


class World(E2EWorld):
    """The e2e world (the PBMS partner for the operator's program configuration, the registry's
    SPAR key), plus the Odoo side and the key this Odoo signs its bridge requests with."""

    def __init__(self, stack, sims, keys, odoo):
        super().__init__(stack, sims["KE"], sims["TZ"], keys)
        self.sims, self.odoo = sims, odoo
        self.bridge_key = new_rsa_key()
        keys.register(ODOO_SENDER, self.bridge_key)


@pytest.fixture(scope="module")
def world():
    if not Path(SIM_PYTHON).exists():
        pytest.skip(f"the simulator's Python {SIM_PYTHON} is missing (MPESA_SIM_PYTHON)")
    root = Path(tempfile.mkdtemp(prefix="bridge-odoo-"))
    os.chmod(root, 0o755)  # the Odoo cluster runs as postgres
    odoo = OdooSide(root, OPENG2P_PYTHON, OPENG2P_ADDONS)
    keys = KeyManagerStandIn()
    pg = redis = None
    try:
        odoo.start_install()
        try:
            pg, redis = PgCluster().start(), RedisServer().start()
        except Unavailable as exc:
            pytest.skip(str(exc))
        token = "bridge-odoo-" + uuid.uuid4().hex[:8]
        with (
            start_simulator(python=SIM_PYTHON, admin_token=token) as ke,
            start_simulator(python=SIM_PYTHON, market="TZ", admin_token=token) as tz,
        ):
            tz.set_config(openapi_session_delay_seconds=0)
            stack = BridgeStack(
                root / "stack", pg, redis, keys, sys.executable,
                {"MPESA_KE": bank(ke, ACCOUNTS["KE"]), "MPESA_TZ": bank(tz, ACCOUNTS["TZ"])},
            )  # fmt: skip
            try:
                stack.start()
                odoo.wait_installed()
                yield World(stack, {"KE": ke, "TZ": tz}, keys, odoo)
            finally:
                stack.stop()
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                (ARTIFACTS / "odoo-stack.log").write_text(stack.log() + "\n" + odoo.logs())
    finally:
        odoo.stop()
        if redis:
            redis.stop()
        if pg:
            pg.stop()
        keys.close()
        shutil.rmtree(root, ignore_errors=True)


MARKETS = {
    # code: currency, sponsor bank code, [(kind, amount)], number prefix
    "KE": (
        "KES",
        "MPESA_KE",
        [("wallet", 1500), ("wallet", 2500), ("wallet", 1000), ("unregistered", 700)],
        "2547",
    ),
    "TZ": ("TZS", "MPESA_TZ", [("wallet", 25000), ("wallet", 40000)], "2557541"),
}


def people_for(sim, code, amounts, prefix):
    import random

    people = []
    for index, (kind, amount) in enumerate(amounts):
        number = prefix + "".join(random.choice("0123456789") for _ in range(12 - len(prefix)))
        if kind == "wallet":
            sim.seed(wallets=[{"msisdn": number, "first_name": "Odoo", "last_name": f"B{index}",
                               "id_number": number[-8:]}])  # fmt: skip
        else:
            number = sim_unregistered(code)
        people.append(
            {"name": f"Odoo {code} B{index}", "reg_id": f"{code}-NID-{uuid.uuid4().hex[:10]}",
             "phone": number, "amount": amount, "kind": kind}
        )  # fmt: skip
    return people


def manager_envelope(world, program_name, total, start_date, action):
    """The body g2p_payment_g2p_connect's _create_envelope_g2p_bridge builds (its header of
    placeholders, "signature": "string", the program's name as mnemonic, the cycle's start date),
    here signed by a partner "string" the key manager knows, with ``action`` in its header: the
    bridge's refusal reason."""
    sender = Partner("string", world.keys)
    body = {
        "signature": "string",
        "header": {"version": "1.0.0", "message_id": "string", "message_ts": "string", "action": action,
                   "sender_id": "string", "sender_uri": "", "receiver_id": "", "total_count": 0,
                   "is_msg_encrypted": False, "meta": "string"},
        "message": {"benefit_program_mnemonic": program_name, "disbursement_frequency": "OnDemand",
                    "cycle_code_mnemonic": "SEP", "number_of_beneficiaries": 4, "number_of_disbursements": 4,
                    "total_disbursement_amount": total, "disbursement_currency_code": "USD",
                    "disbursement_schedule_date": start_date},
    }  # fmt: skip
    request = urllib.request.Request(
        world.stack.api_url + "/create_disbursement_envelope", data=canonical(body), method="POST",
        headers={"Content-Type": "application/json", "Signature": detached_jws(sender.key, body)},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["header"]["status"] == "rjct", answer
    return answer["header"]["status_reason_message"]


def test_odoo_g2p_connect_program_paid_through_the_bridge(world):
    started = time.monotonic()
    markets, mnemonics = [], {}
    for code, (currency, bank_code, amounts, prefix) in MARKETS.items():
        people = people_for(world.sims[code], code, amounts, prefix)
        # The ID registry links each person's national ID (the manager's payee id: its reg_id
        # type) to the M-Pesa wallet in SPAR, with the addon's own code (spar.py).
        world.link([{**p, "beneficiary_id": p["reg_id"]} for p in people])
        mnemonic = mnemonics[code] = f"ODOO-{code}-{uuid.uuid4().hex[:6]}"
        # The operator's step: the bridge's benefit program configuration (PBMS 1.3 has none).
        world.program(mnemonic, bank_code, ACCOUNTS[code], currency)
        markets.append({"code": code, "currency": currency, "program": f"Cash transfer {code} (G2P Connect)",
                        "cycle": f"{code} cycle 1", "people": people})  # fmt: skip
    params = {"api_url": world.stack.api_url}

    # 1. The manager's own requests: none passes 1.1.0 (no Signature header: HTTP 500).
    setup = world.odoo.shell(SETUP, {**params, "markets": markets})
    for market in markets:
        own = setup[market["code"]]
        assert own["payments"] == len(market["people"]) and own["batches"] == 1, own
        assert own["own_envelope_id"] is None, own  # its envelope request failed (500, logged only)
        assert own["own_sent"] == 0, own
        assert own["own_batches_started"] == [True], own  # marked started, yet never sent
        assert any("500 Server Error" in m for m in own["own_send_messages"]), own
        assert any("500 Server Error" in m for m in own["own_status_messages"]), own
    assert "'NoneType' object has no attribute 'split'" in world.stack.log("api")  # the missing header
    # Signed, its envelope body is still refused, for what is in it (the replay of its own body).
    ke = markets[0]
    total = sum(p["amount"] for p in ke["people"])
    assert (
        manager_envelope(world, ke["program"], total, "2020-01-01", "string") == "rjct.action.not_supported"
    )
    fixed = "create_disbursement_envelope"
    assert (
        manager_envelope(world, ke["program"], total, "2020-01-01", fixed)
        == "INVALID_DISBURSEMENT_SCHEDULE_DATE"
    )
    today = datetime.date.today().isoformat()
    assert manager_envelope(world, ke["program"], total, today, fixed) == "INVALID_PROGRAM_MNEMONIC"

    # 2. Driven from the Odoo side the way PBMS's workers drive the bridge, statuses written back.
    drive = world.odoo.shell(
        DRIVE,
        {**params, "sender_id": ODOO_SENDER, "key_pem": private_pem(world.bridge_key), "timeout": 180,
         "cycles": {m["code"]: setup[m["code"]]["cycle_id"] for m in markets}, "mnemonics": mnemonics},
        timeout=400,
    )  # fmt: skip
    assert ("PARTNER_PBMS_ODOO", True) in world.keys.verified
    report = {}
    for market in markets:
        code, people = market["code"], market["people"]
        result = drive[code]
        assert result["send"]["sent"] == len(people), result["send"]
        payments = {p["partner"]: p for p in result["payments"]}
        ids = [p["disbursement_id"] for p in payments.values()]
        recon = {
            row["disbursement_id"]: row
            for row in world.bridge_rows(
                "SELECT * FROM disbursement_recons WHERE disbursement_id = ANY(%s)", (ids,)
            )
        }
        ledger = {
            row["disbursement_id"]: row
            for row in world.bridge_rows(
                "SELECT * FROM mpesa_bridge_payment WHERE disbursement_id = ANY(%s)", (ids,)
            )
        }
        payouts = paid_out(world.sims[code], people)

        def did(person, payments=payments):
            return payments[person["name"]]["disbursement_id"]

        odoo_paid = bridge_reconciled = Decimal(0)
        for person in people:
            payment = payments[person["name"]]
            row = recon[payment["disbursement_id"]]
            assert (
                payment["state"] == "reconciled"
                and payment["disbursement_envelope_id"] == result["envelope_id"]
            )
            if person["kind"] == "wallet":
                (paid,) = payouts[person["phone"]]  # paid exactly once
                assert payment["status"] == "paid", payment
                assert (
                    payment["remittance_reference_number"]
                    == paid["receipt"]
                    == ledger[payment["disbursement_id"]]["receipt"]
                )
                assert (
                    Decimal(str(payment["amount_paid"]))
                    == Decimal(str(person["amount"]))
                    == Decimal(str(paid["amount"]))
                )
                assert not row["reversal_found"]
                bridge_reconciled += Decimal(str(person["amount"]))
            else:
                assert payment["status"] == "failed" and payment["amount_paid"] == 0, payment
                assert row["reversal_found"] and payment["reversal_reason"], (payment, row)
            odoo_paid += Decimal(str(payment["amount_paid"]))
        sim_paid = sum((Decimal(str(t["amount"])) for done in payouts.values() for t in done), Decimal(0))
        assert odoo_paid == sim_paid == bridge_reconciled, (odoo_paid, sim_paid, bridge_reconciled)
        summary = result["own_summary"]  # the manager's own generate_summary, through the bridge
        assert summary["number_of_disbursements_reconciled"] == len(people), summary
        assert summary["number_of_disbursements_shipped"] == len(people), summary
        assert result["own_status_check_failed_again"] is True
        report[code] = {
            "envelope_id": result["envelope_id"],
            "mnemonic": mnemonics[code],
            "odoo_amount_paid": str(odoo_paid),
            "simulator_paid_total": str(sim_paid),
            "bridge_reconciled_amount": str(bridge_reconciled),
            "status_polls": result["polls"],
            "manager_own_calls": {k: v for k, v in setup[code].items() if k.startswith("own_")},
            "manager_own_envelope_summary": summary,
            "payments": [
                {**payments[p["name"]], "reg_id": p["reg_id"], "msisdn": p["phone"],
                 "bridge_remittance_reference": recon[did(p)]["remittance_reference_number"],
                 "bridge_reversal_reason": recon[did(p)]["reversal_reason"],
                 "connector_state": ledger[did(p)]["state"]}
                for p in people
            ],
        }  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for code, data in report.items():
        (ARTIFACTS / f"odoo-envelope-{code}.json").write_text(json.dumps(data, indent=2, default=str))
    totals = ("odoo_amount_paid", "simulator_paid_total", "bridge_reconciled_amount")
    shown = {code: {key: data[key] for key in totals} for code, data in report.items()}
    print(f"\nOdoo G2P Connect path: {json.dumps(shown)} in {time.monotonic() - started:.0f}s")
