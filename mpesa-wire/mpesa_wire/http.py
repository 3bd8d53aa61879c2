"""HTTP plumbing shared by every API family: one pooled session that never re-sends on its own,
and the rule that sorts a failed request into "provably not sent" and "maybe processed"."""

import json
import logging
from collections.abc import Callable

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .errors import MalformedPayload, TokenUnavailable
from .outcomes import OutcomeKind, SubmitOutcome
from .throttle import NO_THROTTLE, Throttle
from .token_cache import TOKEN_CACHE, TokenCache

_logger = logging.getLogger(__name__)


def new_session(pool_maxsize: int = 16) -> requests.Session:
    session = requests.Session()
    # max_retries=0: urllib3 must never re-send a payment on its own.
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def pre_send(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left (refused, DNS).

    requests wraps urllib3's MaxRetryError, whose ``reason`` is the original error; a
    connection reset or a server closing mid-request shows up as a ProtocolError instead.
    """
    reason = exc.args[0] if exc.args else None
    for _depth in range(5):
        if isinstance(reason, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(reason, "reason", None)
        if reason is None:
            return False
    return False


def retry_after(response: requests.Response, default: float) -> float:
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds >= 0 else default


class BearerAuth(requests.auth.AuthBase):
    """Bearer token as an auth object: with a plain header, a ~/.netrc entry for the host would
    silently replace it (requests applies netrc whenever no auth is given)."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def json_body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def send(session: requests.Session, method: str, url: str, **kwargs) -> requests.Response | SubmitOutcome:
    """The response, or the outcome of a request that got none: TRANSIENT when nothing left
    (connect error or timeout), UNKNOWN when it may have reached M-Pesa (read timeout, lost)."""
    # requests turns a redirected POST into a GET: never follow one with money in it.
    kwargs.setdefault("allow_redirects", False)
    try:
        return session.request(method, url, **kwargs)
    except requests.ConnectTimeout as exc:
        return SubmitOutcome(OutcomeKind.TRANSIENT, code="connect_timeout", message=describe(exc))
    except requests.ReadTimeout as exc:
        return SubmitOutcome(OutcomeKind.UNKNOWN, code="read_timeout", message=describe(exc))
    except requests.ConnectionError as exc:
        if pre_send(exc):
            return SubmitOutcome(OutcomeKind.TRANSIENT, code="connect_error", message=describe(exc))
        return SubmitOutcome(OutcomeKind.UNKNOWN, code="connection_lost", message=describe(exc))
    except requests.RequestException as exc:
        return SubmitOutcome(OutcomeKind.UNKNOWN, code="connection_lost", message=describe(exc))


def json_object(body) -> dict:
    """A callback body (bytes, text or already parsed) as a JSON object, or MalformedPayload."""
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("Callback body is not UTF-8 text") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise MalformedPayload(f"Callback body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedPayload(f"Callback body must be a JSON object, not {type(body).__name__}")
    return body


class CredentialRefused(Exception):
    """Raised by a family's send: the gateway refused this token or session before processing the
    request (so the same request may be sent again, under the same idempotency key). ``outcome``
    is what the call answers when a fresh credential is refused too."""

    def __init__(self, outcome: SubmitOutcome):
        super().__init__(outcome.message)
        self.outcome = outcome


class PooledClient:
    """What every family's client shares: one pooled ``requests.Session`` for its threads (its
    own unless ``session`` is given), a throttle every API request takes a slot from, a
    :class:`TokenCache` (the process-wide one unless ``token_cache`` is given) keyed by
    ``token_key``, and the one call loop (:meth:`_exchange`). A context manager that closes the pool
    it made.

    A family's client gives ``token()`` (raising :class:`~mpesa_wire.errors.TokenUnavailable` when
    none can be had now), its name for log lines, and the answer codes that mean "too many
    requests"."""

    label = "M-Pesa"
    # Outcome codes after which whoever shares the throttle pauses, not just this call, and the
    # pause when the answer named none (Retry-After).
    throttled_codes = frozenset({"http_429"})
    throttled_retry_after = 1.0

    def __init__(
        self,
        config,
        session: requests.Session | None,
        token_key,
        *,
        token_cache: TokenCache | None = None,
        pool_maxsize: int = 16,
        throttle: Throttle | None = None,
    ):
        self.config = config
        self.throttle = throttle if throttle is not None else NO_THROTTLE
        self._own_session = session is None
        self.session = session if session is not None else new_session(pool_maxsize)
        self.token_cache = token_cache if token_cache is not None else TOKEN_CACHE
        self._token_key = token_key

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _exchange(self, what: str, key: str | None, send_with: Callable[[str], SubmitOutcome]):
        """One API request, the same way for every family: a token (or session), a slot of the
        throttle, ``send_with(token)``; a credential refused before processing is dropped and the
        same request sent once more with a fresh one; a "too many requests" answer pauses the
        shared throttle. ``what`` and ``key`` (our idempotency key, if any) name the request in
        the log line."""
        outcome = None
        for attempt in (1, 2):
            try:
                token = self.token()
            except TokenUnavailable as exc:
                outcome = SubmitOutcome(OutcomeKind.TRANSIENT, code="token_unavailable", message=str(exc))
                break
            try:
                self.throttle.wait()
            except Exception as exc:  # no slot, so nothing left: provably not processed
                _logger.warning("%s %s %s: no request slot (%s): not sent", self.label, what, key or "", exc)
                outcome = SubmitOutcome(OutcomeKind.TRANSIENT, code="throttle", message=describe(exc))
                break
            try:
                outcome = send_with(token)
                break
            except CredentialRefused as refused:
                # Only this stale credential is dropped: a fresh one fetched meanwhile by another
                # thread stays. Refused at the gateway, so the same request under the same
                # idempotency key cannot pay twice.
                self.token_cache.invalidate(self._token_key, token)
                if attempt == 2:
                    outcome = refused.outcome
        if outcome.code in self.throttled_codes:
            try:
                self.throttle.pause(outcome.retry_after or self.throttled_retry_after)
            except Exception as exc:  # the pause is advice; this request's outcome stands
                _logger.warning("%s: could not pause the shared throttle: %s", self.label, exc)
        # Accepted requests are recorded by the caller; the rest is what someone may need to read.
        _logger.log(
            logging.DEBUG if outcome.kind is OutcomeKind.ACCEPTED else logging.INFO,
            "%s %s %s -> %s %s %s",
            self.label,
            what,
            key or "",
            outcome.kind.value,
            outcome.code or "",
            outcome.message,
        )
        return outcome
