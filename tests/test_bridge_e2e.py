"""The M-Pesa connector inside a REAL G2P Bridge 1.1.0 (PyPI), with OpenG2P's real SPAR mapper
1.1.0: an envelope and its disbursements go in through the bridge's partner API, SPAR resolves each
beneficiary's M-Pesa wallet, the bridge checks and blocks funds and disburses through the connector
into the simulator, M-Pesa's results come back as MT940 through /upload_mt940, and the bridge's
disbursement status ends reconciled, with the simulator's paid-out total equal to the bridge's
reconciled amount. Kenya (Daraja), then Tanzania (Vodacom's OpenAPI).

Run by ``scripts/bridge_suite.sh`` in the bridge's own venv (``.venv-bridge``); skipped where G2P
Bridge is not installed. Stand-ins, minimal: the key manager's OAuth token and JWT-verify calls
(``g2p_bridge_mpesa.testing.KeyManagerStandIn``, which really verifies each RS256 signature).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "g2p-bridge-mpesa"))
sys.path.insert(0, str(ROOT / "g2p_payment_mpesa"))  # spar.py: the addon's SPAR link, no Odoo import

pytest.importorskip(
    "openg2p_g2p_bridge_celery_workers", reason="G2P Bridge 1.1.0 is not installed (bridge_suite.sh)"
)
pytest.importorskip("openg2p_spar_mapper_api", reason="SPAR mapper 1.1.0 is not installed (bridge_suite.sh)")
psycopg2 = pytest.importorskip("psycopg2")

import spar  # noqa: E402
from g2p_bridge_mpesa.testing import (  # noqa: E402
    MOBILE_WALLET_FA,
    BridgeStack,
    KeyManagerStandIn,
    Partner,
    PgCluster,
    RedisServer,
    Unavailable,
    new_rsa_key,
    private_pem,
)

from mpesa_sim.testing import start_simulator  # noqa: E402

ODOO_SENDER = "g2p_payment_mpesa"
SIM_PYTHON = os.environ.get("MPESA_SIM_PYTHON") or str(ROOT / ".venv" / "bin" / "python")
ARTIFACTS = ROOT / "artifacts" / "bridge"
KE_ACCOUNT, TZ_ACCOUNT = "KE-G2P-0001", "TZ-G2P-0001"
SIM_ADMIN_TOKEN = "bridge-suite-admin-" + uuid.uuid4().hex[:8]


def bank(sim, account) -> dict:
    settings = {
        "market": sim.market_code,
        "base_url": sim.base_url,
        "environment": "simulator",
        "callback_secret": "cb-" + uuid.uuid4().hex,
        "account_numbers": [account],
        "wallet_providers": ["MPESA"],
    }
    if sim.openapi:
        return {
            **settings,
            "api_key": sim.openapi["api_key"],
            "public_key": sim.openapi["public_key"],
            "shortcode": sim.openapi["service_provider_code"],
            "session_delay_seconds": 0,
        }
    return {
        **settings,
        "consumer_key": sim.consumer_key,
        "consumer_secret": sim.consumer_secret,
        "shortcode": sim.shortcode,
        "initiator_name": sim.initiator_name,
        "initiator_password": sim.initiator_password,
        "certificate": sim.certificate_pem().decode(),
    }


class World:
    def __init__(self, stack, ke, tz, keys):
        self.stack, self.ke, self.tz, self.keys = stack, ke, tz, keys
        self.pbms = Partner("pbms", keys)  # OpenG2P's PBMS, the bridge's partner
        # The Odoo addon links each ID to its wallet at issuance (g2p_payment_mpesa/spar.py, the
        # code the manager runs), signing with its own key, registered with SPAR's key manager.
        self.odoo_key = new_rsa_key()
        keys.register(ODOO_SENDER, self.odoo_key)

    def api(self, path, action, message, total_count=1, partner=None):
        status, body = (partner or self.pbms).post(self.stack.api_url + path, action, message, total_count)
        assert status == 200, (path, status, body)
        return body

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

    def link(self, people):
        """SPAR links each beneficiary id to an M-Pesa wallet address, as the addon does when a
        wallet is opened at ID issuance (its own code, g2p_payment_mpesa/spar.py)."""
        items = [
            {
                "id": person["beneficiary_id"],
                "fa": spar.mobile_wallet_fa(person["phone"]),
                "name": person["name"],
                "phone_number": person["phone"],
            }
            for person in people
        ]
        assert items[0]["fa"] == MOBILE_WALLET_FA.format(mobile_number=people[0]["phone"], name="M-Pesa",
                                                         code="MPESA")  # fmt: skip
        outcome = spar.link(self.stack.spar_url, ODOO_SENDER, private_pem(self.odoo_key), items)
        assert outcome == {item["id"]: ("succ", "") for item in items}, outcome

    def program(self, mnemonic, code, account, currency):
        body = self.api(
            "/create_benefit_program_configuration",
            "create_benefit_program_configuration",
            {
                "benefit_program_mnemonic": mnemonic,
                "benefit_program_name": f"Cash transfer {mnemonic}",
                "funding_org_code": "MOF",
                "funding_org_name": "Ministry of Finance",
                "sponsor_bank_code": code,
                "sponsor_bank_account_number": account,
                "sponsor_bank_branch_code": "",
                "sponsor_bank_account_currency": currency,
                "id_mapper_resolution_required": True,
            },
        )
        assert body["header"]["status"] == "succ", body

    def envelope(self, mnemonic, currency, people):
        total = sum(p["amount"] for p in people)
        body = self.api(
            "/create_disbursement_envelope",
            "create_disbursement_envelope",
            {
                "benefit_program_mnemonic": mnemonic,
                "disbursement_frequency": "Monthly",
                "cycle_code_mnemonic": "2025-03",
                "number_of_beneficiaries": len(people),
                "number_of_disbursements": len(people),
                "total_disbursement_amount": total,
                "disbursement_currency_code": currency,
                "disbursement_schedule_date": datetime.date.today().isoformat(),
            },
        )
        assert body["header"]["status"] == "succ", body
        envelope_id = body["message"]["disbursement_envelope_id"]
        body = self.api(
            "/create_disbursements",
            "create_disbursements",
            [
                {
                    "disbursement_envelope_id": envelope_id,
                    "mis_reference_number": p["name"][:10],
                    "beneficiary_id": p["beneficiary_id"],
                    "beneficiary_name": p["name"],
                    "disbursement_amount": p["amount"],
                    "narrative": "Cash transfer March 2025",
                }
                for p in people
            ],
            len(people),
        )
        assert body["header"]["status"] == "succ", (
            body,
            self.bridge_rows(
                "SELECT * FROM disbursement_envelopes WHERE disbursement_envelope_id = %s", (envelope_id,)
            ),
            self.bridge_rows(
                "SELECT * FROM disbursement_envelope_batch_statuses WHERE disbursement_envelope_id = %s",
                (envelope_id,),
            ),
        )
        for person, made in zip(people, body["message"], strict=True):
            person["disbursement_id"] = made["disbursement_id"]
        return envelope_id

    def envelope_status(self, envelope_id):
        body = self.api("/get_disbursement_envelope_status", "get_disbursement_envelope_status", envelope_id)
        return body["message"]

    def wait_reconciled(self, envelope_id, count, timeout=150):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.envelope_status(envelope_id)
            if status and status["number_of_disbursements_reconciled"] >= count:
                return status
            time.sleep(1)
        raise AssertionError(f"envelope not reconciled in {timeout}s: {status}\n{self.stack.log()[-15000:]}")

    def disbursement_status(self, ids):
        body = self.api("/get_disbursement_status", "get_disbursement_status", ids, len(ids))
        return {item["disbursement_id"]: item["disbursement_recon_records"] for item in body["message"]}

    def connector_status(self):
        done = subprocess.run(
            [sys.executable, "-m", "g2p_bridge_mpesa", "status", "--json"],
            cwd=self.stack.root / "connector",
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("G2P_")},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def world():
    if not Path(SIM_PYTHON).exists():
        pytest.skip(f"the simulator's Python {SIM_PYTHON} is missing (MPESA_SIM_PYTHON)")
    root = tempfile.mkdtemp(prefix="bridge-e2e-")
    keys = KeyManagerStandIn()
    try:
        pg, redis = PgCluster().start(), RedisServer().start()
    except Unavailable as exc:
        keys.close()
        pytest.skip(str(exc))
    with (
        start_simulator(python=SIM_PYTHON, admin_token=SIM_ADMIN_TOKEN) as ke,
        start_simulator(python=SIM_PYTHON, market="TZ", admin_token=SIM_ADMIN_TOKEN) as tz,
    ):
        tz.set_config(openapi_session_delay_seconds=0)
        stack = BridgeStack(
            os.path.join(root, "stack"),
            pg,
            redis,
            keys,
            sys.executable,
            {"MPESA_KE": bank(ke, KE_ACCOUNT), "MPESA_TZ": bank(tz, TZ_ACCOUNT)},
        )
        try:
            stack.start()
            yield World(stack, ke, tz, keys)
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:  # the statements the connector posted, as the bridge received them
                rows = World(stack, ke, tz, keys).bridge_rows(
                    "SELECT statement_ref, bank_code, bridge_statement_id, content"
                    " FROM mpesa_bridge_statement ORDER BY created_at"
                )
                (ARTIFACTS / "statements.mt940").write_text(
                    "".join(
                        f"# {r['bank_code']} {r['statement_ref']} -> {r['bridge_statement_id']}\n"
                        f"{r['content']}\n"
                        for r in rows
                    )
                )
            except Exception as exc:  # the run's own failure matters more
                (ARTIFACTS / "statements.mt940").write_text(f"# not read: {exc}\n")
            stack.stop()
            (ARTIFACTS / "stack.log").write_text(stack.log())
            redis.stop()
            pg.stop()
            keys.close()
            shutil.rmtree(root, ignore_errors=True)


def people_for(sim, market, amounts, prefix):
    people = []
    for index, (kind, amount) in enumerate(amounts):
        number = prefix + "".join(random.choice("0123456789") for _ in range(12 - len(prefix)))
        if kind == "wallet":
            sim.seed(wallets=[{"msisdn": number, "first_name": "Beneficiary", "last_name": f"N{index}",
                               "id_number": number[-8:]}])  # fmt: skip
        people.append(
            {
                "beneficiary_id": f"token:{uuid.uuid4().hex[:12]}@nationalId",
                "name": f"Beneficiary N{index}",
                "phone": number if kind != "unregistered" else sim_unregistered(market),
                "amount": amount,
                "kind": kind,
            }
        )
    return people


def sim_unregistered(market):
    return {"KE": "254799000004", "TZ": "255759999999"}[market]


def paid_out(sim, people):
    """What the simulator paid to these people (completed B2C), by number."""
    found = {}
    for person in people:
        done = [t for t in sim.transactions(msisdn=person["phone"], kind="b2c") if t["status"] == "completed"]
        found[person["phone"]] = done
    return found


def run_envelope(world, sim, code, account, currency, people, reversed_expected):
    mnemonic = f"CT-{code[-2:]}-{uuid.uuid4().hex[:6]}"
    world.link(people)
    world.program(mnemonic, code, account, currency)
    envelope_id = world.envelope(mnemonic, currency, people)
    status = world.wait_reconciled(envelope_id, len(people))
    deadline = time.monotonic() + 30
    while status["number_of_disbursements_reversed"] < reversed_expected and time.monotonic() < deadline:
        time.sleep(1)
        status = world.envelope_status(envelope_id)
    return envelope_id, status


def check_envelope(world, sim, people, envelope_id, status, market):
    ids = [p["disbursement_id"] for p in people]
    records = world.disbursement_status(ids)
    ledger = {
        row["disbursement_id"]: row
        for row in world.bridge_rows(
            "SELECT * FROM mpesa_bridge_payment WHERE disbursement_id = ANY(%s)", (ids,)
        )
    }
    payouts = paid_out(sim, people)
    reconciled_amount = Decimal(0)
    report = []
    for person in people:
        did = person["disbursement_id"]
        (recon,) = records[did]["disbursement_recon_payloads"]
        assert not records[did]["disbursement_error_recon_payloads"], records[did]
        row = ledger[did]
        entry = {
            "disbursement_id": did,
            "beneficiary_id": person["beneficiary_id"],
            "msisdn": person["phone"],
            "amount": person["amount"],
            "connector_state": row["state"],
            "mpesa_request_id": row["conversation_id"],
            "mpesa_receipt": row["receipt"],
            "bridge_remittance_reference": recon["remittance_reference_number"],
            "bridge_beneficiary_name_from_bank": recon["beneficiary_name_from_bank"],
            "bridge_reversal_found": recon["reversal_found"],
            "bridge_reversal_reason": recon["reversal_reason"],
            "simulator_payments": [(t["receipt"], t["amount"]) for t in payouts[person["phone"]]],
        }
        report.append(entry)
        if person["kind"] == "wallet":
            (payment,) = payouts[person["phone"]]  # paid exactly once
            assert row["state"] == "paid"
            assert recon["reversal_found"] is False
            assert recon["remittance_reference_number"] == payment["receipt"] == row["receipt"]
            # Daraja's result names the receiver; the OpenAPI's names no one (reported as None).
            assert bool(recon["beneficiary_name_from_bank"]) is (market == "KE")
            assert Decimal(str(payment["amount"])) == Decimal(str(person["amount"]))
            reconciled_amount += Decimal(str(person["amount"]))
        else:
            assert payouts[person["phone"]] == [] or person["kind"] == "unregistered"
            assert recon["reversal_found"] is True
            assert recon["reversal_reason"] and row["result_code"] in recon["reversal_reason"]
    paid_total = sum(
        (Decimal(str(t["amount"])) for done in payouts.values() for t in done if t["status"] == "completed"),
        Decimal(0),
    )
    assert paid_total == reconciled_amount
    assert status["number_of_disbursements_shipped"] == len(people)
    assert status["number_of_disbursements_reconciled"] == len(people)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"envelope-{market}.json").write_text(
        json.dumps(
            {
                "envelope_id": envelope_id,
                "envelope_status": status,
                "simulator_paid_total": str(paid_total),
                "bridge_reconciled_amount": str(reconciled_amount),
                "disbursements": report,
            },
            indent=2,
            default=str,
        )
    )
    return reconciled_amount


def test_kenya_envelope_reconciled_through_the_bridge(world):
    ke = world.ke
    people = people_for(
        ke,
        "KE",
        [
            ("wallet", 1500.0),
            ("wallet", 2500.0),
            ("wallet", 1000.0),
            ("unregistered", 700.0),
            # Fractions M-Pesa cannot pay, in pairs: 1.1.0 keeps an envelope's total in an
            # Integer column, so its total must be whole (upstream bug, see docs/g2p-bridge.md).
            ("fraction", 1500.5),
            ("fraction", 999.5),
        ],
        "2547",
    )
    envelope_id, status = run_envelope(world, ke, "MPESA_KE", KE_ACCOUNT, "KES", people, reversed_expected=3)
    assert status["funds_available_with_bank"] == "FUNDS_AVAILABLE"
    assert status["funds_blocked_with_bank"] == "FUNDS_BLOCK_SUCCESS"
    assert status["number_of_disbursements_reversed"] == 3
    check_envelope(world, ke, people, envelope_id, status, "KE")

    # The bridge re-sends the whole batch (a stale PROCESSING batch is reset to PENDING by its beat):
    # the connector sends nothing new, the simulator pays no one twice.
    before = world.bridge_rows(
        "SELECT bank_disbursement_batch_id, disbursement_attempts FROM bank_disbursement_batch_statuses"
        " WHERE disbursement_envelope_id = %s",
        (envelope_id,),
    )
    world.bridge_rows(
        "UPDATE bank_disbursement_batch_statuses SET disbursement_status = 'PENDING'"
        " WHERE disbursement_envelope_id = %s",
        (envelope_id,),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = world.bridge_rows(
            "SELECT disbursement_attempts, disbursement_status FROM bank_disbursement_batch_statuses"
            " WHERE disbursement_envelope_id = %s",
            (envelope_id,),
        )
        if after[0]["disbursement_attempts"] > before[0]["disbursement_attempts"]:
            break
        time.sleep(1)
    assert after[0]["disbursement_attempts"] == before[0]["disbursement_attempts"] + 1
    assert after[0]["disbursement_status"] == "PROCESSED"
    time.sleep(3)  # a statement, were one written, would be posted within the connector's loop
    for phone, done in paid_out(ke, people).items():
        assert len(done) <= 1, (phone, done)
    assert world.envelope_status(envelope_id)["number_of_disbursements_reconciled"] == len(people)
    assert "6 payments, 0 sent, 0 refused before sending, 6 already known" in world.stack.log("worker")

    # The real signature path: PBMS's requests to the bridge and the bridge's resolve requests
    # to SPAR were verified against their own keys; a forged one is refused.
    assert ("PARTNER_PBMS", True) in world.keys.verified
    assert ("PARTNER_G2P_BRIDGE", True) in world.keys.verified
    forger = Partner("pbms", KeyManagerStandIn())  # same sender id, another key
    status_code, body = forger.post(
        world.stack.api_url + "/create_disbursement_envelope", "create_disbursement_envelope", {"x": 1}
    )
    assert body["header"]["status"] == "rjct" and "jwt" in body["header"]["status_reason_message"]


def test_tanzania_envelope_reconciled_through_the_bridge(world):
    tz = world.tz
    people = people_for(
        tz,
        "TZ",
        [
            ("wallet", 25000.0),
            ("wallet", 40000.0),
            ("fraction", 1000.25),
            ("fraction", 999.75),
            ("foreign", 5000.0),
        ],
        "2557541",
    )
    people[4]["phone"] = "254712345678"  # a Kenyan number on a Tanzanian program: refused up front
    envelope_id, status = run_envelope(world, tz, "MPESA_TZ", TZ_ACCOUNT, "TZS", people, reversed_expected=3)
    assert status["funds_available_with_bank"] == "FUNDS_AVAILABLE"  # no balance query: pass policy
    assert status["number_of_disbursements_reversed"] == 3
    check_envelope(world, tz, people, envelope_id, status, "TZ")


def test_the_ledger_adds_up_and_no_secret_was_logged(world):
    data = world.connector_status()
    assert data["ledger_problems"] == []
    assert data["held"] == []
    for reservation in data["reservations"]:
        assert reservation["state"] == "closed", reservation
        assert Decimal(reservation["block"]) == Decimal(reservation["pay"]) + Decimal(reservation["release"])
    logs = world.stack.log()
    assert "initiate_payment" in logs and "paid, receipt" in logs
    secrets_ = [world.ke.consumer_secret, world.ke.initiator_password, world.tz.openapi["api_key"]]
    for code in ("MPESA_KE", "MPESA_TZ"):
        secrets_.append(
            json.loads(world.stack.connector_env()[f"G2P_BRIDGE_MPESA_BANK_{code}"])["callback_secret"]
        )
    for secret in secrets_:
        assert secret and secret not in logs
