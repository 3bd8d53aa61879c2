"""Check M-Pesa payees: what M-Pesa would refuse, shown to the approver before approving."""

from odoo import _, api, fields, models


class MpesaPreflight(models.TransientModel):
    _name = "g2p.mpesa.preflight"
    _description = "Check M-Pesa payees"

    cycle_id = fields.Many2one("g2p.cycle", required=True, readonly=True, ondelete="cascade")
    entitlement_ids = fields.Many2many("g2p.entitlement", string="Entitlements checked", readonly=True)
    then = fields.Selection(
        [("approve", "Approve the cycle"), ("validate", "Approve entitlements"), ("entitlements", "Approve")],
        help="What the approver pressed; empty when only checking.",
    )
    line_ids = fields.One2many("g2p.mpesa.preflight.line", "wizard_id", readonly=True)
    checked_count = fields.Integer(readonly=True)
    problem_count = fields.Integer(compute="_compute_problem_count")
    total_text = fields.Char("Would be paid", readonly=True)
    summary = fields.Char(readonly=True)

    @api.depends("line_ids")
    def _compute_problem_count(self):
        for rec in self:
            rec.problem_count = len(rec.line_ids)

    @api.model
    def _open(self, cycle, manager, entitlements, then=False):
        problems, total = manager._mpesa_preflight(entitlements)
        lines = [
            (
                0,
                0,
                {"entitlement_id": ent.id, "partner_id": ent.partner_id.id, "code": code, "reason": reason},
            )
            for ent, code, reason in problems
        ]
        summary = (
            _("%(problems)s of %(checked)s would be refused by M-Pesa.")
            % {"problems": len(problems), "checked": len(entitlements)}
            if problems
            else _("All %s beneficiaries can be paid through M-Pesa.") % len(entitlements)
        )
        wizard = self.create(
            {
                "cycle_id": cycle.id,
                "entitlement_ids": [(6, 0, entitlements.ids)],
                "then": then,
                "line_ids": lines,
                "checked_count": len(entitlements),
                "total_text": f"{manager._mpesa_market().currency} {total:,}",
                "summary": summary,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Check M-Pesa payees"),
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_proceed(self):
        """The approver saw the problems and approves anyway."""
        self.ensure_one()
        self.entitlement_ids.sudo().mpesa_payees_confirmed = True
        confirmed = {"mpesa_preflight_confirmed": True}
        if self.then == "approve":
            return self.cycle_id.with_context(**confirmed).approve()
        if self.then == "validate":
            return self.cycle_id.with_context(**confirmed).validate_entitlement()
        if self.then == "entitlements":
            return self.entitlement_ids.with_context(**confirmed).approve_entitlement()
        return {"type": "ir.actions.act_window_close"}


class MpesaPreflightLine(models.TransientModel):
    _name = "g2p.mpesa.preflight.line"
    _description = "A beneficiary M-Pesa would refuse"

    wizard_id = fields.Many2one("g2p.mpesa.preflight", required=True, ondelete="cascade")
    entitlement_id = fields.Many2one("g2p.entitlement", readonly=True)
    partner_id = fields.Many2one("res.partner", "Beneficiary", readonly=True)
    amount = fields.Monetary(related="entitlement_id.initial_amount", currency_field="currency_id")
    currency_id = fields.Many2one(related="entitlement_id.currency_id")
    code = fields.Char(readonly=True)
    reason = fields.Char(readonly=True)
