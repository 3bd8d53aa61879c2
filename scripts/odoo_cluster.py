"""A throwaway PostgreSQL cluster and an Odoo configuration for it (tests and the demo)."""

import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

PG_BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"]


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


# Runs Odoo's command line from whichever Python is given (Odoo may not have an odoo script).
ODOO_MAIN = "import sys, odoo.cli; sys.argv[0] = 'odoo'; odoo.cli.main()"


def odoo_server_command(python, folder):
    """The command that runs an Odoo server with workers.

    With workers, Odoo starts its websocket process as `python <argv[0]> gevent`: argv[0] must
    then be a real script, which `python -c` does not give, so one is written in `folder`.
    """
    launcher = Path(folder) / "odoo-launcher.py"
    launcher.write_text("import odoo.cli\nodoo.cli.main()\n")
    return [python, str(launcher)]


def write_config(path, cluster, addons, data_dir, http_port, **extra):
    lines = [
        "[options]",
        "db_host = 127.0.0.1",
        f"db_port = {cluster.port}",
        "db_user = odoo",
        "db_password = False",
        f"addons_path = {','.join(addons)}",
        f"data_dir = {data_dir}",
        "http_interface = 127.0.0.1",
        f"http_port = {http_port}",
    ]
    lines += [f"{key} = {value}" for key, value in extra.items() if not key.startswith("queue_job_")]
    queue = {k[len("queue_job_") :]: v for k, v in extra.items() if k.startswith("queue_job_")}
    if queue:
        lines += ["", "[queue_job]"] + [f"{key} = {value}" for key, value in queue.items()]
    Path(path).write_text("\n".join(lines) + "\n")
