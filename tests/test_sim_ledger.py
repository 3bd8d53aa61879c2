"""Ledger invariants under concurrency: money is conserved, nothing is overdrawn, no update lost."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import b2c_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpesa_sim import ledger
from mpesa_sim.db import Database, GroupCommit

ACCOUNTS = ["a", "b", "c", "d"]

transfers = st.lists(
    st.tuples(
        st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.integers(min_value=1, max_value=5_000)
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=25, deadline=None)
@given(opening=st.lists(st.integers(min_value=0, max_value=10_000), min_size=4, max_size=4), moves=transfers)
def test_parallel_transfers_conserve_money(opening, moves):
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(os.path.join(tmp, "ledger.sqlite3"))
        with db.write() as conn:
            for ref, cents in zip(ACCOUNTS, opening, strict=True):
                ledger.ensure_account(conn, ref, "wallet", ref)
                if cents:
                    ledger.topup(conn, ref, cents, "test")
        outcomes = []
        lock = threading.Lock()

        def run(move):
            src, dst, cents = move
            if src == dst:
                return
            try:
                with db.write() as conn:
                    ledger.transfer(conn, "transfer", src, dst, cents)
                ok = True
            except ledger.InsufficientFunds:
                ok = False
            with lock:
                outcomes.append((move, ok))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(run, moves))
        conn = db.conn()
        check = ledger.check_invariant(conn)
        assert check["ok"], check
        assert check["total_balance_cents"] == sum(opening)
        # No lost update: each balance is its opening plus what the successful transfers moved.
        expected = dict(zip(ACCOUNTS, opening, strict=True))
        for (src, dst, cents), ok in outcomes:
            if ok:
                expected[src] -= cents
                expected[dst] += cents
        assert {ref: ledger.balance(conn, ref) for ref in ACCOUNTS} == expected
        assert all(value >= 0 for value in expected.values())
        count = conn.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
        assert count == sum(ok for _, ok in outcomes)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(min_value=10, max_value=3_000), min_size=5, max_size=25))
def test_parallel_b2c_over_http_cannot_overdraw(fresh_sim, callback_sink, amounts):
    """A small float, many parallel payments: some fail with 1, the float never goes negative."""
    sim = fresh_sim
    before = sim.admin("GET", "/sim/admin/ledger/check")[1]
    msisdn = "2547%08d" % (sum(amounts) % 10**8)
    sim.seed(wallets=[{"msisdn": msisdn, "first_name": "Para", "last_name": "Llel"}])
    utility = next(a for a in sim.admin("GET", "/sim/admin/accounts")[1] if a["ref"] == "org:utility")
    # Drain the float to almost nothing into a parking wallet, so the parallel payments race for it.
    spare = utility["balance_cents"] // 100 - sum(amounts) // 2
    sim.set_config(max_amount=10**9, recipient_balance_cap=10**12, recipient_daily_limit=10**12)
    if spare > 0:
        park = "2541%08d" % (sum(amounts) % 10**8)
        sim.seed(wallets=[{"msisdn": park, "first_name": "Park"}])
        token = sim.token()
        sim.call(
            "POST",
            "/mpesa/b2c/v3/paymentrequest",
            json=b2c_body(sim, callback_sink, park, spare),
            token=token,
        )
        sim.drain()
    token = sim.token()
    bodies = [b2c_body(sim, callback_sink, msisdn, amount) for amount in amounts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda b: sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=b, token=token)[0], bodies
            )
        )
    assert statuses == [200] * len(bodies)
    sim.drain()
    after = sim.admin("GET", "/sim/admin/ledger/check")[1]
    assert after["ok"] and after["total_balance_cents"] == before["total_balance_cents"] + 0
    paid = [t for t in sim.transactions(msisdn=msisdn, limit=1000) if t["status"] == "completed"]
    wallet = sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]
    assert wallet["balance_cents"] == sum(t["amount_cents"] for t in paid)
    utility = next(a for a in sim.admin("GET", "/sim/admin/accounts")[1] if a["ref"] == "org:utility")
    assert utility["balance_cents"] >= 0


def test_group_commit_fails_a_duplicate_alone_and_resolves_after_commit():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "group.sqlite3")
        db = Database(path)
        group = GroupCommit(db)
        try:
            with db.write() as conn:  # holding the write lock: no submitted write can commit yet
                futures = [
                    group.submit(
                        lambda c, ocid=ocid: ledger.insert_transaction(
                            c, kind="b2c", originator_conversation_id=ocid, from_account="x",
                            to_account="y", amount_cents=100, status="pending",
                        )
                    )
                    for ocid in ("one", "two", "one", "three")
                ]  # fmt: skip
                conn.execute("SELECT 1")
                assert not any(f.done() for f in futures)  # nothing resolves before its commit
            ids = [f.result(timeout=5) for f in (futures[0], futures[1], futures[3])]
            assert isinstance(futures[2].exception(timeout=5), sqlite3.IntegrityError)
            other = sqlite3.connect(path)  # durable: another connection sees exactly the three
            rows = other.execute("SELECT id, originator_conversation_id FROM transactions ORDER BY id")
            assert [tuple(r) for r in rows] == list(zip(ids, ["one", "two", "three"], strict=True))
            other.close()
        finally:
            group.stop()
