"""The full callback URL, shown to administrators only, ready to copy."""

from odoo import fields, models


class MpesaCallbackUrl(models.TransientModel):
    _name = "g2p.mpesa.callback.url"
    _description = "M-Pesa callback URL"

    manager_id = fields.Many2one("g2p.program.payment.manager.mpesa", required=True, readonly=True)
    url = fields.Char(
        "Callback URL (base)",
        readonly=True,
        help="M-Pesa posts to this URL followed by /result, /timeout, /status or /balance. It holds "
        "the secret: paste it where it is needed, nowhere else.",
    )

    def action_close(self):
        """Close: back to the manager's dialog where it was opened from there."""
        return self.manager_id._mpesa_back_to_dialog()
