"""The wallet a person gets at ID issuance, linked to their ID in SPAR (OpenG2P's ID -> financial
address mapper), so that G2P Bridge, which asks SPAR before every payment, pays that wallet.

The simulator environment only, as the wallets themselves: when *Open simulator wallets when an
ID is issued* opens a registrant's wallet and a SPAR mapper URL is set, the registrant's ID of
the *SPAR ID type* (the ``beneficiary_id`` the program sends to the bridge) is linked to the
wallet's mobile-wallet address (``spar.mobile_wallet_fa``), after the commit. A failure never
undoes the ID: it is noted on the manager.
"""

import logging

from odoo import _, fields, models

from mpesa_wire import InvalidMsisdn, normalise_msisdn

from .. import log_redaction, spar
from .payment_manager_dispatch import PreflightError

_logger = logging.getLogger(__name__)


class G2PPaymentManagerMpesaSpar(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    spar_mapper_url = fields.Char(
        "SPAR mapper URL",
        help="OpenG2P's SPAR mapper (G2P Connect 1.x, e.g. http://spar:8000). Set, a wallet opened at "
        "ID issuance is linked there to the registrant's ID. Empty: no link.",
    )
    spar_sender_id = fields.Char(
        "SPAR sender id", default="g2p_payment_mpesa", help="The partner id SPAR knows this Odoo's key by."
    )
    spar_private_key = fields.Text(
        "SPAR signing key",
        groups="base.group_system",
        help="The PEM private key the link requests are signed with (its public half registered with "
        "SPAR's key manager under the sender id).",
    )
    spar_id_type_id = fields.Many2one(
        "g2p.id.type",
        "SPAR ID type",
        help="The ID linked: the beneficiary_id the program sends to G2P Bridge. Empty: the ID the "
        "wallet is opened with.",
    )

    def _mpesa_spar_items(self, wallets, partners):
        """[{id, fa, name, phone_number}] to link for these opened wallets (empty when SPAR is off)."""
        self.ensure_one()
        if not self.spar_mapper_url:
            return []
        id_type = self.spar_id_type_id or self._mpesa_sim_wallet_id_type()
        by_msisdn = {wallet["msisdn"]: wallet for wallet in wallets}
        items = []
        plan = self._mpesa_market().number_plan
        for partner in partners:
            reg = partner.reg_ids.filtered(
                lambda r, t=id_type: r.id_type == t and r.value and r.status != "invalid"
            )[:1]
            try:
                msisdn = normalise_msisdn(self._mpesa_payee_number(partner), plan)
            except (PreflightError, InvalidMsisdn):  # skipped, with its reason, by the wallet specs
                continue
            if reg and msisdn in by_msisdn:
                items.append(
                    {
                        "id": reg.value.strip(),
                        "fa": spar.mobile_wallet_fa(msisdn),
                        "name": partner.name or "",
                        "phone_number": msisdn,
                    }
                )
        return items

    def _mpesa_spar_target(self):
        rec = self.sudo()
        log_redaction.remember(rec.spar_private_key)
        return rec.spar_mapper_url, rec.spar_sender_id or "g2p_payment_mpesa", rec.spar_private_key or ""


def link_after_commit(target, items, note):
    """Link ``items`` in SPAR (``target``: url, sender id, key); ``note(message)`` on failure."""
    url, sender, key = target
    try:
        outcome = spar.link(url, sender, key, items)
    except spar.SparError as exc:
        _logger.warning("SPAR link failed: %s", exc)
        note(_("SPAR link failed: %s") % exc)
        return
    refused = {person: reason for person, (status, reason) in outcome.items() if status != "succ"}
    _logger.info("SPAR: %s of %s IDs linked to their M-Pesa wallets", len(outcome) - len(refused), len(items))
    if refused:
        note(_("SPAR did not link: %s") % "; ".join(f"{who}: {why}" for who, why in refused.items()))
