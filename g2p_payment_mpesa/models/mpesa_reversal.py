"""Reversal of a paid M-Pesa payment through the market's reversal API.

A finance validator asks for it (wizard/mpesa_reversal.py) with a reason. The request is
committed before anything is sent, then sent from a queue job on the M-Pesa channel; the result
comes to a callback URL of its own (secret + the reversal's reference), applied once. Sending the
same reversal again (after a lost acknowledgement, a crash, a queue timeout) is safe: M-Pesa
answers a second reversal of a receipt with R000001 "already reversed" and moves nothing.

On success the request becomes reversed and the payment failed with nothing paid, so that
OpenG2P's own flow (Prepare payments pays entitlements whose payments all failed) can pay the
right person. "Already reversed" without a success of ours on record is never taken on trust: the
reversal is flagged for review.
"""

import uuid

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .. import const
from .payment_manager import notify

# Who may reverse a payment: OpenG2P's finance validators and administrators.
REVERSAL_GROUPS = (
    "g2p_programs.g2p_finance_validator",
    "g2p_registry_base.group_g2p_admin",
    "base.group_system",
)


def may_reverse(env):
    return env.su or any(env.user.has_group(group) for group in REVERSAL_GROUPS)


def check_may_reverse(env):
    if not may_reverse(env):
        raise AccessError(_("Only finance validators and administrators may reverse M-Pesa payments."))


