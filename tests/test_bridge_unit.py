"""G2P Bridge connector (g2p-bridge-mpesa/), no bridge needed: the MT940 writer read back as 1.1.0
reads it, the settings, the refusals before sending, and the reservation ledger's arithmetic in
a real PostgreSQL."""

from __future__ import annotations

import json
import random
import sys
import threading
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "g2p-bridge-mpesa"))

_NEEDS = "the bridge connector's unit tests need psycopg2, pydantic-settings and mt-940 in the test venv"
psycopg2 = pytest.importorskip("psycopg2", reason=_NEEDS)
pytest.importorskip("pydantic_settings", reason=_NEEDS)
mt940_lib = pytest.importorskip("mt940", reason=_NEEDS)

from g2p_bridge_mpesa import ledger, mt940  # noqa: E402
from g2p_bridge_mpesa.db import Database  # noqa: E402
from g2p_bridge_mpesa.engine import Engine  # noqa: E402
from g2p_bridge_mpesa.preflight import Refusal, check_payment  # noqa: E402
from g2p_bridge_mpesa.settings import BankSettings, SettingsError, load_settings  # noqa: E402
from g2p_bridge_mpesa.testing import PgCluster, Unavailable, bridge_parse  # noqa: E402

SECRET = "Zq9-consumer-SECRET-value"
PASSWORD = "Initiator-PASS-42"
API_KEY = "tz-API-KEY-0123456789"
CALLBACK = "cb-SECRET-abcdef"


# ---------------------------------------------------------------------------------- MT940
def test_statement_reads_back_as_the_bridge_reads_it():
    day = date(2025, 3, 4)
    entries = [
        *mt940.payment_entry("AbC_def-12345678", Decimal(1500), day, "TC412ABCDE", "JANE WANJIRU"),
        *mt940.failure_entries(
            "zz-failed-000001",
            Decimal(700),
            day,
            "X0123456789ABCDE",
            "2040 Credit Party customer type (Unregistered or Registered Customer) can't be supported "
            "by the service.",
        ),
        *mt940.failure_entries(
            "refused-00000001", Decimal("10.50"), day, "XREFUSED1", "PREFLIGHT_AMOUNT fraction"
        ),
    ]
    text = mt940.write(
        reference="MP0123456789ABCD",
        account_number="KE-600000-G2P",
        currency="KES",
        statement_number=7,
        opening_balance=Decimal("10000.00"),
        opening_date=day,
        entries=entries,
    )
    parsed = bridge_parse(text)
    assert parsed.data["account_identification"] == "KE-600000-G2P"
    assert parsed.data["statement_number"] == "7"
    assert parsed.data["transaction_reference"] == "MP0123456789ABCD"
    # opening 10,000 - 1,500 - 700 + 700 - 10.50 + 10.50
    assert parsed.data["final_closing_balance"].amount.amount == Decimal("8500.00")
    lines = [(t.data["status"], t.data["customer_reference"], t.data["bank_reference"]) for t in parsed]
    assert lines == [
        ("D", "AbC_def-12345678", "TC412ABCDE"),
        ("D", "zz-failed-000001", "X0123456789ABCDE"),
        ("RD", "zz-failed-000001", "X0123456789ABCDE"),
        ("D", "refused-00000001", "XREFUSED1"),
        ("RD", "refused-00000001", "XREFUSED1"),
    ]
    amounts = [abs(t.data["amount"].amount) for t in parsed]
    assert amounts == [Decimal(1500), Decimal(700), Decimal(700), Decimal("10.50"), Decimal("10.50")]
    # What 1.1.0 hands the connector: the :86: text split on newlines.
    narratives = [t.data["transaction_details"].split("\n") for t in parsed]
    ids = [
        mt940.disbursement_id(t.data["bank_reference"], t.data["customer_reference"], n)
        for t, n in zip(parsed, narratives, strict=True)
    ]
    assert ids == ["AbC_def-12345678", *["zz-failed-000001"] * 2, *["refused-00000001"] * 2]
    assert mt940.beneficiary_name(narratives[0]) == "JANE WANJIRU"
    assert mt940.reversal_reason(narratives[2]) == (
        "2040 Credit Party customer type (Unregistered or Registered Customer) can't be supported by the "
        "service."
    )
    assert mt940.reversal_reason(narratives[4]) == "PREFLIGHT_AMOUNT fraction"
    assert all(len(line) <= 65 for n in narratives for line in n)


