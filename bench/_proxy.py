"""A round-robin HTTP load balancer in front of several Odoo nodes (standard library only).

It stands for the load balancer of a scaled-out OpenG2P: M-Pesa's callbacks, the queue_job
runner's /queue_job/runjob calls and the drill's XML-RPC all go through it, spread over the nodes
in turn. A node that refuses the connection (killed, restarting) is skipped for the next one, as
nginx's `proxy_next_upstream error` does; a request that reached a node is never sent twice.
"""

import http.client
import itertools
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo_cluster import ServedInThread  # scripts/, on the path through _harness

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class RoundRobinProxy(ServedInThread):
    def __init__(self, upstreams, port, host="127.0.0.1", timeout=600):
        self.upstreams = list(upstreams)  # [(host, port), ...]
        self.address = (host, port)
        self.timeout = timeout
        self.served = Counter()  # (upstream index, kind) -> requests answered
        self._turn = itertools.count()
        self._lock = threading.Lock()

    @property
    def url(self):
        return f"http://{self.address[0]}:{self.address[1]}"

    @staticmethod
    def kind_of(path):
        if path.startswith("/queue_job/runjob"):
            return "job"
        if path.startswith("/g2p_payment_mpesa/"):
            return "callback"
        return "other"

    def served_by(self, kind):
        return [self.served[(index, kind)] for index in range(len(self.upstreams))]

    def _forward(self, method, path, headers, body):
        first = next(self._turn)
        for attempt in range(len(self.upstreams)):
            index = (first + attempt) % len(self.upstreams)
            host, port = self.upstreams[index]
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            try:
                conn.connect()
            except OSError:
                conn.close()
                continue  # never reached this node: the next one may serve it
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except OSError:
                conn.close()
                return index, None  # it reached the node: not sent again elsewhere
            conn.close()
            return index, (response.status, response.reason, response.getheaders(), data)
        return None, None

    def start(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet: the nodes log the requests
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["X-Forwarded-For"] = self.client_address[0]
                index, answer = proxy._forward(self.command, self.path, headers, body)
                if answer is None:
                    try:
                        self.send_error(502 if index is None else 504)
                    except OSError:
                        pass  # the caller went away meanwhile
                    return
                status, reason, response_headers, data = answer
                with proxy._lock:
                    proxy.served[(index, proxy.kind_of(self.path))] += 1
                try:
                    self.send_response(status, reason)
                    for key, value in response_headers:
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller went away (queue_job's runner does not wait for answers)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a caller hanging up is no news
                pass

        return self._serve(Server(self.address, Handler), "proxy")
