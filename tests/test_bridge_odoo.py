"""An OpenG2P 17 program whose payment manager is OpenG2P's own ``g2p_payment_g2p_connect`` pays
M-Pesa wallets through a REAL G2P Bridge 1.1.0, OpenG2P's real SPAR 1.1.0, the M-Pesa connector and
the simulator, in Kenya (Daraja) and Tanzania (Vodacom's OpenAPI), and each payment's final status
comes back into the Odoo payment.

First the manager's own code is run against the bridge, as an admin would: its envelope request,
its Send and its status check. None of them passes 1.1.0 (no ``Signature`` header: HTTP 500; see
docs/g2p-bridge.md, *OpenG2P's G2P Connect payment manager and G2P Bridge 1.1.0*), and the test
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

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "g2p-bridge-mpesa"))
sys.path.insert(0, str(ROOT / "g2p_payment_mpesa"))  # spar.py, no Odoo import
sys.path.insert(0, str(ROOT / "scripts"))  # odoo_cluster.py

pytest.importorskip(
    "openg2p_g2p_bridge_celery_workers", reason="G2P Bridge 1.1.0 is not installed (bridge_suite.sh)"
)
psycopg2 = pytest.importorskip("psycopg2")

import spar  # noqa: E402
from g2p_bridge_mpesa.testing import (  # noqa: E402
    BridgeStack,
    KeyManagerStandIn,
    Partner,
    PgCluster,
    RedisServer,
    Unavailable,
    new_rsa_key,
    private_pem,
)
from test_bridge_e2e import ARTIFACTS, SIM_PYTHON, bank, paid_out, sim_unregistered  # noqa: E402

from mpesa_sim.testing import start_simulator  # noqa: E402

MODULE = "g2p_payment_g2p_connect"
# What g2p_payment_g2p_connect needs beyond what the addon's own Odoo suite installs: OpenG2P's
# community addons (OCA storage, from openg2p-social-registry-community-addons) for g2p_documents.
NEEDED_ADDONS = ("g2p_programs", "queue_job", MODULE, "storage_backend_s3", "storage_file")
ODOO_SENDER = "pbms-odoo"  # the partner id this Odoo signs its bridge requests with
SPAR_SENDER = "g2p_payment_mpesa"
ACCOUNTS = {"KE": "KE-G2P-ODOO", "TZ": "TZ-G2P-ODOO"}


def find_openg2p():
    """(python, addons path list) of an OpenG2P 17 that can install g2p_payment_g2p_connect, or
    (None, why not)."""
    home = Path(os.environ.get("OPENG2P_HOME", "/opt/openg2p"))
    python = os.environ.get("OPENG2P_PYTHON") or str(home / "venv" / "bin" / "python")
    if not Path(python).exists():
        return None, f"no OpenG2P Python at {python} (OPENG2P_PYTHON)"
    if os.environ.get("OPENG2P_ADDONS_PATH"):
        addons = [p for p in os.environ["OPENG2P_ADDONS_PATH"].split(",") if p]
    else:
        site = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        addons = [str(home / "odoo/odoo/addons"), f"{site}/odoo/addons", str(home / "openg2p-registry"),
                  str(home / "openg2p-program"), str(home / "openg2p-community-addons")]  # fmt: skip
    for name in NEEDED_ADDONS:
        if not any((Path(folder) / name / "__manifest__.py").exists() for folder in addons):
            return None, (
                f"the Odoo addon {name} is not in {','.join(addons)} (OpenG2P 17 with "
                f"{MODULE}'s dependencies: scripts/install_openg2p.sh)"
            )
    return python, addons


OPENG2P_PYTHON, OPENG2P_ADDONS = find_openg2p()
if OPENG2P_PYTHON is None:
    print(f"\n*** ODOO G2P CONNECT PATH SKIPPED: {OPENG2P_ADDONS} ***\n", file=sys.stderr)
    pytest.skip(f"ODOO G2P CONNECT PATH SKIPPED: {OPENG2P_ADDONS}", allow_module_level=True)

from odoo_cluster import ODOO_MAIN, Cluster, free_port, write_config  # noqa: E402

SHELL_PRELUDE = r"""
import json, sys, time
P = json.loads(%(params)r)
sys.path.insert(0, P["addon_dir"])
import g2p_bridge_partner as gbp
from odoo import fields
env = env(context=dict(env.context, tracking_disable=True, mail_create_nolog=True, mail_notrack=True))
def messages(record, word):
    return [str(m.body) for m in record.message_ids if word in str(m.body)]
