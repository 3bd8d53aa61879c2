"""Reverse M-Pesa payments: a finance validator gives the reason, M-Pesa is asked."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.mpesa_reversal import check_may_reverse
from ..models.payment_manager import notify


class MpesaReversalWizard(models.TransientModel):
    _name = "g2p.mpesa.reversal.wizard"
    _description = "Reverse M-Pesa payments"

    payment_ids = fields.Many2many("g2p.payment", string="Payments", readonly=True)
    # Required in the form; checked on the server with a clear message (an empty one is refused).
    reason = fields.Text(
        help="Why the money is taken back, e.g. paid to someone other than the registrant. Kept on "
        "the reversal and in the manager's chatter (not sent to M-Pesa).",
    )
    payment_count = fields.Integer(compute="_compute_summary")
    mismatch_count = fields.Integer("Received by someone else", compute="_compute_summary")
    total_text = fields.Char("Amount to reverse", compute="_compute_summary")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if "payment_ids" in fields_list and not values.get("payment_ids"):
            if context.get("active_model") == "g2p.payment" and context.get("active_ids"):
                values["payment_ids"] = [(6, 0, context["active_ids"])]
        return values

    @api.depends("payment_ids")
    def _compute_summary(self):
        for wizard in self:
            payments = wizard.payment_ids
            wizard.payment_count = len(payments)
            wizard.mismatch_count = len(payments.filtered("mpesa_receiver_mismatch"))
            total = sum(
                tx.amount
                for payment in payments
                for tx in payment.sudo().mpesa_transaction_ids
                if tx.state == "paid" and tx.receipt
            )
            currency = payments[:1].mpesa_transaction_ids[:1].sudo().manager_id._mpesa_market().currency
            wizard.total_text = f"{currency or 'KES'} {total:,}"

    def action_reverse(self):
        self.ensure_one()
        check_may_reverse(self.env)
        if not (self.reason or "").strip():
            raise UserError(_("Say why the payment is reversed: the reason is required."))
        payments = self.payment_ids
        payments._mpesa_check_reversible()
        reversals = self.env["g2p.mpesa.reversal"]
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        by_manager = {}
        for payment in payments:
            _refusal, tx = payment._mpesa_reversal_refusal()
            by_manager.setdefault(tx.manager_id.id, self.env["g2p.payment"])
            by_manager[tx.manager_id.id] |= payment
        for manager_id, manager_payments in by_manager.items():
            reversals |= Manager.browse(manager_id)._mpesa_request_reversals(manager_payments, self.reason)
        asked = (
            _(
                "M-Pesa was asked to reverse %s payment. The finance validator who asked is told of "
                "the outcome (activity on the M-Pesa manager)."
            )
            if len(reversals) == 1
            else _(
                "M-Pesa was asked to reverse %s payments. The finance validator who asked is told of "
                "each outcome (activity on the M-Pesa manager)."
            )
        )
        message = asked % len(reversals)
        return notify(_("M-Pesa"), message, "success", then="close")
