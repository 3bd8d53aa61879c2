"""The connector's configuration, kept the way G2P Bridge keeps its own: pydantic settings read
from environment variables or a ``.env`` file in the working directory, with a prefix.

One JSON object per program's sponsor bank code (the code the bridge's benefit program
configuration names, e.g. ``MPESA_KE``), in either form::

    G2P_BRIDGE_MPESA_BANK_MPESA_KE={"market": "KE", "base_url": "...", "consumer_key": "...", ...}
    G2P_BRIDGE_MPESA_BANKS={"MPESA_KE": {...}, "MPESA-TZ": {...}}   # codes an env name cannot spell

plus the connector-wide settings (``G2P_BRIDGE_MPESA_DB_DATASOURCE``, ``..._BRIDGE_API_URL``,
``..._LISTEN_PORT``...). Secrets are :class:`~pydantic.SecretStr`: a settings object printed, logged
or shown in a traceback shows ``**********``.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import mpesa_wire
from mpesa_wire import markets

ENV_PREFIX = "G2P_BRIDGE_MPESA_"
BANK_PREFIX = ENV_PREFIX + "BANK_"
# The fields whose values are secrets: never logged, never in a repr, never in an error message.
SECRET_FIELDS = ("consumer_secret", "initiator_password", "api_key", "callback_secret")


class SettingsError(ValueError):
    """The configuration is unusable; the message names fields, never their values."""


class BankSettings(BaseModel):
    """One sponsor bank code: an M-Pesa organisation (shortcode and app) in one market."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    market: str
    # The API the market is paid through, where it offers more than one (``mpesa_wire.for_market``:
    # Mozambique's ``openapi`` by default, or ``vodacom_mz``, Vodacom Mozambique's own API); unset:
    # the market's default.
    api_family: str | None = None
    base_url: str
    # "production" / "sandbox" pick the OpenAPI's path prefix; "simulator" is this repository's.
    environment: Literal["production", "sandbox", "simulator"] = "production"
    # The programs' sponsor_bank_account_number(s) this organisation pays for: how a connector
    # created without its code (1.2's configuration-chosen connectors) finds its settings, and the
    # :25: of the statements it writes.
    account_numbers: tuple[str, ...] = ()
    # Daraja (Kenya, Ethiopia)
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    initiator_name: str | None = None
    initiator_password: SecretStr | None = None
    certificate: str | None = None  # PEM text of M-Pesa's public certificate
    certificate_file: str | None = None
    reversal_identifier_type: str | None = None
    # Vodacom's OpenAPI (Tanzania, DR Congo, Lesotho, Ghana, Mozambique)
    api_key: SecretStr | None = None
    public_key: str | None = None  # base64 DER from the portal, or PEM
    session_delay_seconds: float | None = None
    session_lifetime_seconds: float | None = None
    # Vodacom Mozambique's own API (api_family "vodacom_mz"; api_key, public_key, shortcode as above;
    # initiator_name / initiator_password: the initiator identifier and security credential, for
    # reversals): each operation's port ("b2c=18345,query=18353,reversal=18354", any subset), and
    # the reversal's amount field (input_ReversalAmount or input_Amount).
    vodacom_mz_ports: str | None = None
    reversal_amount_field: str | None = None
    # Both: Daraja's B2C shortcode, the OpenAPI's ServiceProviderCode.
    shortcode: str | None = None
    # Limits per payment, whole units (the market's when unset).
    min_amount: int | None = None
    max_amount: int | None = None
    command_id: Literal["BusinessPayment", "SalaryPayment", "PromotionPayment"] = "BusinessPayment"
    remarks: str = "G2P payment"
    # Wallet providers (SPAR's wallet_provider_code, as the bridge resolved it) this connector
    # pays; empty: any.
    wallet_providers: tuple[str, ...] = ()
    # Where M-Pesa reaches the connector's result listener (its public URL) and the secret in
    # the path that proves a callback came through the URL we gave M-Pesa.
    callback_base_url: str | None = None
    callback_secret: SecretStr | None = None
    max_requests_per_second: float = 10.0
    concurrency: int = Field(default=4, ge=1, le=64)
    # Where the API has no balance query (the OpenAPI): "pass" answers funds available and lets
    # M-Pesa refuse what the float cannot cover (each such payment comes back failed); "refuse"
    # answers funds not available, for operators who want nothing sent unverified.
    no_balance_policy: Literal["pass", "refuse"] = "pass"

    @field_validator("market")
    @classmethod
    def _known_market(cls, value: str) -> str:
        value = (value or "").upper()
        if value not in markets.MARKETS:
            raise ValueError(f"unknown M-Pesa market {value!r}; known: {', '.join(markets.MARKETS)}")
        return value

    @field_validator("base_url", "callback_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"https?://", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("account_numbers", "wallet_providers", mode="before")
    @classmethod
    def _tuple(cls, value):
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @model_validator(mode="after")
    def _family(self):
        try:
            family = self.family
        except KeyError as exc:  # the market does not offer this API (the message names both)
            raise ValueError(str(exc.args[0]) if exc.args else "unknown M-Pesa API family") from None
        # A setting of one family's only given to another is a mistake, never silently ignored.
        named = set(family.required_settings) | set(family.optional_settings)
        for name in ("vodacom_mz_ports", "reversal_amount_field"):
            if getattr(self, name) and name not in named:
                raise ValueError(f"{name} is not a setting of {family.label}")
        return self

    @model_validator(mode="after")
    def _limits(self):
        market = self.market_data
        low = self.min_amount if self.min_amount is not None else market.min_amount
        high = self.max_amount if self.max_amount is not None else market.max_amount
        if not 0 < low <= high:
            raise ValueError("amount limits must satisfy 0 < min_amount <= max_amount")
        return self

    # ------------------------------------------------------------------ derived
    @property
    def market_data(self) -> markets.Market:
        return markets.market(self.market)

    @property
    def family(self) -> mpesa_wire.Family:
        return mpesa_wire.for_market(self.market_data, self.api_family)

    @property
    def currency(self) -> str:
        return self.market_data.currency

    @property
    def limits(self) -> tuple[int, int]:
        market = self.market_data
        return (
            self.min_amount if self.min_amount is not None else market.min_amount,
            self.max_amount if self.max_amount is not None else market.max_amount,
        )

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    def secret_values(self) -> list[str]:
        """Every secret of this bank (to check that no log line holds one)."""
        return [value for name in SECRET_FIELDS if (value := self.secret(name))]

    def certificate_pem(self) -> bytes | None:
        if self.certificate:
            return self.certificate.encode("ascii")
        if self.certificate_file:
            return Path(self.certificate_file).read_bytes()
        return None

    def wire_settings(self) -> dict[str, Any]:
        """The settings mapping the market's API family builds its config from (the same
        ``family.config`` the Odoo addon calls), or SettingsError naming what is missing."""
        import base64

        low, high = self.limits
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.secret("consumer_secret"),
            "shortcode": self.shortcode,
            "initiator_name": self.initiator_name,
            "initiator_password": self.secret("initiator_password"),
            "api_key": self.secret("api_key"),
            "public_key": self.public_key,
            "reversal_identifier_type": self.reversal_identifier_type,
            "session_delay_seconds": self.session_delay_seconds,
            "session_lifetime_seconds": self.session_lifetime_seconds,
            "vodacom_mz_ports": self.vodacom_mz_ports,
            "reversal_amount_field": self.reversal_amount_field,
            "environment": "sandbox" if self.environment == "simulator" else self.environment,
            "min_amount": low,
            "max_amount": high,
        }
        pem = self.certificate_pem()
        values["certificate"] = base64.b64encode(pem).decode("ascii") if pem else None
        missing = [name for name in self.family.required_settings if not values.get(name)]
        if missing:
            raise SettingsError(f"M-Pesa ({self.family.label}) settings missing: {', '.join(missing)}")
        return {key: value for key, value in values.items() if value is not None}

    def wire_config(self):
        try:
            return self.family.config(self.wire_settings(), self.market_data)
        except (KeyError, ValueError) as exc:
            if isinstance(exc, SettingsError):
                raise
            # The wire's own messages name fields, never values.
            raise SettingsError(f"M-Pesa settings refused: {exc}") from None