def test_a_long_disbursement_id_travels_in_the_narrative():
    long_id = "disbursement-" + "x" * 30
    entries = mt940.payment_entry(long_id, Decimal(100), date(2025, 1, 1), "TC400000AA", None)
    text = mt940.write(
        reference="MP1",
        account_number="A1",
        currency="KES",
        statement_number=1,
        opening_balance=Decimal(0),
        opening_date=date(2025, 1, 1),
        entries=entries,
    )
    (line,) = list(bridge_parse(text))
    assert len(line.data["customer_reference"]) == 16
    assert (
        mt940.disbursement_id(
            line.data["bank_reference"],
            line.data["customer_reference"],
            line.data["transaction_details"].split("\n"),
        )
        == long_id
    )
    # A negative closing balance is written with a D mark and reads back as such.
    assert bridge_parse(text).data["final_closing_balance"].amount.amount == Decimal(-100)


@pytest.mark.parametrize("bad", ["", "a//b", "two\nlines"])
def test_a_disbursement_id_that_would_break_the_line_is_refused(bad):
    with pytest.raises(mt940.StatementError):
        mt940.payment_entry(bad, Decimal(1), date(2025, 1, 1), "TC1", None)


# ---------------------------------------------------------------------------------- settings
def _cert_pem():
    from datetime import datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2024, 1, 1))
        .not_valid_after(datetime(2024, 1, 1) + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def kenya(**extra):
    return {
        "market": "KE",
        "base_url": "https://api.safaricom.co.ke/",
        "consumer_key": "key",
        "consumer_secret": SECRET,
        "shortcode": "600000",
        "initiator_name": "g2p",
        "initiator_password": PASSWORD,
        "certificate": _cert_pem(),
        "callback_base_url": "https://connector.example.org",
        "callback_secret": CALLBACK,
        "account_numbers": ["KE-ACC-1"],
        **extra,
    }


def tanzania(**extra):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    import base64

    return {
        "market": "TZ",
        "base_url": "https://openapi.m-pesa.com",
        "environment": "sandbox",
        "api_key": API_KEY,
        "public_key": base64.b64encode(public).decode(),
        "shortcode": "000000",
        "callback_base_url": "https://connector.example.org",
        "callback_secret": CALLBACK,
        "account_numbers": "TZ-ACC-1, TZ-ACC-2",
        **extra,
    }


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.upper().startswith("G2P_BRIDGE_MPESA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_settings_one_json_per_sponsor_bank_code(clean_env, tmp_path):
    clean_env.setenv("G2P_BRIDGE_MPESA_BANK_MPESA_KE", json.dumps(kenya()))
    (tmp_path / ".env").write_text(
        "G2P_BRIDGE_MPESA_DB_DATASOURCE=postgresql+asyncpg://u:DbPass-77@db/bridge\n"
        f"G2P_BRIDGE_MPESA_BANK_MPESA_TZ='{json.dumps(tanzania())}'\n"
        "G2P_BRIDGE_MPESA_BRIDGE_API_URL=http://bridge:8000/\n"
        "G2P_BRIDGE_MPESA_LISTEN_PORT=9100\n"
    )
    settings = load_settings(".env")
    assert sorted(settings.banks) == ["MPESA_KE", "MPESA_TZ"]
    assert settings.bridge_api_url == "http://bridge:8000"
    assert settings.listen_port == 9100
    assert settings.dsn() == "postgresql://u:DbPass-77@db/bridge"
    code, bank = settings.bank("mpesa_tz")
    assert (code, bank.market, bank.currency, bank.account_numbers) == (
        "MPESA_TZ",
        "TZ",
        "TZS",
        ("TZ-ACC-1", "TZ-ACC-2"),
    )
    # 1.2 creates the connector without its code: the account names the bank.
    assert settings.bank(None, "TZ-ACC-2")[0] == "MPESA_TZ"
    assert settings.bank(None, "KE-ACC-1")[0] == "MPESA_KE"
    with pytest.raises(SettingsError):
        settings.bank(None, "ELSEWHERE")
    with pytest.raises(SettingsError):
        settings.bank("MPESA_KE", "TZ-ACC-1")
    # Secrets never show: not in a repr, not in a dump as text.
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for secret in (SECRET, PASSWORD, API_KEY, CALLBACK, "DbPass-77"):
        assert secret not in shown
    assert sorted(settings.secret_values()) == sorted(
        [SECRET, PASSWORD, API_KEY, CALLBACK, CALLBACK, "DbPass-77"]
    )
    # The wire's own config, from the same settings the addon passes.
    assert type(bank.wire_config()).__name__ == "OpenApiConfig"
    assert type(settings.bank("MPESA_KE")[1].wire_config()).__name__ == "DarajaConfig"


def test_settings_banks_map_and_the_environment_wins(clean_env, tmp_path):
    (tmp_path / ".env").write_text(f"G2P_BRIDGE_MPESA_BANKS='{json.dumps({'mpesa-ke': kenya()})}'\n")
    clean_env.setenv("G2P_BRIDGE_MPESA_BANKS", json.dumps({"MPESA-KE": kenya(max_amount=1000)}))
    settings = load_settings(".env")
    assert list(settings.banks) == ["MPESA-KE"]
    assert settings.banks["MPESA-KE"].limits == (10, 1000)


def test_a_bad_setting_is_named_without_its_value(clean_env):
    clean_env.setenv("G2P_BRIDGE_MPESA_BANK_MPESA_XX", json.dumps(kenya(market="XX")))
    with pytest.raises(SettingsError) as err:
        load_settings(None)
    assert "market" in str(err.value) and SECRET not in str(err.value) and PASSWORD not in str(err.value)
    clean_env.setenv("G2P_BRIDGE_MPESA_BANK_MPESA_XX", json.dumps(kenya(nonsense=SECRET)))
    with pytest.raises(SettingsError) as err:
        load_settings(None)
    assert "nonsense" in str(err.value) and SECRET not in str(err.value)
    bank = BankSettings(**kenya(initiator_password=None))
    with pytest.raises(SettingsError, match="initiator_password"):
        bank.wire_config()


# ---------------------------------------------------------------------------------- refusals
KE = BankSettings(**kenya())
TZ = BankSettings(**tanzania())


@pytest.mark.parametrize(
    "amount, phone, expected",
    [
        (1500.0, "0712 345-678", ("254712345678", 1500)),
        (250000.0, "+254110000003", ("254110000003", 250000)),
        (10, "254712345678", ("254712345678", 10)),
        (1500.5, "0712345678", "PREFLIGHT_AMOUNT"),  # a fraction of a shilling: never rounded
        (0.1 + 0.2, "0712345678", "PREFLIGHT_AMOUNT"),
        (1234.56, "0712345678", "PREFLIGHT_AMOUNT"),
        (9.0, "0712345678", "PREFLIGHT_AMOUNT"),  # below Kenya's minimum
        (250001.0, "0712345678", "PREFLIGHT_AMOUNT"),
        (-5.0, "0712345678", "PREFLIGHT_AMOUNT"),
        (float("nan"), "0712345678", "PREFLIGHT_AMOUNT"),
        (100.0, "+255754123456", "PREFLIGHT_MSISDN"),  # Tanzanian number on a Kenyan program
        (100.0, "020 2222222", "PREFLIGHT_MSISDN"),  # a Nairobi landline
        (100.0, None, "PREFLIGHT_MSISDN"),
        (100.0, "07123abc78", "PREFLIGHT_MSISDN"),
    ],
)
def test_kenya_refuses_up_front(amount, phone, expected):
    if isinstance(expected, tuple):
        checked = check_payment(KE, amount=amount, currency="KES", phone=phone, account_type="MOBILE_WALLET")
        assert (checked.msisdn, checked.units) == expected
    else:
        with pytest.raises(Refusal) as refusal:
            check_payment(KE, amount=amount, currency="KES", phone=phone)
        assert refusal.value.code == expected and refusal.value.reason


def test_refusals_name_the_reason():
    with pytest.raises(Refusal, match="pays in KES"):
        check_payment(KE, amount=100.0, currency="TZS", phone="0712345678")
    with pytest.raises(Refusal, match="mobile wallets") as refusal:
        check_payment(KE, amount=100.0, currency="KES", phone="0712345678", account_type="BANK_ACCOUNT")
    assert refusal.value.code == "PREFLIGHT_ACCOUNT_TYPE"
    with pytest.raises(Refusal, match="fraction"):
        check_payment(KE, amount=1500.5, currency="KES", phone="0712345678")
    only_mpesa = BankSettings(**kenya(wallet_providers=["MPESA"]))
    assert check_payment(
        only_mpesa, amount=100.0, currency="KES", phone="0712345678", wallet_provider="mpesa"
    )
    with pytest.raises(Refusal) as refusal:
        check_payment(only_mpesa, amount=100.0, currency="KES", phone="0712345678", wallet_provider="AIRTEL")
    assert refusal.value.code == "PREFLIGHT_WALLET_PROVIDER"


def test_tanzania_numbers_and_shillings():
    checked = check_payment(TZ, amount=1_000_000.0, currency="TZS", phone="0754 123 456")
    assert (checked.msisdn, checked.units) == ("255754123456", 1_000_000)
    with pytest.raises(Refusal, match="network"):  # 71x is not Vodacom's
        check_payment(TZ, amount=1000.0, currency="TZS", phone="0712345678")
    with pytest.raises(Refusal):
        check_payment(TZ, amount=1000.0, currency="TZS", phone="254712345678")
    with pytest.raises(Refusal, match="fraction"):
        check_payment(TZ, amount=1000.25, currency="TZS", phone="0754123456")


# ---------------------------------------------------------------------------------- ledger
@pytest.fixture(scope="module")
def pg():
    try:
        cluster = PgCluster().start()
    except Unavailable as exc:
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def db(pg):
    database = Database(pg.create_database("t" + uuid.uuid4().hex[:12]))
    database.ensure_schema()
    yield database
    database.close()


def add_payment(cur, disbursement_id, block_reference, amount, bank="MPESA_KE"):
    cur.execute(
        "INSERT INTO mpesa_bridge_payment (disbursement_id, bank_code, market, account_number, currency,"
        " block_reference, amount, state) VALUES (%s, %s, 'KE', 'KE-ACC-1', 'KES', %s, %s, 'reserved')",
        [disbursement_id, bank, block_reference, amount],
    )


def test_blocks_payments_and_releases_add_up(db):
    with db.cursor() as cur:
        block = ledger.block(cur, "MPESA_KE", "KE-ACC-1", "KES", Decimal(1000))
        for did, amount in (("d1", 300), ("d2", 200), ("d3", 500), ("d4", 100)):
            add_payment(cur, did, block, amount)
        ledger.hold(cur, block, "d1", Decimal(300))
        ledger.hold(cur, block, "d2", Decimal(200))
        ledger.hold(cur, block, "d3", Decimal(500))
        with pytest.raises(ledger.LedgerError, match="more than the funds blocked"):
            ledger.hold(cur, block, "d4", Decimal(100))
        pos = ledger.position(cur, block)
        assert (pos.block, pos.held, pos.free, pos.unspent) == (1000, 1000, 0, 1000)
    with db.cursor() as cur:
        assert ledger.settle_paid(cur, "d1", "receipt A")
        assert not ledger.settle_paid(cur, "d1", "again")  # a second result changes nothing
        assert ledger.settle_released(cur, "d2", "failed 2001")
        assert not ledger.settle_released(cur, "d2")
        cur.execute("UPDATE mpesa_bridge_payment SET state = 'paid' WHERE disbursement_id IN ('d1', 'd3')")
        cur.execute("UPDATE mpesa_bridge_payment SET state = 'failed' WHERE disbursement_id = 'd2'")
        assert ledger.position(cur, block).state == "open"
        ledger.settle_paid(cur, "d3")
        pos = ledger.position(cur, block)
        assert pos.state == "closed"
        assert (pos.block, pos.pay, pos.release, pos.held, pos.free) == (1000, 800, 200, 0, 0)
        assert pos.block == pos.pay + pos.release
        cur.execute("UPDATE mpesa_bridge_payment SET state = 'refused' WHERE disbursement_id = 'd4'")
        assert ledger.check(cur) == []
        # The running totals are proved against the entries: a total changed by hand is found.
        cur.execute("ALTER TABLE mpesa_bridge_reservation DROP CONSTRAINT mpesa_bridge_reservation_check")
        cur.execute("UPDATE mpesa_bridge_reservation SET paid = paid + 1 WHERE block_reference = %s", [block])
        assert f"{block}: paid 801.00 but the entries say 800.00" in ledger.check(cur)
        cur.execute("UPDATE mpesa_bridge_reservation SET paid = paid - 1 WHERE block_reference = %s", [block])
        with pytest.raises(ledger.LedgerError, match="closed"):
            ledger.hold(cur, block, "d4", Decimal(1))
        with pytest.raises(ledger.LedgerError, match="not blocked by this connector"):
            ledger.hold(cur, "MPB-NOPE", "d4", Decimal(1))


def test_an_unused_block_is_released_at_expiry(db):
    with db.cursor() as cur:
        block = ledger.block(cur, "MPESA_KE", "KE-ACC-1", "KES", Decimal(500))
        add_payment(cur, "e1", block, 120)
        ledger.hold(cur, block, "e1", Decimal(120))
        ledger.settle_paid(cur, "e1")
        cur.execute("UPDATE mpesa_bridge_payment SET state = 'paid'")
        assert ledger.expire(cur, ttl_hours=1) == []  # young
        assert ledger.committed(cur, "MPESA_KE") == Decimal(380)
        cur.execute("UPDATE mpesa_bridge_reservation SET created_at = now() - interval '2 hours'")
        assert ledger.expire(cur, ttl_hours=1) == [block]
        pos = ledger.position(cur, block)
        assert (pos.state, pos.pay, pos.release, pos.free) == ("closed", 120, 380, 0)
        assert ledger.committed(cur, "MPESA_KE") == 0
        assert ledger.check(cur) == []


def test_random_ledger_walks_always_add_up(db):
    rng = random.Random(20250304)
    with db.cursor() as cur:
        blocks = [
            ledger.block(cur, "MPESA_KE", "A", "KES", Decimal(rng.randint(100, 5000))) for _ in range(5)
        ]
    open_payments, n = [], 0
    for _step in range(300):
        with db.cursor() as cur:
            action = rng.random()
            if action < 0.5 or not open_payments:
                n += 1
                block, amount = rng.choice(blocks), Decimal(rng.randint(1, 800))
                add_payment(cur, f"p{n}", block, amount)
                try:
                    ledger.hold(cur, block, f"p{n}", amount)
                    open_payments.append(f"p{n}")
                except ledger.LedgerError:
                    cur.execute(
                        "UPDATE mpesa_bridge_payment SET state = 'refused' WHERE disbursement_id = %s",
                        [f"p{n}"],
                    )
            else:
                did = open_payments.pop(rng.randrange(len(open_payments)))
                if rng.random() < 0.6:
                    ledger.settle_paid(cur, did)
                    cur.execute(
                        "UPDATE mpesa_bridge_payment SET state = 'paid' WHERE disbursement_id = %s", [did]
                    )
                else:
                    ledger.settle_released(cur, did)
                    cur.execute(
                        "UPDATE mpesa_bridge_payment SET state = 'failed' WHERE disbursement_id = %s", [did]
                    )
            cur.execute(
                "UPDATE mpesa_bridge_payment SET state = 'accepted' WHERE held AND state = 'reserved'"
            )
            assert ledger.check(cur) == []
            for pos in ledger.positions(cur):
                assert pos.block == pos.pay + pos.release + pos.held + pos.free
                assert min(pos.pay, pos.release, pos.held, pos.free) >= 0


def engine_for(db, bank_settings, **settings_values):
    from g2p_bridge_mpesa.settings import MpesaBridgeSettings

    settings = MpesaBridgeSettings(banks={"MPESA_KE": bank_settings}, **settings_values)
    return Engine(settings, "MPESA_KE", settings.banks["MPESA_KE"], db=db)


def test_two_envelopes_cannot_both_count_on_one_float(db):
    engine = engine_for(db, kenya())
    with db.cursor() as cur:
        engine.store_balance(cur, Decimal(1000), None, "balance")
    assert engine.check_funds("KE-ACC-1", "KES", 1000.0).status == "available"
    assert engine.check_funds("KE-ACC-1", "KES", 1000.01).status == "not_available"
    answers = []
    barrier = threading.Barrier(4)

    def block():
        barrier.wait()
        answers.append(engine.block_funds("KE-ACC-1", "KES", 600.0))

    threads = [threading.Thread(target=block) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.ok for answer in answers) == [False, False, False, True]
    assert all("MPESA_FLOAT_SHORT" in a.error_code for a in answers if not a.ok)
    assert engine.check_funds("KE-ACC-1", "KES", 400.0).status == "available"
    assert engine.check_funds("KE-ACC-1", "KES", 401.0).status == "not_available"
    assert engine.block_funds("KE-ACC-1", "TZS", 1.0).error_code.startswith("MPESA_CURRENCY")


def test_without_a_balance_query_the_policy_decides(db):
    from g2p_bridge_mpesa.settings import MpesaBridgeSettings

    settings = MpesaBridgeSettings(
        banks={"MPESA_TZ": tanzania(), "STRICT": tanzania(no_balance_policy="refuse")}
    )
    passing = Engine(settings, "MPESA_TZ", settings.banks["MPESA_TZ"], db=db)
    strict = Engine(settings, "STRICT", settings.banks["STRICT"], db=db)
    answer = passing.check_funds("TZ-ACC-1", "TZS", 5_000_000.0)
    assert (answer.status, answer.error_code.split(":")[0]) == ("available", "MPESA_NO_BALANCE_QUERY")
    assert strict.check_funds("TZ-ACC-1", "TZS", 1.0).status == "not_available"
    assert passing.block_funds("TZ-ACC-1", "TZS", 5_000_000.0).ok
    assert not strict.block_funds("TZ-ACC-1", "TZS", 1.0).ok
