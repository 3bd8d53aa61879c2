"""Pay the demo program end to end: simulator, throwaway PostgreSQL, Odoo with this addon.

Run by run.sh with the OpenG2P Python. --market KE (the default) pays the Kenyan demo program in
KES, --market ET the Ethiopian one in ETB through a simulator started with --market ET, and TZ, CD,
LS or GH a Vodacom market's program through that market's M-Pesa OpenAPI simulator. Prints each
payment's outcome, then serves Odoo and the simulator until Ctrl-C (or stops at once with --no-wait).
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

from odoo_cluster import (
    GEVENT_FIX,
    ODOO_MAIN,
    Cluster,
    OdooUnhealthy,
    WebsocketRouter,
    check_odoo_serving,
    free_port,
    gevent_problem,
    odoo_server_command,
    write_config,
)

REPO = Path(__file__).resolve().parents[1]
# The wire library imports no Odoo (odoo_cluster puts this checkout's copy on the path): the
# markets, their currencies and API families come from it.
from mpesa_wire import markets  # noqa: E402

DB = "mpesa_demo"


def what_to_open(odoo_url, sim_url, admin_token, example_msisdn):
    """Everything a person needs to use what run.sh started, in one block."""
    return "\n".join(
        [
            "what is running:",
            f"  OpenG2P (Odoo)       {odoo_url}  login admin / admin",
            f"  operator console     {sim_url}/console",
            f"  a beneficiary phone  {sim_url}/phone  (USSD as POST {sim_url}/ussd; demo PIN 1234)",
            f"  SMS of a wallet      {sim_url}/sim/phones/{example_msisdn}/sms",
            f"  simulator API docs   {sim_url}/docs",
            f"  simulator admin token  {admin_token}",
            "    (the console, the phone page and the manager's 'Open simulator wallets' ask for it)",
        ]
    )


FIELDS = ["partner_id", "amount_issued", "mpesa_msisdn", "mpesa_state", "mpesa_receipt", "mpesa_result_code",
          "mpesa_result_desc", "status", "status_is_final"]  # fmt: skip

DEMO_SCRIPT = """
base_url = %(base_url)r
env["ir.config_parameter"].set_param("web.base.url", base_url)
env["ir.config_parameter"].set_param("web.base.url.freeze", "True")
Manager = env["g2p.program.payment.manager.mpesa"]
program = Manager._mpesa_create_demo(
    base_url=base_url, market=%(market)r, sim_url=%(sim_url)r, sim_admin_token=%(sim_admin_token)r
)
cycle = Manager._mpesa_demo_start_cycle(program)
env.cr.commit()
print("DEMO_CYCLE", cycle.id, env["g2p.payment"].search_count([("cycle_id", "=", cycle.id)]))
print("DEMO_VALIDATED", int(program.get_manager(program.MANAGER_PAYMENT).validated_b2c))
"""


def wait_http(url, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{what} did not answer at {url} within {timeout}s")


def sim_market(sim_url):
    """The running simulator's market (public GET /sim/market): its demo wallet's number."""
    with urllib.request.urlopen(f"{sim_url}/sim/market", timeout=10) as response:
        return json.load(response)


def odoo_cmd(config, *args, command=None):
    return [sys.executable, "-c", ODOO_MAIN, *([command] if command else []), "-c", str(config), *args]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--sim-python", required=True)
    parser.add_argument("--sim-port", type=int, default=8090)
    parser.add_argument("--odoo-port", type=int, default=8069)
    parser.add_argument("--no-wait", action="store_true")
    parser.add_argument(
        "--market", type=str.upper, choices=list(markets.MARKETS), default=markets.DEFAULT,
        help="KE (Kenya, the default) or ET (Ethiopia): Daraja; TZ (Tanzania), CD (DR Congo), LS"
        " (Lesotho) or GH (Ghana): Vodacom's M-Pesa OpenAPI. The simulator's market and the demo's",
    )  # fmt: skip
    args = parser.parse_args()
    market = markets.market(args.market)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-demo-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root / "pg")
    procs = []
    router = None
    try:
        cluster.start()
        sim_url = f"http://127.0.0.1:{args.sim_port}"
        sim_log_path = root / "sim.log"
        print(f"simulator ({args.market}): {sim_url} (docs {sim_url}/docs, log {sim_log_path})", flush=True)
        # The demo knows the simulator's admin token (an OpenAPI market's API key is read with it):
        # MPESA_SIM_ADMIN_TOKEN or a new one, given in the environment, not on a command line. The
        # simulator's log prints it.
        sim_admin_token = os.environ.get("MPESA_SIM_ADMIN_TOKEN") or secrets.token_urlsafe(24)
        with open(root / "sim.log", "w") as sim_log:
            procs.append(subprocess.Popen(
                [args.sim_python, "-m", "mpesa_sim", "serve", "--port", str(args.sim_port),
                 "--market", args.market, "--db", str(root / f"sim-{args.market.lower()}.sqlite3")],
                stdout=sim_log, stderr=subprocess.STDOUT,
                env={**os.environ, "MPESA_SIM_ADMIN_TOKEN": sim_admin_token},
            ))  # fmt: skip
        wait_http(f"{sim_url}/sim/market", 30, "the simulator")
        example_msisdn = sim_market(sim_url)["example_msisdn"]

        config = root / "odoo.conf"
        addons = [p for p in args.addons_path.split(",") if p] + [str(REPO)]
        problem = gevent_problem(sys.executable)
        if problem:
            sys.exit(f"odoo: {problem}\n{GEVENT_FIX}")
        # Odoo's own ports are private; args.odoo_port is the router in front of them, as nginx
        # would be: /websocket (the bus: live updates) to the evented port, the rest to HTTP.
        http_port, gevent_port = free_port(), free_port()
        router = WebsocketRouter(http_port, gevent_port, args.odoo_port).start()
        write_config(
            config, cluster, addons, root / "data", http_port,
            without_demo="all", workers=2, max_cron_threads=1, gevent_port=gevent_port,
            server_wide_modules="base,web,queue_job", queue_job_channels="root:2,root.mpesa:2",
            log_level="warn",
        )  # fmt: skip
        print("odoo: installing g2p_payment_mpesa into a new database (about a minute)...", flush=True)
        install = subprocess.run(
            odoo_cmd(config, "-d", DB, "-i", "g2p_payment_mpesa", "--stop-after-init"),
            capture_output=True, text=True,
        )  # fmt: skip
        if install.returncode:
            print(install.stdout[-4000:], install.stderr[-4000:])
            sys.exit("odoo: the install failed")

        base_url = f"http://127.0.0.1:{args.odoo_port}"
        shell = subprocess.run(
            odoo_cmd(config, "-d", DB, "--no-http", command="shell"),
            input=DEMO_SCRIPT % {"base_url": base_url, "market": args.market, "sim_url": sim_url,
                                 "sim_admin_token": sim_admin_token},
            capture_output=True, text=True,
        )  # fmt: skip
        cycle_line = [line for line in shell.stdout.splitlines() if line.startswith("DEMO_CYCLE")]
        if not cycle_line:
            print(shell.stdout[-4000:], shell.stderr[-4000:])
            sys.exit("odoo: creating the demo program failed")
        cycle_id, payment_count = (int(x) for x in cycle_line[0].split()[1:3])
        if not payment_count:
            print(shell.stdout[-4000:], shell.stderr[-4000:])
            sys.exit("odoo: the demo cycle has no payments")
        print("odoo: demo program created; Prepare payments and Send payments pressed", flush=True)
        if "DEMO_VALIDATED 0" in shell.stdout:
            why = "none found for this market's M-Pesa"
            if market.api_family == "openapi":
                why = "Vodacom's M-Pesa APIs have none"
            print(f"odoo: {market.name} has no ID-validated B2C ({why}): the"
                  " registrants' IDs are recorded, not checked by M-Pesa", flush=True)  # fmt: skip

        with open(root / "odoo.log", "w") as odoo_log:
            server = subprocess.Popen(
                [*odoo_server_command(sys.executable, root), "-c", str(config), "-d", DB],
                stdout=odoo_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            procs.append(server)
        try:  # every process alive and serving, the websocket worker included
            check_odoo_serving(server, http_port, gevent_port, root / "odoo.log", timeout=90)
        except OdooUnhealthy as exc:
            sys.exit(f"odoo: {exc}")
        print(f"odoo: {base_url} (login admin / admin, log {root / 'odoo.log'})", flush=True)

        rpc = xmlrpc.client.ServerProxy(f"{base_url}/xmlrpc/2/object", allow_none=True)
        uid = xmlrpc.client.ServerProxy(f"{base_url}/xmlrpc/2/common").authenticate(DB, "admin", "admin", {})
        started = time.monotonic()
        payments = []
        while time.monotonic() - started < 240:
            domain = [("cycle_id", "=", cycle_id)]
            query = {"fields": FIELDS, "order": "id"}
            payments = rpc.execute_kw(DB, uid, "admin", "g2p.payment", "search_read", [domain], query)
            if payments and all(p["status_is_final"] for p in payments):
                break
            time.sleep(1)
        print(f"\ndemo cycle paid through M-Pesa in {time.monotonic() - started:.1f}s:\n")
        currency = market.currency
        print(f"{'beneficiary':<20} {currency:>7}  {'number':<13} {'state':<13} {'receipt':<11} result")
        for p in payments:
            print(
                f"{p['partner_id'][1]:<20} {p['amount_issued']:>7.0f}  {p['mpesa_msisdn'] or '-':<13} "
                f"{p['mpesa_state'] or '-':<13} {p['mpesa_receipt'] or '-':<11} "
                f"{p['mpesa_result_code'] or ''} {p['mpesa_result_desc'] or ''}"
            )
        unfinished = [p for p in payments if not p["status_is_final"]]
        if unfinished or not payments:
            sys.exit(f"{len(unfinished)} payments have no final state yet")
        print("\n" + what_to_open(base_url, sim_url, sim_admin_token, example_msisdn))
        if not args.no_wait:
            print(f"\nOdoo {base_url} and the simulator {sim_url} keep running; Ctrl-C stops both.")
            while all(p.poll() is None for p in procs):
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if router:
            router.stop()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
