"""Connection settings of one Vodacom M-Pesa OpenAPI application in one market."""

import re
from dataclasses import dataclass, field

from ..numbers import NumberPlan
from ..vodacom import public_key_der

SANDBOX_PREFIX = "/sandbox/ipg/v2"
PRODUCTION_PREFIX = "/openapi/ipg/v2"


@dataclass(frozen=True)
class OpenApiConfig:
    base_url: str  # https://openapi.m-pesa.com (the simulator's URL in tests)
    api_key: str = field(repr=False)
    public_key: str = field(repr=False)  # base64 DER SubjectPublicKeyInfo, or PEM
    service_provider_code: str
    market_context: str  # the market in the path: vodacomTZN, vodacomDRC, vodacomLES, vodafoneGHA
    country: str  # input_Country: TZN, DRC, LES, GHA
    currency: str  # input_Currency: TZS, USD, LSL, GHS
    path_prefix: str = SANDBOX_PREFIX
    origin: str = "*"
    # A new session "can take up to 30 seconds to become live" (the portal's samples wait 30 s).
    session_delay_seconds: float = 30.0
    # Set per application on the portal; a session is renewed a margin before this.
    session_lifetime_seconds: float = 3600.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    min_amount: int = 1
    max_amount: int = 10_000_000
    number_plan: NumberPlan | None = None
    # input_CustomerMSISDN: the portal's regex is ^[0-9]{12,14}$; Lesotho's numbers have 11 digits.
    msisdn_pattern: str = r"[0-9]{12,14}"
    payment_items_desc: str = "Cash transfer"

    def __post_init__(self):
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        for name in ("api_key", "service_provider_code", "market_context", "country", "currency"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} is required")
        public_key_der(self.public_key)
        if not re.fullmatch(r"[0-9A-Za-z]{4,12}", self.service_provider_code):
            raise ValueError("service_provider_code must be 4 to 12 letters or digits (the portal's rule)")
        if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+", self.path_prefix):
            raise ValueError("path_prefix must be a path such as /sandbox/ipg/v2")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.session_delay_seconds < 0 or self.session_lifetime_seconds <= 0:
            raise ValueError("session delay must be >= 0 and lifetime positive")
        if not (0 < self.min_amount <= self.max_amount):
            raise ValueError("amount limits must satisfy 0 < min_amount <= max_amount")

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def budget_key(self) -> str:
        return f"{self.base_url}/{self.market_context}#{self.service_provider_code}"

    def url(self, api: str) -> str:
        return f"{self.base_url}{self.path_prefix}/{self.market_context}/{api}/"


def config_from_settings(settings, market) -> OpenApiConfig:
    """A config from the manager's settings (field name -> value) for ``market``: its URL context,
    country, currency, number plan, and the environment's path prefix."""
    paths = dict(market.api_paths)
    optional = {}
    for name in ("session_delay_seconds", "session_lifetime_seconds"):
        value = settings.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            optional[name] = float(value)
    return OpenApiConfig(
        base_url=settings["base_url"],
        api_key=settings["api_key"],
        public_key=settings["public_key"],
        service_provider_code=settings["shortcode"],
        market_context=paths["market_context"],
        country=paths["country"],
        currency=market.currency,
        path_prefix=PRODUCTION_PREFIX if settings.get("environment") == "production" else SANDBOX_PREFIX,
        min_amount=settings["min_amount"],
        max_amount=settings["max_amount"],
        number_plan=market.number_plan,
        msisdn_pattern=paths.get("msisdn_pattern", r"[0-9]{12,14}"),
        **optional,
    )
