"""Faults drill on the G2P Bridge path: one envelope of N disbursements paid through a REAL G2P
Bridge 1.1.0 (partner API, beat, Celery workers with the M-Pesa connector), OpenG2P's real SPAR
mapper 1.1.0 and the connector's ``serve``, into the M-Pesa simulator, while

- the bridge's Celery workers are SIGKILLed in the middle of the batch (some requests sent, some
  not, none acknowledged in the connector's database); they are started again at once, and the
  bridge's own beat re-sends the batch once it has been PROCESSING longer than
  ``disbursement_retry_threshold_minutes`` (1 minute here, 30 by default);
- the simulator loses a share of results (``lost_result``: the money moves, but no result callback
  is sent and every status query about it goes unanswered): the connector's reconcile (status
  queries) must settle what it can and hold the rest for a person (``review``), never reporting it;
- the simulator is restarted once (its database kept) while payments are in flight.

It ends with three counts that must be 0 and one equality:

- disbursements M-Pesa paid more than once (the simulator's own ledger, read-only);
- disbursements neither reconciled by the bridge nor held (flagged) by the connector;
- disbursements the bridge reconciled as paid that M-Pesa did not pay, or paid that the bridge
  reversed, without a flag;
- the simulator's paid-out total = the bridge's reconciled amount (disbursements reconciled
  without a reversal) + the amount held by the connector (counted apart).

Run in the bridge's venv (``bash scripts/bridge_suite.sh`` creates ``.venv-bridge``)::

    .venv-bridge/bin/python bench/bridge_drill.py --n 100 [--lost-rate 0.1] [--seed 7]

``tests/test_bridge_drill.py`` runs it small inside the bridge suite. Stand-ins: the key manager
(``KeyManagerStandIn``, which really verifies each RS256 signature), PBMS and the ID registry (this
script, signing as partners do), M-Pesa (the simulator). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "g2p-bridge-mpesa", ROOT / "scripts"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from g2p_bridge_mpesa.testing import (  # noqa: E402
    MOBILE_WALLET_FA,
    BridgeStack,
    KeyManagerStandIn,
    Partner,
    PgCluster,
    RedisServer,
    Unavailable,
)

from mpesa_sim.testing import start_simulator  # noqa: E402

ACCOUNT = "KE-G2P-DRILL"
CODE = "MPESA_KE"


def _bank(sim) -> dict:
    return {
        "market": sim.market_code,
        "base_url": sim.base_url,
        "environment": "simulator",
        "callback_secret": "cb-" + uuid.uuid4().hex,
        "account_numbers": [ACCOUNT],
        "wallet_providers": ["MPESA"],
        "consumer_key": sim.consumer_key,
        "consumer_secret": sim.consumer_secret,
        "shortcode": sim.shortcode,
        "initiator_name": sim.initiator_name,
        "initiator_password": sim.initiator_password,
        "certificate": sim.certificate_pem().decode(),
        # Slow enough that the workers can be killed in the middle of the batch.
        "max_requests_per_second": 8,
        "concurrency": 4,
    }


OVERRIDES = {
    # The bridge's beat re-sends a batch stuck in PROCESSING after this many minutes (30 by default).
    "beat": {"G2P_BRIDGE_CELERY_BEAT_DISBURSEMENT_RETRY_THRESHOLD_MINUTES": 1},
    "connector": {
        # A request reserved but never acknowledged (its worker died) is sent again, same id, after 15 s.
        "G2P_BRIDGE_MPESA_STALE_RESERVATION_SECONDS": 15,
        "G2P_BRIDGE_MPESA_MAX_STATUS_QUERIES": 3,
        # A statement whose bridge worker was killed is set back to PENDING after 1 minute.
        "G2P_BRIDGE_MPESA_REQUEUE_STUCK_STATEMENTS_MINUTES": 1,
    },
}


class Drill:
    def __init__(self, stack: BridgeStack, sim, keys: KeyManagerStandIn, odoo=None):
        self.stack, self.sim, self.keys = stack, sim, keys
        self.pbms = Partner("pbms", keys)
        self.registry = Partner("id-registry", keys)
        # --odoo: the envelope comes from an OpenG2P 17 cycle whose payment manager is OpenG2P's
        # G2P Connect manager, driven from the Odoo side (scripts/g2p_connect_odoo.py).
        self.odoo = odoo
        self.odoo_key = None
        if odoo:
            from g2p_bridge_mpesa.testing import new_rsa_key
            from g2p_connect_odoo import ODOO_SENDER

            self.odoo_key = new_rsa_key()
            keys.register(ODOO_SENDER, self.odoo_key)

    # -- the bridge and SPAR, as PBMS and the ID registry call them
    def api(self, path, action, message, total_count=1):
        status, body = self.pbms.post(self.stack.api_url + path, action, message, total_count)
        if status != 200 or body["header"]["status"] != "succ":
            raise RuntimeError(f"{path}: {status} {body}")
        return body

    def rows(self, sql, params=()):
        import psycopg2
        import psycopg2.extras

        conn = psycopg2.connect(self.stack.dsn())
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(sql, params)
                found = [dict(r) for r in cur.fetchall()] if cur.description else []
            conn.commit()
            return found
        finally:
            conn.close()

    def link(self, people):
        now = datetime.datetime.now().isoformat()
        requests_ = [
            {
                "reference_id": uuid.uuid4().hex,
                "timestamp": now,
                "id": p["beneficiary_id"],
                "fa": MOBILE_WALLET_FA.format(mobile_number=p["phone"], name="M-Pesa", code="MPESA"),
                "name": p["name"],
                "phone_number": p["phone"],
                "locale": "en",
            }
            for p in people
        ]
        status, body = self.registry.post(
            self.stack.spar_url + "/sync/link",
            "link",
            {"transaction_id": uuid.uuid4().hex, "link_request": requests_},
            len(requests_),
        )
        if status != 200 or {r["status"] for r in body["message"]["link_response"]} != {"succ"}:
            raise RuntimeError(f"SPAR link: {status} {body}")

    def program(self) -> str:
        mnemonic = "DRILL-" + uuid.uuid4().hex[:6]
        self.api(
            "/create_benefit_program_configuration",
            "create_benefit_program_configuration",
            {
                "benefit_program_mnemonic": mnemonic,
                "benefit_program_name": "Cash transfer drill",
                "funding_org_code": "MOF",
                "funding_org_name": "Ministry of Finance",
                "sponsor_bank_code": CODE,
                "sponsor_bank_account_number": ACCOUNT,
                "sponsor_bank_branch_code": "",
                "sponsor_bank_account_currency": "KES",
                "id_mapper_resolution_required": True,
            },
        )
        return mnemonic

    def envelope(self, people) -> str:
        mnemonic = self.program()
        body = self.api(
            "/create_disbursement_envelope",
            "create_disbursement_envelope",
            {
                "benefit_program_mnemonic": mnemonic,
                "disbursement_frequency": "Monthly",
                "cycle_code_mnemonic": "2025-03",
                "number_of_beneficiaries": len(people),
                "number_of_disbursements": len(people),
                "total_disbursement_amount": sum(p["amount"] for p in people),
                "disbursement_currency_code": "KES",
                "disbursement_schedule_date": datetime.date.today().isoformat(),
            },
        )
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
        for person, made in zip(people, body["message"], strict=True):
            person["disbursement_id"] = made["disbursement_id"]
        return envelope_id

    def odoo_envelope(self, people, settle_timeout):
        """The envelope sent from an Odoo cycle (G2P Connect manager, driven as PBMS's workers
        drive the bridge): the cycle set up, then the driver started; it keeps writing the
        statuses back until ``finish_odoo``. Returns the envelope id."""
        from g2p_bridge_mpesa.testing import private_pem
        from g2p_connect_odoo import DRIVE, ODOO_SENDER, SETUP, result_of

        mnemonic = self.program()
        enrolled = [{**p, "reg_id": p["beneficiary_id"]} for p in people]
        market = {"code": "KE", "currency": "KES", "program": f"Cash transfer {mnemonic}",
                  "cycle": "Drill cycle", "people": enrolled}  # fmt: skip
        params = {"api_url": self.stack.api_url}
        setup = self.odoo.shell(SETUP, {**params, "markets": [market], "own_calls": False})
        self.odoo_stop = self.stack.root / "odoo-drive.stop"
        self.odoo_drive = self.odoo.spawn(DRIVE, {
            **params, "sender_id": ODOO_SENDER, "key_pem": private_pem(self.odoo_key), "poll_seconds": 2,
            "timeout": settle_timeout + 120, "cycles": {"KE": setup["KE"]["cycle_id"]},
            "mnemonics": {"KE": mnemonic}, "stop_file": str(self.odoo_stop)})  # fmt: skip
        lines = []
        for line in self.odoo_drive.stdout:
            lines.append(line)
            if line.startswith("SENT_JSON "):
                break
        sent = result_of("".join(lines), "", self.odoo_drive.poll(), marker="SENT_JSON")["KE"]
        by_name = {p["partner"]: p for p in sent}
        for person in people:
            person["disbursement_id"] = by_name[person["name"]]["disbursement_id"]
        return sent[0]["disbursement_envelope_id"]

    def finish_odoo(self) -> dict:
        """Stop the Odoo driver after one last status check; its result (payments as in Odoo)."""
        from g2p_connect_odoo import result_of

        self.odoo_stop.write_text("stop")
        rest = self.odoo_drive.stdout.read()
        self.odoo_drive.wait(timeout=120)
        return result_of(rest, "", self.odoo_drive.returncode)["KE"]

    def envelope_status(self, envelope_id) -> dict:
        return self.api("/get_disbursement_envelope_status", "get_disbursement_envelope_status", envelope_id)[
            "message"
        ]

    def recon(self, ids) -> dict:
        body = self.api("/get_disbursement_status", "get_disbursement_status", ids, len(ids))
        return {item["disbursement_id"]: item["disbursement_recon_records"] for item in body["message"]}

    def payments(self) -> dict:
        return {r["disbursement_id"]: r for r in self.rows("SELECT * FROM mpesa_bridge_payment")}

    def sim_b2c_count(self) -> int:
        conn = sqlite3.connect(f"file:{self.sim.db_path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM transactions WHERE kind = 'b2c'").fetchone()[0]
        finally:
            conn.close()

    def connector_status(self) -> dict:
        done = subprocess.run(
            [self.stack.python, "-m", "g2p_bridge_mpesa", "status", "--json"],
            cwd=self.stack.root / "connector",
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("G2P_")},
        )
        if done.returncode:
            raise RuntimeError(done.stdout + done.stderr)
        return json.loads(done.stdout)


def _wait(what, predicate, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"drill: {what} not within {timeout:.0f}s")


def run(drill: Drill, n: int, lost_rate: float, seed: int, out=print, settle_timeout: float = 300):
    rng = random.Random(seed)
    sim, stack = drill.sim, drill.stack
    people = []
    numbers = set()
    while len(numbers) < n:
        numbers.add("2547" + "".join(rng.choice("0123456789") for _ in range(8)))
    for index, number in enumerate(sorted(numbers)):
        people.append(
            {
                "beneficiary_id": f"token:{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@nationalId",
                "name": f"Beneficiary D{index}",
                "phone": number,
                "amount": float(rng.randrange(100, 5000, 50)),
            }
        )
    sim.seed(
        wallets=[
            {
                "msisdn": p["phone"],
                "first_name": "Beneficiary",
                "last_name": p["name"][-4:],
                "id_number": p["phone"][-8:],
            }
            for p in people
        ]
    )
    events = []
    started = time.monotonic()
    drill.link(people)
    sim.set_faults(lost_result={"rate": lost_rate}, seed=seed)
    if drill.odoo:
        envelope_id = drill.odoo_envelope(people, settle_timeout)
    else:
        envelope_id = drill.envelope(people)

    # 1. the bridge's workers die in the middle of the batch
    third = max(1, n // 3)
    _wait("a third of the batch sent", lambda: drill.sim_b2c_count() >= third, 180)
    stack.kill_worker()
    sent_at_kill = drill.sim_b2c_count()
    events.append(f"bridge Celery workers SIGKILLed after {sent_at_kill} of {n} B2C requests")
    stack.start_worker()
    # 2. the simulator restarts (database kept) while requests are reserved and results pending
    time.sleep(3)
    sim.restart()
    events.append("simulator restarted once (database kept)")

    # 3. settle: the bridge has re-sent the killed batch and finished it, and every disbursement is
    # reconciled by the bridge or held by the connector
    def settled():
        batches = drill.rows(
            "SELECT disbursement_status FROM bank_disbursement_batch_statuses"
            " WHERE disbursement_envelope_id = %s",
            (envelope_id,),
        )
        if not batches or any(b["disbursement_status"] != "PROCESSED" for b in batches):
            return None
        status = drill.envelope_status(envelope_id)
        held = sum(1 for r in drill.payments().values() if r["state"] == "review")
        if status["number_of_disbursements_reconciled"] + held >= n:
            return status
        return None

    try:
        status = _wait("every disbursement reconciled or held", settled, settle_timeout, step=1)
    except TimeoutError:
        status = drill.envelope_status(envelope_id)
        events.append("NOT SETTLED within the time allowed")
    time.sleep(3)  # a late statement or re-sent batch would show within the connector's loop
    odoo = drill.finish_odoo() if drill.odoo else None
    elapsed = time.monotonic() - started
    return figures(drill, people, envelope_id, status, events, elapsed, out, odoo)


def stack_log_count(drill: Drill, text: str) -> int:
    return drill.stack.log("connector").count(text)


def odoo_rows(odoo, ids, paid_in_bridge, held, bridge_total):
    """The Odoo payments' side of the table (None: the envelope did not come from Odoo)."""
    if odoo is None:
        why = "not used: the envelope came from the PBMS stand-in (bridge_drill.py --odoo sends it from Odoo)"
        return [("Odoo amount_paid (KES)", why)], True
    payments = {p["disbursement_id"]: p for p in odoo["payments"]}
    paid = {d for d in ids if payments.get(d, {}).get("status") == "paid"}
    failed = {d for d in ids if payments.get(d, {}).get("status") == "failed"}
    open_ = [d for d in ids if d not in paid and d not in failed]
    total = sum((Decimal(str(payments[d]["amount_paid"] or 0)) for d in ids if d in payments), Decimal(0))
    odd = [d for d in ids if (d in paid) != (d in paid_in_bridge) or (d in open_ and d not in held)]
    receipts = sum(1 for d in paid if payments[d]["remittance_reference_number"])
    rows = [
        ("Odoo payments paid / failed / not final", f"{len(paid)} / {len(failed)} / {len(open_)}"),
        ("  paid with their M-Pesa receipt in Odoo", receipts),
        ("Odoo status differs from the bridge's, or open yet not held (must be 0)", len(odd)),
        ("Odoo amount_paid (KES)", f"{total:,.2f}"),
        ("Odoo amount_paid = bridge's reconciled amount", total == bridge_total),
    ]
    return rows, not odd and total == bridge_total and receipts == len(paid)


