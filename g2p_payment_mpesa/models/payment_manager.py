import base64
import logging
import secrets
from decimal import Decimal
from urllib.parse import urlsplit

import requests

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

import mpesa_wire as wire
from mpesa_wire import markets

from .. import const, log_redaction
from .mpesa_rate_budget import PgRateBudget

_logger = logging.getLogger(__name__)


class PaymentManager(models.Model):
    _inherit = "g2p.program.payment.manager"

    @api.model
    def _selection_manager_ref_id(self):
        selection = super()._selection_manager_ref_id()
        new_manager = ("g2p.program.payment.manager.mpesa", "M-Pesa")
        if new_manager not in selection:
            selection.append(new_manager)
        return selection

    def open_manager_form(self):
        # OpenG2P's action has no name: its dialog was titled "Odoo".
        action = super().open_manager_form()
        if action and action.get("res_model") == "g2p.program.payment.manager.mpesa":
            action["name"] = _("M-Pesa payment manager of %s") % self.program_id.name
            # A dialog too (target new): Copy callback URL's Close leads back to it.
            action["context"] = dict(action.get("context") or {}, mpesa_manager_dialog=True)
        return action


# API families whose markets a manager can be set to (the settings, callbacks and result paths
# of another family are not built into the manager yet).
MANAGED_FAMILIES = ("daraja", "openapi", "vodacom_mz")

# Values no log line may show (log_redaction): remembered as soon as this process sees them.
SECRET_FIELDS = (
    "consumer_secret",
    "initiator_password",
    "api_key",
    "callback_secret",
    "simulator_admin_token",
    "spar_private_key",
)


# Where the simulator publishes each Vodacom API's public key.
SIMULATOR_PUBLIC_KEYS = {"openapi": "/sim/openapi/public-key", "vodacom_mz": "/sim/mz/public-key"}