class MpesaBridgeSettings(BaseSettings):
    """Connector-wide settings (prefix ``G2P_BRIDGE_MPESA_``) and the banks."""

    model_config = SettingsConfigDict(env_prefix="g2p_bridge_mpesa_", env_file=".env", extra="ignore")

    banks: dict[str, BankSettings] = {}
    # The connector's PostgreSQL database (its ledger; may be the bridge's own database: the
    # tables are prefixed mpesa_bridge_). A SQLAlchemy URL's "+driver" is accepted and ignored.
    db_datasource: SecretStr | None = None
    # Where the bridge's partner API takes statements (POST {bridge_api_url}/upload_mt940).
    bridge_api_url: str = "http://localhost:8000"
    # The result listener (``g2p-bridge-mpesa serve``).
    listen_host: str = "127.0.0.1"
    listen_port: int = 8095
    # The serve loop: status queries, re-sends, statements, expiry of unused reservations.
    loop_seconds: float = 10.0
    reconcile_after_seconds: float = 120.0  # no result this long after acceptance: ask M-Pesa
    status_query_interval_seconds: float = 120.0
    # An outcome unknown (timeout, 5xx, duplicate id) is asked about this soon; a payment M-Pesa
    # failed for a passing reason goes again (new id) this soon.
    unknown_check_seconds: float = 30.0
    max_status_queries: int = 5  # then the payment is held for a person (never reported paid)
    max_submit_attempts: int = 5  # sends of one request id refused for a passing reason
    max_new_ids: int = 3  # new request ids after M-Pesa failed a payment for a passing reason
    stale_reservation_seconds: float = 600.0  # a request id reserved, never acknowledged
    balance_max_age_seconds: float = 300.0
    balance_wait_seconds: float = 20.0
    reservation_ttl_hours: float = 168.0  # a block nothing spends is released after this
    http_timeout_seconds: float = 30.0
    # 1.1.0 never resets a statement whose mt940 worker died (Celery acks early; unlike disbursement
    # batches, no threshold): when the connector's database is the bridge's, a statement of ours
    # left PROCESSING this many minutes after its upload is set back to PENDING. 0: off.
    requeue_stuck_statements_minutes: float = 0.0

    @field_validator("banks", mode="before")
    @classmethod
    def _banks_json(cls, value):
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dict):
            return {str(code).upper(): bank for code, bank in value.items()}
        return value

    @field_validator("bridge_api_url")
    @classmethod
    def _bridge_url(cls, value: str) -> str:
        return value.rstrip("/")

    # ------------------------------------------------------------------ lookups
    def bank(self, code: str | None = None, account_number: str | None = None) -> tuple[str, BankSettings]:
        """(code, settings) of a sponsor bank code, or of the bank that pays for an account.

        1.1.0's factory knows the code; 1.2 creates a connector from configuration without it,
        and its calls name only the account (check and block) or the remitting account (each
        payment): the bank whose ``account_numbers`` hold it, or the only bank configured.
        """
        if code is not None:
            code = code.upper()
            if code not in self.banks:
                raise SettingsError(f"no M-Pesa settings for sponsor bank code {code!r}")
            bank = self.banks[code]
            if account_number and bank.account_numbers and account_number not in bank.account_numbers:
                raise SettingsError(f"account {account_number!r} is not one of {code}'s account_numbers")
            return code, bank
        matching = [
            (c, b) for c, b in self.banks.items() if account_number and account_number in b.account_numbers
        ]
        if len(matching) == 1:
            return matching[0]
        if not matching and len(self.banks) == 1:
            return next(iter(self.banks.items()))
        raise SettingsError(
            f"cannot tell which M-Pesa bank pays for account {account_number!r}: set account_numbers"
        )

    def dsn(self) -> str:
        if self.db_datasource is None:
            raise SettingsError("G2P_BRIDGE_MPESA_DB_DATASOURCE is not set (the connector's PostgreSQL)")
        return re.sub(r"^postgresql\+[a-z0-9]+://", "postgresql://", self.db_datasource.get_secret_value())

    def secret_values(self) -> list[str]:
        values = [secret for bank in self.banks.values() for secret in bank.secret_values()]
        if self.db_datasource is not None:
            password = re.search(r"://[^:/@]+:([^@]+)@", self.db_datasource.get_secret_value())
            if password:
                values.append(password.group(1))
        return values


