"""Choosing M-Pesa on a program in one step: the program's own manager, made or found, in the
market whose currency the program pays in, set as its payment manager and opened for the rest of
the setup (OpenG2P's reference field asks for a model and then a record, and offered other
programs' managers)."""

from odoo import _, models
from odoo.exceptions import UserError

from mpesa_wire import markets

from .payment_manager import MANAGED_FAMILIES


class G2PProgram(models.Model):
    _inherit = "g2p.program"

    def _mpesa_market_for_currency(self):
        self.ensure_one()
        currency = (self.journal_id.currency_id or self.company_id.currency_id).name
        for market in markets.MARKETS.values():
            if market.currency == currency and market.api_family in MANAGED_FAMILIES:
                return market
        offered = ", ".join(
            f"{m.name} ({m.currency})" for m in markets.MARKETS.values() if m.api_family in MANAGED_FAMILIES
        )
        raise UserError(
            _(
                "No M-Pesa market pays in %(currency)s. M-Pesa pays in: %(offered)s. Make the program in "
                "one of these currencies (Programs > Create Program, Currency)."
            )
            % {"currency": currency or _("no currency"), "offered": offered}
        )

    def _mpesa_default_batch_tag(self):
        """The program's default batch tag, found or made as OpenG2P's payment manager form makes
        it (its 'Automatically Create Batch'): every entitlement, batches of 500."""
        Tag = self.env["g2p.payment.batch.tag"].sudo()
        values = {"name": f"Default {self.name}", "order": 1, "max_batch_size": 500}
        tag = Tag.search([(key, "=", value) for key, value in values.items()], limit=1)
        return tag or Tag.create(dict(values, domain="[]"))

    def action_mpesa_pay_with_mpesa(self):
        """Pay with M-Pesa: this program's own M-Pesa manager (made now in the market of the
        program's currency, or the one it has), set as its payment manager, and opened."""
        self.ensure_one()
        Manager = self.env["g2p.program.payment.manager.mpesa"]
        manager = Manager.search([("program_id", "=", self.id)], order="id desc", limit=1)
        if not manager:
            market = self._mpesa_market_for_currency()
            manager = Manager.create(
                {
                    "name": _("M-Pesa %(market)s") % {"market": market.name},
                    "program_id": self.id,
                    "market": market.code,
                    "environment": "sandbox",
                    "base_url": market.base_urls["sandbox"],
                    # Payments are prepared per batch tag: without one, Prepare Payments makes none.
                    "create_batch": True,
                    "batch_tag_ids": [(6, 0, self._mpesa_default_batch_tag().ids)],
                }
            )
            self.message_post(
                body=_("M-Pesa (%(market)s) is this program's payment manager.") % {"market": market.name}
            )
        elif manager.create_batch and not manager.batch_tag_ids:
            manager.batch_tag_ids = [(6, 0, self._mpesa_default_batch_tag().ids)]
        manager._mpesa_use_for_program()
        return manager._mpesa_dialog_action()