"""

# The program as an admin sets it up, with OpenG2P's own G2P Connect payment manager pointed at
# the bridge; then the manager's OWN envelope request (prepare_payments), Send and status check.
SETUP = r"""
id_type = env["g2p.id.type"].search([("name", "=", "National ID")], limit=1) or env["g2p.id.type"].create(
    {"name": "National ID"})
head = env.ref("g2p_programs.g2p_program_cycle_approver")
tag = env["g2p.payment.batch.tag"].create({"name": "All", "order": 1, "domain": "[]", "max_batch_size": 500})
result = {}
for market in P["markets"]:
    currency = env.ref("base." + market["currency"])
    currency.active = True
    partners = env["res.partner"].create([
        {"name": p["name"], "given_name": p["name"].split()[0], "family_name": p["name"].split()[-1],
         "is_registrant": True, "is_group": False, "phone": p["phone"],
         "reg_ids": [(0, 0, {"id_type": id_type.id, "value": p["reg_id"]})]}
        for p in market["people"]])
    wizard = env["g2p.program.create.wizard"].create({
        "name": market["program"], "currency_id": currency.id, "amount_per_cycle": 100,
        "target_type": "individual", "auto_approve_entitlements": True, "approver_group_id": head.id})
    program = env["g2p.program"].browse(wizard.create_program()["res_id"])
    api = P["api_url"]
    manager = env["g2p.program.payment.manager.g2p.connect"].create({
        "name": "G2P Connect (G2P Bridge)", "program_id": program.id,
        "payee_id_type": "reg_id", "reg_id_type_for_payee_id": id_type.id,
        "envelope_creation_url": api + "/create_disbursement_envelope",
        "payment_endpoint_url": api + "/create_disbursements",
        "status_endpoint_url": api + "/get_disbursement_status",
        "envelope_status_url": api + "/get_disbursement_envelope_status",
        "locale": "en", "create_batch": True, "batch_tag_ids": [(6, 0, tag.ids)]})
    ref = f"{manager._name},{manager.id}"
    if program.payment_managers:
        program.payment_managers.manager_ref_id = ref
    else:
        program.payment_managers = [(0, 0, {"program_id": program.id, "manager_ref_id": ref})]
    env["g2p.program_membership"].create([
        {"partner_id": pid, "program_id": program.id, "state": "enrolled",
         "enrollment_date": fields.Datetime.now()} for pid in partners.ids])
    today = fields.Date.today()
    cycle = env["g2p.cycle"].create({"name": market["cycle"], "program_id": program.id,
        "start_date": today, "end_date": fields.Date.add(today, months=1)})
    env["g2p.entitlement"].create([
        {"partner_id": pid, "cycle_id": cycle.id, "initial_amount": p["amount"], "state": "approved",
         "is_cash_entitlement": True} for pid, p in zip(partners.ids, market["people"])])
    env.cr.commit()
    # The manager's own code, as the cycle's buttons run it.
    manager.prepare_payments(cycle)          # OpenG2P's payments and batches, then its envelope
    env.cr.commit()
    envelope_after_prepare = cycle.disbursement_envelope_id
    manager._send_payments(cycle.payment_batch_ids)    # Send Payments
    env.cr.commit()
    manager.payments_status_check(manager.id)           # its status cron's call
    env.cr.commit()
    result[market["code"]] = {
        "cycle_id": cycle.id, "program_id": program.id, "manager_id": manager.id,
        "payments": len(gbp.cycle_payments(cycle)), "batches": len(cycle.payment_batch_ids),
        "own_envelope_id": envelope_after_prepare or None,
        "own_sent": len(gbp.cycle_payments(cycle).filtered("disbursement_id")),
        "own_batches_started": cycle.payment_batch_ids.mapped("batch_has_started"),
        "own_send_messages": messages(manager, "G2P Bridge Payment"),
        "own_status_messages": messages(manager, "Status Check Failed"),
        "status_cron": bool(manager.status_check_cron_id),
    }
