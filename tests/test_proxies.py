"""The load balancers the Odoo stages put in front of Odoo: /websocket routing and round robin."""

import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "bench")]
from _proxy import RoundRobinProxy  # noqa: E402
from odoo_cluster import WebsocketRouter, free_port  # noqa: E402


def backend(name):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{name} {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def backends():
    servers = [backend("http"), backend("gevent")]
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_websocket_goes_to_the_evented_port_the_rest_to_http(backends):
    http, gevent = (server.server_address[1] for server in backends)
    router = WebsocketRouter(http, gevent, free_port()).start()
    try:
        assert get(router.url + "/web/login") == "http /web/login"
        assert get(router.url + "/websocket") == "gevent /websocket"
        assert get(router.url + "/websocket?version=17") == "gevent /websocket?version=17"
    finally:
        router.stop()


def test_round_robin_spreads_and_skips_a_node_that_is_down(backends):
    up = backends[0].server_address[1]
    down = free_port()  # nothing listens there
    proxy = RoundRobinProxy([("127.0.0.1", up), ("127.0.0.1", down)], free_port()).start()
    try:
        answers = [get(proxy.url + f"/g2p_payment_mpesa/1/x/result?n={n}") for n in range(4)]
        assert all(answer.startswith("http ") for answer in answers)  # the dead node is skipped
        assert proxy.served_by("callback") == [4, 0]
    finally:
        proxy.stop()
