import hmac
import json
import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

import mpesa_wire as wire
from mpesa_wire import MalformedPayload

from ..models.payment_manager_results import CallbackRefused

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
        # The secret and allowlist in one query: exists() and reading the manager through the
        # ORM (every column of a mail.thread record) cost two round trips on every callback.
        row = None
        if manager_id <= PG_INT_MAX:
            request.env.cr.execute(
                "SELECT callback_secret, callback_ip_allowlist"
                " FROM g2p_program_payment_manager_mpesa WHERE id = %s",
                [manager_id],
            )
            row = request.env.cr.fetchone()
        expected, allowlist = row or ("", None)
        if not expected or not hmac.compare_digest(expected.encode(), secret.encode()):
            _logger.warning("M-Pesa %s callback refused: wrong manager or secret (from %s)", kind, source)
            return _answer(403, False)
        manager = request.env["g2p.program.payment.manager.mpesa"].sudo().browse(manager_id)
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