def figures(drill: Drill, people, envelope_id, status, events, elapsed, out=print, odoo=None):
    ids = [p["disbursement_id"] for p in people]
    amount_of = {p["disbursement_id"]: Decimal(str(p["amount"])) for p in people}
    payments = drill.payments()
    recon = drill.recon(ids)
    requests = defaultdict(set)
    for row in drill.rows("SELECT conversation_id, disbursement_id FROM mpesa_bridge_request"):
        requests[row["disbursement_id"]].add(row["conversation_id"])
    of_request = {c: d for d, cs in requests.items() for c in cs}

    conn = sqlite3.connect(f"file:{drill.sim.db_path}?mode=ro", uri=True)
    b2c = conn.execute(
        "SELECT originator_conversation_id, status, amount_cents, silent FROM transactions WHERE kind = 'b2c'"
    ).fetchall()
    conn.close()
    sim_paid = defaultdict(list)
    unmatched = 0
    for ocid, state, cents, _silent in b2c:
        if state != "completed":
            continue
        if ocid in of_request:
            sim_paid[of_request[ocid]].append(Decimal(cents) / 100)
        else:
            unmatched += 1
    silent = sum(1 for row in b2c if row[3])
    _s, stats = drill.sim.admin("GET", "/sim/admin/stats")
    _c, ledger = drill.sim.admin("GET", "/sim/admin/ledger/check")

    double = sum(1 for amounts in sim_paid.values() if len(amounts) > 1)
    held = [d for d in ids if payments.get(d, {}).get("state") == "review"]
    reconciled, reversed_, paid_in_bridge = set(), set(), set()
    for did in ids:
        payloads = (recon.get(did) or {}).get("disbursement_recon_payloads") or []
        if payloads:
            reconciled.add(did)
            if any(p["reversal_found"] for p in payloads):
                reversed_.add(did)
            else:
                paid_in_bridge.add(did)
    unsettled = [d for d in ids if d not in reconciled and d not in held]
    flagged_twice = [d for d in held if d in reconciled]
    mismatched = [
        d for d in ids if d not in held and (d in paid_in_bridge) != bool(sim_paid.get(d))
    ]  # fmt: skip
    sim_total = sum((a for amounts in sim_paid.values() for a in amounts), Decimal(0)) + 0
    bridge_total = sum((amount_of[d] for d in paid_in_bridge), Decimal(0))
    held_moved = sum((a for d in held for a in sim_paid.get(d, [])), Decimal(0))
    held_amount = sum((amount_of[d] for d in held), Decimal(0))
    connector = drill.connector_status()
    worker_log = drill.stack.log("worker")
    resent_batches = sum(
        1 for line in worker_log.splitlines() if "already known" in line and " 0 sent," in line
    )
    attempts = drill.rows(
        "SELECT disbursement_attempts, disbursement_status FROM bank_disbursement_batch_statuses"
        " WHERE disbursement_envelope_id = %s",
        (envelope_id,),
    )

    odoo_table, odoo_ok = odoo_rows(odoo, ids, paid_in_bridge, set(held), bridge_total)
    rows = [("faults injected", "")]
    rows += [(f"  {kind}", count) for kind, count in sorted((stats or {}).get("faults_injected", {}).items())]
    rows += [(f"  {event}", "") for event in events]
    requeued = stack_log_count(drill, "set back to PENDING")
    batch_attempts = attempts[0]["disbursement_attempts"] if attempts else "?"
    resubmissions = sum(max(r["submit_attempts"] - 1, 0) for r in payments.values())
    rows += [
        ("bridge statements left PROCESSING by the kill, requeued by the connector", requeued),
        ("bridge batch attempts (re-sent by the beat after the kill)", batch_attempts),
        ("  of them found every payment already known", resent_batches),
        ("M-Pesa requests (OriginatorConversationIDs)", sum(len(c) for c in requests.values())),
        ("re-submissions under the same id", resubmissions),
        ("status queries", sum(r["status_queries"] for r in payments.values())),
        ("results the simulator never gave (lost_result)", silent),
        ("disbursements", len(ids)),
        ("  reconciled by the bridge, paid", len(paid_in_bridge)),
        ("  reconciled by the bridge, reversed (failed)", len(reversed_)),
        ("  held by the connector for a person (review)", len(held)),
        ("disbursements paid by M-Pesa more than once (must be 0)", double),
        ("completed M-Pesa payments unknown to the connector (must be 0)", unmatched),
        ("not reconciled and not held (must be 0)", len(unsettled)),
        ("held yet reported to the bridge (must be 0)", len(flagged_twice)),
        ("paid in the bridge xor paid by M-Pesa, not held (must be 0)", len(mismatched)),
        ("connector ledger problems (must be 0)", len(connector.get("ledger_problems") or [])),
        ("simulator paid out (KES)", f"{sim_total:,.2f}"),
        ("bridge's reconciled amount, paid (KES)", f"{bridge_total:,.2f}"),
        ("  held: moved by M-Pesa (KES), counted apart", f"{held_moved:,.2f}"),
        ("  held: their amounts (KES)", f"{held_amount:,.2f}"),
        *odoo_table,
        ("simulator paid out = bridge reconciled + held moved", sim_total == bridge_total + held_moved),
        ("simulator ledger conserved", bool(ledger and ledger.get("ok"))),
        ("bridge's envelope counter = its reconciliation records",
         status["number_of_disbursements_reconciled"] == len(reconciled)),
        ("envelope reconciled / shipped (bridge)",
         f"{status['number_of_disbursements_reconciled']} / {status['number_of_disbursements_shipped']}"),
        ("seconds", f"{elapsed:.0f}"),
    ]  # fmt: skip
    ok = (
        not (double or unmatched or unsettled or flagged_twice or mismatched)
        and not connector.get("ledger_problems")
        and sim_total == bridge_total + held_moved
        and bool(ledger and ledger.get("ok"))
        and status["number_of_disbursements_reconciled"] == len(reconciled)
        and not any("NOT SETTLED" in e for e in events)
        and odoo_ok
    )
    width = max(len(label) for label, _ in rows) + 2
    source = "an OpenG2P 17 cycle, G2P Connect manager" if odoo is not None else "the PBMS stand-in"
    out("\nG2P Bridge faults drill (G2P Bridge 1.1.0 + SPAR 1.1.0 + g2p-bridge-mpesa, Kenya simulator)")
    out(f"the envelope from {source}")
    for label, value in rows:
        out(f"{label:<{width}}{value}")
    out(f"{'RESULT':<{width}}{'PASS' if ok else 'FAIL'}")
    return ok, dict(rows)


