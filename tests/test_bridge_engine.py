"""G2P Bridge connector against the real simulator (no bridge yet): a batch the bridge sends again
pays no one twice, results reach the listener, silent ones are settled by status queries, an
unknown outcome is held and never reported paid, statements name the receipts, and no secret
reaches a log. Kenya (Daraja), Tanzania (Vodacom's OpenAPI) and Mozambique (Vodacom Mozambique's
own API, ``api_family: vodacom_mz``)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import threading
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "g2p-bridge-mpesa"))

_NEEDS = "the bridge connector's tests need psycopg2, pydantic-settings and mt-940 in the test venv"
pytest.importorskip("psycopg2", reason=_NEEDS)
pytest.importorskip("pydantic_settings", reason=_NEEDS)
mt940_lib = pytest.importorskip("mt940", reason=_NEEDS)

from conftest import unique_msisdn  # noqa: E402
from g2p_bridge_mpesa import ledger, mt940, report, statements  # noqa: E402
from g2p_bridge_mpesa.db import Database  # noqa: E402
from g2p_bridge_mpesa.engine import Engine  # noqa: E402
from g2p_bridge_mpesa.listener import Listener  # noqa: E402
from g2p_bridge_mpesa.settings import MpesaBridgeSettings  # noqa: E402
from g2p_bridge_mpesa.testing import PgCluster, Unavailable, bridge_parse, free_port  # noqa: E402

from mpesa_sim.testing import start_simulator  # noqa: E402

ACCOUNT = "KE-G2P-0001"
# The simulator's own processes (this file's markets) run under the test venv's Python; the bridge
# venv's FastAPI is too old for it (scripts/bridge_suite.sh exports MPESA_SIM_PYTHON).
SIM_PYTHON = os.environ.get("MPESA_SIM_PYTHON") or sys.executable


@pytest.fixture(scope="module")
def pg():
    try:
        cluster = PgCluster().start()
    except Unavailable as exc:
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


def bank_for(sim, account, api_family=None, **extra) -> dict:
    """The connector's settings of one sponsor bank code for this simulator (``api_family``
    "vodacom_mz": Vodacom Mozambique's own API, which a Mozambique simulator serves beside the
    OpenAPI, every operation on its one port)."""
    common = {
        "base_url": sim.base_url,
        "environment": "simulator",
        "callback_secret": "cb-" + secrets.token_urlsafe(24),
        "account_numbers": [account],
        **extra,
    }
    if api_family == "vodacom_mz":
        return {
            **common,
            "market": sim.market_code,
            "api_family": "vodacom_mz",
            "base_url": f"http://{sim.host}",  # the host: each operation has its own port
            "vodacom_mz_ports": ",".join(f"{role}={sim.port}" for role in ("b2c", "query", "reversal")),
            "api_key": sim.mz["api_key"],
            "public_key": sim.mz["public_key"],
            "shortcode": sim.mz["service_provider_code"],
            "initiator_name": sim.mz["initiator_identifier"],
            "initiator_password": sim.mz["security_credential"],
        }
    if sim.openapi:
        return {
            "market": sim.market_code,
            "api_key": sim.openapi["api_key"],
            "public_key": sim.openapi["public_key"],
            "shortcode": sim.openapi["service_provider_code"],
            "session_delay_seconds": 0,
            **common,
        }
    return {
        "market": sim.market_code,
        "consumer_key": sim.consumer_key,
        "consumer_secret": sim.consumer_secret,
        "shortcode": sim.shortcode,
        "initiator_name": sim.initiator_name,
        "initiator_password": sim.initiator_password,
        "certificate": sim.certificate_pem().decode(),
        **common,
    }


class Rig:
    """One bank code over a simulator: its settings, engine, listener and database."""

    def __init__(self, pg, sim, code="MPESA_KE", account=ACCOUNT, api_family=None, **settings_values):
        self.sim = sim
        self.code, self.account = code, account
        self.db = Database(pg.create_database("e" + uuid.uuid4().hex[:12]))
        self.db.ensure_schema()
        port = free_port()
        bank = bank_for(sim, account, api_family, callback_base_url=f"http://127.0.0.1:{port}")
        self.settings = MpesaBridgeSettings(
            banks={code: bank},
            balance_wait_seconds=10,
            reconcile_after_seconds=0,
            status_query_interval_seconds=0,
            unknown_check_seconds=0,
            **settings_values,
        )
        self.listener = Listener(self.settings, port=port)
        self.engine = Engine(self.settings, code, self.settings.banks[code], db=self.db)
        self.listener.engines = {code: self.engine}
        self.listener.start()

    def payload(self, phone, amount, **extra):
        return {
            "disbursement_id": extra.pop("disbursement_id", None) or uuid.uuid4().hex[:16],
            "remitting_account": self.account,
            "remitting_account_currency": self.engine.market.currency,
            "payment_amount": float(amount),
            "funds_blocked_reference_number": extra.pop("block", None),
            "beneficiary_id": f"token:{uuid.uuid4().hex[:8]}@nationalId",
            "beneficiary_name": "Test Person",
            "beneficiary_account_type": "MOBILE_WALLET",
            "beneficiary_phone_no": phone,
            "beneficiary_mobile_wallet_provider": "MPESA",
            "benefit_program_mnemonic": "CT",
            "cycle_code_mnemonic": "2025-03",
            "payment_date": "2025-03-04",
            **extra,
        }

    def rows(self):
        with self.db.cursor() as cur:
            cur.execute("SELECT * FROM mpesa_bridge_payment ORDER BY created_at, disbursement_id")
            return {row["disbursement_id"]: dict(row) for row in cur.fetchall()}

    def wait_final(self, ids, timeout=20, reconcile=False):
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows()
            states = {did: rows[did]["state"] for did in ids}
            if all(state in ("paid", "failed", "refused", "review") for state in states.values()):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"not final in {timeout}s: {states}")
            if reconcile:
                self.engine.reconcile()
            time.sleep(0.2)

    def close(self):
        self.listener.stop()
        self.db.close()


@pytest.fixture
def kenya(pg, sim):
    rig = Rig(pg, sim)
    yield rig
    rig.close()


def paid_to(sim, msisdn):
    return [t for t in sim.transactions(msisdn=msisdn, kind="b2c") if t["status"] == "completed"]


def test_kenya_a_batch_sent_again_pays_no_one_twice(kenya, sim, new_wallet, caplog):
    caplog.set_level(logging.DEBUG)
    wallets = [new_wallet() for _ in range(3)]
    found = kenya.engine.fresh_balance()  # AccountBalance, answered at the listener
    assert found and found[0] > 0
    batch_total = Decimal(1500 * 3) + Decimal(700) + Decimal("1500.5") + Decimal(200)
    blocked = kenya.engine.block_funds(ACCOUNT, "KES", float(batch_total))
    assert blocked.ok, blocked.error_code
    block = blocked.reference
    batch = [kenya.payload(w, 1500, block=block) for w in wallets] + [
        kenya.payload("254799000004", 700, block=block),  # not registered: M-Pesa fails it
        kenya.payload(unique_msisdn(), 1500.5, block=block),  # a fraction: refused up front
        kenya.payload("+255754123456", 200, block=block),  # not Kenyan: refused up front
    ]
    ids = [p["disbursement_id"] for p in batch]
    first = kenya.engine.initiate(batch)
    assert (first.ok, first.sent, first.refused, first.again) == (True, 4, 2, 0)
    # The bridge re-sends whole batches on retry, even while results are on their way.
    second = kenya.engine.initiate(batch)
    assert (second.ok, second.sent, second.again) == (True, 0, 6)
    sim.drain()
    rows = kenya.wait_final(ids)
    third = kenya.engine.initiate(list(reversed(batch)))
    assert (third.sent, third.again) == (0, 6)
    assert [rows[i]["state"] for i in ids] == ["paid", "paid", "paid", "failed", "refused", "refused"]
    for wallet, did in zip(wallets, ids, strict=False):
        (transaction,) = paid_to(sim, wallet)  # paid once
        assert transaction["receipt"] == rows[did]["receipt"]
        assert transaction["originator_conversation_id"] == rows[did]["conversation_id"]
        assert Decimal(str(transaction["amount"])) == Decimal(1500)
    assert rows[ids[4]]["result_code"] == "PREFLIGHT_AMOUNT" and "fraction" in rows[ids[4]]["result_desc"]
    assert rows[ids[5]]["result_code"] == "PREFLIGHT_MSISDN"
    assert not sim.transactions(originator_conversation_id=str(rows[ids[4]]["conversation_id"]))
    # The ledger: the block is exactly what M-Pesa paid plus what went back.
    with kenya.db.cursor() as cur:
        pos = ledger.position(cur, block)
        assert (pos.state, pos.pay, pos.release, pos.held, pos.free) == (
            "closed",
            4500,
            700 + 1500.5 + 200,
            0,
            0,
        )
        assert ledger.check(cur) == []
    # One statement: a D line per payment with its receipt; D + RD with M-Pesa's or our reason.
    (reference,) = statements.build(kenya.engine)
    assert statements.build(kenya.engine) == []  # never reported twice
    with kenya.db.cursor() as cur:
        cur.execute("SELECT content FROM mpesa_bridge_statement WHERE statement_ref = %s", [reference])
        content = cur.fetchone()["content"]
    parsed = bridge_parse(content)
    assert parsed.data["account_identification"] == ACCOUNT
    lines = [(t.data["status"], t.data["customer_reference"], t.data["bank_reference"]) for t in parsed]
    for did in ids[:3]:
        assert ("D", did, rows[did]["receipt"]) in lines
        assert ("RD", did, rows[did]["receipt"]) not in lines
    for did in ids[3:]:
        assert [status for status, cref, _ref in lines if cref == did] == ["D", "RD"]
    reasons = {
        t.data["customer_reference"]: mt940.reversal_reason(t.data["transaction_details"].split("\n"))
        for t in parsed
        if t.data["status"] == "RD"
    }
    assert reasons[ids[3]].startswith(rows[ids[3]]["result_code"])
    assert "fraction" in reasons[ids[4]]
    names = {
        t.data["customer_reference"]: mt940.beneficiary_name(t.data["transaction_details"].split("\n"))
        for t in parsed
        if t.data["status"] == "D"
    }
    assert all(names[did] for did in ids[:3])
    # No secret in any log line of any logger, at any level.
    text = caplog.text
    assert "paid, receipt" in text  # the capture worked
    for secret in kenya.settings.secret_values() + [sim.consumer_secret, sim.initiator_password]:
        assert secret not in text


@pytest.fixture
def kenya_fast_stale(pg, sim):
    rig = Rig(pg, sim, stale_reservation_seconds=1)
    yield rig
    rig.close()


def test_kenya_crash_after_the_id_was_committed(kenya_fast_stale, sim, new_wallet):
    """The request id is durable before the request leaves: a worker that died after reserving
    (before or after sending) leaves a state that the next attempt finishes without a second
    payment, once no process has tried it for stale_reservation_seconds."""
    kenya = kenya_fast_stale
    with kenya.db.cursor() as cur:
        kenya.engine.store_balance(cur, Decimal(10_000_000), None, "balance")
    block = kenya.engine.block_funds(ACCOUNT, "KES", 2000.0).reference
    never_sent, sent_unrecorded = new_wallet(), new_wallet()
    batch = [kenya.payload(never_sent, 1000, block=block), kenya.payload(sent_unrecorded, 1000, block=block)]
    from g2p_bridge_mpesa.preflight import check_payment

    checked = [(p, check_payment(kenya.engine.bank, amount=p["payment_amount"], currency="KES",
                                 phone=p["beneficiary_phone_no"]), None) for p in batch]  # fmt: skip
    items, _refused, _again = kenya.engine._reserve(checked)  # committed; then the worker "dies"
    with kenya.engine.client() as client:  # ... after the second request left
        assert client.b2c_submit(items[1]["request"]).accepted
    sim.drain()
    # Retried at once, the batch sends nothing: another worker may still be sending it.
    assert kenya.engine.initiate(batch).sent == 0
    # The request that did leave (reserved in the engine's order, not the batch's) gets its result
    # meanwhile (the callback reaches the listener: waited for, not timed): the result wins.
    sent_id = items[1]["request"].originator_conversation_id

    def sent_state():
        return next(row["state"] for row in kenya.rows().values() if row["conversation_id"] == sent_id)

    deadline = time.monotonic() + 30
    while sent_state() != "paid" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sent_state() == "paid"
    time.sleep(1.2)  # and the other's reservation is now older than stale_reservation_seconds
    # Retried after the worker is known dead: the other goes again, under its same id.
    again = kenya.engine.initiate(batch)
    assert again.ok and again.again == 2 and again.sent == 1
    sim.drain()
    rows = kenya.wait_final([p["disbursement_id"] for p in batch], reconcile=True)
    assert {row["state"] for row in rows.values()} == {"paid"}
    assert len(paid_to(sim, never_sent)) == 1
    assert len(paid_to(sim, sent_unrecorded)) == 1


def test_kenya_the_same_batch_from_two_workers_at_once(kenya, sim, new_wallet):
    with kenya.db.cursor() as cur:
        kenya.engine.store_balance(cur, Decimal(10_000_000), None, "balance")
    block = kenya.engine.block_funds(ACCOUNT, "KES", 8 * 300.0).reference
    wallets = [new_wallet() for _ in range(8)]
    batch = [kenya.payload(w, 300, block=block) for w in wallets]
    answers = []
    barrier = threading.Barrier(3)

    def worker():
        barrier.wait()
        answers.append(kenya.engine.initiate(batch))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(answer.sent for answer in answers) == 8
    sim.drain()
    kenya.wait_final([p["disbursement_id"] for p in batch])
    assert all(len(paid_to(sim, w)) == 1 for w in wallets)
    with kenya.db.cursor() as cur:
        assert ledger.check(cur) == []
        assert ledger.position(cur, block).state == "closed"


def test_kenya_silent_results_are_settled_by_status_queries(kenya, sim, new_wallet):
    with kenya.db.cursor() as cur:
        kenya.engine.store_balance(cur, Decimal(10_000_000), None, "balance")
    block = kenya.engine.block_funds(ACCOUNT, "KES", 3000.0).reference
    silent, processed_500 = new_wallet(), new_wallet()
    silent_both = {"msisdn_regex": f"{silent}|{processed_500}"}
    sim.set_faults(no_callback=silent_both, sync_500_processed={"msisdn": processed_500})
    batch = [kenya.payload(silent, 1000, block=block), kenya.payload(processed_500, 2000, block=block)]
    assert kenya.engine.initiate(batch).ok
    sim.drain()
    rows = kenya.rows()
    assert rows[batch[0]["disbursement_id"]]["state"] == "accepted"
    assert rows[batch[1]["disbursement_id"]]["state"] == "unknown"  # HTTP 500: maybe processed
    rows = kenya.wait_final([p["disbursement_id"] for p in batch], reconcile=True)
    assert [rows[p["disbursement_id"]]["state"] for p in batch] == ["paid", "paid"]
    assert len(paid_to(sim, silent)) == 1 and len(paid_to(sim, processed_500)) == 1
    assert rows[batch[0]["disbursement_id"]]["receipt"] == paid_to(sim, silent)[0]["receipt"]


def test_kenya_an_unknown_outcome_is_held_never_reported_paid(pg, sim, new_wallet):
    rig = Rig(pg, sim, max_status_queries=2)
    try:
        with rig.db.cursor() as cur:
            rig.engine.store_balance(cur, Decimal(10_000_000), None, "balance")
        block = rig.engine.block_funds(ACCOUNT, "KES", 2000.0).reference
        lost, fine = new_wallet(), new_wallet()
        sim.set_faults(lost_result={"msisdn": lost})  # money moves, no result, no status answer
        batch = [rig.payload(lost, 1000, block=block), rig.payload(fine, 1000, block=block)]
        assert rig.engine.initiate(batch).ok
        sim.drain()
        rows = rig.wait_final([p["disbursement_id"] for p in batch], reconcile=True)
        held = rows[batch[0]["disbursement_id"]]
        assert held["state"] == "review" and "status queries" in held["result_desc"]
        (reference,) = statements.build(rig.engine)
        with rig.db.cursor() as cur:
            cur.execute("SELECT content FROM mpesa_bridge_statement WHERE statement_ref = %s", [reference])
            content = cur.fetchone()["content"]
        assert batch[1]["disbursement_id"] in content and batch[0]["disbursement_id"] not in content
        data = report.collect(rig.db)
        assert [row["disbursement_id"] for row in data["held"]] == [batch[0]["disbursement_id"]]
        assert batch[0]["disbursement_id"] in report.render(data)
        with rig.db.cursor() as cur:
            pos = ledger.position(cur, block)
        assert (pos.pay, pos.held, pos.state) == (1000, 1000, "open")  # held until a person decides
    finally:
        rig.close()


def test_kenya_listener_authenticates_and_is_idempotent(kenya, sim, new_wallet):
    with kenya.db.cursor() as cur:
        kenya.engine.store_balance(cur, Decimal(10_000_000), None, "balance")
    block = kenya.engine.block_funds(ACCOUNT, "KES", 500.0).reference
    wallet = new_wallet()
    sim.set_faults(duplicate_callback={"msisdn": wallet, "copies": 3})
    payload = kenya.payload(wallet, 500, block=block)
    assert kenya.engine.initiate([payload]).ok
    sim.drain()
    row = kenya.wait_final([payload["disbursement_id"]])[payload["disbursement_id"]]
    assert row["state"] == "paid" and len(paid_to(sim, wallet)) == 1
    body = {"Result": {"ResultCode": 0, "OriginatorConversationID": row["conversation_id"]}}
    base = f"http://127.0.0.1:{kenya.listener.port}/mpesa/MPESA_KE"

    def post(url, data):
        request = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post(f"{base}/wrong-secret/result", body) == 403
    assert post(f"http://127.0.0.1:{kenya.listener.port}/mpesa/NOBANK/x/result", body) == 403
    secret = kenya.engine.bank.secret("callback_secret")
    assert post(f"{base}/{secret}/result", body) == 400  # not a whole result: refused, not applied
    assert post(f"{base}/{secret}/nonsense", body) == 404
    assert kenya.rows()[payload["disbursement_id"]]["state"] == "paid"


# ---------------------------------------------------------------------------------- Tanzania
@pytest.fixture(scope="module")
def tz_sim():
    with start_simulator(market="TZ", python=SIM_PYTHON) as running:
        running.set_config(openapi_session_delay_seconds=0)
        yield running


def test_tanzania_a_batch_sent_again_pays_no_one_twice(pg, tz_sim, caplog):
    caplog.set_level(logging.DEBUG)
    rig = Rig(pg, tz_sim, code="MPESA_TZ", account="TZ-G2P-0001")
    try:
        answer = rig.engine.check_funds("TZ-G2P-0001", "TZS", 60000.0)
        assert answer.status == "available" and answer.error_code.startswith("MPESA_NO_BALANCE_QUERY")
        block = rig.engine.block_funds("TZ-G2P-0001", "TZS", 60000.0).reference
        wallets = ["2557541%05d" % (int.from_bytes(os.urandom(2), "big") + i) for i in range(2)]
        tz_sim.seed(wallets=[{"msisdn": w, "first_name": "Asha", "last_name": "Juma", "id_number": w[-8:]}
                             for w in wallets])  # fmt: skip
        batch = [rig.payload(w, 25000, block=block) for w in wallets] + [
            rig.payload("0712345678", 10000, block=block)  # not Vodacom's network
        ]
        first = rig.engine.initiate(batch)
        assert (first.sent, first.refused) == (2, 1)
        rows = rig.rows()  # synchronous answers: results already applied
        assert [rows[p["disbursement_id"]]["state"] for p in batch] == ["paid", "paid", "refused"]
        assert rig.engine.initiate(batch).sent == 0
        for wallet, payload in zip(wallets, batch, strict=False):
            (transaction,) = paid_to(tz_sim, wallet)
            assert transaction["receipt"] == rows[payload["disbursement_id"]]["receipt"]
        with rig.db.cursor() as cur:
            pos = ledger.position(cur, block)
            assert (pos.state, pos.pay, pos.release) == ("closed", 50000, 10000)
        (reference,) = statements.build(rig.engine)
        with rig.db.cursor() as cur:
            cur.execute("SELECT content FROM mpesa_bridge_statement WHERE statement_ref = %s", [reference])
            assert ":25:TZ-G2P-0001" in cur.fetchone()["content"]
        for secret in rig.settings.secret_values() + [tz_sim.openapi["api_key"]]:
            assert secret not in caplog.text
    finally:
        rig.close()


# ------------------------------------------------------------------ Mozambique (vodacom_mz)
@pytest.fixture(scope="module")
def mz_sim():
    with start_simulator(market="MZ", python=SIM_PYTHON) as running:
        assert running.mz, "the Mozambique simulator serves no Vodacom Mozambique API"
        yield running


def _mz_wallets(sim, count):
    """Registered Vodacom Mozambique wallets (258 84/85 and seven digits), new to the simulator."""
    wallets = [f"258{84 + i % 2}{secrets.randbelow(10_000_000):07d}" for i in range(count)]
    sim.seed(wallets=[{"msisdn": w, "first_name": "Lurdes", "last_name": "Macuacua", "id_number": w[-9:]}
                      for w in wallets])  # fmt: skip
    return wallets


def test_mozambique_own_api_a_batch_sent_again_pays_no_one_twice(pg, mz_sim, caplog):
    """Vodacom Mozambique's own API (v1x, bearer made locally, results in the answer) configured
    by ``api_family: vodacom_mz``: no balance query, a batch paid synchronously and only once."""
    caplog.set_level(logging.DEBUG)
    rig = Rig(pg, mz_sim, code="MPESA_MZ", account="MZ-G2P-0001", api_family="vodacom_mz")
    try:
        assert rig.engine.family.name == "vodacom_mz"
        mz_bank = rig.settings.banks["MPESA_MZ"].model_dump()
        # Refused: a family the market does not offer, and the family's setting given to another.
        for wrong in ({"market": "TZ"}, {"api_family": "openapi"}):
            with pytest.raises(ValueError, match="not paid through|not a setting of"):
                MpesaBridgeSettings(banks={"X": {**mz_bank, **wrong}})
        assert (
            rig.engine.bank.wire_config().url("b2c") == f"http://127.0.0.1:{mz_sim.port}/ipg/v1x/b2cPayment/"
        )
        answer = rig.engine.check_funds("MZ-G2P-0001", "MZN", 9000.0)
        assert answer.status == "available" and answer.error_code.startswith("MPESA_NO_BALANCE_QUERY")
        block = rig.engine.block_funds("MZ-G2P-0001", "MZN", 9000.0).reference
        wallets = _mz_wallets(mz_sim, 2)
        batch = [rig.payload(w, 3500, block=block) for w in wallets] + [
            rig.payload("258821234567", 2000, block=block)  # 82: not Vodacom M-Pesa (84, 85): never sent
        ]
        ids = [p["disbursement_id"] for p in batch]
        first = rig.engine.initiate(batch)
        assert (first.ok, first.sent, first.refused) == (True, 2, 1)
        rows = rig.rows()  # synchronous answers: results already applied
        assert [rows[i]["state"] for i in ids] == ["paid", "paid", "refused"]
        assert rows[ids[2]]["result_code"] == "PREFLIGHT_MSISDN"
        again = rig.engine.initiate(batch)
        assert (again.sent, again.again) == (0, 3)
        for wallet, did in zip(wallets, ids, strict=False):
            (transaction,) = paid_to(mz_sim, wallet)  # paid once
            assert transaction["api"] == "mz_b2c"
            assert transaction["receipt"] == rows[did]["receipt"]
            assert transaction["originator_conversation_id"] == rows[did]["conversation_id"]
            assert Decimal(str(transaction["amount"])) == Decimal(3500)
        assert not mz_sim.transactions(msisdn="258821234567")
        with rig.db.cursor() as cur:
            pos = ledger.position(cur, block)
            assert (pos.state, pos.pay, pos.release, pos.held, pos.free) == ("closed", 7000, 2000, 0, 0)
            assert ledger.check(cur) == []
        (reference,) = statements.build(rig.engine)
        assert statements.build(rig.engine) == []
        with rig.db.cursor() as cur:
            cur.execute("SELECT content FROM mpesa_bridge_statement WHERE statement_ref = %s", [reference])
            parsed = bridge_parse(cur.fetchone()["content"])
        assert parsed.data["account_identification"] == "MZ-G2P-0001"
        lines = [(t.data["status"], t.data["customer_reference"], t.data["bank_reference"]) for t in parsed]
        for did in ids[:2]:
            assert ("D", did, rows[did]["receipt"]) in lines
        assert [status for status, cref, _ref in lines if cref == ids[2]] == ["D", "RD"]
        text = caplog.text
        assert "paid, receipt" in text  # the capture worked
        kept_secret = rig.settings.secret_values()  # API key, security credential, callback secret
        assert {mz_sim.mz["api_key"], mz_sim.mz["security_credential"]} <= set(kept_secret)
        for secret in kept_secret:
            assert secret not in text
    finally:
        rig.close()


def test_mozambique_own_api_a_lost_answer_is_settled_by_a_status_query(pg, mz_sim):
    """The payment went through but its answer was lost (408 INS-9): the status query's
    "Completed" names no receipt (Vodacom Mozambique's), and is enough to report it paid."""
    rig = Rig(pg, mz_sim, code="MPESA_MZ", account="MZ-G2P-0002", api_family="vodacom_mz")
    try:
        block = rig.engine.block_funds("MZ-G2P-0002", "MZN", 1500.0).reference
        (wallet,) = _mz_wallets(mz_sim, 1)
        mz_sim.set_faults(sync_500_processed={"msisdn": wallet})
        payload = rig.payload(wallet, 1500, block=block)
        assert rig.engine.initiate([payload]).sent == 1
        mz_sim.reset_faults()
        assert rig.rows()[payload["disbursement_id"]]["state"] == "unknown"
        row = rig.wait_final([payload["disbursement_id"]], reconcile=True)[payload["disbursement_id"]]
        assert row["state"] == "paid" and row["receipt"] is None and "names no receipt" in row["result_desc"]
        assert len(paid_to(mz_sim, wallet)) == 1
        assert rig.engine.initiate([payload]).sent == 0
        (reference,) = statements.build(rig.engine)
        with rig.db.cursor() as cur:
            cur.execute("SELECT content FROM mpesa_bridge_statement WHERE statement_ref = %s", [reference])
            (line,) = bridge_parse(cur.fetchone()["content"])
        assert (line.data["status"], line.data["customer_reference"]) == ("D", payload["disbursement_id"])
        assert line.data["bank_reference"] == statements.payment_reference(row)
        with rig.db.cursor() as cur:
            assert ledger.position(cur, block).state == "closed" and ledger.check(cur) == []
    finally:
        rig.close()
