"""The Odoo UI walk: a real Odoo with OpenG2P and this addon, the simulator, and Playwright driving
Debian's chromium through the admin's and the cycle approver's clicks (tests/test_ui_odoo.py): on a
program prepared here, then on a new program the admin makes from scratch (the registrants made
here are its beneficiaries; everything else is clicked).

Used by run_odoo_suite.py (a stage of the Odoo suite) and by hand for developing the walk:

    /opt/openg2p/venv/bin/python scripts/odoo_ui_stage.py --serve   # set up, print URLs, wait

Run with the OpenG2P Python; the browser side runs in MPESA_SIM_PYTHON's environment (Playwright).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from _harness import (  # noqa: E402
    MODULE,
    SHELL_PRELUDE,
    BenchError,
    Cluster,
    OdooServer,
    RunningSimulator,
    default_addons_path,
    default_sim_python,
    free_port,
    odoo_run,
    write_config,
)
from odoo_cluster import WebsocketRouter  # noqa: E402

DB = "mpesa_ui"
# Registrants of the walk, matched to the simulator's demo wallets (README, The simulator).
PEOPLE = [
    ("Amina", "Wanjiru", "0712 345 678", 1500),  # paid
    ("Peter", "Otieno", "0722 000 001", 1500),  # paid
    ("Faith", "Kiprono", "0799 000 004", 1500),  # not registered with M-Pesa: 2040, paid again later
    ("Mary", "Smith", "+1 202 555 0143", 1500),  # a number M-Pesa cannot pay: flagged before approval
]

SETUP = (
    SHELL_PRELUDE
    + r"""
admin = env.ref("base.user_admin")
admin.groups_id = [(4, env.ref(x).id) for x in (
    "g2p_registry_base.group_g2p_admin", "g2p_programs.g2p_program_manager",
    "g2p_programs.g2p_program_cycle_approver", "g2p_programs.g2p_finance_validator")]
us = env.ref("base.us")
partners = env["res.partner"]
for given, family, phone, _amount in P["people"]:
    partners |= env["res.partner"].create({
        "name": f"{given} {family}", "given_name": given, "family_name": family,
        "is_registrant": True, "is_group": False,
        "phone_number_ids": [
            (0, 0, {"phone_no": phone, "country_id": (us if phone.startswith("+1") else kenya).id})],
    })
wizard = env["g2p.program.create.wizard"].create({
    "name": "Cash for Work (UI walk)", "currency_id": kes.id, "amount_per_cycle": 1500,
    "target_type": "individual", "auto_approve_entitlements": True,
    "approver_group_id": env.ref("g2p_programs.g2p_program_cycle_approver").id,
})
program = env["g2p.program"].browse(wizard.create_program()["res_id"])
env["g2p.program.fund"].create({"program_id": program.id, "amount": 100000, "remarks": "UI walk"}).post_fund()
now = fields.Datetime.now()
program.program_membership_ids = [
    (0, 0, {"partner_id": p.id, "state": "enrolled", "enrollment_date": now}) for p in partners]
