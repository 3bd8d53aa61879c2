"""Test tooling: run a simulator process and receive its callbacks. Standard library only.

Imported both by the repository's tests and from Odoo's Python (which has no fastapi), so the
simulator always runs as a separate process, possibly under another interpreter (``python``).

    with start_simulator() as sim, CallbackSink() as sink:
        status, body = sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json={...}, token=sim.token())
        cb = sink.wait_for(lambda c: c.ocid == "my-id", timeout=10)
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http_json(
    method: str,
    url: str,
    json_body: Any = None,
    headers: dict | None = None,
    timeout: float = 30,
    data: bytes | None = None,
) -> tuple[int, Any]:
    """(status, parsed JSON or text) for any answer, error statuses included."""
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class RunningSimulator:
    """A simulator subprocess: its address, credentials and admin helpers."""

    def __init__(
        self,
        db_path: str,
        port: int,
        admin_token: str,
        python: str,
        extra_args: tuple,
        log_path: str,
        host: str = "127.0.0.1",
    ):
        self.db_path = db_path
        self.port = port
        self.admin_token = admin_token
        self.host = host
        self.base_url = f"http://{host}:{port}"
        self._python = python
        self._extra_args = tuple(extra_args)
        self._log_path = log_path
        self._process: subprocess.Popen | None = None
        self.consumer_key = self.consumer_secret = self.shortcode = None
        self.initiator_name = self.initiator_password = self.org_name = None
        # The market it serves (country, currency, USSD code, api_paths: role -> path), from
        # /sim/admin/info at start.
        self.market: dict = {}
        # An OpenAPI market's application: api_key, public_key, service_provider_code,
        # market_context, country, currency, path_prefix ({} in a Daraja market).
        self.openapi: dict = {}
        # Mozambique: Vodacom Mozambique's own API (v1x): api_key, public_key, service_provider_code,
        # initiator_identifier, security_credential, paths, ports, listening_ports ({} elsewhere).
        self.mz: dict = {}

    # -- process ----------------------------------------------------------------------------
    def start(self, timeout: float = 30) -> RunningSimulator:
        cmd = [
            self._python,
            "-m",
            "mpesa_sim",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            self.db_path,
            "--admin-token",
            self.admin_token,
            *self._extra_args,
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
        log = open(self._log_path, "ab")
        self._process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=_REPO_ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"simulator exited with {self._process.returncode}:\n{self.log()}")
            try:
                status, _ = http_json("GET", self.base_url + "/sim/certificate.pem", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"simulator did not answer within {timeout}s:\n{self.log()}")
            time.sleep(0.05)
        status, info = self.admin("GET", "/sim/admin/info")
        if status != 200:
            raise RuntimeError(f"admin info answered {status}: {info}")
        for name in (
            "consumer_key",
            "consumer_secret",
            "shortcode",
            "initiator_name",
            "initiator_password",
            "org_name",
        ):
            setattr(self, name, info[name])
        self.market = info.get("market") or {}
        self.openapi = info.get("openapi") or {}
        self.mz = info.get("mz") or {}
        return self

    @property
    def market_code(self) -> str:
        return self.market.get("code", "KE")

    def path(self, role: str) -> str:
        """This market's path of a Daraja role: token, b2c, status, balance, reversal (Kenya also
        b2c_v1, b2c_validate)."""
        return self.market["api_paths"][role]

    def stop(self) -> None:
        proc, self._process = self._process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> RunningSimulator:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        try:
            with open(self._log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-5000:]
        except OSError:
            return ""

    # -- HTTP helpers -----------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        token: str | None = None,
        headers: dict | None = None,
        **kw,
    ) -> tuple[int, Any]:
        """Any route; ``token`` adds ``Authorization: Bearer``."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return http_json(method, self.base_url + path, json, headers, **kw)

    def admin(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        return self.call(method, path, json=json, token=self.admin_token)

    def token(self) -> str:
        basic = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        token_path = (self.market.get("api_paths") or {}).get("token", "/oauth/v1/generate")
        status, body = self.call(
            "GET",
            token_path + "?grant_type=client_credentials",
            headers={"Authorization": f"Basic {basic}"},
        )
        if status != 200:
            raise RuntimeError(f"token request answered {status}: {body}")
        return body["access_token"]

    def app_settings(self) -> dict:
        """Where and as whom a client calls this simulator: the fields every client (the wire
        client's config, the addon's manager) is configured with. Daraja: consumer key and secret,
        shortcode, initiator; OpenAPI: api_key, public_key (base64 DER), service_provider_code,
        market_context, country, currency, path_prefix."""
        if self.openapi:
            return {"base_url": self.base_url, **self.openapi}
        return {
            "base_url": self.base_url,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "shortcode": self.shortcode,
            "initiator_name": self.initiator_name,
            "initiator_password": self.initiator_password,
        }

    def manager_settings(self, api_family: str | None = None) -> dict:
        """The connection fields of g2p_payment_mpesa's M-Pesa manager for this simulator, as an
        admin fills them in: Daraja's credentials and certificate, or the OpenAPI's API key, public
        key and ServiceProviderCode (sessions live at once: set the simulator's
        ``openapi_session_delay_seconds`` to 0 as well), or, with ``api_family="vodacom_mz"``,
        Vodacom Mozambique's own API: its API key and public key, the initiator for reversals, and
        every operation on this simulator's port (it serves each path on any port it listens on)."""
        if api_family == "vodacom_mz":
            if not self.mz:
                raise ValueError(f"the {self.market_code} simulator serves no Vodacom Mozambique API")
            return {
                "api_family": "vodacom_mz",
                "base_url": f"http://{self.host}",
                "vodacom_mz_ports": ",".join(f"{role}={self.port}" for role in ("b2c", "query", "reversal")),
                "api_key": self.mz["api_key"],
                "public_key": self.mz["public_key"],
                "shortcode": self.mz["service_provider_code"],
                "initiator_name": self.mz["initiator_identifier"],
                "initiator_password": self.mz["security_credential"],
            }
        if self.openapi:
            return {
                "base_url": self.base_url,
                "api_key": self.openapi["api_key"],
                "public_key": self.openapi["public_key"],
                "shortcode": self.openapi["service_provider_code"],
                "session_delay_seconds": 0,
            }
        return {**self.app_settings(), "certificate": base64.b64encode(self.certificate_pem()).decode()}

    def certificate_pem(self) -> bytes:
        with urllib.request.urlopen(self.base_url + "/sim/certificate.pem", timeout=10) as resp:
            return resp.read()

    def security_credential(self, password: str | None = None) -> str:
        """The initiator password encrypted as a client must (needs the cryptography package)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import padding

        key = x509.load_pem_x509_certificate(self.certificate_pem()).public_key()
        secret = (self.initiator_password if password is None else password).encode()
        return base64.b64encode(key.encrypt(secret, padding.PKCS1v15())).decode()

    # -- Vodacom OpenAPI markets ------------------------------------------------------------
    def openapi_path(self, api: str, prefix: str | None = None) -> str:
        """``/sandbox/ipg/v2/<context>/<api>/``, e.g. ``openapi_path("b2cPayment")``."""
        return f"{prefix or self.openapi['path_prefix']}/{self.openapi['market_context']}/{api}/"

    def openapi_bearer(self, secret: str) -> str:
        """The Bearer value for a secret (the API key or a SessionID): base64(RSA PKCS#1 v1.5).
        Needs the cryptography package."""
        from mpesa_sim.credentials import openapi_bearer

        return openapi_bearer(self.openapi["public_key"], secret)

    def openapi_session(self, api_key: str | None = None) -> str:
        """A new SessionID from getSession (live at once only if the test set
        ``openapi_session_delay_seconds`` to 0)."""
        status, body = self.call(
            "GET",
            self.openapi_path("getSession"),
            headers={"Authorization": "Bearer " + self.openapi_bearer(api_key or self.openapi["api_key"])},
        )
        if status != 200:
            raise RuntimeError(f"getSession answered {status}: {body}")
        return body["output_SessionID"]

    def openapi_call(
        self, method: str, api: str, session_id: str, json: Any = None, query: dict | None = None
    ) -> tuple[int, Any]:
        """One OpenAPI call with the session's Bearer, e.g. ``openapi_call("POST", "b2cPayment",
        sid, json={...})`` or ``openapi_call("GET", "queryTransactionStatus", sid, query={...})``."""
        path = self.openapi_path(api)
        if query:
            path += "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": "Bearer " + self.openapi_bearer(session_id), "Origin": "*"}
        return self.call(method, path, json=json, headers=headers)

    def set_faults(self, faults: dict | None = None, *, seed: int | None = None, **kinds: Any) -> dict:
        """Replace the fault switches, e.g. ``set_faults(sync_500={"rate": 0.5}, seed=7)``."""
        rules = dict(faults or {})
        rules.update(kinds)
        status, body = self.admin("PUT", "/sim/admin/faults", {"seed": seed, "faults": rules})
        if status != 200:
            raise ValueError(f"faults refused ({status}): {body}")
        return body

    def reset_faults(self) -> None:
        self.admin("POST", "/sim/admin/reset-faults")

    def set_config(self, **changes: Any) -> dict:
        status, body = self.admin("PUT", "/sim/admin/config", changes)
        if status != 200:
            raise ValueError(f"config refused ({status}): {body}")
        return body

    def seed(self, wallets: list[dict] | None = None, tills: list[dict] | None = None) -> dict:
        status, body = self.admin("POST", "/sim/admin/seed", {"wallets": wallets or [], "tills": tills or []})
        if status != 200:
            raise ValueError(f"seed refused ({status}): {body}")
        return body

    def transactions(self, **filters: Any) -> list[dict]:
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        return self.admin("GET", "/sim/admin/transactions" + ("?" + query if query else ""))[1]

    def drain(self, timeout: float = 10) -> None:
        """Wait until accepted requests are processed and their (undelayed) callbacks sent."""
        self.admin("POST", f"/sim/admin/drain?timeout={timeout}")


@contextlib.contextmanager
def start_simulator(
    db_path: str | None = None,
    port: int | None = None,
    admin_token: str = "test-admin-token",
    python: str = sys.executable,
    extra_args: tuple | list = (),
    market: str | None = None,
    host: str = "127.0.0.1",
    mz_ports: tuple | list = (),
) -> Iterator[RunningSimulator]:
    """Run ``python -m mpesa_sim serve`` on a free port (temp DB unless given) until the block ends.

    ``market`` "KE", "ET", "TZ", "CD", "LS", "GH" or "MZ" starts that market's simulator
    (``--market``); None: the database's own, Kenya for a new one. ``host``: the loopback address
    to bind (any 127.x.y.z works on Linux); ``mz_ports``: Mozambique's extra ports (``--mz-ports``).
    """
    workdir = tempfile.mkdtemp(prefix="mpesa-sim-")
    market_args = ("--market", market) if market else ()
    port_args = ("--mz-ports", ",".join(str(p) for p in mz_ports)) if mz_ports else ()
    sim = RunningSimulator(
        db_path or os.path.join(workdir, "sim.sqlite3"),
        port or free_port(host),
        admin_token,
        python,
        (*market_args, *port_args, *extra_args),
        os.path.join(workdir, "sim.log"),
        host=host,
    )
    try:
        yield sim.start()
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- callback receiver ----------------------------------------------------------------------------
@dataclasses.dataclass
class ReceivedCallback:
    path: str
    body: Any
    headers: dict
    received_at: float

    @property
    def result(self) -> dict:
        return self.body.get("Result", {}) if isinstance(self.body, dict) else {}

    @property
    def ocid(self) -> str | None:
        """The OriginatorConversationID of a Result envelope or of a request echo."""
        if not isinstance(self.body, dict):
            return None
        return self.result.get("OriginatorConversationID") or self.body.get("OriginatorConversationID")


class CallbackSink:
    """A local HTTP server recording every POST (JSON body, path); answers ``status`` (200).

    ``status`` may be changed at any time, for all paths or per path (``set_status``), and
    ``delay`` (seconds) slows every answer.
    """

    def __init__(self, status: int = 200):
        self.status = status
        self.delay = 0.0
        self._status_by_path: dict[str, int] = {}
        self._records: list[ReceivedCallback] = []
        self._cv = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                path = self.path
                with sink._cv:
                    sink._records.append(ReceivedCallback(path, body, dict(self.headers), time.time()))
                    sink._cv.notify_all()
                if sink.delay:
                    time.sleep(sink.delay)
                status = sink._status_by_path.get(path.split("?")[0], sink.status)
                answer = json.dumps({"ResponseCode": "00000000", "ResponseDesc": "success"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="callback-sink", daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def set_status(self, status: int, path: str | None = None) -> None:
        if path is None:
            self.status = status
        else:
            self._status_by_path[path] = status

    def received(self, path: str | None = None) -> list[ReceivedCallback]:
        with self._cv:
            return [r for r in self._records if path is None or r.path.split("?")[0] == path]

    def wait_for(
        self, predicate: Callable[[ReceivedCallback], bool] = lambda r: True, timeout: float = 10
    ) -> ReceivedCallback:
        """The first recorded callback matching ``predicate``; TimeoutError if none comes in time."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for record in self._records:
                    if predicate(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching callback within {timeout}s ({len(self._records)} received)"
                    )
                self._cv.wait(remaining)

    def wait_for_count(self, count: int, predicate: Callable = lambda r: True, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                matching = [r for r in self._records if predicate(r)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(matching)} of {count} callbacks within {timeout}s")
                self._cv.wait(remaining)

    def clear(self) -> None:
        with self._cv:
            self._records.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CallbackSink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
