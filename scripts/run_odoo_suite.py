"""Run the addon's Odoo tests in a throwaway PostgreSQL cluster, then uninstall the addon.

Run with a Python in which Odoo 17 is importable (scripts/odoo_suite.sh finds it). Prints one
closing line "odoo suite: N passed, N failed" and exits non-zero on any failure, or when no
test ran.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from odoo_cluster import ODOO_MAIN, Cluster, free_port, write_config

REPO = Path(__file__).resolve().parents[1]
MODULE = "g2p_payment_mpesa"
SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")


def odoo(python, config, *args, log=None):
    cmd = [python, "-c", ODOO_MAIN, "-c", str(config), *args]
    with open(log, "w") if log else open(os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in proc.stdout:
            out.write(line)
            lines.append(line)
            if (
                " ERROR " in line
                or " CRITICAL " in line
                or "FAIL:" in line
                or " WARNING " in line
                and "tests" in line
            ):
                sys.stdout.write(line)
        return proc.wait(), lines


# ---------------------------------------------------------------- fault drill (bench/fault_drill.py)
def fault_drill_stage(cluster, addons_path):
    """The two-node drill: 300 payments under every injected fault on two Odoo nodes behind a load
    balancer, the job runner's node SIGKILLed and the simulator restarted on the way, a ceiling of
    20 requests per second with reconciliation running, every logger at debug, 5% of results and
    their status answers lost (resolved by importing the simulator's statement). Then the same on
    a Vodacom market (Tanzania, the M-Pesa OpenAPI, results posted to the listener): the OpenAPI's
    faults, and the 5% lost left needing review (no statement import there), each one of them; and
    on Mozambique through Vodacom Mozambique's own API (results in the answers).
    Each on a database of its own in this cluster. True/False: both passed or not; None: no
    simulator Python."""
    sim_python = os.environ.get("MPESA_SIM_PYTHON") or str(REPO / ".venv/bin/python")
    if not Path(sim_python).exists():
        print(f"odoo suite: fault drill SKIPPED: no simulator Python at {sim_python}")
        return None
    sys.path.insert(0, str(REPO / "bench"))
    import fault_drill  # pylint: disable=import-outside-toplevel

    drills = (
        ("KE", "mpesa_fault_drill", {}, "5% of results lost and resolved by the statement import"),
        ("TZ", "mpesa_fault_drill_tz", {"market": "TZ", "openapi_b2c": "async"},
         "OpenAPI results at the listener, 5% of results lost and left needing review"),
        ("MZ", "mpesa_fault_drill_mz", {"market": "MZ", "api_family": "vodacom_mz"},
         "Vodacom Mozambique's own API, 5% of results lost and left needing review"),
    )  # fmt: skip
    passed = True
    for market, db, options, what in drills:
        print(f"odoo suite: fault drill ({market}), 300 payments, 2 nodes, 20 requests/s, one node killed, "
              f"one simulator restart, debug logs, {what}", flush=True)  # fmt: skip
        started = time.monotonic()
        try:
            ok, report = fault_drill.run(
                payments=300, addons_path=addons_path, sim_python=sim_python, crashes=1, sim_restarts=1,
                cluster=cluster, db=db, time_limit=180, nodes=2, workers=3, rate=20,
                log_level="debug", lost_results=0.05, **options,
            )  # fmt: skip
        except Exception as exc:  # a drill that cannot finish is a failed test, not a crashed runner
            ok, report = False, f"{type(exc).__name__}: {exc}"
        print(report)
        took = time.monotonic() - started
        print(f"odoo suite: fault drill ({market}) {'ok' if ok else 'FAILED'} in {took:.0f}s")
        passed = passed and ok
    return passed


def ui_stage(cluster, addons_path):
    """The admin's and approver's walk in the Odoo UI (scripts/odoo_ui_stage.py, Playwright in
    Debian's chromium). True/False: passed or not; None: no browser here (said loudly)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import odoo_ui_stage  # pylint: disable=import-outside-toplevel

    sim_python = os.environ.get("MPESA_SIM_PYTHON") or str(REPO / ".venv/bin/python")
    print("odoo suite: the Odoo UI walk (admin and approver, Playwright in Debian's chromium)", flush=True)
    started = time.monotonic()
    try:
        ok, report = odoo_ui_stage.run_walk(cluster=cluster, addons_path=addons_path, sim_python=sim_python)
    except Exception as exc:  # a walk that cannot run is a failed test, not a crashed runner
        ok, report = False, f"{type(exc).__name__}: {exc}"
    if ok is None:
        print(f"*** ODOO UI WALK SKIPPED: {report} ***")
        return None
    print(report)
    print(f"odoo suite: UI walk {'ok' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s")
    return ok


def module_tests(config, db, test_tags, root, demo):
    """Install the module into a new database and run its tests there: (passed, failed)."""
    label = "with demo data" if demo else "without demo data"
    log = root / f"odoo-test-{db}.log"
    print(f"odoo suite: installing {MODULE} {label} and running its tests (log: {log})", flush=True)
    demo_args = [] if demo else ["--without-demo=all"]
    rc, lines = odoo(
        sys.executable, config, "-d", db, "-i", MODULE, "--test-enable", f"--test-tags={test_tags}",
        "--stop-after-init", "--workers=0", *demo_args, log=log,
    )  # fmt: skip
    passed = failed = 0
    summary = [m for m in (SUMMARY.search(line) for line in lines) if m]
    if summary:
        fails, errors, total = (int(x) for x in summary[-1].groups())
        failed += fails + errors
        passed += max(total - fails - errors, 0)
    if rc != 0 and not failed:
        failed += 1
        print("".join(lines[-60:]))
        print(f"odoo exited with {rc} (install failed?)")
    if not summary or (passed + failed) == 0:
        print(f"ERROR: the Odoo suite ran no test {label}")
        failed += 1
    print(f"odoo suite {label}: {passed} passed, {failed} failed", flush=True)
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addons-path", required=True, help="comma-separated addons folders of OpenG2P")
    parser.add_argument("--keep", action="store_true", help="keep the cluster folder for inspection")
    parser.add_argument("--test-tags", default=f"/{MODULE}")
    parser.add_argument(
        "--quick", action="store_true",
        help="for developers: the module's tests without demo data only (no demo run, uninstall or drill)",
    )  # fmt: skip
    parser.add_argument(
        "--demo", action="store_true", help="with --quick: in a database with demo data instead"
    )
    args = parser.parse_args()

    # A CI time-out or Ctrl-C must still stop the cluster: turn SIGTERM into SystemExit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-odoo-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root / "pg")
    config = root / "odoo.conf"
    addons = [p for p in args.addons_path.split(",") if p] + [str(REPO)]
    # Demo data per database on the command line: OCA's CI and Odoo's default install with it.
    write_config(
        config, cluster, addons, root / "data", free_port(), log_level="info", max_cron_threads=0,
    )  # fmt: skip
    started = time.monotonic()
    passed = failed = 0
    try:
        cluster.start()
        variants = (("mpesa_test", False), ("mpesa_test_demo", True))
        if args.quick:
            variants = (variants[1],) if args.demo else (variants[0],)
        for db, demo in variants:
            ok, ko = module_tests(config, db, args.test_tags, root, demo)
            passed, failed = passed + ok, failed + ko
        db = "mpesa_test"
        if args.quick:
            print(f"odoo suite: {passed} passed, {failed} failed (quick: no demo run, uninstall or drill)")
            sys.exit(1 if failed else 0)

        # The addon must also leave cleanly.
        uninstall = (
            "m = env['ir.module.module'].search([('name', '=', '%s')]); m.button_immediate_uninstall(); "
            "env.cr.commit(); m.invalidate_recordset(); assert m.state == 'uninstalled', m.state; "
            "assert 'g2p.program.payment.manager.mpesa' not in env.registry; print('UNINSTALLED')"
        ) % MODULE
        proc = subprocess.run(
            [sys.executable, "-c", ODOO_MAIN, "shell", "-c", str(config), "-d", db, "--no-http"],
            input=uninstall, capture_output=True, text=True,
        )  # fmt: skip
        if "UNINSTALLED" in proc.stdout:
            passed += 1
            print("odoo suite: uninstall ok")
        else:
            failed += 1
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            print("odoo suite: uninstall FAILED")

        walk = ui_stage(cluster, args.addons_path)
        if walk is not None:
            passed, failed = passed + walk, failed + (not walk)

        drill = fault_drill_stage(cluster, args.addons_path)
        if drill is not None:
            passed, failed = passed + drill, failed + (not drill)
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"odoo suite took {time.monotonic() - started:.0f}s")
    print(f"odoo suite: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
