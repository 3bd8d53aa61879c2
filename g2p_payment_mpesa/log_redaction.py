"""Secrets never reach a log line, whichever logger writes it, at whatever level.

The callback secret travels in the callback URL (Daraja authenticates its callbacks no other way),
and Odoo's HTTP layer logs every request line (werkzeug's access lines), so the secret path
segment is replaced by ``***`` in every record this process creates: ``logging``'s record factory
runs for every logger and handler, whatever ``--log-handler`` or ``--logfile`` say. Secret values
this process has seen (credentials written or read by the manager) are redacted likewise, e.g.
from ``odoo.sql_db`` query logs at debug level.

Standard library only: importable and testable without Odoo.
"""

import logging
import re
import threading

REDACTED = "***"
_MARK = "g2p_payment_mpesa/"
# /g2p_payment_mpesa/<manager id>/<secret>[/kind...]: the segment after the numeric id.
_CALLBACK_SECRET = re.compile(r"(/g2p_payment_mpesa/\d+/)[^/\s?#\"'<>]+")
# Shorter values are too likely to be ordinary text to be replaced everywhere.
MIN_SECRET_LENGTH = 6

_known = set()
_known_lock = threading.Lock()
_installed = False


def remember(*values):
    """Redact these values (credentials, callback secrets) from every later log line."""
    new = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH and v not in _known}
    if new:
        global _known
        with _known_lock:
            _known = _known | new  # replaced, not mutated: readers iterate without the lock


def redact(text):
    if _MARK in text:
        text = _CALLBACK_SECRET.sub(r"\1" + REDACTED, text)
    for secret in _known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _needs(text):
    return _MARK in text or any(secret in text for secret in _known)


def _redact_record(record):
    try:
        message = record.getMessage()
    except Exception:  # a bad format string is the handler's to report, with the record as it is
        message = None
    if message is not None and _needs(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatted now, once, so that no handler formats the raw traceback later.
        text = logging.Formatter().formatException(record.exc_info)
        if _needs(text):
            record.exc_text = redact(text)
    if record.stack_info and _needs(record.stack_info):
        record.stack_info = redact(record.stack_info)
    return record


def install():
    """Wrap the process's log record factory (idempotent; Odoo's own factory stays in the chain)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        return _redact_record(previous(*args, **kwargs))

    factory.g2p_payment_mpesa_redaction = True
    logging.setLogRecordFactory(factory)
