from odoo import fields, models

from .. import const


class G2PPayment(models.Model):
    _inherit = "g2p.payment"

    mpesa_transaction_ids = fields.One2many("g2p.mpesa.transaction", "payment_id", "M-Pesa requests")
    mpesa_state = fields.Selection(
        const.PAYMENT_MPESA_STATES, "M-Pesa state", index=True, copy=False, readonly=True
    )
    mpesa_msisdn = fields.Char("M-Pesa number", readonly=True, copy=False)
    mpesa_originator_conversation_id = fields.Char(
        "OriginatorConversationID", readonly=True, copy=False, index=True
    )
    mpesa_receipt = fields.Char("M-Pesa receipt", readonly=True, copy=False, index=True)
    mpesa_result_code = fields.Char("M-Pesa result code", readonly=True, copy=False, index=True)
    mpesa_result_desc = fields.Char("M-Pesa result", readonly=True, copy=False)
    mpesa_receiver_name = fields.Char("Received by", readonly=True, copy=False)
