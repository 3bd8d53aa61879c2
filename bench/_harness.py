"""What the bench scripts share: OpenG2P's addons path, an Odoo server with queue_job workers in a
process group of its own, XML-RPC, `odoo shell`, direct SQL on the throwaway cluster, and the
resident memory of Odoo's processes.

Run from the OpenG2P Python (Odoo 17 importable). Standard library plus psycopg2 (which Odoo
needs anyway); mpesa_sim.testing is imported from the checkout for the simulator.
"""

import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / "scripts", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from odoo_cluster import (  # noqa: E402,F401  (re-exported for the bench scripts)
    GEVENT_FIX,
    ODOO_MAIN,
    Cluster,
    OdooUnhealthy,
    check_odoo_serving,
    free_port,
    gevent_problem,
    odoo_server_command,
    read_config,
    write_config,
)

from mpesa_sim import markets as sim_markets  # noqa: E402  (standard library only)
from mpesa_sim.testing import RunningSimulator  # noqa: E402,F401  (standard library only)

MODULE = "g2p_payment_mpesa"
ADMIN = ("admin", "admin")
BENCH_ADDONS = REPO / "bench" / "odoo_addons"


class BenchError(RuntimeError):
    pass


# The start of every set-up script run through `odoo shell` (`odoo_run(..., command="shell")`):
# the parameters (json in %(params)r), an environment that skips chatter tracking, the public URL
# callbacks are addressed to, and the currency and country the registrants are paid in.
SHELL_PRELUDE = r"""
import json
import uuid
from odoo import fields
P = json.loads(%(params)r)
env = env(context=dict(env.context, tracking_disable=True, mail_create_nolog=True, mail_notrack=True))
icp = env["ir.config_parameter"].sudo()
icp.set_param("web.base.url", P["odoo_url"])
icp.set_param("web.base.url.freeze", "True")
kes = env.ref("base.KES")
kes.active = True
kenya = env.ref("base.ke")
"""


@dataclass(frozen=True)
class MarketData:
    """What the drill and the bench need of a market, from the simulator's market data
    (mpesa_sim/markets.py): currency, numbers, limits, API family."""

    code: str
    currency: str
    country_code: str
    national_length: int
    prefixes: tuple  # the first two digits of the market's M-Pesa numbers
    min_amount: int
    max_amount: int
    openapi: bool

    @classmethod
    def of(cls, code):
        m = sim_markets.get(code)
        filler = "0" * (m.national_length - 2)
        prefixes = tuple(p for p in map(str, range(10, 100)) if m.mobile.match(m.country_code + p + filler))
        return cls(m.code, m.currency, m.country_code, m.national_length, prefixes,
                   int(m.limits["min_amount"]), int(m.limits["max_amount"]), m.is_openapi)  # fmt: skip

    def phone(self, i):
        """The i-th registrant's number as a registration officer types it: distinct numbers of the
        market's M-Pesa. Kenya: Safaricom 0711..., as ever."""
        if self.code == "KE":
            return f"0711{i:06d}"
        # The country's trunk prefix as people type it: Tanzania's 0; Lesotho and Mozambique have none.
        trunk = phonenumbers.PhoneMetadata.metadata_for_region(self.code).national_prefix or ""
        return f"{trunk}{self.prefixes[i % len(self.prefixes)]}{i:0{self.national_length - 2}d}"

    def beneficiaries(self, count, seed):
        """(phone, amount) per registrant, amounts that vary with the seed."""
        return [(self.phone(i), 100 + ((i * 37 + seed) % 50) * 10) for i in range(count)]

    def msisdn(self, phone):
        return self.country_code + (phone[1:] if phone.startswith("0") else phone)


def default_addons_path():
    """OpenG2P's addons folders, as scripts/openg2p_env.sh finds them."""
    if os.environ.get("OPENG2P_ADDONS_PATH"):
        return os.environ["OPENG2P_ADDONS_PATH"]
    home = Path(os.environ.get("OPENG2P_HOME", "/opt/openg2p"))
    site = sysconfig.get_paths()["purelib"]
    return ",".join(
        [str(home / "odoo/odoo/addons"), f"{site}/odoo/addons", str(home / "openg2p-registry"),
         str(home / "openg2p-program")]
    )  # fmt: skip


def default_sim_python():
    return os.environ.get("MPESA_SIM_PYTHON") or str(REPO / ".venv/bin/python")


