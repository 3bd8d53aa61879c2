"""Helpers shared by the tests of the Daraja wire code (no Odoo, no simulator)."""

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from mpesa_wire import TokenCache
from mpesa_wire.daraja import DarajaClient, DarajaConfig

FIXTURES = Path(__file__).parent / "fixtures" / "daraja"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture(name: str) -> dict:
    return json.loads(fixture_text(name))


_KEYS: dict[str, tuple] = {}


def key_and_certificate(name: str = "test") -> tuple[rsa.RSAPrivateKey, bytes, bytes]:
    """(private key, certificate PEM, certificate DER); generated once per name per session."""
    if name not in _KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048, backend=default_backend())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start = dt.datetime(2024, 1, 1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256(), default_backend())
        )
        _KEYS[name] = (
            key,
            cert.public_bytes(serialization.Encoding.PEM),
            cert.public_bytes(serialization.Encoding.DER),
        )
    return _KEYS[name]


def make_config(**overrides) -> DarajaConfig:
    values = {
        "base_url": "https://daraja.test",
        "consumer_key": "ck",
        "consumer_secret": "cs-SECRET",
        "shortcode": "600000",
        "initiator_name": "g2p_initiator",
        "initiator_password": "Init-PASSWORD",
        "certificate": key_and_certificate()[1],
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    values.update(overrides)
    return DarajaConfig(**values)


class FakeResponse:
    def __init__(self, status: int, body=None, headers: dict | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class FakeDaraja(BaseAdapter):
    """A requests transport answering from a script: no sockets, every request recorded.

    ``routes`` maps a URL path to a list of answers used in order (the last one repeats); an
    answer is a FakeResponse, an exception instance to raise, or a callable(request) -> either.
    """

    def __init__(self, routes: dict[str, list]):
        super().__init__()
        self.routes = {path: list(answers) for path, answers in routes.items()}
        self.requests: list[requests.PreparedRequest] = []
        self._lock = threading.Lock()

    def calls(self, path: str) -> list[requests.PreparedRequest]:
        return [r for r in self.requests if r.path_url.split("?")[0] == path]

    def send(self, request, **kwargs):
        path = request.path_url.split("?")[0]
        with self._lock:
            self.requests.append(request)
            answers = self.routes[path]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer) and not isinstance(answer, FakeResponse | Exception):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        if answer.body is None:
            response._content = b""
        elif isinstance(answer.body, bytes):
            response._content = answer.body
        else:
            response._content = json.dumps(answer.body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        response.reason = "Fake"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


TOKEN_OK = FakeResponse(200, {"access_token": "tok-1", "expires_in": "3599"})


def fake_client(routes: dict[str, list], config: DarajaConfig | None = None, **kwargs):
    """A DarajaClient over a FakeDaraja, with its own token cache. Returns (client, transport)."""
    transport = FakeDaraja(routes)
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    kwargs.setdefault("token_cache", TokenCache())
    client = DarajaClient(config or make_config(), session=session, **kwargs)
    return client, transport


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_threads(count: int, target: Callable[[], object]) -> list:
    """Run target in ``count`` threads released together; return the results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def work(index):
        barrier.wait()
        try:
            results[index] = target()
        except Exception as exc:  # surfaced to the test through the results
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
