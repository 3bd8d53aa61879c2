"""The connector's result listener: where M-Pesa posts B2C results, queue timeouts, status and
balance results, at ``/mpesa/<sponsor bank code>/<callback secret>/<kind>[/<request id>]``.

Authenticated like the Odoo addon's callbacks: the secret in the URL we gave M-Pesa, compared in
constant time; idempotent (the same result twice changes nothing); a result that does not match
its payment (amount, number, ConversationID) is refused and logged, never applied. No log line
holds the path (it holds the secret) or the body (it names a customer).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mpesa_wire import MalformedPayload

from .engine import CallbackRefused, Engine
from .settings import MpesaBridgeSettings

_logger = logging.getLogger(__name__)

KINDS = ("result", "timeout", "status", "balance")
MAX_BODY = 1 << 20


class Listener:
    def __init__(self, settings: MpesaBridgeSettings, host: str | None = None, port: int | None = None):
        self.settings = settings
        self.engines = {code: Engine(settings, code, bank) for code, bank in settings.banks.items()}
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path == "/health":
                    return self._answer(200, {"status": "ok"})
                return self._answer(404, {"status": "not found"})

            def do_POST(self):
                status, answer = listener.handle(self.path, self._body(), self.client_address[0])
                self._answer(status, answer)

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(min(length, MAX_BODY)) if length else b""

            def _answer(self, status, payload):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):  # the request line holds the secret: never logged
                pass

        self.server = ThreadingHTTPServer(
            (host or settings.listen_host, settings.listen_port if port is None else port), Handler
        )
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = None

    def handle(self, path: str, raw: bytes, source: str) -> tuple[int, dict]:
        parts = [part for part in path.split("?", 1)[0].split("/") if part]
        if len(parts) not in (4, 5) or parts[0] != "mpesa" or parts[3] not in KINDS:
            return 404, {"ResultCode": 1, "ResultDesc": "Rejected"}
        code, secret, kind = parts[1].upper(), parts[2], parts[3]
        reference = parts[4] if len(parts) == 5 else None
        engine = self.engines.get(code)
        expected = engine.bank.secret("callback_secret") if engine else None
        if not expected or not hmac.compare_digest(expected.encode(), secret.encode()):
            _logger.warning(
                "M-Pesa %s callback refused: unknown bank or wrong secret (from %s)", kind, source
            )
            return 403, {"ResultCode": 1, "ResultDesc": "Rejected"}
        family = engine.family
        try:
            body = json.loads(raw)
        except ValueError:
            _logger.warning("M-Pesa %s %s callback refused: not JSON (from %s)", code, kind, source)
            return 400, family.callback_answer(None, False)
        try:
            outcome = engine.handle_callback(kind, body, reference)
        except (MalformedPayload, CallbackRefused) as exc:
            _logger.warning("M-Pesa %s %s callback refused (from %s): %s", code, kind, source, exc)
            return 400, family.callback_answer(body, False)
        except Exception:
            _logger.exception("M-Pesa %s %s callback failed (from %s)", code, kind, source)
            return 500, family.callback_answer(body, False)
        _logger.info("M-Pesa %s %s callback from %s: %s", code, kind, source, outcome)
        return 200, family.callback_answer(body, True)

    def start(self) -> Listener:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="mpesa-bridge-listener", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self):
        self.server.serve_forever()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