def _bank_variables(environ, dotenv) -> dict[str, Any]:
    """``G2P_BRIDGE_MPESA_BANK_<CODE>`` entries (the environment wins over the .env file)."""
    found = {}
    for source in (dotenv, environ):
        for name, value in source.items():
            if value is not None and name.upper().startswith(BANK_PREFIX) and len(name) > len(BANK_PREFIX):
                found[name[len(BANK_PREFIX) :].upper()] = json.loads(value)
    return found


def load_settings(env_file: str | os.PathLike | None = ".env", **overrides) -> MpesaBridgeSettings:
    """The settings from the environment and ``env_file`` (the working directory's ``.env``)."""
    dotenv: dict[str, Any] = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        dotenv = dict(dotenv_values(env_file))
    try:
        settings = MpesaBridgeSettings(_env_file=env_file, **overrides)
        extra = _bank_variables(os.environ, dotenv)
        if extra:
            banks = {code: bank.model_dump() for code, bank in settings.banks.items()}
            banks.update(extra)
            settings = MpesaBridgeSettings(_env_file=env_file, **{**overrides, "banks": banks})
    except json.JSONDecodeError as exc:
        raise SettingsError(f"a G2P_BRIDGE_MPESA_ bank setting is not JSON ({exc.msg})") from None
    except ValueError as exc:
        raise SettingsError(_safe_errors(exc)) from None
    return settings


def _safe_errors(exc: ValueError) -> str:
    """pydantic's message without the input values (which may hold a secret)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return "invalid G2P_BRIDGE_MPESA_ settings"
    parts = []
    for error in errors():
        where = ".".join(str(item) for item in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}")
    return "invalid G2P_BRIDGE_MPESA_ settings: " + "; ".join(parts)


def money(value) -> Decimal:
    """A bridge amount (a float in its payloads) as the Decimal it was written as."""
    return Decimal(str(value))
