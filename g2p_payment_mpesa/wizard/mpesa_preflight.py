"""Check M-Pesa payees: what M-Pesa would refuse, shown to the approver before approving.

Over PREFLIGHT_JOB_SIZE entitlements (a national cycle) the check runs as a queue job: the dialog
opens at once, shows how far the check got, and offers the same choices once it is done."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .. import const
from ..models.g2p_cycle import OPEN_ENTITLEMENT_STATES


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
    state = fields.Selection([("checking", "Checking"), ("done", "Checked")], default="done", readonly=True)
    scope = fields.Selection(
        [("listed", "The entitlements listed"), ("open", "The cycle's open entitlements"),
         ("unconfirmed", "The cycle's open entitlements not confirmed yet")],
        default="listed",
        readonly=True,
        help="What a background check checks: a national cycle's entitlements are not listed one by one.",
    )  # fmt: skip
    # Told by the background check (g2p.mpesa.job.progress) until it is done, then its own.
    progress_done = fields.Integer(compute="_compute_progress")
    progress_total = fields.Integer(compute="_compute_progress")
    progress = fields.Float(compute="_compute_progress")
    checked_total = fields.Integer(readonly=True)
    checked_count = fields.Integer(readonly=True)
    problem_count = fields.Integer(compute="_compute_problem_count")
    total_text = fields.Char("Would be paid", readonly=True)
    summary = fields.Char(readonly=True)

    @api.depends("line_ids")
    def _compute_problem_count(self):
        for rec in self:
            rec.problem_count = len(rec.line_ids)

    @api.depends("state", "checked_count", "checked_total")
    def _compute_progress(self):
        told = self.env["g2p.mpesa.job.progress"]._mpesa_read(self)
        for rec in self:
            if rec.state == "done":
                done = total = rec.checked_count
            else:
                done, total = told.get(rec.id, (0, rec.checked_total))
            rec.progress_done, rec.progress_total = done, total
            rec.progress = 100.0 * done / total if total else 0.0

    @api.model
    def _open(self, cycle, manager, entitlements, then=False):
        if len(entitlements) > const.PREFLIGHT_JOB_SIZE:
            return self._open_in_background(cycle, manager, entitlements, then)
        problems, total = manager._mpesa_preflight(entitlements)
        vals = self._result_vals(manager, entitlements, problems, total)
        wizard = self.create(
            dict(vals, cycle_id=cycle.id, then=then, entitlement_ids=[(6, 0, entitlements.ids)])
        )
        return wizard._action()

    @api.model
    def _result_vals(self, manager, entitlements, problems, total):
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
        return {
            "line_ids": lines,
            "checked_count": len(entitlements),
            "total_text": f"{manager._mpesa_market().currency} {total:,}",
            "summary": summary,
            "state": "done",
        }

    def _action(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Check M-Pesa payees"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    @api.model
    def _open_in_background(self, cycle, manager, entitlements, then):
        """The dialog at once; the check in a queue job (the entitlements by scope: a national
        cycle's are not written into the dialog one by one)."""
        scope = self._scope_of(cycle, entitlements)
        wizard = self.create(
            {
                "cycle_id": cycle.id,
                "then": then,
                "scope": scope,
                "entitlement_ids": [(6, 0, entitlements.ids)] if scope == "listed" else [],
                "state": "checking",
                "checked_total": len(entitlements),
                "summary": _("Checking %s beneficiaries in the background…") % f"{len(entitlements):,}",
            }
        )
        wizard.with_delay(
            channel=const.QUEUE_CHANNEL,
            description=_("M-Pesa: check %s payees") % len(entitlements),
            max_retries=3,
        )._mpesa_check_job(manager.id)
        return wizard._action()

    @api.model
    def _scope_of(self, cycle, entitlements):
        """Whether `entitlements` are the cycle's open ones ("open"), those of them not confirmed
        ("unconfirmed"), or neither ("listed"): counted by PostgreSQL (two sets of a national
        cycle's ids made this request 40 MiB larger at 300,000)."""
        self.env["g2p.entitlement"].flush_model(["cycle_id", "state", "mpesa_payees_confirmed"])
        self.env.cr.execute(
            """
            SELECT count(*) FILTER (WHERE given),
                   count(*),
                   count(*) FILTER (WHERE given AND NOT confirmed),
                   count(*) FILTER (WHERE NOT confirmed)
              FROM (SELECT e.id = ANY(%(ids)s) AS given,
                           coalesce(e.mpesa_payees_confirmed, false) AS confirmed
                      FROM g2p_entitlement e
                     WHERE e.cycle_id = %(cycle)s AND e.state IN %(states)s) AS open_ones
            """,
            {"ids": list(entitlements.ids), "cycle": cycle.id, "states": OPEN_ENTITLEMENT_STATES},
        )
        given_open, all_open, given_unconfirmed, all_unconfirmed = self.env.cr.fetchone()
        given = len(entitlements)
        if given == given_open == all_open:
            return "open"
        if given == given_unconfirmed == all_unconfirmed:
            return "unconfirmed"
        return "listed"

    def _entitlements(self):
        self.ensure_one()
        if self.scope == "listed":
            return self.entitlement_ids
        open_ones = self.cycle_id._mpesa_open_entitlements()
        if self.scope == "unconfirmed":
            return open_ones.filtered(lambda ent: not ent.mpesa_payees_confirmed)
        return open_ones

    def _mpesa_check_job(self, manager_id):
        """Queue job: the check itself; its progress written beside it (another cursor)."""
        self.ensure_one()
        if self.state == "done":
            return _("Already checked.")
        manager = self.env["g2p.program.payment.manager.mpesa"].browse(manager_id)
        entitlements = self._entitlements()

        def progress(done, total):
            self.env["g2p.mpesa.job.progress"]._mpesa_tell(self, done, total)

        problems, total = manager._mpesa_preflight(entitlements, progress=progress)
        self.write(self._result_vals(manager, entitlements, problems, total))
        return self.summary

    def action_refresh(self):
        """The dialog again, as far as the background check got."""
        self.ensure_one()
        return self._action()

    def action_proceed(self):
        """The approver saw the problems and approves anyway."""
        self.ensure_one()
        if self.state != "done":
            raise UserError(
                _("The M-Pesa check is still running: wait until it has checked every beneficiary.")
            )
        entitlements = self._entitlements()
        if len(entitlements) > const.PREFLIGHT_CHUNK:
            # A national cycle's: one statement, not one ORM write per entitlement.
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE g2p_entitlement SET mpesa_payees_confirmed = true WHERE id = ANY(%s)",
                [entitlements.ids],
            )
            entitlements.invalidate_recordset(["mpesa_payees_confirmed"])
        else:
            entitlements.sudo().mpesa_payees_confirmed = True
        confirmed = {"mpesa_preflight_confirmed": True}
        if self.then == "approve":
            return self.cycle_id.with_context(**confirmed).approve()
        if self.then == "validate":
            return self.cycle_id.with_context(**confirmed).validate_entitlement()
        if self.then == "entitlements":
            return entitlements.with_context(**confirmed).approve_entitlement()
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