program.create_new_cycle()
cycle = program.cycle_ids.sorted("id")[-1]
cycle.copy_beneficiaries_from_program()
cycle.prepare_entitlement()
cycle.to_approve()
env.cr.commit()
print("UI_READY", json.dumps({"program": program.id, "cycle": cycle.id}))
"""
)


class UiEnvironment:
    """Cluster (or the one given), simulator and Odoo with workers, set up for the walk."""

    def __init__(self, addons_path=None, sim_python=None, cluster=None):
        self.addons_path = addons_path or default_addons_path()
        self.sim_python = sim_python or default_sim_python()
        self.root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-ui-"))
        os.chmod(self.root, 0o755)
        self.own_cluster = cluster is None
        self.cluster = cluster or Cluster(self.root / "pg")
        self.sim = self.server = self.router = None
        self.ids = {}

    def start(self):
        if self.own_cluster:
            self.cluster.start()
        self.sim = RunningSimulator(str(self.root / "sim.sqlite3"), free_port(), "ui-admin-token",
                                    self.sim_python, (), str(self.root / "sim.log")).start()  # fmt: skip
        port, gevent_port = free_port(), free_port()
        # The browser's single address, as behind nginx: /websocket to the evented port.
        self.router = WebsocketRouter(port, gevent_port, free_port()).start()
        self.url = self.router.url
        config = self.root / "odoo.conf"
        addons = [p for p in self.addons_path.split(",") if p] + [str(REPO)]
        write_config(
            config, self.cluster, addons, self.root / "data", port,
            without_demo="all", workers=2, max_cron_threads=1, gevent_port=gevent_port,
            server_wide_modules="base,web,queue_job", queue_job_channels="root:2,root.mpesa:1",
            log_level="warn", db_name=DB, list_db="False",
        )  # fmt: skip
        proc = odoo_run(
            config, "-d", DB, "-i", MODULE, "--stop-after-init", "--workers=0", "--max-cron-threads=0"
        )
        if proc.returncode:
            raise BenchError(f"install failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        params = {"odoo_url": self.url, "people": PEOPLE}
        proc = odoo_run(config, "-d", DB, "--no-http", command="shell",
                        stdin=SETUP % {"params": json.dumps(params)})  # fmt: skip
        ready = [line for line in proc.stdout.splitlines() if line.startswith("UI_READY ")]
        if not ready:
            raise BenchError(f"set-up failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        self.ids = json.loads(ready[0].split(" ", 1)[1])
        self.server = OdooServer(config, DB, self.root / "odoo.log", f"http://127.0.0.1:{port}").start()
        return self

    def env(self):
        """What tests/test_ui_odoo.py reads."""
        sim = self.sim
        return {
            "MPESA_UI_ODOO_URL": self.url,
            "MPESA_UI_ODOO_DB": DB,
            "MPESA_UI_PROGRAM_ID": str(self.ids["program"]),
            "MPESA_UI_CYCLE_ID": str(self.ids["cycle"]),
            "MPESA_UI_SIM_URL": sim.base_url,
            "MPESA_UI_SIM_ADMIN_TOKEN": sim.admin_token,
            "MPESA_UI_SIM_SETTINGS": json.dumps(sim.app_settings()),
        }

    def stop(self, keep=False):
        if self.server:
            self.server.stop()
        if self.router:
            self.router.stop()
        if self.sim:
            self.sim.stop()
        if self.own_cluster:
            self.cluster.stop()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


def run_walk(cluster=None, addons_path=None, sim_python=None):
    """Set up, run tests/test_ui_odoo.py in the simulator's Python, tear down: (passed, failed, text)."""
    sim_python = sim_python or default_sim_python()
    check = subprocess.run([sim_python, "-c", "import playwright"], capture_output=True)
    if check.returncode or not os.access(os.environ.get("MPESA_UI_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
        return (
            None,
            "no Playwright in the simulator's Python or no Debian chromium (scripts/browser_suite.sh)",
        )
    ui = UiEnvironment(addons_path, sim_python, cluster)
    try:
        ui.start()
        proc = subprocess.run(
            [sim_python, "-m", "pytest", "-m", "odoo_ui", "tests/test_ui_odoo.py", "-p", "no:cacheprovider"],
            cwd=REPO, env={**os.environ, **ui.env()}, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        return proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    finally:
        ui.stop()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help="set up, print the environment, wait for Ctrl-C")
    args = parser.parse_args()
    if args.serve:
        ui = UiEnvironment().start()
        try:
            for key, value in ui.env().items():
                print(f"export {key}='{value}'")
            print(f"# odoo log: {ui.root / 'odoo.log'}", flush=True)
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            ui.stop()
        return 0
    ok, text = run_walk()
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
