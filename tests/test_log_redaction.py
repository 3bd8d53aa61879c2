"""No secret in any log line: the addon's record factory (log_redaction) without Odoo."""

import io
import logging

import log_redaction
import pytest

SECRET = "Zq3vK9_secret-Path-Segment-0123456789abcdef"


@pytest.fixture
def log_text():
    log_redaction.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_werkzeug_access_line_keeps_the_path_without_the_secret(log_text):
    # werkzeug's own call: message template and arguments, formatted by the handler.
    request_line = f"POST /g2p_payment_mpesa/7/{SECRET}/result HTTP/1.1"
    logging.getLogger("werkzeug").info('%s - - [01/Dec/2026] "%s" %s %s', "127.0.0.1", request_line, 200, "-")
    text = log_text.getvalue()
    assert SECRET not in text
    assert '"POST /g2p_payment_mpesa/7/***/result HTTP/1.1" 200 -' in text


@pytest.mark.parametrize("kind", ["result", "timeout", "balance", "status/5f0e9a52-6b0a", ""])
def test_every_callback_kind_and_a_bare_path_are_redacted(log_text, kind):
    logging.getLogger("odoo.http").debug("path %s", f"/g2p_payment_mpesa/12/{SECRET}/{kind}".rstrip("/"))
    assert SECRET not in log_text.getvalue() and "/g2p_payment_mpesa/12/***" in log_text.getvalue()


def test_a_wrong_secret_is_redacted_too(log_text):
    # A near miss (an old, rotated secret) is worth as much to whoever reads the log.
    logging.getLogger("werkzeug").info("GET /g2p_payment_mpesa/1/old-rotated-secret/result?x=1 404")
    assert "old-rotated-secret" not in log_text.getvalue()
    assert "/g2p_payment_mpesa/1/***/result?x=1" in log_text.getvalue()


def test_traceback_of_a_failed_callback_is_redacted(log_text):
    try:
        raise RuntimeError(f"cannot handle http://odoo/g2p_payment_mpesa/3/{SECRET}/result")
    except RuntimeError:
        logging.getLogger("odoo.http").exception("Exception during request handling.")
    text = log_text.getvalue()
    assert "Traceback" in text and "RuntimeError" in text
    assert SECRET not in text


def test_an_exception_as_the_message_is_redacted(log_text):
    logging.getLogger("odoo.http").warning(ValueError(f"/g2p_payment_mpesa/3/{SECRET}/timeout"))
    assert SECRET not in log_text.getvalue() and "/g2p_payment_mpesa/3/***/timeout" in log_text.getvalue()


def test_remembered_credentials_are_redacted_anywhere(log_text):
    log_redaction.remember("Init-PASSWORD-42", "short", None)
    logging.getLogger("odoo.sql_db").debug(
        "query: UPDATE m SET initiator_password = '%s'", "Init-PASSWORD-42"
    )
    logging.getLogger("any").info("short words stay")
    text = log_text.getvalue()
    assert "Init-PASSWORD-42" not in text and "initiator_password = '***'" in text
    assert "short words stay" in text  # values under MIN_SECRET_LENGTH are not replaced everywhere


def test_source_file_paths_in_tracebacks_are_left_alone(log_text):
    logging.getLogger("x").info("File /opt/addons/g2p_payment_mpesa/models/payment_manager.py, line 3")
    assert "g2p_payment_mpesa/models/payment_manager.py" in log_text.getvalue()


def test_a_bad_format_string_is_left_for_logging_to_report():
    log_redaction.install()
    factory = logging.getLogRecordFactory()
    record = factory("x", logging.INFO, __file__, 1, "%d items", ("not a number",), None)
    assert (record.msg, record.args) == ("%d items", ("not a number",))  # untouched, no exception


def test_install_is_idempotent_and_keeps_the_previous_factory():
    log_redaction.install()
    log_redaction.install()
    factory = logging.getLogRecordFactory()
    assert getattr(factory, "g2p_payment_mpesa_redaction", False)
    record = factory("n", logging.INFO, __file__, 1, "GET /g2p_payment_mpesa/1/abc/result", None, None)
    assert record.getMessage() == "GET /g2p_payment_mpesa/1/***/result"
