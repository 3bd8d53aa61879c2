"""The Odoo side of the G2P Bridge path: an OpenG2P 17 database with OpenG2P's own G2P Connect
payment manager (``g2p_payment_g2p_connect``), a program and cycle paid through G2P Bridge, driven
from ``odoo shell``. Used by tests/test_bridge_odoo.py and the bridge drill (bench/bridge_drill.py
--odoo); any Python can import it (the Odoo work runs in OpenG2P's Python, in subprocesses).

- ``find_openg2p()``: OpenG2P 17's Python and an addons path holding g2p_payment_g2p_connect and
  its dependencies (OCA storage from OpenG2P's community addons), or why not;
- ``OdooSide``: a throwaway PostgreSQL cluster (scripts/odoo_cluster.py), the module installed in
  the background, and ``shell(script, params)`` / ``spawn(script, params)`` for the scripts below;
- ``SETUP``: registrants with a national ID, a program per market with the G2P Connect manager
  pointed at the bridge, a cycle with approved entitlements, the manager's own ``prepare_payments``
  (OpenG2P's payments and batches, then its own envelope request) and, with ``own_calls``, its own
  Send and status check;
- ``DRIVE``: the cycles paid the way current PBMS's workers drive the bridge
  (``g2p_payment_mpesa/g2p_bridge_partner.py``: signed envelope, disbursements per batch, status
  written back) until every payment is final, ``stop_file`` exists or ``timeout``; then the
  manager's own status check and envelope summary.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from odoo_cluster import ODOO_MAIN, Cluster, free_port, write_config  # noqa: E402

MODULE = "g2p_payment_g2p_connect"
# What g2p_payment_g2p_connect needs beyond what the addon's own Odoo suite installs: OpenG2P's
# community addons (OCA storage, from openg2p-social-registry-community-addons) for g2p_documents.
NEEDED_ADDONS = ("g2p_programs", "queue_job", MODULE, "storage_backend_s3", "storage_file")
ODOO_SENDER = "pbms-odoo"  # the partner id this Odoo signs its bridge requests with
ADDON_DIR = ROOT / "g2p_payment_mpesa"  # g2p_bridge_partner.py and spar.py, no Odoo import


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


SHELL_PRELUDE = r"""
import json, os, sys, time
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
    if len(market["people"]) < manager.MAX_PAYMENTS_FOR_SYNC_PREPARE:
        manager.prepare_payments(cycle)      # OpenG2P's payments and batches, then its envelope
    else:  # what it would queue as a job (no job runner here), then its envelope request
        manager._prepare_payments(cycle, cycle.entitlement_ids)
        manager._create_envelope_g2p_bridge(cycle)
    env.cr.commit()
    envelope_after_prepare = cycle.disbursement_envelope_id
    if P.get("own_calls", True):
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
        "reg_ids": {p.partner_id.name: p.partner_id.reg_ids[:1].value for p in gbp.cycle_payments(cycle)},
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
print("SENT_JSON", gbp.dumps({code: gbp.payments_report(c) for code, c in cycles.items()}), flush=True)
deadline = time.monotonic() + P["timeout"]
while time.monotonic() < deadline:
    pending = 0
    for code, cycle in cycles.items():
        counts = gbp.status_check(cycle, partner)
        env.cr.commit()
        result[code]["polls"] += 1
        result[code]["counts"] = counts
        pending += counts["pending"] + len(gbp.cycle_payments(cycle).filtered(lambda p: not p.status))
    if not pending or (P.get("stop_file") and os.path.exists(P["stop_file"])):
        break
    time.sleep(P.get("poll_seconds", 2))
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

    def __init__(self, root: Path, python: str, addons: list[str]):
        self.root = Path(root)
        self.python, self.addons = python, addons
        self.cluster = Cluster(self.root / "odoo-pg")
        self.config = self.root / "odoo.conf"
        self.install_log = self.root / "odoo-install.log"
        self.thread = None
        self.install_rc = None
        self.shell_logs: list[str] = []

    def start_install(self):
        """Create the database and install the module, in the background (the bridge starts meanwhile)."""
        self.cluster.start()
        write_config(self.config, self.cluster, [*self.addons, str(ROOT)], self.root / "odoo-data",
                     free_port(), log_level="warn", max_cron_threads=0)  # fmt: skip

        def install():
            with open(self.install_log, "w") as log:
                self.install_rc = subprocess.run(
                    [self.python, "-c", ODOO_MAIN, "-c", str(self.config), "-d", self.DB, "-i", MODULE,
                     "--stop-after-init", "--without-demo=all", "--workers=0"],
                    stdout=log, stderr=subprocess.STDOUT, check=False, timeout=600,
                ).returncode  # fmt: skip

        self.thread = threading.Thread(target=install, name="odoo-install", daemon=True)
        self.thread.start()

    def wait_installed(self):
        self.thread.join(600)
        assert self.install_rc == 0, f"installing {MODULE} failed:\n{self.install_log.read_text()[-6000:]}"

    def _command(self):
        return [self.python, "-c", ODOO_MAIN, "shell", "-c", str(self.config), "-d", self.DB, "--no-http",
                "--log-level=warn"]  # fmt: skip

    @staticmethod
    def _code(script, params):
        return (SHELL_PRELUDE % {"params": json.dumps({"addon_dir": str(ADDON_DIR), **params})}) + script

    def shell(self, script: str, params: dict, timeout: float = 300) -> dict:
        """Run a script in ``odoo shell``; its RESULT_JSON line."""
        done = subprocess.run(
            self._command(), input=self._code(script, params), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        self.shell_logs.append(done.stdout + done.stderr)
        return result_of(done.stdout, done.stderr, done.returncode)

    def spawn(self, script: str, params: dict) -> subprocess.Popen:
        """Start a script in ``odoo shell`` and return at once (stdout a pipe, stderr to a log)."""
        log = open(self.root / f"odoo-shell-{len(self.shell_logs)}.log", "w")
        self.shell_logs.append(f"(spawned: {log.name})")
        process = subprocess.Popen(
            self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        log.close()
        process.stdin.write(self._code(script, params))
        process.stdin.close()
        return process

    def logs(self) -> str:
        text = self.install_log.read_text(errors="replace") if self.install_log.exists() else ""
        spawned = "".join(p.read_text(errors="replace") for p in sorted(self.root.glob("odoo-shell-*.log")))
        return f"==== odoo install\n{text}\n==== odoo shells\n" + "\n".join(self.shell_logs) + spawned

    def stop(self):
        if self.thread:
            self.thread.join(5)
        self.cluster.stop()


def result_of(stdout: str, stderr: str = "", returncode=None, marker: str = "RESULT_JSON") -> dict:
    for line in stdout.splitlines():
        if line.startswith(marker + " "):
            return json.loads(line[len(marker) + 1 :])
    raise AssertionError(
        f"odoo shell gave no {marker} (exit {returncode}):\n{stdout[-4000:]}\n{stderr[-8000:]}"
    )
