"""Opening simulator wallets for a program's registrants, as M-Pesa does when an ID is issued.

Only ever against the simulator: its admin seed route (POST /sim/admin/seed) with its admin token.
Wallets that already exist are left exactly as they are (the seed route would update their name
and ID), so the simulator is asked first (GET /sim/admin/wallets/<msisdn>). No PIN is sent: the
simulator gives a new wallet its documented demo PIN (1234).
"""

import logging
from urllib.parse import quote

import requests

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError

from mpesa_wire import InvalidMsisdn, normalise_msisdn

from .. import log_redaction
from . import spar_link
from .payment_manager import notify
from .payment_manager_dispatch import PreflightError

_logger = logging.getLogger(__name__)

SIM_TIMEOUT = (5, 30)  # (connect, read) seconds


class SimWalletError(Exception):
    """The simulator could not be asked or refused: nothing was opened."""


def seed_sim_wallets(base_url, token, wallets, timeout=SIM_TIMEOUT):
    """(opened, existing) msisdns: ``wallets`` not yet in the simulator are created in one seed
    request; existing ones are not sent at all. No Odoo here: safe to run after a commit."""
    base_url = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    new, existing = [], []
    try:
        with requests.Session() as session:
            for wallet in wallets:
                response = session.get(
                    f"{base_url}/sim/admin/wallets/{quote(wallet['msisdn'])}",
                    headers=headers,
                    timeout=timeout,
                )
                if response.status_code == 200:
                    existing.append(wallet["msisdn"])
                elif response.status_code == 404:
                    new.append(wallet)
                else:
                    raise SimWalletError(_describe(response))
            if new:
                response = session.post(
                    f"{base_url}/sim/admin/seed", json={"wallets": new}, headers=headers, timeout=timeout
                )
                if response.status_code != 200:
                    raise SimWalletError(_describe(response))
    except requests.RequestException as exc:
        raise SimWalletError(
            _("The simulator at %(url)s cannot be reached (%(error)s).")
            % {"url": base_url, "error": type(exc).__name__}
        ) from None
    return [w["msisdn"] for w in new], existing


def _describe(response):
    if response.status_code == 401:
        return _("The simulator refused the admin token (401).")
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return _("The simulator answered %(status)s: %(detail)s") % {
        "status": response.status_code,
        "detail": detail or response.text[:200],
    }


