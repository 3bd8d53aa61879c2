"""The manager's side of reversals: asking M-Pesa (a queue job), its answers, reconciliation.

See models/mpesa_reversal.py for the life of one reversal.
"""

import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from mpesa_wire import AuthError, OutcomeKind, ReversalClass, ReversalRequest, SubmitOutcome, WireError

from .. import const
from .mpesa_reversal import check_may_reverse
from .payment_manager_results import CallbackRefused

_logger = logging.getLogger(__name__)

# A requested reversal whose job has not sent it within this time lost its job (a crash).
STALE_REQUEST_MINUTES = 10
# The job sends again after an answer that may hide a processed request no sooner than this.
UNKNOWN_RETRY_SECONDS = 60


class G2PPaymentManagerMpesaReversal(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    reversal_identifier_type = fields.Selection(
        [("11", "11: organisation (Safaricom's current docs)"), ("4", "4: shortcode (older docs)")],
        "Reversal receiver identifier type",
        required=True,
        default="11",
        help="RecieverIdentifierType sent with a reversal; ReceiverParty is the B2C shortcode.",
    )
    reversal_ids = fields.One2many("g2p.mpesa.reversal", "manager_id", "Reversals")

    # ------------------------------------------------------------------ asking
    def _mpesa_request_reversals(self, payments, reason):
        """Record one reversal per payment (committed before anything is sent), then queue them."""
        check_may_reverse(self.env)
        reason = (reason or "").strip()
        if not reason:
            raise UserError(_("Say why the payment is reversed: the reason is required."))
        payments._mpesa_check_reversible()
        Reversal = self.env["g2p.mpesa.reversal"].sudo()
        reversals = Reversal.browse()
        for payment in payments:
            _refusal, tx = payment._mpesa_reversal_refusal()
            vals = {
                "payment_id": payment.id,
                "transaction_id": tx.id,
                "manager_id": tx.manager_id.id,
                "original_receipt": tx.receipt,
                "amount": tx.amount,
                "reason": reason,
                "requested_by": self.env.user.id,
                # Our id of the reversal, in the form the market's API takes it as its own key.
                "reference": tx.manager_id._mpesa_wire().new_conversation_id(),
            }
            try:
                with self.env.cr.savepoint():
                    reversals |= Reversal.create(vals)
                    Reversal.flush_model()
            except psycopg2.IntegrityError:
                raise UserError(_("Payment %s already has a reversal in progress.") % payment.name) from None
        for reversal in reversals:
            reversal.manager_id.message_post(
                body=_(
                    "%(user)s asked M-Pesa to reverse payment %(receipt)s (%(currency)s %(amount)s to "
                    "%(msisdn)s, %(partner)s). Reason: %(reason)s"
                )
                % dict(reversal._mpesa_facts(), user=self.env.user.name)
            )
            reversal.manager_id._mpesa_enqueue_reversal(reversal)
        return reversals

    def _mpesa_enqueue_reversal(self, reversal, eta=None):
        self.ensure_one()
        self.with_delay(
            channel=const.QUEUE_CHANNEL,
            eta=eta,
            description=f"M-Pesa: reverse {reversal.original_receipt}",
            max_retries=0,
        )._mpesa_send_reversal(reversal.id)

    def _mpesa_reversal_urls(self, reversal):
        return (
            f"{self._mpesa_callback_url('reversal')}/{reversal.reference}",
            f"{self._mpesa_callback_url('reversal_timeout')}/{reversal.reference}",
        )

    # ------------------------------------------------------------------ sending (queue job)
    def _mpesa_send_reversal(self, reversal_id):
        """Queue job: count the attempt (committed), send, record the acknowledgement."""
        self.ensure_one()
        # A job runs as whoever queued it (a finance validator, who only reads the manager).
        return self.sudo()._mpesa_send_reversal_now(reversal_id)

    def _mpesa_send_reversal_now(self, reversal_id):
        reversal = self.env["g2p.mpesa.reversal"].browse(reversal_id).exists()
        if not reversal or reversal.state not in (const.REV_REQUESTED, const.REV_ACCEPTED):
            return
        if reversal.transaction_id.state != const.TX_PAID:
            # Reversed meanwhile by an earlier reversal of the same payment: nothing left to take back.
            reversal.write(
                {
                    "state": const.REV_FAILED,
                    "result_code": "G2P_NOT_PAID",
                    "result_desc": _("The request it reverses is no longer paid (%s).")
                    % reversal.transaction_id.state,
                }
            )
            return
        if not self.sending_enabled or self.sending_blocked_reason:
            _logger.warning(
                "M-Pesa manager %s: not sending reversal %s (stopped)", self.id, reversal.reference
            )
            return
        reversal.write({"send_attempts": reversal.send_attempts + 1, "last_sent_at": fields.Datetime.now()})
        self._mpesa_commit()  # the attempt is durable before the request leaves
        result_url, timeout_url = self._mpesa_reversal_urls(reversal)
        try:
            request = ReversalRequest(
                receipt=reversal.original_receipt,
                amount=reversal.amount,
                remarks=f"Reversal of {reversal.original_receipt}",
                result_url=result_url,
                timeout_url=timeout_url,
                reference=reversal.reference,
            )
        except ValueError as exc:
            outcome = SubmitOutcome(OutcomeKind.REJECTED, code="G2P_INVALID", message=str(exc))
        else:
            try:
                with self._mpesa_client() as client:
                    outcome = client.reverse(request)
            except AuthError as exc:
                self._mpesa_block(_("M-Pesa credentials were refused or unusable: %s") % exc)
                return
            except (WireError, UserError) as exc:
                outcome = SubmitOutcome(OutcomeKind.TRANSIENT, code="G2P_CONFIG", message=str(exc))
        self._mpesa_retrying(lambda: self._mpesa_record_reversal_ack(reversal.id, outcome))

    def _mpesa_lock_reversal(self, reversal_id=None, reference=None):
        """The reversal (by id or by reference) of this manager, locked; None if there is none."""
        self.env["g2p.mpesa.reversal"].flush_model()
        self.env.cr.execute(
            "SELECT id FROM g2p_mpesa_reversal WHERE (id = %s OR reference = %s) AND manager_id = %s"
            " FOR UPDATE",
            [reversal_id or 0, reference or "", self.id],
            log_exceptions=False,  # a concurrent callback: retried, not an error for the log
        )
        row = self.env.cr.fetchone()
        if not row:
            return None
        reversal = self.env["g2p.mpesa.reversal"].sudo().browse(row[0])
        reversal.invalidate_recordset()
        return reversal

    def _mpesa_record_reversal_ack(self, reversal_id, outcome):
        reversal = self._mpesa_lock_reversal(reversal_id=reversal_id)
        if not reversal or reversal.state not in (const.REV_REQUESTED, const.REV_ACCEPTED):
            return  # its result came before its acknowledgement: the result wins
        if outcome.result is not None:
            # The answer is the result (the OpenAPI's synchronous reversal).
            reversal.write(
                {
                    "originator_conversation_id": outcome.originator_conversation_id or False,
                    "conversation_id": outcome.conversation_id or False,
                }
            )
            try:
                self._mpesa_apply_reversal_result(outcome.result, reversal)
            except CallbackRefused as exc:
                reversal._mpesa_apply_review(outcome.code or "", outcome.message, str(exc))
            return
        if outcome.kind == OutcomeKind.ACCEPTED:
            reversal.write(
                {
                    "state": const.REV_ACCEPTED,
                    "originator_conversation_id": outcome.originator_conversation_id or False,
                    "conversation_id": outcome.conversation_id or False,
                    "next_check_at": fields.Datetime.add(
                        fields.Datetime.now(), minutes=max(self.reconcile_after_minutes, 1)
                    ),
                }
            )
        elif outcome.kind == OutcomeKind.REJECTED:
            reversal._mpesa_apply_failed(outcome.code or "REJECTED", outcome.message)
        elif outcome.kind == OutcomeKind.UNKNOWN:
            # Maybe processed: sent again later, M-Pesa answers R000001 if it was.
            self._mpesa_reversal_retry(
                reversal, outcome, max(UNKNOWN_RETRY_SECONDS, outcome.retry_after or 0)
            )
        else:
            delay = max(outcome.retry_after or 0, 2**reversal.send_attempts)
            self._mpesa_reversal_retry(reversal, outcome, min(delay, 300))

    def _mpesa_reversal_retry(self, reversal, outcome, delay):
        if reversal.send_attempts >= const.MAX_TRANSIENT_SUBMITS:
            reversal._mpesa_apply_review(
                outcome.code or "",
                outcome.message,
                _(
                    "M-Pesa gave no usable answer to the reversal of %(receipt)s after %(attempts)s attempts "
                    "(last: %(code)s %(message)s). Check the M-Pesa portal or import the statement."
                )
                % {
                    "receipt": reversal.original_receipt,
                    "attempts": reversal.send_attempts,
                    "code": outcome.code or "",
                    "message": outcome.message,
                },
            )
            return
        reversal.write({"result_code": outcome.code or False, "result_desc": outcome.message})
        self._mpesa_enqueue_reversal(reversal, eta=delay)

    # ------------------------------------------------------------------ callbacks
    def _mpesa_handle_callback(self, kind, body, ocid=None):
        if kind == "reversal":
            return self._mpesa_on_reversal_result(body, ocid)
        if kind == "reversal_timeout":
            return self._mpesa_on_reversal_timeout(body, ocid)
        return super()._mpesa_handle_callback(kind, body, ocid)

    def _mpesa_find_reversal(self, reference):
        if not reference:
            raise CallbackRefused("no reversal reference in the URL")
        reversal = self._mpesa_lock_reversal(reference=reference)
        if reversal is None:
            raise CallbackRefused(f"unknown reversal {reference}")
        return reversal

    def _mpesa_on_reversal_result(self, body, reference):
        self.ensure_one()
        result = self._mpesa_wire().parse_reversal_result(body)
        return self._mpesa_apply_reversal_result(result, self._mpesa_find_reversal(reference))

    def _mpesa_apply_reversal_result(self, result, reversal):
        """A reversal's result, from a callback or given in the answer to the request (OpenAPI)."""
        family = self._mpesa_wire()
        code = result.result_code
        klass = family.classify_reversal_code(code)
        desc = result.result_desc or family.describe_reversal_code(code)
        if result.is_success:
            if reversal.state == const.REV_REVERSED:
                if (
                    result.receipt
                    and reversal.reversal_receipt
                    and result.receipt != reversal.reversal_receipt
                ):
                    raise CallbackRefused(
                        f"a second reversal receipt {result.receipt} for {reversal.reference}, "
                        f"already reversed by {reversal.reversal_receipt}"
                    )
                return "duplicate"
            if result.original_transaction_id and result.original_transaction_id != reversal.original_receipt:
                raise CallbackRefused(
                    f"reversal {reversal.reference} result names {result.original_transaction_id}, "
                    f"not {reversal.original_receipt}"
                )
            if result.amount_cents is not None and result.amount_cents != reversal.amount * 100:
                raise CallbackRefused(
                    f"reversal {reversal.reference} result amount {result.amount_cents / 100} is not "
                    f"{self._mpesa_market().currency} {reversal.amount}"
                )
            # Applied from any other state: M-Pesa's success is the proof the money came back.
            reversal._mpesa_apply_reversed(
                receipt=result.receipt,
                completed_at=result.completed_at,
                code=code,
                desc=desc,
                ocid=result.originator_conversation_id,
                conversation_id=result.conversation_id,
            )
            if result.utility_funds is not None:
                # The money is back in the Utility account: the float shown says so at once.
                self._mpesa_store_float(result.utility_funds, None, source="reversal")
            return "applied"
        if reversal.state in (const.REV_REVERSED, const.REV_FAILED, const.REV_NEEDS_REVIEW):
            # Reversed: the answer to a re-send. Failed or in review: a person has it already.
            same = reversal.result_code == code
            return "duplicate" if same or klass is ReversalClass.ALREADY_REVERSED else "ignored"
        if klass is ReversalClass.ALREADY_REVERSED and reversal.transaction_id.state == const.TX_REVERSED:
            # An earlier reversal of ours took the money back (its success came late).
            reversal.write(
                {
                    "state": const.REV_FAILED,
                    "result_code": code,
                    "result_desc": _("Already reversed by an earlier reversal of this payment."),
                }
            )
            return "applied"
        if klass is ReversalClass.ALREADY_REVERSED:
            reversal._mpesa_apply_review(
                code,
                desc,
                _(
                    "M-Pesa says payment %(receipt)s was already reversed (%(code)s), but Odoo has no "
                    "success of this reversal on record: it may have been reversed on the portal, or "
                    "an earlier answer was lost. Check the M-Pesa portal or import the statement, then "
                    "confirm it reversed or not reversed on the reversal. Reason given: %(reason)s."
                )
                % dict(reversal._mpesa_facts(), code=code),
            )
            return "applied"
        if klass is ReversalClass.TRANSIENT and reversal.send_attempts < const.MAX_TRANSIENT_SUBMITS:
            reversal.write({"state": const.REV_REQUESTED, "result_code": code, "result_desc": desc})
            self._mpesa_enqueue_reversal(reversal, eta=30)
            return "resubmitted"
        reversal._mpesa_apply_failed(code, desc)
        if code in const.CREDENTIAL_RESULT_CODES:
            self._mpesa_block(
                _("M-Pesa refused the initiator credential (reversal result %(code)s: %(desc)s).")
                % {"code": code, "desc": desc}
            )
        return "applied"

    def _mpesa_on_reversal_timeout(self, body, reference):
        self.ensure_one()
        notice = self._mpesa_wire().parse_reversal_timeout(body)
        reversal = self._mpesa_find_reversal(reference)
        if notice.original_transaction_id and notice.original_transaction_id != reversal.original_receipt:
            raise CallbackRefused(
                f"queue timeout for {notice.original_transaction_id} on {reversal.reference}"
            )
        if reversal.state not in (const.REV_REQUESTED, const.REV_ACCEPTED):
            return "ignored"
        # Not a failure: M-Pesa may still reverse it. Sent again (R000001 if it was).
        message = _("M-Pesa reported a queue timeout: the reversal is sent again.")
        self._mpesa_reversal_retry(
            reversal,
            SubmitOutcome(OutcomeKind.UNKNOWN, code="QUEUE_TIMEOUT", message=message),
            UNKNOWN_RETRY_SECONDS,
        )
        return "applied"

    def action_resume_sending(self):
        res = super().action_resume_sending()
        # Reversals a stop left unsent go too (one sent twice is answered R000001).
        waiting = (
            self.env["g2p.mpesa.reversal"]
            .sudo()
            .search([("manager_id", "in", self.ids), ("state", "=", const.REV_REQUESTED)])
        )
        for reversal in waiting:
            reversal.manager_id._mpesa_enqueue_reversal(reversal)
        return res

    # ------------------------------------------------------------------ reconciliation
    @api.model
    def _cron_mpesa_reconcile(self):
        res = super()._cron_mpesa_reconcile()
        for manager in self.search([("sending_enabled", "=", True)]):
            manager._mpesa_retrying(manager._mpesa_reconcile_reversals)
        return res

    def _mpesa_reconcile_reversals(self, limit=200):
        """No result after a while: send the reversal again (answered by its result or R000001);
        asked often enough, flag it. A request whose job died is queued again."""
        self.ensure_one()
        now = fields.Datetime.now()
        stale = fields.Datetime.subtract(now, minutes=STALE_REQUEST_MINUTES)
        Reversal = self.env["g2p.mpesa.reversal"].sudo()
        due = Reversal.search(
            [
                ("manager_id", "=", self.id),
                "|",
                "&",
                ("state", "=", const.REV_ACCEPTED),
                ("next_check_at", "<=", now),
                "&",
                ("state", "=", const.REV_REQUESTED),
                ("last_sent_at", "<=", stale),
            ],
            limit=limit,
        )
        never_sent = Reversal.search(
            [("manager_id", "=", self.id), ("state", "=", const.REV_REQUESTED), ("last_sent_at", "=", False)],
            limit=limit,
        ).filtered(lambda r: r.create_date <= stale)
        for reversal in due | never_sent:
            if reversal.state == const.REV_ACCEPTED and reversal.send_attempts > self.reconcile_max_attempts:
                reversal._mpesa_apply_review(
                    "NO_RESULT",
                    _("No result from M-Pesa"),
                    _(
                        "M-Pesa accepted the reversal of %(receipt)s but sent no result after %(attempts)s "
                        "attempts. Check the M-Pesa portal or import the statement."
                    )
                    % {"receipt": reversal.original_receipt, "attempts": reversal.send_attempts},
                )
                continue
            reversal.write(
                {"next_check_at": fields.Datetime.add(now, minutes=max(self.reconcile_after_minutes, 1))}
            )
            self._mpesa_enqueue_reversal(reversal)
        return len(due | never_sent)