print("RESULT_JSON", json.dumps(result, default=str))
"""

# The cycle paid the way current PBMS's workers drive the bridge, from the Odoo side, on the
# manager's records; the status written back until every payment is final; then the manager's own
# envelope summary (its generate_summary) and its own status check once more.
DRIVE = r"""
partner = gbp.BridgePartner(P["api_url"], P["sender_id"], P["key_pem"])
result, cycles = {}, {}
for code, cycle_id in P["cycles"].items():
    cycle = cycles[code] = env["g2p.cycle"].browse(cycle_id)
    result[code] = {"send": gbp.send_cycle(cycle, partner, P["mnemonics"][code]), "polls": 0}
    env.cr.commit()
deadline = time.monotonic() + P["timeout"]
while time.monotonic() < deadline:
    pending = 0
    for code, cycle in cycles.items():
        counts = gbp.status_check(cycle, partner)
        env.cr.commit()
        result[code]["polls"] += 1
        result[code]["counts"] = counts
        pending += counts["pending"] + len(gbp.cycle_payments(cycle).filtered(lambda p: not p.status))
    if not pending:
        break
    time.sleep(2)
for code, cycle in cycles.items():
    manager = cycle.program_id.get_manager(gbp.MANAGER_PAYMENT)
    before = len(messages(manager, "Status Check Failed"))
    manager.payments_status_check(manager.id)
    env.cr.commit()
    result[code]["own_status_check_failed_again"] = len(messages(manager, "Status Check Failed")) > before
    cycle.generate_summary()     # the manager's own envelope status request
    summary = env["g2p.cycle.envelope.summary"].search(
        [("cycle_id", "=", cycle.id)], order="id desc", limit=1)
    result[code]["own_summary"] = summary.read([
        "number_of_disbursements_received", "total_disbursement_amount_received", "funds_available_with_bank",
        "funds_blocked_with_bank", "number_of_disbursements_shipped", "number_of_disbursements_reconciled",
        "number_of_disbursements_reversed"])[0]
    env.cr.commit()
    result[code]["payments"] = gbp.payments_report(cycle)
    result[code]["envelope_id"] = cycle.disbursement_envelope_id
