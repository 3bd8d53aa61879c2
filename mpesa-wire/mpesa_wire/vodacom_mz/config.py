"""Connection settings of one organisation on Vodacom Mozambique's own M-Pesa API
(developer.mpesa.vm.co.mz, "v1x"; docs/markets/vodacom-openapi.md section 8).

Each operation has its own port on the API host. The ports, the live host and the reversal's
amount field are settings holding the documented values, because the public sources disagree or
are silent on them (section 8):

- sandbox host ``api.sandbox.vm.co.mz`` [H]; live host disputed: ``api.mpesa.vm.co.mz``
  (paymentsds' constants, the default here) or ``api.vm.co.mz`` (the moovi SDK, a Python MZ
  docstring);
- ports 18345 B2C, 18353 query, 18354 reversal, 18352 C2B [H]: paymentsds ``constants``,
  abdulmueid ``Transaction.php`` and ivanruby agree;
- the reversal amount field: ``input_ReversalAmount`` (paymentsds-mpesa 0.1a10 constants.py,
  ivanruby, MZDOC; the default) or ``input_Amount`` (abdulmueid, paymentsds JavaScript).
"""

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from ..numbers import NumberPlan
from ..vodacom import public_key_der

SANDBOX_URL = "https://api.sandbox.vm.co.mz"
PRODUCTION_URL = "https://api.mpesa.vm.co.mz"
PATH_PREFIX = "/ipg/v1x"
PATHS = MappingProxyType(
    {"b2c": "/b2cPayment/", "query": "/queryTransactionStatus/", "reversal": "/reversal/"}
)
DEFAULT_PORTS = MappingProxyType({"b2c": 18345, "query": 18353, "reversal": 18354})
REVERSAL_AMOUNT_FIELDS = ("input_ReversalAmount", "input_Amount")


def parse_ports(text) -> dict[str, int]:
    """``"b2c=18345,query=18353,reversal=18354"`` (any subset; the rest keep their defaults)."""
    ports = dict(DEFAULT_PORTS)
    for item in (text or "").replace(";", ",").split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        name = name.strip().lower()
        if name not in DEFAULT_PORTS or not value.strip().isdigit() or not 0 < int(value) < 65536:
            raise ValueError(f"ports must look like 'b2c=18345,query=18353,reversal=18354', not {text!r}")
        ports[name] = int(value)
    return ports


def format_ports(ports) -> str:
    return ",".join(f"{name}={ports[name]}" for name in DEFAULT_PORTS)


@dataclass(frozen=True)
class VodacomMzConfig:
    base_url: str  # scheme and host; the port comes from ``ports``
    api_key: str = field(repr=False)
    public_key: str = field(repr=False)  # base64 DER SubjectPublicKeyInfo, or PEM
    service_provider_code: str
    currency: str = "MZN"
    # For reversals only (input_InitiatorIdentifier, input_SecurityCredential): from the portal.
    initiator_identifier: str = ""
    security_credential: str = field(default="", repr=False)
    ports: MappingProxyType = field(default_factory=lambda: DEFAULT_PORTS)
    reversal_amount_field: str = REVERSAL_AMOUNT_FIELDS[0]
    # paymentsds sends '*'; some integrations send developer.mpesa.vm.co.mz.
    origin: str = "*"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    min_amount: int = 1
    max_amount: int = 125_000
    number_plan: NumberPlan | None = None

    def __post_init__(self):
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        parts = urlsplit(self.base_url)
        if not parts.hostname:
            raise ValueError("base_url must name a host")
        # The host alone: each operation has its own port.
        object.__setattr__(self, "base_url", f"{parts.scheme}://{parts.hostname}")
        object.__setattr__(self, "ports", MappingProxyType({**DEFAULT_PORTS, **dict(self.ports)}))
        for name in ("api_key", "service_provider_code", "currency"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} is required")
        public_key_der(self.public_key)
        # paymentsds' SERVICE_PROVIDER_CODE pattern.
        if not re.fullmatch(r"[0-9]{5,6}", self.service_provider_code):
            raise ValueError("service_provider_code must be 5 or 6 digits (the portal's rule)")
        if self.reversal_amount_field not in REVERSAL_AMOUNT_FIELDS:
            raise ValueError(f"reversal_amount_field must be one of {', '.join(REVERSAL_AMOUNT_FIELDS)}")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if not (0 < self.min_amount <= self.max_amount):
            raise ValueError("amount limits must satisfy 0 < min_amount <= max_amount")

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def budget_key(self) -> str:
        return f"{self.base_url}#{self.service_provider_code}"

    def url(self, operation: str) -> str:
        return f"{self.base_url}:{self.ports[operation]}{PATH_PREFIX}{PATHS[operation]}"


def config_from_settings(settings, market) -> VodacomMzConfig:
    """A config from the manager's settings (field name -> value) for ``market``."""
    optional = {}
    if settings.get("vodacom_mz_ports"):
        optional["ports"] = parse_ports(settings["vodacom_mz_ports"])
    if settings.get("reversal_amount_field"):
        optional["reversal_amount_field"] = settings["reversal_amount_field"]
    return VodacomMzConfig(
        base_url=settings["base_url"],
        api_key=settings["api_key"],
        public_key=settings["public_key"],
        service_provider_code=settings["shortcode"],
        currency=market.currency,
        initiator_identifier=settings.get("initiator_name") or "",
        security_credential=settings.get("initiator_password") or "",
        min_amount=settings["min_amount"],
        max_amount=settings["max_amount"],
        number_plan=market.number_plan,
        **optional,
    )
