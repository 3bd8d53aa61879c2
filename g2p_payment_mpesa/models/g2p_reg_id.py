"""An ID issued to a registrant may open their simulator wallet (payment_manager_wallets)."""

from odoo import api, models


class G2PRegId(models.Model):
    _inherit = "g2p.reg.id"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env["g2p.program.payment.manager.mpesa"]._mpesa_open_sim_wallets_for_ids(records)
        return records

    def write(self, vals):
        result = super().write(vals)
        if {"value", "id_type", "partner_id"} & set(vals):
            self.env["g2p.program.payment.manager.mpesa"]._mpesa_open_sim_wallets_for_ids(self)
        return result
