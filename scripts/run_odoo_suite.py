"""Run the addon's Odoo tests in a throwaway PostgreSQL cluster, then uninstall the addon.

Run with a Python in which Odoo 17 is importable (scripts/odoo_suite.sh finds it). Prints one
closing line "odoo suite: N passed, N failed" and exits non-zero on any failure, or when no
test ran.
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = "g2p_payment_mpesa"
PG_BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"]
ODOO_MAIN = "import sys, odoo.cli; sys.argv[0] = 'odoo'; odoo.cli.main()"
SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_tool(name):
    for folder in PG_BIN_DIRS:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if not found:
        sys.exit(f"PostgreSQL's {name} is not installed (looked in {', '.join(PG_BIN_DIRS)} and PATH)")
    return found


class Cluster:
    """A PostgreSQL cluster of its own, on a free port of 127.0.0.1, deleted afterwards."""

    def __init__(self, root):
        self.root = Path(root)
        self.data = self.root / "pgdata"
        self.port = free_port()
        # PostgreSQL refuses to run as root: run it as an unprivileged account then.
        self.run_as = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue

    def _run(self, args):
        preexec = None
        if self.run_as:
            uid, gid = self.run_as.pw_uid, self.run_as.pw_gid

            def preexec():
                os.setgid(gid)
                os.setuid(uid)

        subprocess.run(args, check=True, preexec_fn=preexec, stdout=subprocess.DEVNULL, cwd=self.root)

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            os.chown(self.root, self.run_as.pw_uid, self.run_as.pw_gid)
        self._run(
            [
                pg_tool("initdb"),
                "-D",
                str(self.data),
                "-U",
                "odoo",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                pg_tool("pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.root / "pg.log"),
                "-w",
                "start",
            ]
        )
        return self

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self._run([pg_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])


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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addons-path", required=True, help="comma-separated addons folders of OpenG2P")
    parser.add_argument("--keep", action="store_true", help="keep the cluster folder for inspection")
    parser.add_argument("--test-tags", default=f"/{MODULE}")
    args = parser.parse_args()

    # A CI time-out or Ctrl-C must still stop the cluster: turn SIGTERM into SystemExit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-odoo-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root / "pg")
    config = root / "odoo.conf"
    addons = [p for p in args.addons_path.split(",") if p] + [str(REPO)]
    config.write_text(
        "[options]\n"
        f"db_host = 127.0.0.1\ndb_port = {cluster.port}\ndb_user = odoo\ndb_password = False\n"
        f"addons_path = {','.join(addons)}\ndata_dir = {root / 'data'}\n"
        f"http_interface = 127.0.0.1\nhttp_port = {free_port()}\n"
        "without_demo = all\nlog_level = info\nmax_cron_threads = 0\n"
    )
    started = time.monotonic()
    passed = failed = 0
    try:
        cluster.start()
        db = "mpesa_test"
        log = root / "odoo-test.log"
        print(f"odoo suite: installing {MODULE} and running its tests (log: {log})", flush=True)
        rc, lines = odoo(
            sys.executable, config, "-d", db, "-i", MODULE, "--test-enable", f"--test-tags={args.test_tags}",
            "--stop-after-init", "--workers=0", log=log,
        )  # fmt: skip
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
            print("ERROR: the Odoo suite ran no test")
            failed += 1

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
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"odoo suite took {time.monotonic() - started:.0f}s")
    print(f"odoo suite: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
