"""The simulated organisation and its first-start set-up (credentials, keys, float, demo data).

Everything generated here is stored in the database, so a restart finds the same
credentials, certificate and balances.
"""

from __future__ import annotations

import secrets
import sqlite3

from mpesa_sim import credentials, directory, ledger, markets
from mpesa_sim.db import Database

DEFAULTS = {
    "consumer_key": "sim-consumer-key",
    "consumer_secret": "sim-consumer-secret",
    "shortcode": "600000",
    "org_name": "OpenG2P Demo Ministry",
    "initiator_name": "g2p_initiator",
    "initiator_password": "Sim-Initiator-Pass-1",
}
UTILITY_FLOAT_CENTS = 10_000_000_00
WORKING_FLOAT_CENTS = 1_000_000_00

# Tunable at run time through PUT /sim/admin/config.
DEFAULT_CONFIG = {
    "token_ttl_seconds": 3599,
    "min_amount": 10,
    "max_amount": 250_000,
    "recipient_daily_limit": 500_000,
    "recipient_balance_cap": 500_000,
    "credential_lock_after": 3,
    "callback_timeout_seconds": 10.0,
    "callback_retries": 0,
    "ussd_pin_attempts": 3,
}

# The OpenAPI markets' own settings, also through PUT /sim/admin/config (Kenya and Ethiopia have
# none of them).
OPENAPI_CONFIG = {
    # "SessionID can take up to 30 seconds to become 'live'" (vodacom-openapi.md 2 [H])
    "openapi_session_delay_seconds": 30,
    "openapi_session_lifetime_seconds": 3600,
    # Synchronous answers (receipt in the 201) or asynchronous ones (result POSTed to the
    # application's Response URL): per application in the real portal.
    "openapi_b2c_mode": "sync",
    "openapi_callback_url": "",
    # The answer to an unknown, not yet live or expired session: NOT documented by Vodacom.
    "openapi_invalid_session_status": 401,
    "openapi_invalid_session_code": "INS-6",
    "openapi_invalid_session_desc": "Transaction Failed",
}
# The settings that are text, and what each may be.
TEXT_SETTINGS = {
    "openapi_b2c_mode": (r"sync|async", "sync or async"),
    "openapi_callback_url": (r"(https?://[^\s/?#]+[^\s]*)?", "an http(s) URL or empty"),
    "openapi_invalid_session_code": (r"INS-\d{1,5}", "an INS code such as INS-6"),
    "openapi_invalid_session_desc": (r"[^\x00-\x1f]{1,200}", "1 to 200 characters"),
}

DEMO_AGENT = {"email": "agent@mpesa-sim.local", "password": "Agent-Pass-1", "float_cents": 500_000_00}
DEMO_ADMIN = {"email": "admin@mpesa-sim.local", "password": "Admin-Pass-1"}
DEMO_SUBSCRIBER_PASSWORD = "Subscriber-Pass-1"
# Kenya's; every market's are in markets.py.
DEMO_WALLETS = [dict(w) for w in markets.KENYA.demo_wallets]
DEMO_TILLS = [dict(t) for t in markets.KENYA.demo_tills]


def default_config(market: markets.Market) -> dict:
    """The settings a new database starts with: Kenya's as ever, a market's own limits otherwise,
    and an OpenAPI market's own settings."""
    return {**DEFAULT_CONFIG, **market.limits, **(OPENAPI_CONFIG if market.is_openapi else {})}


def stored_market(db: Database) -> markets.Market | None:
    """The market a database was made for (a file from before markets is Kenyan); None if new."""
    code = db.get_setting("market")
    if code is None:
        return None if db.get_setting("org") is None else markets.KENYA
    return markets.get(code)


