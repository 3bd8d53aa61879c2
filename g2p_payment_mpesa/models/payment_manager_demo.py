"""The demo programs paid by `scripts/run.sh [--market KE|ET|TZ|CD|LS|GH]`, and by anyone
installing with demo data (Kenya's).

One builder for every market: the market's facts (currency, country, API family, whether M-Pesa
validates a recipient's ID and with which code) come from wire/markets.py; this file only adds, per
market, the simulator's demo organisation and the people of its demo wallets (mpesa_sim/markets.py).
A Daraja market's manager holds the simulator's documented credentials; an OpenAPI market's (the
Vodacom markets) holds the API key of the simulator's application, which is random per simulator
database: the builder reads it with the simulator's admin token.
"""

from urllib.parse import urlsplit

import requests

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from mpesa_wire import markets

from .. import log_redaction

DEMO_AMOUNT = 1500
SIM_TIMEOUT = (5, 30)  # (connect, read) seconds
# Per market: the program's name, the ID type its registrants hold, the simulator's demo shortcode
# (an OpenAPI market's ServiceProviderCode), the amount per cycle (DEMO_AMOUNT unless said) and one
# registrant per demo wallet: (given, family, phone, ID number, expected outcome). The numbers and
# IDs match the simulator's demo wallets, so each registrant shows one outcome. Phones are written
# as a registration officer types them (local, or international).
DEMO_PROGRAMS = {
    "KE": {
        "program": "M-Pesa Demo Cash Transfer",
        "id_type": "National ID",
        "shortcode": "600000",
        "registrants": [
            ("Amina", "Wanjiru", "0712 345 678", "12345678", "paid"),
            ("Peter", "Otieno", "0722 000 001", "23456789", "paid"),
            ("Grace", "Achieng", "0733 000 002", "34567890", "paid"),
            ("John", "Kamau", "0110 000 003", "99887766", "wallet registered with a passport: R002"),
            ("Unregistered", "Line", "0799 000 004", "45678901", "not an M-Pesa customer: 2040"),
            ("Mary", "Njeri", "020 2222222", "67890123", "a Nairobi landline: refused before sending"),
        ],
    },
    # No ID-validated B2C was found for Ethiopia (markets.ETHIOPIA.id_types is empty): the Fayda
    # IDs are recorded on the registrants but M-Pesa is not asked to check them.
    "ET": {
        "program": "M-Pesa Demo Cash Transfer (Ethiopia)",
        "id_type": "Fayda ID",
        "shortcode": "610000",
        "registrants": [
            ("Abebe", "Kebede", "+251 71 234 5678", "412345678901", "paid"),
            ("Tigist", "Haile", "+251 72 200 0001", "523456789012", "paid"),
            ("Almaz", "Tesfaye", "+251 73 300 0002", "634567890123", "paid"),
            ("Dawit", "Bekele", "+251 71 100 0003", "745678901234", "paid"),
            ("Unregistered", "Line", "+251 79 900 0004", "", "not an M-Pesa customer: 2040"),
            ("Frozen", "Account", "+251 70 000 0005", "856789012345", "a frozen wallet: 2006"),
        ],
    },
    # Vodacom's M-Pesa OpenAPI: no ID-validated B2C (markets.TANZANIA.id_types is empty), the result
    # in the B2C answer (the simulator's synchronous mode), and no inactive-account code: a frozen
    # wallet is refused as an unknown one (INS-2051). The sixth registrant's number is another
    # network's, which the manager refuses before sending. ID numbers are the simulator's choice.
    "TZ": {
        "program": "M-Pesa Demo Cash Transfer (Tanzania)",
        "id_type": "NIDA ID",
        "shortcode": "000000",
        "amount": 30_000,
        "registrants": [
            ("Neema", "Mwakyusa", "0754 123 456", "19900101123450000123", "paid"),
            ("Juma", "Mwinyi", "0764 000 001", "19850615234560000234", "paid"),
            ("Baraka", "Massawe", "+255 794 000 003", "19781120456780000456", "paid"),
            ("Unregistered", "Line", "0759 000 004", "", "not an M-Pesa customer: INS-2051"),
            ("Frozen", "Account", "0740 000 005", "19950505567890000567", "a frozen wallet: INS-2051"),
            ("Halima", "Said", "0715 000 006", "19880808678900000678", "Yas number: refused before sending"),
        ],
    },
    "CD": {
        "program": "M-Pesa Demo Cash Transfer (DR Congo)",
        "id_type": "National ID",
        "shortcode": "000243",
        "amount": 20,
        "registrants": [
            ("Esther", "Mukendi", "0812 345 678", "1234567890", "paid"),
            ("Jean", "Ilunga", "0822 000 001", "2345678901", "paid"),
            ("Didier", "Tshibangu", "+243 812 000 003", "4567890123", "paid"),
            ("Unregistered", "Line", "0829 000 004", "", "not an M-Pesa customer: INS-2051"),
            ("Frozen", "Account", "0810 000 005", "5678901234", "a frozen wallet: INS-2051"),
            ("Patrick", "Mbuyi", "0997 000 006", "6789012345", "an Airtel number: refused before sending"),
        ],
    },
    "LS": {
        "program": "M-Pesa Demo Cash Transfer (Lesotho)",
        "id_type": "National ID",
        "shortcode": "000266",
        "amount": 300,
        "registrants": [
            ("Palesa", "Mohapi", "5812 3456", "012345678901", "paid"),
            ("Thabo", "Mofokeng", "5900 0001", "023456789012", "paid"),
            ("Tumelo", "Ramakatane", "+266 5000 0003", "045678901234", "paid"),
            ("Unregistered", "Line", "5990 0004", "", "not an M-Pesa customer: INS-2051"),
            ("Frozen", "Account", "5000 0005", "056789012345", "a frozen wallet: INS-2051"),
            ("Mpho", "Nthako", "6212 3456", "067890123456", "an Econet number: refused before sending"),
        ],
    },
    "GH": {
        "program": "M-Pesa Demo Cash Transfer (Ghana)",
        "id_type": "Ghana Card",
        "shortcode": "000233",
        "amount": 200,
        "registrants": [
            ("Ama", "Mensah", "020 123 4567", "GHA-123456789-0", "paid"),
            ("Kwame", "Asante", "050 200 0001", "GHA-234567890-1", "paid"),
            ("Kofi", "Boateng", "+233 50 100 0003", "GHA-456789012-3", "paid"),
            ("Unregistered", "Line", "020 900 0004", "", "not an M-Pesa customer: INS-2051"),
            ("Frozen", "Account", "050 000 0005", "GHA-567890123-4", "a frozen wallet: INS-2051"),
            ("Yaw", "Owusu", "024 123 4567", "GHA-678901234-5", "an MTN number: refused before sending"),
        ],
    },
    # Mozambique through Vodacom Mozambique's own API (what Mozambican integrators use; the
    # manager can also pay through the OpenAPI's vodacomMOZ); its numbers have no trunk 0.
    "MZ": {
        "program": "M-Pesa Demo Cash Transfer (Mozambique)",
        "api_family": "vodacom_mz",
        "id_type": "BI",
        "shortcode": "000258",
        "amount": 1500,
        "registrants": [
            ("Ana", "Machava", "84 123 4567", "110100000001A", "paid"),
            ("Carlos", "Mondlane", "85 200 0001", "110100000002B", "paid"),
            ("Armando", "Cossa", "+258 85 100 0003", "110100000004D", "paid"),
            ("Unregistered", "Line", "84 900 0004", "", "not an M-Pesa customer: INS-2002"),
            ("Frozen", "Account", "84 000 0005", "110100000005E", "a frozen wallet: INS-996"),
            ("Rosa", "Sitoe", "82 123 4567", "110100000006F", "an mCel number: refused before sending"),
        ],
    },
}
DEMO_PROGRAM = DEMO_PROGRAMS[markets.DEFAULT]["program"]
DEMO_REGISTRANTS = [r[:4] for r in DEMO_PROGRAMS[markets.DEFAULT]["registrants"]]
# The simulator's documented defaults (CONTRACTS.md) for a Daraja market; a real deployment types
# its own. The shortcode is the market's demo organisation's (DEMO_PROGRAMS).
SIMULATOR_SETTINGS = {
    "environment": "simulator",
    "base_url": "http://127.0.0.1:8090",
    "consumer_key": "sim-consumer-key",
    "consumer_secret": "sim-consumer-secret",
    "shortcode": "600000",
    "initiator_name": "g2p_initiator",
    "initiator_password": "Sim-Initiator-Pass-1",
}


