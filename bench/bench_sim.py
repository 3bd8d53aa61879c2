"""Benchmark the simulator: B2C acknowledgements/s and callback deliveries/s, p50/p99 latencies.

    python bench/bench_sim.py [--requests 5000] [--concurrency 16]

Starts its own simulator (temp DB) and a callback receiver, fires B2C v3 requests from
keep-alive client threads, and waits until every result callback has arrived.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from mpesa_sim.testing import CallbackSink, start_simulator


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--wallets", type=int, default=200)
    args = parser.parse_args()

    with start_simulator() as sim, CallbackSink() as sink:
        sim.set_config(recipient_daily_limit=10**9, recipient_balance_cap=10**9)
        wallets = ["2547%08d" % (10_000_000 + i) for i in range(args.wallets)]
        sim.seed(
            wallets=[{"msisdn": m, "first_name": "Bench", "last_name": str(i)} for i, m in enumerate(wallets)]
        )
        token, credential = sim.token(), sim.security_credential()
        sent_at: dict[str, float] = {}
        ack_latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        local = threading.local()

        def submit(i: int) -> None:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=30)
            ocid = str(uuid.uuid4())
            body = json.dumps({
                "OriginatorConversationID": ocid, "InitiatorName": sim.initiator_name,
                "SecurityCredential": credential, "CommandID": "BusinessPayment", "Amount": 10,
                "PartyA": sim.shortcode, "PartyB": wallets[i % len(wallets)], "Remarks": "bench",
                "QueueTimeOutURL": sink.url("/timeout"), "ResultURL": sink.url("/result"),
            })  # fmt: skip
            headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
            started = time.perf_counter()
            with lock:
                sent_at[ocid] = time.time()
            conn.request("POST", "/mpesa/b2c/v3/paymentrequest", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                ack_latencies.append(elapsed * 1000)
                if response.status != 200:
                    errors.append(payload.decode()[:200])

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(submit, range(args.requests)))
        ack_seconds = time.perf_counter() - started
        sink.wait_for_count(args.requests, lambda c: c.path == "/result", timeout=300)
        all_seconds = time.perf_counter() - started

        received = sink.received("/result")
        end_to_end = [(c.received_at - sent_at[c.ocid]) * 1000 for c in received if c.ocid in sent_at]
        first, last = min(c.received_at for c in received), max(c.received_at for c in received)
        status, records = sim.admin("GET", f"/sim/admin/callbacks?limit={args.requests}")
        post_latency = [r["latency_ms"] for r in records if r["latency_ms"] is not None]
        codes = {}
        for c in received:
            codes[c.result.get("ResultCode")] = codes.get(c.result.get("ResultCode"), 0) + 1
        ledger = sim.admin("GET", "/sim/admin/ledger/check")[1]

    def pp(values: list[float]) -> str:
        return f"p50 {percentile(values, 50):7.2f} ms   p99 {percentile(values, 99):7.2f} ms"

    rate = len(received) / max(last - first, 1e-9)
    print(f"B2C requests:              {args.requests} ({args.concurrency} concurrent clients, keep-alive)")
    print(f"acknowledged:              {args.requests / ack_seconds:8.1f} req/s   errors: {len(errors)}")
    print(f"ack latency:               {pp(ack_latencies)}")
    print(f"callbacks delivered:       {len(received)} in {last - first:.2f}s = {rate:8.1f} /s")
    print(f"all callbacks in after:    {all_seconds:.2f}s ({args.requests / all_seconds:.1f} payments/s)")
    print(f"request->callback latency: {pp(end_to_end)}")
    print(f"callback POST latency:     {pp(post_latency)}")
    print(f"result codes:              {codes}   ledger ok: {ledger['ok']}")
    if errors:
        print("first errors:", errors[:3])
    return 0 if not errors and ledger["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