def bootstrap(
    db: Database, admin_token: str | None = None, demo: bool = True, market: markets.Market | None = None
) -> dict:
    """Create what a first start needs; on later starts only apply an explicit admin token.

    ``market`` None means: the stored one (Kenya for a new file). A database made for another
    market than the one asked for raises MarketMismatch and is left untouched.
    """
    stored = stored_market(db)
    if market is not None and stored is not None and stored is not market:
        raise markets.MarketMismatch(
            f"this database ({db.path}) is a {stored.code} ({stored.country}) simulator;"
            f" it cannot start as {market.code} ({market.country}): use another --db"
        )
    market = stored or market or markets.KENYA
    markets.activate(market)  # this process's market: numbers, SMS and USSD follow it
    with db.write() as conn:
        if db.get_setting("org") is None:
            key_pem, cert_pem = credentials.generate_key_and_certificate()
            db.set_setting("org", {**DEFAULTS, **market.org}, conn)
            db.set_setting("rsa_key_pem", key_pem, conn)
            db.set_setting("certificate_pem", cert_pem, conn)
            db.set_setting("jwt_secret", secrets.token_hex(32), conn)
            db.set_setting("initiator", {"consecutive_failures": 0, "locked": False}, conn)
            db.set_setting("admin_token", admin_token or secrets.token_urlsafe(24), conn)
            _create_org_accounts(conn)
            if demo:
                _create_demo_data(conn, market)
        elif admin_token:
            db.set_setting("admin_token", admin_token, conn)
        if db.get_setting("market") is None:
            db.set_setting("market", market.code, conn)
        if db.get_setting("config") is None:
            db.set_setting("config", default_config(market), conn)
        if market.is_openapi and db.get_setting("openapi") is None:
            # The OpenAPI application: its API key, and the key pair whose public half the
            # portal publishes (clients encrypt the API key and the SessionID with it).
            key_pem, public_key = credentials.generate_openapi_key()
            db.set_setting(
                "openapi",
                {"api_key": credentials.new_openapi_api_key(), "key_pem": key_pem, "public_key": public_key},
                conn,
            )
    return db.get_setting("org")


def _create_org_accounts(conn: sqlite3.Connection) -> None:
    ledger.ensure_account(conn, ledger.UTILITY, "org_utility", "Utility Account")
    ledger.ensure_account(conn, ledger.WORKING, "org_working", "Working Account")
    ledger.topup(conn, ledger.UTILITY, UTILITY_FLOAT_CENTS, "initial B2C float")
    ledger.topup(conn, ledger.WORKING, WORKING_FLOAT_CENTS, "initial working float")


def _create_demo_data(conn: sqlite3.Connection, market: markets.Market) -> None:
    wallets = [dict(w) for w in market.demo_wallets]
    directory.seed(conn, {"wallets": wallets, "tills": [dict(t) for t in market.demo_tills]})
    for wallet in wallets:
        if wallet.get("email"):
            acc = ledger.account_id(conn, directory.wallet_ref(wallet["msisdn"]))
            create_sm_user(
                conn,
                "subscriber",
                wallet["email"],
                DEMO_SUBSCRIBER_PASSWORD,
                wallet["first_name"],
                wallet["last_name"],
                wallet["msisdn"],
                acc,
            )
    create_sm_user(
        conn, "administrator", DEMO_ADMIN["email"], DEMO_ADMIN["password"], "Sim", "Admin", None, None
    )
    agent = create_sm_user(
        conn, "agent", DEMO_AGENT["email"], DEMO_AGENT["password"], "Demo", "Agent", None, None
    )
    # The agent's cash comes out of the organisation's Working account (a recorded transfer),
    # so the ledger stays closed.
    ledger.transfer(conn, "float_transfer", ledger.WORKING, agent["account_ref"], DEMO_AGENT["float_cents"])


def create_sm_user(
    conn: sqlite3.Connection,
    user_type: str,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str | None,
    account: int | None,
) -> dict:
    """A simple-mpesa login; agents and merchants get an account of their own."""
    account_ref = None
    if account is None and user_type in ("agent", "merchant"):
        account_ref = f"{user_type}:{email.lower()}"
        account = ledger.ensure_account(
            conn, account_ref, user_type, f"{first_name} {last_name}".strip().upper()
        )
    user_id = conn.execute(
        "INSERT INTO sm_users(user_type, email, password_hash, first_name, last_name, phone, account_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_type, email.lower(), credentials.hash_secret(password), first_name, last_name, phone, account),
    ).lastrowid
    if account_ref is None and account is not None:
        account_ref = conn.execute("SELECT ref FROM accounts WHERE id = ?", (account,)).fetchone()["ref"]
    return {"id": user_id, "account_ref": account_ref}
