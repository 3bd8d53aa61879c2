"""Posting results to the client's ResultURL / QueueTimeOutURL, and recording every attempt.

Like Safaricom: one attempt per callback by default (config ``callback_retries``), nothing
signed; an admin can replay any recorded callback. Deliveries run on a thread pool with one
keep-alive connection per thread and host; the attempt records are written in batches by one
recorder thread so that deliveries never queue behind each other for the database write lock.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import queue
import random
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mpesa_sim import receipts
from mpesa_sim.db import Database
from mpesa_sim.faults import Faults


class Dispatcher:
    def __init__(self, db: Database, faults: Faults, config: dict, threads: int = 16):
        self._db = db
        self._faults = faults
        self._config = config
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="callback")
        self._local = threading.local()
        self._records: queue.Queue = queue.Queue()
        self._pending = 0  # callbacks scheduled or in flight, for flush()
        self._pending_lock = threading.Condition()
        self._timers: list = []
        self._timer_seq = itertools.count()
        self._timer_cv = threading.Condition()
        self._stopping = False
        self._recorder = threading.Thread(target=self._record_loop, name="callback-recorder", daemon=True)
        self._recorder.start()
        self._scheduler = threading.Thread(target=self._timer_loop, name="callback-timer", daemon=True)
        self._scheduler.start()

    # -- submitting -------------------------------------------------------------------------
    def submit(self, kind: str, ocid: str | None, url: str, body: dict, party_b: str | None = None) -> None:
        """Send a callback, applying whichever callback faults fire for this recipient."""
        if self._faults.fire("no_callback", party_b):
            return
        copies = 1
        rule = self._faults.fire("duplicate_callback", party_b)
        if rule:
            copies = max(1, int(rule["copies"]))
        delay = 0.0
        rule = self._faults.fire("late_callback", party_b)
        if rule:
            delay += rule["delay_ms"] / 1000
        rule = self._faults.fire("out_of_order_callback", party_b)
        if rule:
            delay += random.random() * rule["delay_ms"] / 1000
        fault = None
        if self._faults.fire("callback_delivery_failure", party_b):
            fault = "callback_delivery_failure"
        for _ in range(copies):
            self._schedule(delay, kind, ocid, url, body, fault)

    def _schedule(self, delay: float, *args: Any) -> None:
        with self._pending_lock:
            self._pending += 1
        if delay <= 0:
            self._pool.submit(self._deliver_and_record, *args)
            return
        with self._timer_cv:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), args))
            self._timer_cv.notify()

    def _timer_loop(self) -> None:
        while True:
            with self._timer_cv:
                while not self._stopping and (not self._timers or self._timers[0][0] > time.monotonic()):
                    timeout = self._timers[0][0] - time.monotonic() if self._timers else None
                    self._timer_cv.wait(timeout)
                if self._stopping:
                    return
                _, _, args = heapq.heappop(self._timers)
            self._pool.submit(self._deliver_and_record, *args)

    # -- delivering -------------------------------------------------------------------------
    def _deliver_and_record(
        self, kind: str, ocid: str | None, url: str, body: dict, fault: str | None
    ) -> None:
        try:
            attempts = 1 + max(0, int(self._config.get("callback_retries", 0)))
            for attempt in range(attempts):
                record = self.deliver(kind, ocid, url, body, fault)
                self._records.put(record)
                if record["delivered"] or fault:
                    break
                time.sleep(min(2**attempt, 10))
        finally:
            with self._pending_lock:
                self._pending -= 1
                self._pending_lock.notify_all()

    def deliver(self, kind: str, ocid: str | None, url: str, body: dict, fault: str | None = None) -> dict:
        """One POST; returns the attempt record (not yet stored)."""
        record = {
            "kind": kind,
            "originator_conversation_id": ocid,
            "url": url,
            "body": json.dumps(body),
            "http_status": None,
            "latency_ms": None,
            "delivered": 0,
            "error": None,
            "fault": fault,
            "replay_of": None,
            "attempted_at": receipts.iso(),
        }
        if fault:
            record["error"] = "not delivered: injected fault " + fault
            return record
        started = time.perf_counter()
        try:
            record["http_status"] = self._post(url, record["body"].encode())
            record["delivered"] = int(200 <= record["http_status"] < 300)
            if not record["delivered"]:
                record["error"] = f"receiver answered HTTP {record['http_status']}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return record

    def _post(self, url: str, data: bytes) -> int:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        key = (parts.scheme, parts.hostname, parts.port)
        conns = self._local.__dict__.setdefault("conns", {})
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        timeout = float(self._config.get("callback_timeout_seconds", 10))
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        for reuse in (True, False):
            conn = conns.get(key) if reuse else None
            fresh = conn is None
            if fresh:
                cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
                conn = cls(parts.hostname, parts.port, timeout=timeout)
                conns[key] = conn
            try:
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.will_close:
                    conn.close()
                    conns.pop(key, None)
                return response.status
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the receiver had closed: retry once on a fresh one.
                conn.close()
                conns.pop(key, None)
                if fresh:
                    raise
            except Exception:
                conn.close()
                conns.pop(key, None)
                raise
        raise http.client.HTTPException("unreachable")

    def replay(self, callback_id: int) -> dict | None:
        row = self._db.one("SELECT * FROM callbacks WHERE id = ?", (callback_id,))
        if row is None:
            return None
        record = self.deliver(
            row["kind"], row["originator_conversation_id"], row["url"], json.loads(row["body"])
        )
        record["replay_of"] = callback_id
        return self._store([record])[0]

    # -- recording --------------------------------------------------------------------------
    def _record_loop(self) -> None:
        while True:
            batch = [self._records.get()]
            if batch[0] is None:
                return
            while len(batch) < 500:
                try:
                    item = self._records.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._store(batch)
                    return
                batch.append(item)
            try:
                self._store(batch)
            finally:
                for _ in batch:
                    self._records.task_done()

    def _store(self, records: list[dict]) -> list[dict]:
        with self._db.write() as conn:
            for record in records:
                cols = ", ".join(record)
                marks = ", ".join("?" for _ in record)
                record["id"] = conn.execute(
                    f"INSERT INTO callbacks({cols}) VALUES ({marks})", tuple(record.values())
                ).lastrowid
        return records

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every callback due now has been attempted and recorded (not delayed ones)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            while self._pending > len(self._timers) and time.monotonic() < deadline:
                self._pending_lock.wait(0.05)
        while self._records.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        with self._timer_cv:
            self._stopping = True
            self._timer_cv.notify()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._records.put(None)
        self._recorder.join(timeout=5)