class G2PPaymentManagerMpesaWallets(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    open_sim_wallets_on_id = fields.Boolean(
        "Open simulator wallets when an ID is issued",
        help="In the simulator environment: when a registrant enrolled in the program is issued an "
        "ID of the type this manager validates with (else the payee ID type), open their simulator "
        "wallet (name, phone, ID), as M-Pesa does at ID issuance.",
    )
    simulator_admin_token = fields.Char(
        groups="base.group_system",
        copy=False,
        help="The simulator's admin token (printed at its start-up): needed to open simulator wallets.",
    )

    # ------------------------------------------------------------------ building the wallets
    def _mpesa_sim_wallet_id_type(self):
        """The ID a wallet is opened with: the one payments are validated against (none otherwise:
        the payee ID type holds the phone number, not an identity)."""
        return self.validation_id_type_id

    def _mpesa_sim_wallet_trigger_types(self):
        """Issuing an ID of these types opens the registrant's wallet."""
        return self.validation_id_type_id | self.payee_id_type_id

    def _mpesa_sim_wallet_target(self):
        """(base URL, admin token) of the simulator, or UserError. Never for another environment."""
        self.ensure_one()
        if self.environment != "simulator":
            raise UserError(
                _("Simulator wallets can only be opened in the simulator environment; %s is not.") % self.name
            )
        rec = self.sudo()
        if not rec.simulator_admin_token:
            raise UserError(_("Set the simulator admin token on %s to open simulator wallets.") % self.name)
        if not rec.base_url:
            raise UserError(_("Set the simulator's base URL on %s.") % self.name)
        log_redaction.remember(rec.simulator_admin_token)
        return rec.base_url, rec.simulator_admin_token

    def _mpesa_sim_wallet_specs(self, partners):
        """([wallet spec for the seed route], [(registrant name, reason skipped)])."""
        self.ensure_one()
        plan = self._mpesa_market().number_plan
        id_type = self._mpesa_sim_wallet_id_type()
        id_code = self.validation_id_code if id_type and id_type == self.validation_id_type_id else None
        wallets, skipped, seen = [], [], set()
        for partner in partners:
            try:
                msisdn = normalise_msisdn(self._mpesa_payee_number(partner), plan)
            except (PreflightError, InvalidMsisdn) as exc:
                skipped.append((partner.name, str(exc)))
                continue
            if msisdn in seen:
                skipped.append((partner.name, _("Number %s is another registrant's in this list.") % msisdn))
                continue
            seen.add(msisdn)
            wallet = {"msisdn": msisdn}
            given = (partner.given_name or "").strip() if "given_name" in partner._fields else ""
            family = (partner.family_name or "").strip() if "family_name" in partner._fields else ""
            if given:
                wallet.update(first_name=given, last_name=family)
            else:
                wallet["name"] = (partner.name or "").strip()
            if id_type:
                reg = partner.reg_ids.filtered(
                    lambda r, t=id_type: r.id_type == t and r.value and r.status != "invalid"
                )[:1]
                if reg:
                    wallet["id_number"] = reg.value.strip()
                    if id_code:
                        wallet["id_type"] = id_code
            wallets.append(wallet)
        return wallets, skipped

    def _mpesa_open_sim_wallets(self, partners):
        """Open simulator wallets for ``partners``: {"opened", "existing", "skipped"}. UserError
        (and no HTTP) outside the simulator environment; UserError if the simulator cannot be
        reached or refuses (nothing is opened then: the seed is one simulator transaction)."""
        self.ensure_one()
        base_url, token = self._mpesa_sim_wallet_target()
        wallets, skipped = self._mpesa_sim_wallet_specs(partners)
        opened, existing = [], []
        if wallets:
            try:
                opened, existing = seed_sim_wallets(base_url, token, wallets)
            except SimWalletError as exc:
                raise UserError(str(exc)) from None
        return {"opened": opened, "existing": existing, "skipped": skipped}

    # ------------------------------------------------------------------ button
    def _mpesa_enrolled_partners(self):
        self.ensure_one()
        memberships = self.env["g2p.program_membership"].search(
            [("program_id", "=", self.program_id.id), ("state", "=", "enrolled")]
        )
        return memberships.partner_id

    def action_mpesa_open_sim_wallets(self):
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only administrators can open simulator wallets."))
        result = self._mpesa_open_sim_wallets(self._mpesa_enrolled_partners())
        lines = [
            _("%(opened)s opened, %(existing)s already there, %(skipped)s skipped.")
            % {
                "opened": len(result["opened"]),
                "existing": len(result["existing"]),
                "skipped": len(result["skipped"]),
            }
        ]
        lines += [f"{name}: {reason}" for name, reason in result["skipped"][:20]]
        if len(result["skipped"]) > 20:
            lines.append(_("... and %s more skipped.") % (len(result["skipped"]) - 20))
        kind = "warning" if result["skipped"] else "success"
        if result["skipped"]:
            # The reasons stay on the manager's chatter: the notification itself goes away.
            self.message_post(body="\n".join(lines))
        return notify(_("Simulator wallets"), "\n".join(lines), kind, then=None)

    # ------------------------------------------------------------------ at ID issuance
    @api.model
    def _mpesa_open_sim_wallets_for_ids(self, reg_ids):
        """Called when IDs are issued: queue, for after the commit, the opening of the wallets of
        registrants enrolled in the program of a simulator manager set to do so. Never raises."""
        try:
            reg_ids = reg_ids.filtered(lambda r: r.value and r.partner_id)
            if not reg_ids:
                return
            id_types = reg_ids.id_type
            managers = (
                self.sudo()
                .search(
                    [
                        ("environment", "=", "simulator"),
                        ("open_sim_wallets_on_id", "=", True),
                        "|",
                        ("validation_id_type_id", "in", id_types.ids),
                        ("payee_id_type_id", "in", id_types.ids),
                    ]
                )
                .filtered(lambda m: m.program_id)
            )
            for manager in managers:
                types = manager._mpesa_sim_wallet_trigger_types()
                partners = reg_ids.filtered(lambda r, t=types: r.id_type in t).partner_id
                if not partners:
                    continue
                enrolled = (
                    self.env["g2p.program_membership"]
                    .sudo()
                    .search(
                        [
                            ("program_id", "=", manager.program_id.id),
                            ("state", "=", "enrolled"),
                            ("partner_id", "in", partners.ids),
                        ]
                    )
                )
                if enrolled:
                    manager._mpesa_queue_sim_wallets(enrolled.partner_id)
        except Exception:  # an ID issuance never fails for the simulator's sake
            _logger.warning("Opening simulator wallets at ID issuance failed", exc_info=True)

    def _mpesa_queue_sim_wallets(self, partners):
        self.ensure_one()
        try:
            base_url, token = self._mpesa_sim_wallet_target()
        except UserError as exc:
            self._mpesa_sim_wallet_note(str(exc))
            return
        wallets, skipped = self._mpesa_sim_wallet_specs(partners)
        if skipped:
            self._mpesa_sim_wallet_note(
                _("Simulator wallets not opened: %s")
                % "; ".join(f"{name}: {reason}" for name, reason in skipped)
            )
        if not wallets:
            return
        dbname, manager_id = self.env.cr.dbname, self.id
        # The wallets' owners' IDs to link in SPAR (when a mapper is set), read before the commit.
        spar_items = self._mpesa_spar_items(wallets, partners)
        spar_target = self._mpesa_spar_target() if spar_items else None

        def open_after_commit():
            try:
                opened, existing = seed_sim_wallets(base_url, token, wallets)
                _logger.info(
                    "Simulator wallets at ID issuance (manager %s): %s opened, %s already there",
                    manager_id,
                    len(opened),
                    len(existing),
                )
                if spar_items:
                    spar_link.link_after_commit(
                        spar_target,
                        spar_items,
                        lambda message: _post_note_after_commit(dbname, manager_id, message),
                    )
            except Exception as exc:  # after the commit: nothing to undo, nobody to tell but the log
                reason = str(exc) if isinstance(exc, SimWalletError) else type(exc).__name__
                _logger.warning("Simulator wallets not opened (manager %s): %s", manager_id, reason)
                _post_note_after_commit(dbname, manager_id, _("Simulator wallets not opened: %s") % reason)

        self.env.cr.postcommit.add(open_after_commit)

    def _mpesa_sim_wallet_note(self, message):
        _logger.warning("Manager %s: %s", self.id, message)
        self.sudo().message_post(body=message)


def _post_note_after_commit(dbname, manager_id, message):
    from odoo.modules.registry import Registry  # pylint: disable=import-outside-toplevel

    try:
        with Registry(dbname).cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["g2p.program.payment.manager.mpesa"].browse(manager_id).exists().message_post(body=message)
    except Exception:
        _logger.warning("Could not post a note on M-Pesa manager %s", manager_id, exc_info=True)
