"""The exceptions of the wire code, shared by every API family.

Outcomes of a call to M-Pesa are *values* (:class:`~mpesa_wire.outcomes.SubmitOutcome`), not exceptions:
a caller must decide for every payment what happened, and an exception is too easy to swallow.
Exceptions are kept for what stops a whole run (bad credentials) and for inputs that must never
reach M-Pesa (bad phone number, bad amount, a callback body that is not M-Pesa's).
"""


class WireError(Exception):
    """Base class of the errors raised while talking to M-Pesa, whatever the API family."""


class AuthError(WireError):
    """The app's credentials (key, secret, certificate) are wrong: a misconfiguration, stop the run.

    Retrying cannot help, and every retry with a bad credential counts toward a lock-out.
    """


class TokenUnavailable(WireError):
    """No access token or session could be had for a reason that may pass (network, 5xx, bad body)."""


class _ReasonedValueError(ValueError):
    """A ValueError carrying a human-readable ``reason`` and a stable machine ``code``."""

    def __init__(self, reason: str, code: str = "invalid"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class InvalidMsisdn(_ReasonedValueError):
    """The phone number cannot receive an M-Pesa B2C payment (not a mobile number of the market)."""


class InvalidAmount(_ReasonedValueError):
    """The amount cannot be paid through B2C (not whole units, out of limits, not a number)."""


class MalformedPayload(ValueError):
    """A body that does not have the shape M-Pesa sends (so it is never applied to a payment)."""
