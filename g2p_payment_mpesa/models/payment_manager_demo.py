"""The demo programs paid by `scripts/run.sh [--market KE|ET]`, and by anyone installing with demo
data (Kenya's).

One builder for every market: the market's facts (currency, country, whether M-Pesa validates a
recipient's ID and with which code) come from wire/markets.py; this file only adds, per market, the
simulator's demo organisation and the people of its demo wallets (mpesa_sim/markets.py).
"""

from odoo import _, api, fields, models

from ..wire import markets

DEMO_AMOUNT = 1500
# Per market: the program's name, the ID type its registrants hold, the simulator's demo shortcode
# and one registrant per demo wallet: (given, family, phone, ID number, expected outcome). The
# numbers and IDs match the simulator's demo wallets, so each registrant shows one outcome.
# Phones are written as a registration officer types them (local in Kenya, +251 in Ethiopia).
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
}
DEMO_PROGRAM = DEMO_PROGRAMS[markets.DEFAULT]["program"]
DEMO_REGISTRANTS = [r[:4] for r in DEMO_PROGRAMS[markets.DEFAULT]["registrants"]]
# The simulator's documented defaults (CONTRACTS.md); a real deployment types its own. The
# shortcode is the market's demo organisation's (DEMO_PROGRAMS).
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
    def _mpesa_create_demo(self, base_url=None, market=None, sim_url=None):
        """Create (once) a funded program of six registrants in the market's currency (default
        Kenya's), paid through the simulator of that market at `sim_url` (default port 8090)."""
        market = markets.market(market)
        demo = DEMO_PROGRAMS[market.code]
        Program = self.env["g2p.program"]
        program = Program.search([("name", "=", demo["program"])], limit=1)
        if program:
            return program
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
                "amount_per_cycle": DEMO_AMOUNT,
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
                SIMULATOR_SETTINGS,
                name=_("M-Pesa (simulator)")
                if market.code == markets.DEFAULT
                else _("M-Pesa %(market)s (simulator)") % {"market": market.name},
                market=market.code,
                base_url=sim_url or SIMULATOR_SETTINGS["base_url"],
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
        manager._mpesa_use_for_program()
        program.program_membership_ids = [
            (0, 0, {"partner_id": partner.id, "state": "enrolled", "enrollment_date": fields.Datetime.now()})
            for partner in partners
        ]
        return program

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
