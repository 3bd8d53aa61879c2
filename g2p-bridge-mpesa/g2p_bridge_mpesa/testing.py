"""Test tooling: a throwaway PostgreSQL cluster and Redis server, a key-manager stand-in that
really verifies detached JWS signatures, and a partner that signs its requests.

Standard library, psycopg2 and cryptography only (no G2P Bridge import): the repository's test
venv and the bridge's venv both import it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/bin")


class Unavailable(RuntimeError):
    """Something a test needs cannot be had on this machine (the message says what)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_tool(name: str) -> str:
    for folder in PG_BIN_DIRS:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if not found:
        raise Unavailable(
            f"PostgreSQL's {name} is not installed (looked in {', '.join(PG_BIN_DIRS)} and PATH)"
        )
    return found


class PgCluster:
    """A PostgreSQL cluster of its own on a free port of 127.0.0.1 (trust auth, user ``bridge``),
    deleted at stop. As root it runs as ``postgres`` (PostgreSQL refuses root)."""

    def __init__(self, root: str | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="mpesa-bridge-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.user = "bridge"
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

        subprocess.run(
            args,
            check=True,
            preexec_fn=preexec,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
        )

    def start(self) -> PgCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            os.chown(self.root, self.run_as.pw_uid, self.run_as.pw_gid)
        self._run(
            [
                pg_tool("initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
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

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.dsn(name)

    def stop(self):
        with contextlib.suppress(Exception):
            if (self.data / "postmaster.pid").exists():
                self._run([pg_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RedisServer:
    """Debian's redis-server on a free port of 127.0.0.1, no persistence."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise Unavailable("redis-server is not installed (apt-get install -y redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        self.stop()
        raise Unavailable("redis-server did not answer")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def bridge_parse(text: str):
    """An MT940 statement read exactly as G2P Bridge 1.1.0's ``mt940_processor`` reads it (the
    ``mt-940`` library, the same tags and processors). Iterate it for the ``:61:`` lines."""
    import mt940

    account = mt940.tags.AccountIdentification()
    number = mt940.tags.StatementNumber()
    reference = mt940.tags.TransactionReferenceNumber()
    statement = mt940.tags.Statement()
    parsed = mt940.models.Transactions(
        processors={"pre_statement": [mt940.processors.add_currency_pre_processor("")]},
        tags={tag.id: tag for tag in (account, number, reference, statement)},
    )
    parsed.parse(text)
    return parsed


# ------------------------------------------------------------------ JWS (RS256, detached)
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def canonical(body) -> bytes:
    """What G2P Connect's validator signs over: the JSON with no spaces (json.dumps separators)."""
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def detached_jws(key, body) -> str:
    """``header..signature`` over the canonical JSON, as the bridge's partners and workers send it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(canonical(body))
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}..{b64url(signature)}"


def verify_jws(public_key, jwt: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header, payload, signature = jwt.split(".")
        if json.loads(b64url_decode(header)).get("alg") != "RS256":
            return False
        public_key.verify(
            b64url_decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return True
    except (InvalidSignature, ValueError):
        return False


class KeyManagerStandIn:
    """STAND-IN for OpenG2P's key manager (MOSIP keymanager behind eSignet's OAuth), minimal:

    - ``POST /oauth/token``: a client-credentials token (any client);
    - ``POST /jwtVerify``: checks the ``jwtSignatureData`` (the JWS the validator rebuilt from the
      request body) against the public key registered for the request's ``referenceId``
      (``PARTNER_<SENDER_ID>``) and answers ``signatureValid``. A real RS256 verification, not a
      blanket "valid": a request signed with another key, or whose body changed, is refused.

    Every verification is recorded in ``verified`` (reference id, valid) for the tests.
    """

    def __init__(self):
        self.keys: dict[str, object] = {}
        self.verified: list[tuple[str, bool]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/oauth/token"):
                    return self._json(
                        {"access_token": "stand-in-token", "token_type": "Bearer", "expires_in": 3600}
                    )
                if self.path.startswith("/jwtVerify"):
                    request = (json.loads(raw or b"{}") or {}).get("request") or {}
                    reference = str(request.get("referenceId") or "")
                    key = stand_in.keys.get(reference)
                    valid = bool(key) and verify_jws(key, str(request.get("jwtSignatureData") or ""))
                    stand_in.verified.append((reference, valid))
                    return self._json(
                        {"response": {"signatureValid": valid, "trustValid": "TRUST_NOT_VERIFIED"}}
                    )
                return self._json({"error": "not found"}, 404)

            def _json(self, payload, status=200):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, name="key-manager-stand-in", daemon=True).start()

    def register(self, sender_id: str, private_key) -> None:
        """The partner ``sender_id`` signs with ``private_key`` (its public half is registered)."""
        self.keys["PARTNER_" + sender_id.replace("-", "_").upper()] = private_key.public_key()

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth/token"

    @property
    def verify_url(self) -> str:
        return self.base_url + "/jwtVerify"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ a real G2P Bridge 1.1.0
# The PyPI wheels carry no main.py: these are the launchers OpenG2P's images run.
_API_MAIN = """\
from openg2p_g2p_bridge_api.app import Initializer

initializer = Initializer()
app = initializer.return_app()

if __name__ == "__main__":
    initializer.main()
"""
_SPAR_MAIN = _API_MAIN.replace("openg2p_g2p_bridge_api", "openg2p_spar_mapper_api")
_BEAT_MAIN = """\
from openg2p_g2p_bridge_celery_beat_producers.app import Initializer, celery_app

initializer = Initializer()
"""

# The mobile wallet address SPAR holds (its own strategy's shape), deconstructed into the FAKeys
# 1.1.0's resolve helper knows: the number, the wallet provider (SPAR's provider code) and the type.
MOBILE_WALLET_FA = (
    "mobile_number:{mobile_number}.wallet_provider_name:{name}.wallet_provider_code:{code}"
    ".fa_type:MOBILE_WALLET"
)
MOBILE_WALLET_DECONSTRUCT = (
    r"^mobile_number:(?P<mobile_number>[^.]+)\.wallet_provider_name:[^.]*"
    r"\.wallet_provider_code:(?P<mobile_wallet_provider>[^.]+)\.fa_type:(?P<fa_type>MOBILE_WALLET)$"
)


def _env_line(name: str, value) -> str:
    text = str(value)
    if "\n" in text or " " in text or "'" in text or '"' in text or "{" in text:
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name}={text}\n"


class BridgeStack:
    """G2P Bridge 1.1.0 as deployed: the partner API, the Celery beat producers, the Celery
    workers (with the M-Pesa connector registered: ``g2p_bridge_mpesa.worker``), OpenG2P's SPAR
    mapper 1.1.0, and the connector's own service (listener + statements), each a process of its
    own reading a ``.env`` in its working directory. ``python`` is the bridge's venv."""

    BRIDGE_DB = "openg2p_g2p_bridge_db"
    SPAR_DB = "openg2p_spar_db"
    WORKER_SENDER_ID = "g2p-bridge"

    def __init__(
        self,
        root,
        pg: PgCluster,
        redis: RedisServer,
        key_manager: KeyManagerStandIn,
        python: str,
        banks,
        overrides: dict | None = None,
    ):
        self.root = Path(root)
        # {"beat" | "worker" | "api" | "spar": {NAME: value}, "connector": {NAME: value}}: extra
        # settings (a drill's shorter timings); "connector" reaches the workers and ``serve``.
        self.overrides = overrides or {}
        self.pg, self.redis, self.keys, self.python = pg, redis, key_manager, python
        self.banks = banks  # {code: bank settings dict}
        self.api_port, self.spar_port, self.connector_port = free_port(), free_port(), free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.worker_key = new_rsa_key()
        key_manager.register(self.WORKER_SENDER_ID, self.worker_key)

    # -- addresses
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def spar_url(self) -> str:
        return f"http://127.0.0.1:{self.spar_port}"

    @property
    def connector_url(self) -> str:
        return f"http://127.0.0.1:{self.connector_port}"

    def dsn(self, driver: str = "postgresql", db: str | None = None) -> str:
        return f"{driver}://{self.pg.user}@127.0.0.1:{self.pg.port}/{db or self.BRIDGE_DB}"

    # -- configuration
    def connector_env(self, loop_seconds=1.0) -> dict:
        env = {
            "G2P_BRIDGE_MPESA_DB_DATASOURCE": self.dsn(),
            "G2P_BRIDGE_MPESA_BRIDGE_API_URL": self.api_url,
            "G2P_BRIDGE_MPESA_LISTEN_PORT": self.connector_port,
            "G2P_BRIDGE_MPESA_LOOP_SECONDS": loop_seconds,
            "G2P_BRIDGE_MPESA_RECONCILE_AFTER_SECONDS": 5,
            "G2P_BRIDGE_MPESA_STATUS_QUERY_INTERVAL_SECONDS": 2,
            "G2P_BRIDGE_MPESA_UNKNOWN_CHECK_SECONDS": 1,
            "G2P_BRIDGE_MPESA_BALANCE_WAIT_SECONDS": 15,
            **self.overrides.get("connector", {}),
        }
        for code, bank in self.banks.items():
            env[f"G2P_BRIDGE_MPESA_BANK_{code}"] = json.dumps(
                {"callback_base_url": self.connector_url, **bank}
            )
        return env

    def _write(self, name: str, env: dict, main: str | None = None) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        if name != "connector":
            env = {**env, **self.overrides.get(name, {})}
        (folder / ".env").write_text("".join(_env_line(key, value) for key, value in env.items()))
        if main:
            (folder / "main.py").write_text(main)
        return folder

    def configure(self):
        oauth = {"OAUTH_TOKEN_URL": self.keys.token_url, "JWT_VERIFY_URL": self.keys.verify_url}
        self._write(
            "api",
            {
                "G2P_BRIDGE_DB_DATASOURCE": self.dsn("postgresql+asyncpg"),
                "G2P_BRIDGE_HOST": "127.0.0.1",
                "G2P_BRIDGE_PORT": self.api_port,
                **{f"G2P_BRIDGE_{k}": v for k, v in oauth.items()},
            },
            _API_MAIN,
        )
        self._write(
            "spar",
            {
                "SPAR_MAPPER_DB_DATASOURCE": self.dsn("postgresql+asyncpg", self.SPAR_DB),
                "SPAR_MAPPER_HOST": "127.0.0.1",
                "SPAR_MAPPER_PORT": self.spar_port,
                **{f"SPAR_MAPPER_{k}": v for k, v in oauth.items()},
            },
            _SPAR_MAIN,
        )
        celery = {"CELERY_BROKER_URL": self.redis.url, "CELERY_BACKEND_URL": self.redis.url}
        beat = {
            "G2P_BRIDGE_CELERY_BEAT_DB_DATASOURCE": self.dsn(),
            "G2P_BRIDGE_CELERY_BEAT_PROCESS_FUTURE_DISBURSEMENT_SCHEDULES": "true",
            **{f"G2P_BRIDGE_CELERY_BEAT_{k}": v for k, v in celery.items()},
        }
        for name in (
            "MAPPER_RESOLVE",
            "FUNDS_AVAILABLE_CHECK",
            "FUNDS_BLOCKED",
            "FUNDS_DISBURSEMENT",
            "MT940_PROCESSOR",
        ):
            beat[f"G2P_BRIDGE_CELERY_BEAT_{name}_FREQUENCY"] = 2
        self._write("beat", beat, _BEAT_MAIN)
        self._write(
            "worker",
            {
                "G2P_BRIDGE_CELERY_WORKERS_DB_DATASOURCE": self.dsn(),
                **{f"G2P_BRIDGE_CELERY_WORKERS_{k}": v for k, v in celery.items()},
                "G2P_BRIDGE_CELERY_WORKERS_MAPPER_RESOLVE_API_URL": self.spar_url + "/sync/resolve",
                "G2P_BRIDGE_CELERY_WORKERS_PRIVATE_KEY": private_pem(self.worker_key),
                "G2P_BRIDGE_CELERY_WORKERS_SENDER_ID": self.WORKER_SENDER_ID,
                # 1.1.0 trap: the resolve helper reads this undeclared key; only a .env entry
                # reaches it (an environment variable of that name is ignored).
                "G2P_BRIDGE_CELERY_WORKERS_MOBILE_WALLET_FA_DECONSTRUCT_STRATEGY": MOBILE_WALLET_DECONSTRUCT,
                **self.connector_env(),
            },
        )
        self._write("connector", self.connector_env())

    # -- processes
    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("G2P_", "SPAR_", "COMMON_"))}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _run(self, name: str, args: list[str], folder: str):
        cwd = self.root / folder
        log = open(self.root / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            args, cwd=cwd, env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def migrate(self):
        for folder in ("api", "spar"):
            done = subprocess.run(
                [self.python, "main.py", "migrate"],
                cwd=self.root / folder,
                env=self._env(),
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise RuntimeError(f"{folder} migrate failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        subprocess.run(
            [self.python, "-m", "g2p_bridge_mpesa", "migrate"],
            cwd=self.root / "connector",
            env=self._env(),
            check=True,
            capture_output=True,
        )

    def start(self):
        self.pg.create_database(self.BRIDGE_DB)
        self.pg.create_database(self.SPAR_DB)
        self.configure()
        self.migrate()
        celery = [self.python, "-m", "celery"]
        self._run("spar", [self.python, "main.py", "run"], "spar")
        self._run("api", [self.python, "main.py", "run"], "api")
        self._run(
            "beat",
            [*celery, "-A", "main.celery_app", "worker", "--beat", "-Q", "celery", "--concurrency", "1",
             "--loglevel", "INFO", "-s", str(self.root / "beat" / "schedule")],
            "beat",
        )  # fmt: skip
        self.start_worker()
        self._run("connector", [self.python, "-m", "g2p_bridge_mpesa", "serve"], "connector")
        self.wait_http(self.spar_url + "/openapi.json", "spar")
        self.wait_http(self.api_url + "/openapi.json", "api")
        self.wait_http(self.connector_url + "/health", "connector")
        return self

    def start_worker(self):
        """The bridge's Celery workers, with the M-Pesa connector registered."""
        self._run(
            "worker",
            [self.python, "-m", "celery", "-A", "g2p_bridge_mpesa.worker.celery_app", "worker",
             "-Q", "g2p_bridge_celery_worker_tasks", "--concurrency", "2", "--loglevel", "INFO"],
            "worker",
        )  # fmt: skip

    def kill_worker(self):
        """SIGKILL the Celery workers, their pool's children included, as a crashed pod."""
        import signal

        process = self.processes["worker"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def wait_http(self, url: str, name: str, timeout: float = 60):
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log(name)[-4000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.2)
        raise TimeoutError(f"{name} did not answer at {url}:\n{self.log(name)[-4000:]}")

    def log(self, name: str | None = None) -> str:
        names = [name] if name else sorted(self.processes)
        text = []
        for item in names:
            path = self.root / f"{item}.log"
            if path.exists():
                text.append(f"==== {item}\n" + path.read_text(errors="replace"))
        return "\n".join(text)

    def stop(self):
        import signal

        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


class Partner:
    """A G2P Connect partner (PBMS, a registry) that signs its requests with its own key."""

    def __init__(self, sender_id: str, key_manager: KeyManagerStandIn):
        self.sender_id = sender_id
        self.key = new_rsa_key()
        key_manager.register(sender_id, self.key)

    def request(self, action: str, message, total_count: int = 1) -> dict:
        import datetime as _dt

        return {
            "header": {
                "version": "1.0.0",
                "message_id": uuid_hex(),
                "message_ts": _dt.datetime.now().isoformat(),
                "action": action,
                "sender_id": self.sender_id,
                "sender_uri": "",
                "receiver_id": "",
                "total_count": total_count,
                "is_msg_encrypted": False,
            },
            "message": message,
        }

    def post(self, url: str, action: str, message, total_count: int = 1, sign: bool = True):
        import urllib.error
        import urllib.request

        body = self.request(action, message, total_count)
        data = canonical(body)
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["Signature"] = detached_jws(self.key, body)
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex
