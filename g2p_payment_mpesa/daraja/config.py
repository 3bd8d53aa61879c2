"""Connection settings of one Daraja app (one environment, one shortcode, one initiator)."""

import re
from dataclasses import dataclass, field


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
        identifier_type = self.reversal_identifier_type
        if not isinstance(identifier_type, str) or not re.fullmatch(r"[0-9]{1,2}", identifier_type):
            raise ValueError("reversal_identifier_type must be an identifier type number such as '11' or '4'")

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)
