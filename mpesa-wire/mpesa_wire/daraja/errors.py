"""Daraja's own names for the wire errors (the addon catches the neutral ones)."""

from ..errors import AuthError, TokenUnavailable, WireError


class DarajaError(WireError):
    """Base class of the errors raised while talking to Daraja."""


class DarajaAuthError(DarajaError, AuthError):
    """The consumer key/secret (or certificate) is wrong: a misconfiguration, stop the run."""


class DarajaTokenUnavailable(DarajaError, TokenUnavailable):
    """No access token could be obtained for a reason that may pass (network, 5xx, bad body)."""
