"""Faults switchable at run time: which ones fire, for whom, how often, reproducibly.

A fault rule is ``{"rate": 0..1, "msisdn": glob, "msisdn_regex": regex, ...parameters}``; a rule
with a pattern only fires for requests whose PartyB (OpenAPI: input_CustomerMSISDN, or the reversed
payment's) matches it. Decisions come from one ``random.Random(seed)``, so a given seed and request
order fire the same faults again.
"""

from __future__ import annotations

import fnmatch
import random
import re
import threading
from typing import Any

from mpesa_sim.db import Database

# Every kind applies to the Daraja markets (Kenya, Ethiopia); the OpenAPI markets (Tanzania, DR
# Congo, Lesotho, Ghana, Mozambique) apply those whose doc says "OpenAPI" (to b2cPayment, reversal
# and the status query; never to getSession). The callback kinds act on OpenAPI's async mode only.
# Vodacom Mozambique's own API (v1x) applies the OpenAPI's kinds the same way (INS-1 is HTTP 500 in
# its code table), and spike_arrest as 503 INS-16.
KINDS: dict[str, dict[str, Any]] = {
    "sync_500": {
        "doc": "HTTP 500 500.001.1001; the request was NOT processed."
        " OpenAPI: HTTP 500 with INS-1, not processed"
    },
    "sync_500_processed": {
        "doc": "the request IS accepted and processed, yet the answer is HTTP 500 (outcome unknown)."
        " OpenAPI: processed, answered HTTP 408 INS-9 Request timeout"
    },
    "ins_1": {
        "doc": "OpenAPI only: HTTP 400 INS-1 Internal Error, which says nothing about the outcome;"
        " `processed` says whether the request still went through",
        "processed": False,
    },
    "spike_arrest": {
        "doc": "HTTP 500 500.003.02 Spike arrest violation; not processed (Daraja). Vodacom Mozambique's"
        " own API: HTTP 503 INS-16 (temporary overload), not processed; not the OpenAPI's"
    },
    "slow_response": {"doc": "the synchronous answer comes delay_ms late (also OpenAPI)", "delay_ms": 2000},
    "no_callback": {
        "doc": "accepted and processed, but no result callback is ever sent (also OpenAPI async)"
    },
    "duplicate_callback": {
        "doc": "the result callback is sent `copies` times (also OpenAPI async)",
        "copies": 2,
    },
    "late_callback": {
        "doc": "the callback is sent delay_ms after processing (also OpenAPI async)",
        "delay_ms": 3000,
    },
    "out_of_order_callback": {
        "doc": "each callback waits a random 0..delay_ms, so later ones overtake (also OpenAPI async)",
        "delay_ms": 1000,
    },
    "queue_timeout": {
        "doc": "a notice goes to QueueTimeOutURL instead of the result; `processed` says whether the payment"
        " still went through; `shape` is 'result' (Result envelope, code 1037) or 'echo' (the request)"
        " (Daraja only)",
        "processed": False,
        "shape": "result",
    },
    "transient_result": {"doc": "result `code` (17 or 26) and no money moved (Daraja only)", "code": 17},
    "callback_delivery_failure": {
        "doc": "the callback is recorded but deliberately not delivered (also OpenAPI async)"
    },
    "lost_result": {
        "doc": "accepted and processed (money moves), but no result callback is ever sent and every"
        " later status query about it is acknowledged, its result never sent. OpenAPI: processed;"
        " no callback (async) or an HTTP 408 INS-9 answer (sync), and every status query about it is"
        " answered HTTP 408 INS-9"
    },
}


class FaultError(ValueError):
    pass


def validate(config: Any) -> dict:
    """Check a PUT body: {"seed": int|null, "faults": {kind: rule}}; returns the normalised form."""
    if not isinstance(config, dict):
        raise FaultError('expected {"seed": ..., "faults": {kind: {"rate": ...}}}')
    seed = config.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise FaultError("seed must be an integer or null")
    rules = config.get("faults") or {}
    if not isinstance(rules, dict):
        raise FaultError("faults must be an object keyed by fault kind")
    out = {}
    for kind, rule in rules.items():
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if rule is None or rule is False:
            continue
        rule = {} if rule is True else rule
        if not isinstance(rule, dict):
            raise FaultError(f"{kind}: a rule is an object")
        rate = rule.get("rate", 1.0)
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise FaultError(f"{kind}: rate must be a number between 0 and 1")
        clean = {k: v for k, v in KINDS[kind].items() if k != "doc"}
        clean.update({k: v for k, v in rule.items() if k != "rate"})
        clean["rate"] = float(rate)
        if "msisdn_regex" in clean:
            try:
                re.compile(str(clean["msisdn_regex"]))
            except re.error as exc:
                raise FaultError(f"{kind}: bad msisdn_regex: {exc}") from None
        for key in ("delay_ms", "copies", "code"):
            if key in clean and (
                not isinstance(clean[key], int) or isinstance(clean[key], bool) or clean[key] < 0
            ):
                raise FaultError(f"{kind}: {key} must be a non-negative integer")
        if kind == "transient_result" and clean["code"] not in (17, 26):
            raise FaultError("transient_result: code is 17 or 26")
        if kind == "ins_1" and not isinstance(clean["processed"], bool):
            raise FaultError("ins_1: processed is true or false")
        if kind == "queue_timeout" and clean["shape"] not in ("result", "echo"):
            raise FaultError("queue_timeout: shape is 'result' or 'echo'")
        out[kind] = clean
    return {"seed": seed, "faults": out}


class Faults:
    def __init__(self, db: Database):
        self._db = db
        self._lock = threading.Lock()
        self.config = db.get_setting("faults") or {"seed": None, "faults": {}}
        self._rng = random.Random(self.config.get("seed"))

    def set(self, config: Any) -> dict:
        clean = validate(config)
        with self._lock:
            self.config = clean
            self._rng = random.Random(clean["seed"])
        with self._db.write() as conn:
            self._db.set_setting("faults", clean, conn)
        return clean

    def reset(self) -> dict:
        return self.set({"seed": None, "faults": {}})

    def fire(self, kind: str, party_b: str | None = None) -> dict | None:
        """The rule's parameters when the fault fires for this request (and count it), else None."""
        rule = self.config["faults"].get(kind)
        if rule is None or not _matches(rule, party_b):
            return None
        with self._lock:
            fired = self._rng.random() < rule["rate"]
        if not fired:
            return None
        self.count(kind)
        return rule

    def count(self, kind: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO fault_stats(kind, count) VALUES (?, 1)"
                " ON CONFLICT(kind) DO UPDATE SET count = count + 1",
                (kind,),
            )

    def stats(self) -> dict[str, int]:
        return {
            row["kind"]: row["count"]
            for row in self._db.all("SELECT kind, count FROM fault_stats ORDER BY kind")
        }


def _matches(rule: dict, party_b: str | None) -> bool:
    glob, regex = rule.get("msisdn"), rule.get("msisdn_regex")
    if glob is None and regex is None:
        return True
    if party_b is None:
        return False
    if glob is not None and not fnmatch.fnmatchcase(party_b, str(glob)):
        return False
    return regex is None or re.search(str(regex), party_b) is not None
