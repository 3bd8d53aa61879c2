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
