"""A local phone number is read in the M-Pesa market's country.

OpenG2P's phone dialog (g2p_registry_base, g2p.phone.number) formats what is typed with
``_phone_format(number=...)`` on an empty recordset, so the record's own country is ignored and the
company's is used: a Kenyan "0733 000 002" typed in a database whose company is in the United
States is cleared. Here the dialog's country defaults to the market's where every M-Pesa manager of
the database pays in one market, and the number is read in the dialog's country.
"""

from odoo import api, models

from mpesa_wire import markets


class G2PPhoneNumber(models.Model):
    _inherit = "g2p.phone.number"

    @api.model
    def _mpesa_market_country(self):
        """The country of the one market the database's M-Pesa managers pay in, or an empty record."""
        used = self.env["g2p.program.payment.manager.mpesa"].sudo().search([]).mapped("market")
        if len(set(used)) != 1:
            return self.env["res.country"]
        region = markets.market(used[0]).number_plan.region
        return self.env["res.country"].search([("code", "=", region)], limit=1)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "country_id" in fields_list and not values.get("country_id"):
            country = self._mpesa_market_country()
            if country:
                values["country_id"] = country.id
        return values

    @api.onchange("phone_no", "country_id")
    def _onchange_phone_validation(self):
        # Read in the dialog's country before OpenG2P's check, which would read it in the company's.
        if self.phone_no:
            country = self.country_id or self._mpesa_market_country()
            formatted = self._phone_format(
                number=self.phone_no, country=country, force_format="INTERNATIONAL"
            )
            if formatted:
                self.phone_no = formatted
        return super()._onchange_phone_validation()
