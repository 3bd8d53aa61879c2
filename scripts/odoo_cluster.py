"""A throwaway PostgreSQL cluster and an Odoo configuration for it (tests and the demo)."""

import os
import pwd
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

PG_BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"]

# The addon imports the wire library (`mpesa_wire`, the folder mpesa-wire/ of this checkout). An
# admin installs it with pip; every Odoo that this repository's scripts start takes this checkout's
# copy first, through PYTHONPATH, so the tests always run the code beside them.
WIRE_LIB = Path(__file__).resolve().parents[1] / "mpesa-wire"
if str(WIRE_LIB) not in sys.path:
    sys.path.insert(0, str(WIRE_LIB))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [
        str(WIRE_LIB),
        *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(WIRE_LIB)),
    ]
)


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


def read_config(path):
    """The [options] of an Odoo configuration file written by write_config, as strings."""
    options, section = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "options" and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            options[key] = value
    return options


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


# ---------------------------------------------------------------- is every Odoo process serving?
GEVENT_FIX = (
    "Odoo's websocket worker (python odoo gevent) cannot start with this Python, so live updates "
    "(the bus: notifications, progress) stop and nothing in the UI says so. Usual cause on a "
    "hand-built venv: zope.event / zope.interface installed with metadata that setuptools<70's "
    "pkg_resources cannot find (gevent loads its plugins through pkg_resources). Fix, in Odoo's "
    "Python: pip install 'setuptools<70' 'wheel<0.41' && pip install --force-reinstall "
    "--no-build-isolation --no-cache-dir zope.interface==5.5.2 zope.event==4.6 ; check with "
    "python -c 'import gevent.monkey; gevent.monkey.patch_all()'"
)
CRASH_MARKERS = ("DistributionNotFound", "VersionConflict")


class OdooUnhealthy(RuntimeError):
    """An Odoo process that was started is not alive and serving; the message says why and how to fix."""


def gevent_problem(python):
    """None when Odoo's websocket worker can start with `python`; otherwise the error it dies of."""
    code = "import gevent.monkey; gevent.monkey.patch_all(); import psycopg2"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _answers_http(host, port, path, timeout=5.0):
    """The HTTP status a server on host:port gives for GET path, or None when nothing answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            first = sock.recv(64).decode("latin-1")
    except OSError:
        return None
    parts = first.split()
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith("HTTP/") and parts[1].isdigit() else None


def check_odoo_serving(proc, http_port, gevent_port=None, log_path=None, timeout=120, settle=3.0):
    """Fail loudly unless the main process lives, an HTTP worker answers /web/login and, with
    workers, the websocket (gevent) process answers on its port, still after `settle` seconds
    (a crash-looping worker comes and goes)."""

    def log_tail():
        if not log_path or not Path(log_path).exists():
            return ""
        lines = Path(log_path).read_text(errors="replace").splitlines()
        marked = [line for line in lines if any(marker in line for marker in CRASH_MARKERS)]
        return "\n".join((marked or lines)[-15:])

    def fail(what, fix=""):
        raise OdooUnhealthy(
            f"Odoo is not serving: {what}.\n{fix}\nlast log lines ({log_path}):\n{log_tail()}".strip()
        )

    deadline = time.monotonic() + timeout
    checks = [("the HTTP workers", http_port, "/web/login")]
    if gevent_port:
        checks.append(("the websocket (gevent) worker", gevent_port, "/websocket"))
    for name, port, path in checks:
        while _answers_http("127.0.0.1", port, path) is None:
            if proc.poll() is not None:
                fail(f"the main process exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                fail(f"{name} never answered on port {port}", GEVENT_FIX if "gevent" in name else "")
            time.sleep(0.3)
    time.sleep(settle)
    if proc.poll() is not None:
        fail(f"the main process exited with code {proc.returncode}")
    tail = log_tail()
    if any(marker in tail for marker in CRASH_MARKERS):
        fail("a worker crashed at start", GEVENT_FIX)
    for name, port, path in checks:
        if _answers_http("127.0.0.1", port, path) is None:
            fail(
                f"{name} stopped answering on port {port} (crash loop?)",
                GEVENT_FIX if "gevent" in name else "",
            )


class ServedInThread:
    """Start and stop of a socketserver served by a daemon thread (the proxies of the tests)."""

    _server = None

    def _serve(self, server, name):
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class WebsocketRouter(ServedInThread):
    """What nginx does in front of an Odoo with workers: /websocket to the evented (gevent) port,
    everything else to the HTTP port. Odoo's prefork HTTP workers refuse websockets ("Couldn't
    bind the websocket. Is the connection opened on the evented port?"), so without this a browser
    gets no bus: no live updates, no notifications. TCP level: each connection goes, whole, where
    its first request line says (browsers open a websocket on a connection of its own)."""

    def __init__(self, http_port, gevent_port, port, host="127.0.0.1"):
        self.http_port, self.gevent_port = http_port, gevent_port
        self.address = (host, port)

    @property
    def url(self):
        return f"http://{self.address[0]}:{self.address[1]}"

    @staticmethod
    def _pump(source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _handle(self, client):
        head = b""
        try:
            while b"\r\n" not in head and len(head) < 8192:
                chunk = client.recv(4096)
                if not chunk:
                    client.close()
                    return
                head += chunk
            parts = head.split(b"\r\n", 1)[0].split()
            path = parts[1] if len(parts) > 1 else b"/"
            port = self.gevent_port if path.startswith(b"/websocket") else self.http_port
            upstream = socket.create_connection((self.address[0], port), timeout=10)
            upstream.settimeout(None)
            upstream.sendall(head)
        except OSError:
            client.close()
            return
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join(5)
        client.close()
        upstream.close()

    def start(self):
        router = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                router._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True

            def handle_error(self, request, client_address):  # a caller hanging up is no news
                pass

        return self._serve(Server(self.address, Handler), "ws-router")