def notify(title, message, kind, sticky=False, then="close"):
    """The notification every button of this addon answers with; `then`: "close" the dialog,
    "reload" the form, an action to open next, or None."""
    params = {"title": title, "message": message, "type": kind, "sticky": sticky}
    if then == "close":
        params["next"] = {"type": "ir.actions.act_window_close"}
    elif then == "reload":
        params["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
    elif isinstance(then, dict):
        params["next"] = then
    return {"type": "ir.actions.client", "tag": "display_notification", "params": params}


def _newest_utility(reports):
    """The Utility balance shown, from the (source, balance) reports of the last moments in the
    order recorded. Results answered together are recorded in any order: after the last other report
    (a balance query, a reversal), the lowest of the results' balances is M-Pesa's latest (a
    payment only takes money out)."""
    if not reports:
        return False
    last_other = max((i for i, (source, _b) in enumerate(reports) if source != "result"), default=-1)
    results = [Decimal(balance) for source, balance in reports[last_other + 1 :] if source == "result"]
    if results:
        return str(min(results))
    return reports[last_other][1]


def money_text(cents, currency=const.CURRENCY):
    """150000 -> 'KES 1,500.00': the one way amounts are shown (integer cents in, Decimal on the
    way: never a float)."""
    if cents is None or cents is False:
        return ""
    return f"{currency} {Decimal(cents) / 100:,.2f}"


def when_text(record, moment):
    """A UTC datetime in the reader's time zone, the zone named: '2026-03-01 10:30:00 EAT'."""
    if not moment:
        return ""
    return fields.Datetime.context_timestamp(record, moment).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _balance_text(value, currency):
    """A float report's balance ('9995500.00', as M-Pesa wrote it) as money_text shows amounts."""
    if not value:
        return False
    return money_text((Decimal(value) * 100).quantize(Decimal(1)), currency)


def _new_callback_secret():
    secret = secrets.token_urlsafe(32)
    log_redaction.remember(secret)
    return secret


class G2PPaymentManagerMpesa(models.Model):
    _name = "g2p.program.payment.manager.mpesa"
    _inherit = ["g2p.program.payment.manager.default", "mail.thread", "mail.activity.mixin"]
    _description = "M-Pesa Payment Manager"

    batch_tag_ids = fields.Many2many(
        "g2p.payment.batch.tag",
        "g2p_pay_batch_tag_pay_manager_mpesa",
        string="Batch Tags",
        ondelete="cascade",
    )
    create_batch = fields.Boolean("Automatically Create Batch", default=True)

    # Where M-Pesa is: the markets of the API families the manager can drive so far (the wire
    # layer knows more: wire/markets.py).
    market = fields.Selection(
        [
            (code, f"{m.name} ({m.operator}, {m.currency})")
            for code, m in markets.MARKETS.items()
            if m.api_family in MANAGED_FAMILIES
        ],
        required=True,
        default=markets.DEFAULT,
        tracking=True,
        help="The country whose M-Pesa pays: its currency, numbers, limits and API (wire/markets.py).",
    )
    environment = fields.Selection(
        [("simulator", "Simulator"), ("sandbox", "Sandbox"), ("production", "Production")],
        required=True,
        default="simulator",
        tracking=True,
    )
    base_url = fields.Char(
        "API base URL",
        required=True,
        default=const.ENVIRONMENT_URLS["simulator"],
        tracking=True,
    )
    # Credentials: readable by administrators only, never logged.
    consumer_key = fields.Char(groups="base.group_system")
    consumer_secret = fields.Char(groups="base.group_system")
    shortcode = fields.Char("B2C shortcode", tracking=True)
    initiator_name = fields.Char(tracking=True)
    initiator_password = fields.Char(groups="base.group_system")
    certificate = fields.Binary(
        help="The environment's X.509 certificate (PEM or DER) used to encrypt the initiator password."
    )
    certificate_filename = fields.Char()
    # Which API pays: the market's default, or another it offers (Mozambique: Vodacom's
    # multi-market OpenAPI or Vodacom Mozambique's own API).
    api_family = fields.Selection(
        [(name, family.label) for name, family in wire.FAMILIES.items() if name in MANAGED_FAMILIES],
        "M-Pesa API",
        compute="_compute_api_family",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        tracking=True,
        help="The M-Pesa API this manager pays through. Mozambique offers two: choose the one the "
        "organisation's shortcode was issued on (developer.mpesa.vm.co.mz: Vodacom Mozambique's own "
        "API; the OpenAPI portal: the multi-market OpenAPI).",
    )
    api_family_choice = fields.Boolean("Several M-Pesa APIs", compute="_compute_api_family_choice")
    # Vodacom's APIs (OpenAPI, Mozambique's own): the application's API key and the public key.
    api_key = fields.Char("API key", groups="base.group_system")
    public_key = fields.Text(
        help="The market's public key from the M-Pesa OpenAPI portal (base64), used to encrypt the "
        "API key and each session id."
    )
    session_delay_seconds = fields.Float(
        "Session activation delay (s)",
        default=30.0,
        help="A new OpenAPI session is used only after this delay (the portal: 'up to 30 seconds').",
    )
    # Vodacom Mozambique's own API: one port per operation, and a reversal field the sources
    # disagree on (docs/markets/vodacom-openapi.md section 8).
    vodacom_mz_ports = fields.Char(
        "Operation ports",
        default=lambda self: wire.vodacom_mz.format_ports(wire.vodacom_mz.config.DEFAULT_PORTS),
        help="The API host's port of each operation (the public clients: B2C 18345, query 18353, "
        "reversal 18354).",
    )
    reversal_amount_field = fields.Selection(
        [(name, name) for name in wire.vodacom_mz.config.REVERSAL_AMOUNT_FIELDS],
        "Reversal amount field",
        default=wire.vodacom_mz.config.REVERSAL_AMOUNT_FIELDS[0],
        help="input_ReversalAmount (paymentsds Python, ivanruby, the portal's copy) or input_Amount "
        "(abdulmueid, paymentsds JavaScript): the sources disagree.",
    )
    command_id = fields.Selection(
        [
            ("BusinessPayment", "Business payment"),
            ("SalaryPayment", "Salary payment"),
            ("PromotionPayment", "Promotion payment"),
        ],
        "M-Pesa command",
        required=True,
        default="BusinessPayment",
    )
    remarks_template = fields.Char(
        required=True,
        default="{program}",
        help="Remarks sent with each payment (2 to 100 characters). {program}, {cycle} and "
        "{payment} are replaced.",
    )
    occasion_template = fields.Char(default="{cycle}", help="Optional, up to 100 characters.")

    # Callbacks.
    callback_base_url = fields.Char(help="Public URL of this Odoo as M-Pesa reaches it. Empty: web.base.url.")
    callback_secret = fields.Char(
        groups="base.group_system", copy=False, default=lambda self: _new_callback_secret()
    )
    callback_ip_allowlist = fields.Char(
        "Callback source IPs",
        help="Comma-separated addresses or networks (CIDR) M-Pesa's callbacks may come from. "
        "Empty: any address (the secret in the URL still applies).",
    )

    # Who is paid where.
    payee_source = fields.Selection(
        [("phone", "Registrant's first active phone"), ("id_type", "An ID of the registrant")],
        "Payee number from",
        required=True,
        default="phone",
    )
    payee_id_type_id = fields.Many2one("g2p.id.type", "ID type holding the number")
    validated_b2c = fields.Boolean(
        "Validate the recipient's ID",
        help="Pay only if the wallet's registered national ID matches the registrant's (M-Pesa "
        "refuses with R002/R003 otherwise): a recycled phone number is not paid.",
    )
    validation_id_type_id = fields.Many2one("g2p.id.type", "ID type to validate")
    receiver_check = fields.Selection(
        [
            ("name", "Flag results naming someone else"),
            ("off", "Do not compare names"),
        ],
        "Receiver name check",
        required=True,
        default="name",
        help="M-Pesa's result names the wallet's holder. With the check on, a name that is not the "
        "registrant's (order, case, accents and initials tolerated) flags the payment for review. "
        "To refuse such payments before money moves instead, validate the recipient's ID "
        "(validated B2C).",
    )
    validation_id_code = fields.Selection(
        [
            ("01", "National ID"),
            ("02", "Military ID"),
            ("03", "Alien ID"),
            ("04", "Diplomatic ID"),
            ("05", "Passport"),
        ],
        "M-Pesa ID type",
        default="01",
    )

    # Flow control.
    concurrency = fields.Integer(
        "Parallel requests per job",
        default=16,
        help="HTTP requests one send job keeps in flight (16 measured best on 2 cores).",
    )
    max_requests_per_second = fields.Integer(
        "Requests per second ceiling",
        default=100,
        help="Payments, status and balance queries together, for this shortcode, across every Odoo "
        "process and node on the database. 0: no ceiling (a spike arrest still pauses everybody).",
    )
    min_amount = fields.Integer(
        "Minimum amount", default=10, help="Per payment, in whole units of the market's currency."
    )
    max_amount = fields.Integer(
        "Maximum amount", default=250_000, help="Per payment, in whole units of the market's currency."
    )
    reconcile_after_minutes = fields.Integer(
        "Ask for status after (minutes)",
        default=5,
        help="A payment without result after this long gets a Transaction Status query.",
    )
    reconcile_max_attempts = fields.Integer(
        "Status queries before review",
        default=3,
        help="Still unknown after this many status queries: flagged for review.",
    )
    sending_enabled = fields.Boolean(
        default=True, help="Off in copied (neutralized) databases: nothing is sent to M-Pesa."
    )
    sending_blocked_reason = fields.Char(
        readonly=True,
        tracking=True,
        help="Why sending stopped (e.g. M-Pesa refused the credentials). Fix it, then resume.",
    )

    # The organisation's float, as M-Pesa last reported it (g2p.mpesa.float.report).
    float_utility_balance = fields.Char("Utility account (float)", compute="_compute_float")
    float_working_balance = fields.Char("Working account", compute="_compute_float")
    float_checked_at = fields.Datetime("Float reported at", compute="_compute_float")
    # Shown on the form: money with its currency and separators, from the Decimal strings.
    float_utility_display = fields.Char("Utility account (float)", compute="_compute_float")
    float_working_display = fields.Char("Working account", compute="_compute_float")
    callback_url_masked = fields.Char(
        "Callback URL",
        compute="_compute_callback_url_masked",
        help="Where M-Pesa posts results; the secret is masked. Administrators can copy the full URL.",
    )

    def _compute_float(self):
        latest = {}
        if self.ids:
            self.env["g2p.mpesa.float.report"].flush_model()
            # The newest report with each figure: a result reports no Working account balance.
            # Each figure by an index (g2p.mpesa.float.report's init): every result adds a report,
            # so a national cycle leaves hundreds of thousands, and the form must not read them all.
            self.env.cr.execute(
                """
                SELECT m.id,
                       (SELECT r.working_balance FROM g2p_mpesa_float_report r
                         WHERE r.manager_id = m.id AND r.working_balance IS NOT NULL
                      ORDER BY r.reported_at DESC, r.id DESC LIMIT 1),
                       (SELECT max(r.reported_at) FROM g2p_mpesa_float_report r WHERE r.manager_id = m.id)
                  FROM unnest(%s) AS m(id)
                 WHERE EXISTS (SELECT 1 FROM g2p_mpesa_float_report r WHERE r.manager_id = m.id)
                """,
                [list(self.ids)],
            )
            newest = {row[0]: row[1:] for row in self.env.cr.fetchall()}
            # The Utility balance: the reports of the newest two seconds with one, in order (the
            # results of one burst may be recorded either side of a second's turn).
            # The newest second found once per manager, then its reports by the index's range (a
            # subquery per report made the form's time grow with the reports: 0.68 s at 300,000).
            self.env.cr.execute(
                """
                WITH newest AS (
                    SELECT m.id, (SELECT max(n.reported_at) FROM g2p_mpesa_float_report n
                                   WHERE n.manager_id = m.id AND n.utility_balance IS NOT NULL) AS at
                      FROM unnest(%s) AS m(id)
                )
                SELECT r.manager_id, r.source, r.utility_balance
                  FROM newest
                  JOIN g2p_mpesa_float_report r
                    ON r.manager_id = newest.id AND r.reported_at >= newest.at - interval '1 second'
                 WHERE r.utility_balance IS NOT NULL
              ORDER BY r.id
                """,
                [list(self.ids)],
            )
            last_second = {}
            for manager_id, source, utility in self.env.cr.fetchall():
                last_second.setdefault(manager_id, []).append((source, utility))
            latest = {
                manager_id: (_newest_utility(last_second.get(manager_id, [])), working, at)
                for manager_id, (working, at) in newest.items()
            }
        for rec in self:
            utility, working, at = latest.get(rec.id, (False, False, False))
            rec.float_utility_balance = utility or False
            rec.float_working_balance = working or False
            rec.float_checked_at = at or False
            currency = rec._mpesa_market().currency
            rec.float_utility_display = _balance_text(utility, currency)
            rec.float_working_display = _balance_text(working, currency)

    def _compute_callback_url_masked(self):
        for rec in self:
            rec.callback_url_masked = (
                rec._mpesa_callback_url("{result,timeout,status,balance}", masked=True) if rec.id else False
            )

    @api.model
    def _name_search(self, name, domain=None, operator="ilike", limit=None, order=None):
        # Chosen on a program (OpenG2P passes default_program_id): only that program's managers.
        program_id = self.env.context.get("default_program_id")
        if program_id:
            domain = [*(domain or []), ("program_id", "=", program_id)]
        return super()._name_search(name, domain=domain, operator=operator, limit=limit, order=order)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            log_redaction.remember(*(vals.get(name) for name in SECRET_FIELDS))
            # A manager made in code gets its market's limits, as the form's market onchange sets
            # them (the field defaults are Kenya's).
            market = markets.market(vals.get("market"))
            vals.setdefault("min_amount", market.min_amount)
            vals.setdefault("max_amount", market.max_amount)
        return super().create(vals_list)

    @api.constrains("validated_b2c", "market")
    def _check_validated_b2c_market(self):
        for rec in self:
            if rec.validated_b2c and not rec._mpesa_market().id_types:
                raise ValidationError(
                    _("M-Pesa %(market)s has no ID-validated B2C: turn off 'Validate the recipient's ID'.")
                    % {"market": rec._mpesa_market().name}
                )

    def write(self, vals):
        log_redaction.remember(*(vals.get(name) for name in SECRET_FIELDS))
        return super().write(vals)

    @api.onchange("environment", "api_family")
    def _onchange_environment(self):
        market = self._mpesa_market()
        urls = market.base_urls_for(self.api_family if self.api_family in market.api_families else None)
        self.base_url = urls.get(self.environment) or const.ENVIRONMENT_URLS[self.environment]

    @api.onchange("market")
    def _onchange_market(self):
        market = self._mpesa_market()
        self.min_amount, self.max_amount = market.min_amount, market.max_amount
        self._onchange_environment()

    def _mpesa_market(self):
        # Only the column asked for: the first field read of a manager otherwise fetches every
        # column of its row (a sixth of a result callback's time).
        return markets.market(self.with_context(prefetch_fields=False).market)

    @api.depends("market")
    def _compute_api_family(self):
        for rec in self:
            market = rec._mpesa_market()
            if rec.api_family not in market.api_families:
                rec.api_family = market.api_family

    @api.depends("market")
    def _compute_api_family_choice(self):
        for rec in self:
            rec.api_family_choice = len(rec._mpesa_market().api_families) > 1

    @api.constrains("api_family", "market")
    def _check_api_family_market(self):
        for rec in self:
            market = rec._mpesa_market()
            if rec.api_family not in market.api_families:
                raise ValidationError(
                    _("M-Pesa %(market)s is not paid through %(api)s.")
                    % {"market": market.name, "api": wire.family(rec.api_family).label}
                )

    def _mpesa_wire(self):
        """The API family this manager pays through: the only way the models reach M-Pesa."""
        return wire.for_market(
            self._mpesa_market(), self.with_context(prefetch_fields=False).api_family or None
        )

    # ------------------------------------------------------------------ configuration
    def _mpesa_missing_settings(self):
        self.ensure_one()
        rec = self.sudo()
        labels = {
            "base_url": _("API base URL"),
            "consumer_key": _("Consumer key"),
            "consumer_secret": _("Consumer secret"),
            "shortcode": _("B2C shortcode"),
            "initiator_name": _("Initiator name"),
            "initiator_password": _("Initiator password"),
            "certificate": _("Certificate"),
            "api_key": _("API key"),
            "public_key": _("Public key"),
        }
        missing = [labels.get(name, name) for name in self._mpesa_wire().required_settings if not rec[name]]
        if rec.payee_source == "id_type" and not rec.payee_id_type_id:
            missing.append(_("ID type holding the number"))
        if rec.validated_b2c and not rec.validation_id_type_id:
            missing.append(_("ID type to validate"))
        return missing

    def _mpesa_config(self):
        self.ensure_one()
        key_field = "public_key" if "public_key" in self._mpesa_wire().required_settings else "certificate"
        if self.environment == "simulator" and not self[key_field] and self.base_url:
            # The simulator publishes its certificate (or public key) as M-Pesa does.
            self.action_fetch_simulator_certificate()
        missing = self._mpesa_missing_settings()
        if missing:
            raise UserError(
                _("M-Pesa manager %(name)s is missing settings: %(missing)s.")
                % {"name": self.name, "missing": ", ".join(missing)}
            )
        rec = self.sudo()
        log_redaction.remember(*(rec[name] for name in SECRET_FIELDS if name in rec._fields))
        family = self._mpesa_wire()
        settings = {name: rec[name] for name in family.required_settings}
        settings.update({name: rec[name] for name in family.optional_settings if name in rec._fields})
        settings.update(
            base_url=rec.base_url.rstrip("/"),
            min_amount=rec.min_amount,
            max_amount=rec.max_amount,
            environment=rec.environment,
        )
        try:
            return family.config(settings, self._mpesa_market())
        except ValueError as exc:  # a setting the API cannot take (ports, key, code...)
            message = _("M-Pesa manager %(name)s: %(error)s")
            raise UserError(message % {"name": self.name, "error": exc}) from exc

    def _mpesa_use_for_program(self):
        """Make this manager its program's payment manager, as an admin does on the program form."""
        self.ensure_one()
        program = self.program_id
        ref = f"{self._name},{self.id}"
        if program.payment_managers:
            program.payment_managers.manager_ref_id = ref
        else:
            program.payment_managers = [(0, 0, {"program_id": program.id, "manager_ref_id": ref})]

    def _mpesa_client(self):
        """A client whose every request (submit, status, balance) takes its slot from the
        shortcode's rate budget, shared by all processes and nodes on this database."""
        config = self._mpesa_config()
        return self._mpesa_wire().client(config, self._mpesa_throttle(config))

    def _mpesa_throttle(self, config):
        return PgRateBudget.for_key(self.env.cr.dbname, config.budget_key, self.max_requests_per_second)

    def _mpesa_callback_url(self, kind, masked=False):
        self.ensure_one()
        base = self.callback_base_url or self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        secret = log_redaction.REDACTED if masked else self.sudo().callback_secret
        log_redaction.remember(secret)
        return f"{base.rstrip('/')}/g2p_payment_mpesa/{self.id}/{secret}/{kind}"

    # ------------------------------------------------------------------ buttons
    def _mpesa_done(self, message, kind="success"):
        """What every button of the manager's form answers: a notification saying what it did,
        the form (a dialog too) staying where it is. The form reloads its record after any of its
        buttons (static/src/js/mpesa_progress.js): Odoo's soft_reload restored the page behind a
        dialog, and so closed it."""
        return notify(_("M-Pesa"), message, kind, then=None)

    def _mpesa_dialog_action(self):
        """This manager's form in a dialog, as Pay with M-Pesa opens it. A button of the dialog that
        opens a dialog of its own replaces it (Odoo shows one such dialog at a time): Copy callback
        URL's Close leads back to it (context mpesa_manager_dialog)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("M-Pesa payment manager of %s") % self.program_id.name,
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [[False, "form"]],
            "target": "new",
            "context": {"mpesa_manager_dialog": True},
        }

    def _mpesa_back_to_dialog(self):
        """What closing a dialog opened from the manager's dialog does: back to it, or just close."""
        if self.env.context.get("mpesa_manager_dialog") and len(self) == 1:
            return self._mpesa_dialog_action()
        return {"type": "ir.actions.act_window_close"}

    def action_rotate_callback_secret(self):
        for rec in self:
            rec.sudo().callback_secret = _new_callback_secret()
            rec.message_post(body=_("Callback secret rotated: callbacks to the old URL are refused."))
        return self._mpesa_done(
            _("Callback secret rotated. Callbacks to the old URL are refused from now on.")
        )

    def action_show_callback_url(self):
        """Administrators only: the full callback URL, to copy into M-Pesa's portal or a proxy."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            raise UserError(_("Only administrators may see the callback secret."))
        wizard = self.env["g2p.mpesa.callback.url"].create(
            {"manager_id": self.id, "url": self._mpesa_callback_url("result").rsplit("/", 1)[0]}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Callback URL"),
            "res_model": wizard._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
            "context": {"mpesa_manager_dialog": self.env.context.get("mpesa_manager_dialog", False)},
        }

    def action_fetch_simulator_certificate(self):
        self.ensure_one()
        if "public_key" in self._mpesa_wire().required_settings:
            return self._mpesa_fetch_simulator_public_key()
        try:
            response = requests.get(f"{self.base_url.rstrip('/')}/sim/certificate.pem", timeout=10)
            response.raise_for_status()
        except requests.RequestException as exc:
            message = _("Could not fetch the certificate from %(url)s: %(error)s")
            raise UserError(message % {"url": self.base_url, "error": exc}) from exc
        self.write({"certificate": base64.b64encode(response.content), "certificate_filename": "sim.pem"})
        return self._mpesa_done(
            _(
                "Certificate fetched from the simulator (%s bytes): the initiator password is "
                "encrypted with it."
            )
            % len(response.content)
        )

    def _mpesa_fetch_simulator_public_key(self):
        path = SIMULATOR_PUBLIC_KEYS.get(self.api_family, SIMULATOR_PUBLIC_KEYS["openapi"])
        url = self.base_url.rstrip("/")
        if self.api_family == "vodacom_mz":
            # Its base URL names a host; each operation has its port: the simulator is on the B2C one.
            try:
                port = wire.vodacom_mz.parse_ports(self.vodacom_mz_ports)["b2c"]
            except ValueError as exc:
                raise UserError(str(exc)) from exc
            url = f"{urlsplit(url).scheme}://{urlsplit(url).hostname}:{port}"
        try:
            response = requests.get(f"{url}{path}", timeout=10)
            response.raise_for_status()
        except requests.RequestException as exc:
            message = _("Could not fetch the public key from %(url)s: %(error)s")
            raise UserError(message % {"url": self.base_url, "error": exc}) from exc
        self.write({"public_key": response.text.strip()})
        return self._mpesa_done(
            _("Public key fetched from the simulator: the API key and each session id are encrypted with it.")
        )

    def action_test_connection(self):
        """Get a token and ask for the balance: proves the URL, the app keys and the initiator
        (where the API has no balance query, the session alone proves the URL and the key)."""
        self.ensure_one()
        family = self._mpesa_wire()
        try:
            with self._mpesa_client() as client:
                client.token()
                if family.token_is_local:
                    # No session to open: a status query of a reference nobody used proves the URL
                    # and the key (a wrong key is refused; an unknown reference is answered).
                    outcome = client.transaction_status(
                        originator_conversation_id=family.new_conversation_id()
                    )
                    if outcome.http_status is None:
                        raise wire.WireError(outcome.message)
                    message = _(
                        "Connected: M-Pesa answered a status query with this API key (%s has no balance "
                        "query)."
                    )
                    return notify(_("M-Pesa"), message % family.label, "success", then=None)
                if not family.has_balance:
                    return notify(
                        _("M-Pesa"),
                        _("Connected: M-Pesa opened a session for this API key (%s has no balance query).")
                        % family.label,
                        "success",
                        then=None,
                    )
                outcome = client.account_balance(
                    result_url=self._mpesa_callback_url("balance"),
                    timeout_url=self._mpesa_callback_url("timeout"),
                )
        except wire.AuthError as exc:
            raise UserError(_("M-Pesa refused the app's credentials: %s") % exc) from exc
        except (wire.WireError, requests.RequestException) as exc:
            raise UserError(
                _("M-Pesa could not be reached at %(url)s: %(error)s") % {"url": self.base_url, "error": exc}
            ) from exc
        if outcome.kind != wire.OutcomeKind.ACCEPTED:
            raise UserError(
                _("M-Pesa did not accept the balance query: %(code)s %(message)s")
                % {"code": outcome.code or "", "message": outcome.message}
            )
        message = _(
            "Connected: token issued, balance query accepted. The float appears on the form "
            "when M-Pesa posts the balance."
        )
        return notify(_("M-Pesa"), message, "success", then=None)

    def action_resume_sending(self):
        for rec in self:
            rec.sending_blocked_reason = False
            rec._mpesa_enqueue_queued()
        return self._mpesa_done(_("Sending resumed: payments left queued are sent again."))

    def _mpesa_block(self, reason):
        """Stop sending: a credential problem repeated would make M-Pesa lock the initiator."""
        for rec in self:
            if rec.sending_blocked_reason:
                continue
            rec.sending_blocked_reason = reason
            rec.message_post(body=_("M-Pesa sending stopped: %s") % reason)
            _logger.error("M-Pesa manager %s: sending stopped: %s", rec.id, reason)