class G2PPaymentManagerMpesaDemo(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    @api.model
    def _mpesa_create_demo(self, base_url=None, market=None, sim_url=None, sim_admin_token=None):
        """Create (once) a funded program of six registrants in the market's currency (default
        Kenya's), paid through the simulator of that market at `sim_url` (default port 8090).
        An OpenAPI market needs the simulator's admin token (`sim_admin_token`): its API key is
        read from the simulator, and the simulator's session activation delay is set to none."""
        market = markets.market(market)
        demo = DEMO_PROGRAMS[market.code]
        Program = self.env["g2p.program"]
        program = Program.search([("name", "=", demo["program"])], limit=1)
        if program:
            return program
        sim_url = (sim_url or SIMULATOR_SETTINGS["base_url"]).rstrip("/")
        # Before anything is created: a simulator that cannot say its API key leaves nothing behind.
        connection = self._mpesa_demo_connection(market, sim_url, sim_admin_token)
        currency = self.env.ref(f"base.{market.currency}")
        currency.active = True
        country = self.env.ref(f"base.{market.number_plan.region.lower()}")
        IdType = self.env["g2p.id.type"]
        id_type = IdType.search([("name", "=", demo["id_type"])], limit=1) or IdType.create(
            {"name": demo["id_type"]}
        )
        partners = self.env["res.partner"]
        for given, family, phone, id_number, _outcome in demo["registrants"]:
            ids = [(0, 0, {"id_type": id_type.id, "value": id_number})] if id_number else []
            phones = [(0, 0, {"phone_no": phone, "country_id": country.id})] if phone else []
            partners |= self.env["res.partner"].create(
                {
                    "name": f"{given} {family}",
                    "given_name": given,
                    "family_name": family,
                    "is_registrant": True,
                    "is_group": False,
                    "phone_number_ids": phones,
                    "reg_ids": ids,
                }
            )
        wizard = self.env["g2p.program.create.wizard"].create(
            {
                "name": demo["program"],
                "currency_id": currency.id,
                "amount_per_cycle": demo.get("amount", DEMO_AMOUNT),
                "target_type": "individual",
                "auto_approve_entitlements": True,
                "approver_group_id": self.env.ref("g2p_programs.g2p_program_cycle_approver").id,
            }
        )
        program = Program.browse(wizard.create_program()["res_id"])
        fund = self.env["g2p.program.fund"].create(
            {"program_id": program.id, "amount": 1_000_000, "remarks": _("Demo budget")}
        )
        fund.post_fund()
        tag = self.env["g2p.payment.batch.tag"].create(
            {"name": f"Default {demo['program']}", "order": 1, "domain": "[]", "max_batch_size": 500}
        )
        # Validated B2C where the market's M-Pesa has it (its first ID type: the national ID).
        validation = market.id_types[0][0] if market.id_types else False
        manager = self.create(
            dict(
                connection,
                name=_("M-Pesa (simulator)")
                if market.code == markets.DEFAULT
                else _("M-Pesa %(market)s (simulator)") % {"market": market.name},
                market=market.code,
                shortcode=demo["shortcode"],
                program_id=program.id,
                create_batch=True,
                batch_tag_ids=[(6, 0, tag.ids)],
                callback_base_url=base_url or False,
                validated_b2c=bool(validation),
                validation_id_type_id=id_type.id if validation else False,
                validation_id_code=validation or "01",
                reconcile_after_minutes=1,
                min_amount=market.min_amount,  # the market's own limits, as the form sets them
                max_amount=market.max_amount,
            )
        )
        if manager.api_family != "daraja":
            manager.action_fetch_simulator_certificate()  # the simulator's public key, as the form's button
        manager._mpesa_use_for_program()
        program.program_membership_ids = [
            (0, 0, {"partner_id": partner.id, "state": "enrolled", "enrollment_date": fields.Datetime.now()})
            for partner in partners
        ]
        return program

    @api.model
    def _mpesa_demo_connection(self, market, sim_url, sim_admin_token):
        """The manager's connection settings for the market's simulator at `sim_url`: Daraja's
        documented credentials; or, for an OpenAPI market, its application's API key (GET
        /sim/admin/info) with no session activation delay, on both sides (PUT /sim/admin/config):
        a demo does not wait 30 seconds for its session; or, for Mozambique's demo (Vodacom
        Mozambique's own API), that API's key, initiator and the simulator's port for every
        operation."""
        settings = {key: value for key, value in SIMULATOR_SETTINGS.items() if key != "base_url"}
        if sim_admin_token:
            log_redaction.remember(sim_admin_token)
            settings["simulator_admin_token"] = sim_admin_token  # "Open simulator wallets" works
        api_family = DEMO_PROGRAMS[market.code].get("api_family", market.api_family)
        settings["base_url"] = sim_url
        if api_family == "daraja":
            return settings
        if not sim_admin_token:
            raise UserError(
                _(
                    "The %(market)s demo reads the API key of the simulator's application: give the "
                    "simulator's admin token."
                )
                % {"market": market.name}
            )
        headers = {"Authorization": f"Bearer {sim_admin_token}"}
        try:
            response = requests.get(f"{sim_url}/sim/admin/info", headers=headers, timeout=SIM_TIMEOUT)
            if response.status_code == 401:
                raise UserError(_("The simulator at %s refused the admin token (401).") % sim_url)
            response.raise_for_status()
            info = response.json()
            simulated = (info.get("market") or {}).get("code")
            if simulated != market.code or not info.get("openapi" if api_family == "openapi" else "mz"):
                raise UserError(
                    _("The simulator at %(url)s is not %(market)s's (it simulates %(other)s).")
                    % {"url": sim_url, "market": market.name, "other": simulated or "?"}
                )
            response = requests.put(
                f"{sim_url}/sim/admin/config",
                json={"openapi_session_delay_seconds": 0},
                headers=headers,
                timeout=SIM_TIMEOUT,
            )
            response.raise_for_status()
        except (requests.RequestException, ValueError) as exc:
            raise UserError(
                _("The simulator at %(url)s could not be asked for its API key: %(error)s")
                % {"url": sim_url, "error": exc}
            ) from exc
        for daraja_only in ("consumer_key", "consumer_secret", "initiator_name", "initiator_password"):
            settings.pop(daraja_only)
        if api_family == "vodacom_mz":
            # No session; the initiator signs reversals; every operation on the simulator's port
            # (it serves each path on any port it listens on).
            mz = info["mz"]
            log_redaction.remember(mz["api_key"], mz["security_credential"])
            port = urlsplit(sim_url).port
            return dict(
                settings,
                api_family="vodacom_mz",
                base_url=f"{urlsplit(sim_url).scheme}://{urlsplit(sim_url).hostname}",
                vodacom_mz_ports=",".join(f"{role}={port}" for role in ("b2c", "query", "reversal")),
                api_key=mz["api_key"],
                initiator_name=mz["initiator_identifier"],
                initiator_password=mz["security_credential"],
            )
        api_key = info["openapi"]["api_key"]
        log_redaction.remember(api_key)
        return dict(settings, api_key=api_key, session_delay_seconds=0)

    @api.model
    def _mpesa_demo_start_cycle(self, program):
        """What a cycle approver clicks: new cycle, entitlements, approve, prepare, send."""
        program.create_new_cycle()
        cycle = program.cycle_ids.sorted("id")[-1]
        cycle.copy_beneficiaries_from_program()
        cycle.prepare_entitlement()
        cycle.to_approve()
        # OpenG2P reads the program's fund balance with raw SQL: pending ORM writes must land first.
        self.env.flush_all()
        # The demo pays a landline on purpose (refused before sending): the approver has seen the
        # pre-flight list (action_mpesa_check_payees) and approves anyway.
        cycle = cycle.with_context(mpesa_preflight_confirmed=True)
        cycle.approve()
        # Where the cycle manager does not auto-approve, the finance validator's step.
        pending = cycle.entitlement_ids.filtered(lambda e: e.state in ("draft", "pending_validation"))
        if pending:
            pending.approve_entitlement()
        cycle.prepare_payment()
        cycle.send_payment()
        return cycle