@contextlib.contextmanager
def bridge_world(sim_python: str, bridge_python: str, keep: str | None = None, odoo: bool = False):
    """Everything the drill runs on, stopped and removed at the end (logs copied to ``keep``).
    ``odoo``: also an OpenG2P 17 database with OpenG2P's G2P Connect manager (installed while the
    bridge starts); BenchUnavailable-like ``Unavailable`` when OpenG2P cannot be found."""
    root = tempfile.mkdtemp(prefix="bridge-drill-")
    keys = KeyManagerStandIn()
    pg = redis = stack = odoo_side = None
    try:
        if odoo:
            from g2p_connect_odoo import OdooSide, find_openg2p

            python, addons = find_openg2p()
            if python is None:
                raise Unavailable(f"--odoo: {addons}")
            odoo_side = OdooSide(Path(root) / "odoo", python, addons)
            odoo_side.root.mkdir(parents=True)
            os.chmod(root, 0o755)
            os.chmod(odoo_side.root, 0o755)
            odoo_side.start_install()
        pg, redis = PgCluster().start(), RedisServer().start()
        with start_simulator(python=sim_python, admin_token="drill-" + uuid.uuid4().hex[:8]) as sim:
            stack = BridgeStack(
                os.path.join(root, "stack"), pg, redis, keys, bridge_python, {CODE: _bank(sim)}, OVERRIDES
            )
            try:
                stack.start()
                if odoo_side:
                    odoo_side.wait_installed()
                yield Drill(stack, sim, keys, odoo_side)
            finally:
                stack.stop()
                if keep:
                    Path(keep).mkdir(parents=True, exist_ok=True)
                    (Path(keep) / "drill-stack.log").write_text(
                        stack.log() + ("\n" + odoo_side.logs() if odoo_side else "")
                    )
                    (Path(keep) / "drill-sim.log").write_text(sim.log())
    finally:
        if odoo_side:
            odoo_side.stop()
        if redis:
            redis.stop()
        if pg:
            pg.stop()
        keys.close()
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="disbursements in the envelope (default 100)")
    parser.add_argument("--lost-rate", type=float, default=0.1, help="share of results lost (default 0.1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sim-python", default=os.environ.get("MPESA_SIM_PYTHON") or str(ROOT / ".venv/bin/python")
    )
    parser.add_argument(
        "--keep", default=str(ROOT / "artifacts" / "bridge"), help="where the logs are copied"
    )
    parser.add_argument(
        "--odoo", action="store_true",
        help="send the envelope from an OpenG2P 17 cycle (OpenG2P's G2P Connect payment manager, driven "
        "from the Odoo side) and show Odoo's amount_paid (needs OpenG2P 17, scripts/install_openg2p.sh)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    with bridge_world(args.sim_python, sys.executable, args.keep, odoo=args.odoo) as drill:
        ok, _rows = run(drill, args.n, args.lost_rate, args.seed)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
