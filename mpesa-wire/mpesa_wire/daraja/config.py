"""Connection settings of one Daraja app (one environment, one shortcode, one initiator)."""

import base64
import re
from dataclasses import dataclass, field

from ..numbers import KENYA, NumberPlan


@dataclass(frozen=True)
class DarajaConfig:
    base_url: str
    consumer_key: str
    # Secrets are excluded from repr so that a config in a log line or a traceback leaks nothing.
    consumer_secret: str = field(repr=False)
    shortcode: str
    initiator_name: str
    initiator_password: str = field(repr=False)
    certificate: bytes = field(repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    min_amount: int = 10
    max_amount: int = 250_000
    # RecieverIdentifierType of a reversal: "11" in Safaricom's current docs, "4" in older ones.
    reversal_identifier_type: str = "11"
    # Where the market's Daraja has its routes (Kenya's by default; Safaricom Ethiopia's differ:
    # wire/markets.py), and whose numbers it pays.
    token_path: str = "/oauth/v1/generate"
    b2c_path: str = "/mpesa/b2c/v3/paymentrequest"
    b2c_validated_path: str = "/mpesa/b2cvalidate/v2/paymentrequest"  # empty: the market has none
    status_path: str = "/mpesa/transactionstatus/v1/query"
    balance_path: str = "/mpesa/accountbalance/v1/query"
    reversal_path: str = "/mpesa/reversal/v1/request"
    number_plan: NumberPlan = KENYA

    def __post_init__(self):
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        # Frozen: normalise through object.__setattr__ so that "https://host/" and "https://host"
        # share one cached token.
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if isinstance(self.certificate, str):
            object.__setattr__(self, "certificate", self.certificate.encode("ascii"))
        for name in ("consumer_key", "consumer_secret", "shortcode", "initiator_name", "initiator_password"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} is required")
        if not isinstance(self.certificate, bytes) or not self.certificate:
            raise ValueError("certificate is required (PEM or DER bytes)")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if not (0 < self.min_amount <= self.max_amount):
            raise ValueError("amount limits must satisfy 0 < min_amount <= max_amount")
        for name in ("token_path", "b2c_path", "status_path", "balance_path", "reversal_path"):
            if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+", getattr(self, name) or ""):
                raise ValueError(f"{name} must be a path such as /mpesa/b2c/v3/paymentrequest")
        identifier_type = self.reversal_identifier_type
        if not isinstance(identifier_type, str) or not re.fullmatch(r"[0-9]{1,2}", identifier_type):
            raise ValueError("reversal_identifier_type must be an identifier type number such as '11' or '4'")

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def budget_key(self) -> str:
        """Requests of one app and shortcode share M-Pesa's rate limit, so one rate budget."""
        return f"{self.base_url}#{self.shortcode}"


def config_from_settings(settings, market) -> DarajaConfig:
    """A config from the manager's settings (field name -> value; the certificate as base64, as
    Odoo stores a binary field) for ``market``: its routes and its number plan."""
    optional = {}
    if settings.get("reversal_identifier_type"):
        optional["reversal_identifier_type"] = settings["reversal_identifier_type"]
    return DarajaConfig(
        base_url=settings["base_url"],
        consumer_key=settings["consumer_key"],
        consumer_secret=settings["consumer_secret"],
        shortcode=settings["shortcode"],
        initiator_name=settings["initiator_name"],
        initiator_password=settings["initiator_password"],
        certificate=base64.b64decode(settings["certificate"]),
        min_amount=settings["min_amount"],
        max_amount=settings["max_amount"],
        number_plan=market.number_plan,
        **optional,
        **market.api_paths,
    )