def wait_http(url, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise BenchError(f"{what} did not answer at {url} within {timeout}s")


def odoo_run(config, *args, command=None, stdin=None, timeout=3600):
    """One Odoo command (install, shell) from this Python; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", ODOO_MAIN, *([command] if command else []), "-c", str(config), *args],
        input=stdin, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


class OdooServer:
    """The Odoo server (workers, cron, queue_job runner) in a process group of its own."""

    def __init__(self, config, db, log_path, url):
        self.config, self.db, self.log_path, self.url = config, db, log_path, url
        self.proc = None

    def start(self, timeout=120):
        """Start the server and return once every process of it is alive and serving (HTTP
        workers and, with workers, the websocket process); BenchError with the cause otherwise."""
        self.spawn()
        return self.wait_serving(timeout)

    def spawn(self):
        options = read_config(self.config)
        if int(options.get("workers") or 0) and (problem := gevent_problem(sys.executable)):
            raise BenchError(f"{problem}\n{GEVENT_FIX}")
        command = odoo_server_command(sys.executable, Path(self.config).parent)
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [*command, "-c", str(self.config), "-d", self.db],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def wait_serving(self, timeout=120):
        options = read_config(self.config)
        workers = int(options.get("workers") or 0)
        gevent_port = int(options.get("gevent_port") or 8072) if workers else None  # 8072: Odoo's default
        try:
            http_port = int(options["http_port"])
            check_odoo_serving(self.proc, http_port, gevent_port, self.log_path, timeout=timeout)
        except OdooUnhealthy as exc:
            self.kill()
            raise BenchError(str(exc)) from None
        return self

    def kill(self):
        """SIGKILL the whole group: main process, HTTP and cron workers, the job runner."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.proc = None

    def processes(self):
        """{pid: role} of the server's process group: main, worker (HTTP, runs jobs), cron, gevent."""
        if not self.proc:
            return {}
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.proc.pid:  # process group id
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            pid = int(entry)
            if pid == self.proc.pid:
                found[pid] = "main"
            elif "gevent" in cmdline:
                found[pid] = "gevent"
            else:
                found[pid] = "worker"  # HTTP or cron worker; /proc cannot tell them apart cheaply
        return found


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples the RSS of an Odoo server's processes while a phase runs; keeps each one's peak.

    Usage: `with RssSampler(server) as rss: ...`, then rss.peak("worker") / rss.peak("main") in MiB.
    """

    def __init__(self, server, interval=0.2):
        self.server, self.interval = server, interval
        self.peaks = {}  # pid -> (role, KiB)
        self._stop = threading.Event()
        self._thread = None

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self):
        for pid, role in self.server.processes().items():
            kib = rss_kib(pid)
            if kib > self.peaks.get(pid, (role, 0))[1]:
                self.peaks[pid] = (role, kib)

    def peak(self, role="worker"):
        values = [kib for r, kib in self.peaks.values() if r == role]
        return max(values) / 1024 if values else 0.0

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rss-sampler")
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


class Rpc:
    """XML-RPC as admin; a fresh proxy per call so threads may share it."""

    def __init__(self, url, db, timeout=None):
        self.url, self.db, self.timeout = url, db, timeout
        self.uid = None

    def __call__(self, model, method, *args, **kw):
        proxy = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/object", allow_none=True)
        if self.uid is None:
            common = xmlrpc.client.ServerProxy(f"{self.url}/xmlrpc/2/common")
            self.uid = common.authenticate(self.db, *ADMIN, {})
        return proxy.execute_kw(self.db, self.uid, ADMIN[1], model, method, list(args), kw)


class Sql:
    """Progress queries straight on the cluster (polling through Odoo would take the very worker
    slots being measured), and the scale bench's database copies."""

    def __init__(self, cluster, db):
        import psycopg2  # pylint: disable=import-outside-toplevel  (only with Odoo's Python)

        self.conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="odoo", dbname=db)
        self.conn.autocommit = True

    def one(self, query, params=()):
        with self.conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchone()

    def run(self, query, params=()):
        """A statement with no result (autocommit: CREATE DATABASE too)."""
        with self.conn.cursor() as cr:
            cr.execute(query, params)

    def all(self, query, params=()):
        with self.conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall()

    def close(self):
        self.conn.close()


def load_average():
    return os.getloadavg()[0]


def wait_for_quiet(max_load, max_wait, say=print):
    """Wait (bounded) until the 1-minute load is below max_load: other work distorts timings."""
    deadline = time.monotonic() + max_wait
    while load_average() >= max_load and time.monotonic() < deadline:
        say(f"load {load_average():.2f} >= {max_load}: waiting for a quieter machine")
        time.sleep(15)
    return load_average()


def cpu_seconds(pid):
    """User + system CPU seconds a process has used, with those of its children that have exited
    and been waited for (0 when it is gone). Odoo recycles a worker after `limit_request`
    requests and PostgreSQL's backends end with their connections: their time is then counted in
    their parent's (Odoo's main process, the postmaster)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def children_of(ppid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


class CpuMeter:
    """CPU seconds used by the simulator, Odoo's processes and PostgreSQL while a phase runs:
    where a 2-core machine's time went. A process that exits during the phase is counted through
    its parent's waited-for children (see cpu_seconds); one not waited for yet is not."""

    def __init__(self, server, sim, cluster):
        self.server, self.sim, self.cluster = server, sim, cluster

    def _pids(self):
        groups = {"odoo": list(self.server.processes()), "simulator": [], "postgres": []}
        proc = getattr(self.sim, "_process", None)
        if proc is not None:
            groups["simulator"] = [proc.pid]
        try:
            postmaster = int((Path(self.cluster.data) / "postmaster.pid").read_text().split()[0])
            groups["postgres"] = [postmaster, *children_of(postmaster)]
        except (OSError, ValueError, IndexError, AttributeError):
            pass
        return groups

    def snapshot(self):
        return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in self._pids().items()}

    @staticmethod
    def used(before, after):
        # Totals, not per process: a process gone since `before` is in its parent's total now.
        return {name: sum(pids.values()) - sum(before.get(name, {}).values()) for name, pids in after.items()}
