"""What OpenG2P needs before this manager can move money, said where the admin sets up the program
(the manager form) and where the approver works (the cycle), before either meets it as an error:
the program's currency against the market's, enrolled beneficiaries, a cycle approver group, a
posted fund, and the manager's own settings."""

from odoo import _, api, fields, models


class G2PPaymentManagerMpesaReadiness(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    mpesa_readiness = fields.Text(
        "Before money can move",
        compute="_compute_mpesa_readiness",
        help="What OpenG2P or M-Pesa still needs before this program can be paid, and where to set it.",
    )

    @api.depends("market", "program_id")
    def _compute_mpesa_readiness(self):
        for rec in self:
            # Whoever reads the manager or a cycle (a finance validator too) sees what is missing,
            # though the cycle manager and the fund are not theirs to read.
            rec.mpesa_readiness = "\n".join(rec.sudo()._mpesa_readiness_problems()) or False

    def _mpesa_readiness_problems(self):
        """Each missing thing, as a sentence naming where to set it (empty: ready)."""
        self.ensure_one()
        program = self.program_id
        if not program:
            return [_("No program: this manager pays nobody.")]
        problems = []
        market = self._mpesa_market()
        currency = (program.journal_id.currency_id or program.company_id.currency_id).name
        if currency != market.currency:
            problems.append(
                _(
                    "The program pays in %(theirs)s but M-Pesa %(market)s pays %(ours)s: make a program "
                    "in %(ours)s (Programs > Create Program, Currency)."
                )
                % {"theirs": currency or _("no currency"), "market": market.name, "ours": market.currency}
            )
        enrolled = (
            self.env["g2p.program_membership"]
            .sudo()
            .search_count([("program_id", "=", program.id), ("state", "=", "enrolled")])
        )
        if not enrolled:
            problems.append(
                _(
                    "No beneficiary is enrolled: add registrants to the program (Registry > Add to "
                    "Program), then Enroll Eligible Registrants on the program."
                )
            )
        cycle_manager = program.get_manager(program.MANAGER_CYCLE)
        if not cycle_manager or not cycle_manager.sudo().approver_group_id:
            problems.append(
                _(
                    "No cycle approver group: nobody may approve a cycle (program > Configuration > "
                    "Cycle Manager > Approver group)."
                )
            )
        entitlement_manager = program.get_manager(program.MANAGER_ENTITLEMENT)
        if entitlement_manager and hasattr(entitlement_manager, "check_fund_balance"):
            self.env.flush_all()  # OpenG2P reads the fund with raw SQL
            if entitlement_manager.check_fund_balance(program.id) <= 0:
                problems.append(
                    _(
                        "The program has no posted fund: entitlements cannot be approved (program > "
                        "Funds: create one and Post it)."
                    )
                )
        missing = self._mpesa_missing_settings()
        if missing:
            problems.append(_("M-Pesa settings missing on this manager: %s.") % ", ".join(missing))
        return problems


class G2PCycleReadiness(models.Model):
    _inherit = "g2p.cycle"

    mpesa_readiness = fields.Text("Before money can move", compute="_compute_mpesa_readiness")

    def _compute_mpesa_readiness(self):
        for cycle in self:
            program = cycle.program_id.sudo()
            manager = program.get_manager(program.MANAGER_PAYMENT) if program else None
            is_mpesa = manager and manager._name == "g2p.program.payment.manager.mpesa"
            cycle.mpesa_readiness = manager.mpesa_readiness if is_mpesa and cycle.state != "ended" else False