print("RESULT_JSON", gbp.dumps(result))
"""


class OdooSide:
    """A throwaway PostgreSQL cluster and an Odoo 17 database with g2p_payment_g2p_connect."""

    DB = "g2p_connect_bridge"

    def __init__(self, root: Path):
        self.root = root
        self.cluster = Cluster(root / "odoo-pg")
        self.config = root / "odoo.conf"
        self.install_log = root / "odoo-install.log"
        self.thread = None
        self.install_rc = None
        self.shell_logs: list[str] = []

    def start_install(self):
        """Create the database and install the module, in the background (the bridge starts meanwhile)."""
        self.cluster.start()
        write_config(self.config, self.cluster, [*OPENG2P_ADDONS, str(ROOT)], self.root / "odoo-data",
                     free_port(), log_level="warn", max_cron_threads=0)  # fmt: skip

        def install():
            with open(self.install_log, "w") as log:
                self.install_rc = subprocess.run(
                    [OPENG2P_PYTHON, "-c", ODOO_MAIN, "-c", str(self.config), "-d", self.DB, "-i", MODULE,
                     "--stop-after-init", "--without-demo=all", "--workers=0"],
                    stdout=log, stderr=subprocess.STDOUT, check=False, timeout=600,
                ).returncode  # fmt: skip

        self.thread = threading.Thread(target=install, name="odoo-install", daemon=True)
        self.thread.start()

    def wait_installed(self):
        self.thread.join(600)
        assert self.install_rc == 0, f"installing {MODULE} failed:\n{self.install_log.read_text()[-6000:]}"

    def shell(self, script: str, params: dict, timeout: float = 300) -> dict:
        code = (SHELL_PRELUDE % {"params": json.dumps(params)}) + script
        done = subprocess.run(
            [OPENG2P_PYTHON, "-c", ODOO_MAIN, "shell", "-c", str(self.config), "-d", self.DB, "--no-http",
             "--log-level=warn"],
            input=code, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        self.shell_logs.append(done.stdout + done.stderr)
        for line in done.stdout.splitlines():
            if line.startswith("RESULT_JSON "):
                return json.loads(line[len("RESULT_JSON ") :])
        raise AssertionError(f"odoo shell gave no result (exit {done.returncode}):\n{done.stdout[-4000:]}"
                             f"\n{done.stderr[-8000:]}")  # fmt: skip

    def stop(self):
        if self.thread:
            self.thread.join(5)
        self.cluster.stop()


class World:
    def __init__(self, stack, sims, keys, odoo):
        self.stack, self.sims, self.keys, self.odoo = stack, sims, keys, odoo
        self.pbms = Partner("pbms", keys)  # the operator's own partner, for the program configuration
        self.odoo_key = new_rsa_key()  # this Odoo's bridge partner key
        keys.register(ODOO_SENDER, self.odoo_key)
        self.spar_key = new_rsa_key()  # the registry's SPAR link key (the addon's spar.py)
        keys.register(SPAR_SENDER, self.spar_key)

    def bridge_rows(self, sql, params=()):
        conn = psycopg2.connect(self.stack.dsn())
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                columns = [c.name for c in cur.description] if cur.description else []
                rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()] if columns else []
            conn.commit()
            return rows
        finally:
            conn.close()


@pytest.fixture(scope="module")
def world():
    if not Path(SIM_PYTHON).exists():
        pytest.skip(f"the simulator's Python {SIM_PYTHON} is missing (MPESA_SIM_PYTHON)")
    root = Path(tempfile.mkdtemp(prefix="bridge-odoo-"))
    os.chmod(root, 0o755)  # the Odoo cluster runs as postgres
    odoo = OdooSide(root)
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
                (ARTIFACTS / "odoo-stack.log").write_text(
                    stack.log() + "\n==== odoo install\n" + (odoo.install_log.read_text() if
                    odoo.install_log.exists() else "") + "\n==== odoo shells\n" + "\n".join(odoo.shell_logs)
                )  # fmt: skip
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


def test_odoo_g2p_connect_program_paid_through_the_bridge(world):
    started = time.monotonic()
    markets, mnemonics = [], {}
    for code, (currency, bank_code, amounts, prefix) in MARKETS.items():
        people = people_for(world.sims[code], code, amounts, prefix)
        # The ID registry links each person's national ID (the manager's payee id: its reg_id
        # type) to the M-Pesa wallet in SPAR, with the addon's own code (spar.py).
        outcome = spar.link(world.stack.spar_url, SPAR_SENDER, private_pem(world.spar_key), [
            {"id": p["reg_id"], "fa": spar.mobile_wallet_fa(p["phone"]), "name": p["name"],
             "phone_number": p["phone"]}
            for p in people])  # fmt: skip
        assert {status for status, _reason in outcome.values()} == {"succ"}, outcome
        mnemonic = mnemonics[code] = f"ODOO-{code}-{uuid.uuid4().hex[:6]}"
        # The operator's step: the bridge's benefit program configuration (PBMS 1.3 has none).
        status, body = world.pbms.post(world.stack.api_url + "/create_benefit_program_configuration",
            "create_benefit_program_configuration", {
                "benefit_program_mnemonic": mnemonic, "benefit_program_name": f"Odoo cash transfer {code}",
                "funding_org_code": "MOF", "funding_org_name": "Ministry of Finance",
                "sponsor_bank_code": bank_code, "sponsor_bank_account_number": ACCOUNTS[code],
                "sponsor_bank_branch_code": "", "sponsor_bank_account_currency": currency,
                "id_mapper_resolution_required": True})  # fmt: skip
        assert status == 200 and body["header"]["status"] == "succ", body
        markets.append({"code": code, "currency": currency, "program": f"Cash transfer {code} (G2P Connect)",
                        "cycle": f"{code} cycle 1", "people": people})  # fmt: skip
    params = {"addon_dir": str(ROOT / "g2p_payment_mpesa"), "api_url": world.stack.api_url}

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

    # 2. Driven from the Odoo side the way PBMS's workers drive the bridge, statuses written back.
    drive = world.odoo.shell(
        DRIVE,
        {**params, "sender_id": ODOO_SENDER, "key_pem": private_pem(world.odoo_key), "timeout": 180,
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