class MpesaReversal(models.Model):
    _name = "g2p.mpesa.reversal"
    _description = "M-Pesa reversal"
    _order = "id desc"
    _rec_name = "reference"

    reference = fields.Char(
        required=True,
        readonly=True,
        index=True,
        copy=False,
        default=lambda self: str(uuid.uuid4()),
        help="Our id of the reversal, in its result URL (M-Pesa makes its own ids).",
    )
    payment_id = fields.Many2one("g2p.payment", required=True, readonly=True, index=True, ondelete="restrict")
    transaction_id = fields.Many2one(
        "g2p.mpesa.transaction",
        "Request reversed",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    manager_id = fields.Many2one(
        "g2p.program.payment.manager.mpesa", required=True, readonly=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one(related="payment_id.partner_id")
    cycle_id = fields.Many2one(related="payment_id.cycle_id")
    original_receipt = fields.Char("Receipt reversed", required=True, readonly=True, index=True)
    amount = fields.Integer(required=True, readonly=True, help="In whole units of the market's currency.")
    msisdn = fields.Char(related="transaction_id.msisdn", string="Paid to number")
    receiver_name = fields.Char(related="transaction_id.receiver_name", string="Received by")
    receiver_mismatch = fields.Boolean(related="payment_id.mpesa_receiver_mismatch")
    reason = fields.Text(required=True, readonly=True)
    requested_by = fields.Many2one(
        "res.users", required=True, readonly=True, index=True, default=lambda self: self.env.user
    )
    state = fields.Selection(
        const.REVERSAL_STATES, required=True, default=const.REV_REQUESTED, readonly=True, index=True
    )
    originator_conversation_id = fields.Char(
        "OriginatorConversationID", readonly=True, index=True, help="M-Pesa's id of the reversal request."
    )
    conversation_id = fields.Char("ConversationID", readonly=True, index=True)
    result_code = fields.Char(readonly=True, index=True)
    result_desc = fields.Char("Result description", readonly=True)
    reversal_receipt = fields.Char(readonly=True, index=True, help="M-Pesa's receipt of the reversal itself.")
    completed_at = fields.Datetime(readonly=True)
    send_attempts = fields.Integer(readonly=True)
    last_sent_at = fields.Datetime(readonly=True)
    next_check_at = fields.Datetime(
        readonly=True, index=True, help="When the reversal is sent again if M-Pesa has not answered."
    )

    _sql_constraints = [
        ("reference_unique", "unique(reference)", "A reversal reference is used once."),
        ("reason_not_empty", "CHECK (length(btrim(reason)) > 0)", "A reversal needs a reason."),
    ]

    def init(self):
        # One reversal at a time per payment, whatever the code does: M-Pesa may still reverse
        # an open one (needs_review included: M-Pesa may have reversed it already).
        # The states are const.REV_OPEN_STATES.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS g2p_mpesa_reversal_one_open_per_payment
            ON g2p_mpesa_reversal (payment_id) WHERE state IN ('requested', 'accepted', 'needs_review')
            """
        )

    @api.constrains("reason")
    def _check_reason(self):
        for rec in self:
            if not (rec.reason or "").strip():
                raise ValidationError(_("A reversal needs a reason."))

    # ------------------------------------------------------------------ outcomes
    def _mpesa_apply_reversed(
        self, receipt, completed_at, code="0", desc="", ocid=None, conversation_id=None
    ):
        """The money came back: the request is reversed and the payment failed with nothing paid
        (OpenG2P pays an entitlement again once all its payments failed)."""
        self.ensure_one()
        self.env.cr.cache.pop(const.REVERSED_NUMBERS_CACHE, None)
        now = fields.Datetime.now()
        vals = {
            "state": const.REV_REVERSED,
            "reversal_receipt": receipt or self.reversal_receipt or False,
            "completed_at": completed_at or now,
            "result_code": code,
            "result_desc": desc,
            "next_check_at": False,
        }
        if ocid:
            vals["originator_conversation_id"] = ocid
        if conversation_id:
            vals["conversation_id"] = conversation_id
        self.write(vals)
        self.transaction_id.write({"state": const.TX_REVERSED})
        payment = self.payment_id
        payment._mpesa_write_rows(
            {
                payment.id: {
                    "state": "reconciled",
                    "status": "failed",
                    "status_is_final": True,
                    "status_datetime": now,
                    "amount_paid": 0.0,
                    "mpesa_state": const.PAY_REVERSED,
                    "mpesa_result_code": const.REVERSED_RESULT_CODE,
                    "mpesa_result_desc": _("Reversed (M-Pesa receipt %(receipt)s): %(reason)s")
                    % {"receipt": self.reversal_receipt or _("none"), "reason": self.reason},
                }
            }
        )
        payment.batch_id._mpesa_update_stats()
        payment.cycle_id._mpesa_notify_progress(throttled=False)
        self._mpesa_tell(
            _("M-Pesa payment %s reversed") % self.original_receipt,
            _(
                "Payment %(receipt)s of %(currency)s %(amount)s to %(msisdn)s (%(partner)s) was reversed: "
                "the money is back in the Utility account (reversal receipt %(reversal)s). Reason: "
                "%(reason)s. The payment is now failed with nothing paid: Prepare payments on the cycle "
                "pays the entitlement again once the registrant's number is right."
            )
            % self._mpesa_facts(),
        )

    def _mpesa_apply_failed(self, code, desc):
        """M-Pesa refused the reversal: the payment stays paid, the validator is told."""
        self.ensure_one()
        self.write(
            {"state": const.REV_FAILED, "result_code": code, "result_desc": desc, "next_check_at": False}
        )
        self._mpesa_tell(
            _("M-Pesa reversal of %s failed") % self.original_receipt,
            _(
                "M-Pesa did not reverse payment %(receipt)s of %(currency)s %(amount)s to %(msisdn)s "
                "(%(partner)s): %(code)s %(desc)s. The payment stays paid. Reason given: %(reason)s."
            )
            % dict(self._mpesa_facts(), code=code, desc=desc),
        )

    def _mpesa_apply_review(self, code, desc, note):
        self.ensure_one()
        self.write(
            {
                "state": const.REV_NEEDS_REVIEW,
                "result_code": code,
                "result_desc": desc,
                "next_check_at": False,
            }
        )
        self._mpesa_tell(_("M-Pesa reversal of %s needs review") % self.original_receipt, note)

    def _mpesa_facts(self):
        return {
            "receipt": self.original_receipt,
            "currency": self.manager_id._mpesa_market().currency,
            "amount": f"{self.amount:,}",
            "msisdn": self.msisdn or "",
            "partner": self.partner_id.name or "",
            "reversal": self.reversal_receipt or _("none"),
            "reason": self.reason,
        }

    def _mpesa_tell(self, summary, note):
        """A message on the manager's chatter and an activity for whoever asked for the reversal."""
        manager = self.manager_id.sudo()
        manager.message_post(body=note)
        manager.activity_schedule(
            "g2p_payment_mpesa.mail_activity_mpesa_reversal",
            user_id=(self.requested_by or manager.create_uid or self.env.user).id,
            summary=summary,
            note=note,
        )

    # ------------------------------------------------------------------ a person decides
    def action_confirm_reversed(self):
        """A reversal flagged for review that a person found reversed (portal, statement)."""
        check_may_reverse(self.env)
        for rec in self.sudo():
            if rec.state != const.REV_NEEDS_REVIEW:
                raise UserError(_("Only a reversal that needs review can be confirmed by hand."))
            rec._mpesa_apply_reversed(
                receipt=False,
                completed_at=False,
                code=rec.result_code or "",
                desc=_("Confirmed reversed by %s.") % self.env.user.name,
            )
        return notify(_("M-Pesa"), _("Marked reversed."), "success", then="reload")

    def action_mark_not_reversed(self):
        check_may_reverse(self.env)
        for rec in self.sudo():
            if rec.state != const.REV_NEEDS_REVIEW:
                raise UserError(_("Only a reversal that needs review can be closed by hand."))
            rec._mpesa_apply_failed(
                rec.result_code or "",
                _("Found not reversed by %s: the payment stays paid.") % self.env.user.name,
            )
        return notify(
            _("M-Pesa"), _("Marked not reversed: the payment stays paid."), "success", then="reload"
        )

    # ------------------------------------------------------------------ the statement
    def _mpesa_confirm_from_statement(self, line):
        """The organisation's statement shows this reversal (money back in, linked to the receipt
        reversed): it is proof enough, whatever the callbacks said. True when applied or already so."""
        self.ensure_one()
        rec = self.sudo()
        if line.paid_in and line.paid_in != rec.amount * 100:
            return False
        if rec.state == const.REV_REVERSED:
            if rec.reversal_receipt and line.receipt and rec.reversal_receipt != line.receipt:
                return False
            if not rec.reversal_receipt and line.receipt:
                rec.reversal_receipt = line.receipt
            return True
        rec._mpesa_apply_reversed(
            receipt=line.receipt,
            completed_at=line.completed_at,
            code=rec.result_code or "0",
            desc=_("Confirmed by the organisation's M-Pesa statement."),
        )
        return True


class G2PPaymentReversal(models.Model):
    _inherit = "g2p.payment"

    mpesa_reversal_ids = fields.One2many("g2p.mpesa.reversal", "payment_id", "M-Pesa reversals")
    mpesa_reversal_state = fields.Selection(
        const.REVERSAL_STATES, "M-Pesa reversal", compute="_compute_mpesa_reversal_state"
    )
    mpesa_reversal_open = fields.Boolean(compute="_compute_mpesa_reversal_state")

    def _compute_mpesa_reversal_state(self):
        latest = {}
        if self.ids:
            Reversal = self.env["g2p.mpesa.reversal"].sudo()
            Reversal.flush_model(["payment_id", "state"])
            self.env.cr.execute(
                "SELECT DISTINCT ON (payment_id) payment_id, state FROM g2p_mpesa_reversal"
                " WHERE payment_id IN %s ORDER BY payment_id, id DESC",
                [tuple(self.ids)],
            )
            latest = dict(self.env.cr.fetchall())
        for payment in self:
            state = latest.get(payment.id)
            payment.mpesa_reversal_state = state or False
            payment.mpesa_reversal_open = state in const.REV_OPEN_STATES

    def _mpesa_reversal_refusal(self):
        """Why this payment cannot be reversed now, or None; and the request that paid it."""
        self.ensure_one()
        txs = self.sudo().mpesa_transaction_ids
        paid = txs.filtered(lambda tx: tx.state == const.TX_PAID and tx.receipt)[:1]
        if not paid:
            if txs.filtered(lambda tx: tx.state == const.TX_REVERSED):
                return _("Payment %s is already reversed.") % self.name, paid
            return _(
                "Payment %s was not paid through M-Pesa (no paid request with a receipt)."
            ) % self.name, paid
        reversal = self.sudo().mpesa_reversal_ids.filtered(lambda r: r.state in const.REV_OPEN_STATES)[:1]
        if reversal:
            state = dict(const.REVERSAL_STATES)[reversal.state]
            return (
                _("Payment %(payment)s already has a reversal in progress (%(state)s).")
                % {"payment": self.name, "state": state},
                paid,
            )
        manager = paid.manager_id.sudo()
        if not manager.sending_enabled:
            return _("Sending is disabled on M-Pesa manager %s (a copied database?).") % manager.name, paid
        if manager.sending_blocked_reason:
            return (
                _("Sending is stopped on M-Pesa manager %(name)s: %(reason)s.")
                % {"name": manager.name, "reason": manager.sending_blocked_reason},
                paid,
            )
        missing = manager._mpesa_missing_settings()
        if missing:
            return (
                _("M-Pesa manager %(name)s is missing settings: %(missing)s.")
                % {"name": manager.name, "missing": ", ".join(missing)},
                paid,
            )
        return None, paid

    def _mpesa_check_reversible(self):
        refusals = [
            reason for reason, _tx in (payment._mpesa_reversal_refusal() for payment in self) if reason
        ]
        if not self:
            raise UserError(_("Select the payments to reverse."))
        if refusals:
            raise UserError("\n".join(refusals))

    def action_mpesa_reverse(self):
        """Open the reversal wizard (payment form button and the list's Action menu)."""
        check_may_reverse(self.env)
        self._mpesa_check_reversible()
        return {
            "type": "ir.actions.act_window",
            "name": _("Reverse M-Pesa payment"),
            "res_model": "g2p.mpesa.reversal.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_payment_ids": [(6, 0, self.ids)]},
        }
