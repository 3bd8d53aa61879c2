import hmac
import json
import logging

from odoo import SUPERUSER_ID, _, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

import mpesa_wire as wire
from mpesa_wire import MalformedPayload

from ..models.payment_manager_results import CallbackRefused
from ..models.payment_manager_statement import STATEMENT_MAX_BYTES, StatementFile

_logger = logging.getLogger(__name__)

PG_INT_MAX = 2**31 - 1  # a larger id in the URL is no manager, not a database error
CALLBACK_KINDS = ("result", "timeout", "status", "balance", "reversal", "reversal_timeout")
# Kinds whose URL ends with the id of what they answer (a status query's, a reversal's reference).
KINDS_WITH_ID = ("status", "reversal", "reversal_timeout")
BASE = "/g2p_payment_mpesa/<int:manager_id>/<string:secret>"


def _answer(status, accepted, manager=None, body=None):
    # Refusals say nothing about why: the reason is in our log, not in the caller's hands. The
    # shape is the market's API family's (Daraja's until the manager is known).
    family = manager._mpesa_wire() if manager else wire.family("daraja")
    return request.make_json_response(family.callback_answer(body, accepted), status=status)


class MpesaCallbackController(http.Controller):
    @http.route(
        [f"{BASE}/<string:kind>", f"{BASE}/<string:kind>/<string:ocid>"],
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def mpesa_callback(self, manager_id, secret, kind="status", ocid=None, **_kwargs):
        source = request.httprequest.remote_addr
        if kind not in CALLBACK_KINDS or (ocid is not None and kind not in KINDS_WITH_ID):
            return _answer(404, False)
        # The secret, the allowlist and what a callback reads of its manager (market, API family)
        # in one query: reading the manager through the ORM field by field fetched every column
        # of a mail.thread record, and each of these cost a round trip on every callback.
        Manager = request.env["g2p.program.payment.manager.mpesa"].sudo().with_context(active_test=False)
        manager = Manager.browse()
        if manager_id <= PG_INT_MAX:
            manager = Manager.search_fetch(
                [("id", "=", manager_id)],
                ["callback_secret", "callback_ip_allowlist", "market", "api_family"],
            )
        expected = manager.callback_secret if manager else ""
        allowlist = manager.callback_ip_allowlist if manager else None
        if not expected or not hmac.compare_digest(expected.encode(), secret.encode()):
            _logger.warning("M-Pesa %s callback refused: wrong manager or secret (from %s)", kind, source)
            return _answer(403, False)
        if allowlist and not manager._mpesa_ip_allowed(source):
            _logger.warning("M-Pesa %s callback refused: source %s not allowed", kind, source)
            return _answer(403, False)
        raw = request.httprequest.get_data()
        try:
            body = json.loads(raw)
        except ValueError:
            _logger.warning("M-Pesa %s callback refused: not JSON (%s bytes from %s)", kind, len(raw), source)
            return _answer(400, False)
        # Authenticated by its secret: from here on M-Pesa's answer is applied as the system
        # (jobs it queues and messages it posts must not belong to the public user).
        request.update_env(user=SUPERUSER_ID)
        manager = manager.with_env(request.env)
        try:
            outcome = manager._mpesa_handle_callback(kind, body, ocid)
        except (MalformedPayload, CallbackRefused) as exc:
            _logger.warning("M-Pesa %s callback refused (from %s): %s", kind, source, exc)
            return _answer(400, False, manager, body)
        _logger.info("M-Pesa %s callback from %s: %s", kind, source, outcome)
        return _answer(200, True, manager, body)


class MpesaStatementUploadController(http.Controller):
    @http.route(
        "/g2p_payment_mpesa/statement/<int:manager_id>",
        type="http",
        auth="user",
        methods=["POST"],
        max_content_length=STATEMENT_MAX_BYTES,
        save_session=False,
    )
    def mpesa_statement_upload(self, manager_id, ufile=None, **_kwargs):
        """A statement file posted as a form's file field ``ufile`` (multipart, as a browser
        uploads: Werkzeug spools it to a temporary file), copied into the filestore while hashed,
        then imported as mpesa_import_statement does: a national cycle's file is never held whole
        in memory, nor sent base64 in JSON. Answers JSON: {"summary", "action"} (the notification
        the import dialog shows), or {"error"} with 400 (no file, not a statement, too large),
        403 (not allowed) or 404 (no such manager). The CSRF token is the form's ``csrf_token``."""
        manager = request.env["g2p.program.payment.manager.mpesa"].browse(manager_id).exists()
        if not manager:
            return request.make_json_response({"error": "No such M-Pesa manager."}, status=404)
        try:
            manager.check_access_rights("read")
            manager.check_access_rule("read")
            manager._mpesa_check_statement_access()
            if not ufile or not hasattr(ufile, "stream"):
                raise UserError(_("Choose the statement file exported from the M-Pesa portal."))
            Attachment = request.env["ir.attachment"].sudo()
            upload = StatementFile.receive(ufile.stream, Attachment._filestore(), STATEMENT_MAX_BYTES)
            summary = manager._mpesa_import_statement_file(upload, ufile.filename or "")
            action = manager._mpesa_statement_done_action(summary)
        except (AccessError, UserError) as exc:
            request.env.cr.rollback()
            status = 403 if isinstance(exc, AccessError) else 400
            _logger.warning("M-Pesa statement upload on manager %s refused: %s", manager_id, exc)
            return request.make_json_response({"error": str(exc.args[0] if exc.args else exc)}, status=status)
        finally:
            if ufile and hasattr(ufile, "close"):
                ufile.close()  # its spooled temporary file
        return request.make_json_response({"summary": summary, "action": action})
