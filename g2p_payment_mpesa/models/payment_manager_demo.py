"""The demo program paid by `scripts/run.sh`, and by anyone installing with demo data."""

from odoo import api, fields, models

DEMO_PROGRAM = "M-Pesa Demo Cash Transfer"
DEMO_AMOUNT = 1500
# Numbers and IDs match the simulator's demo wallets, so each registrant shows one outcome.
DEMO_REGISTRANTS = [
    ("Amina", "Wanjiru", "0712 345 678", "12345678"),  # paid
    ("Peter", "Otieno", "0722 000 001", "23456789"),  # paid
    ("Grace", "Achieng", "0733 000 002", "34567890"),  # paid
    ("John", "Kamau", "0110 000 003", "99887766"),  # wallet registered with a passport: R002
    ("Unregistered", "Line", "0799 000 004", "45678901"),  # not an M-Pesa customer: 2040
    ("Mary", "Njeri", "020 2222222", "67890123"),  # a Nairobi landline: refused before sending
]
# The simulator's documented defaults (CONTRACTS.md); a real deployment types its own.
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
    def _mpesa_create_demo(self, base_url=None):
        """Create (once) a funded KES program of six registrants paid through the simulator."""
        Program = self.env["g2p.program"]
        program = Program.search([("name", "=", DEMO_PROGRAM)], limit=1)
        if program:
            return program
        kes = self.env.ref("base.KES")
        kes.active = True
        kenya = self.env.ref("base.ke")
        national_id = self.env["g2p.id.type"].search([("name", "=", "National ID")], limit=1) or self.env[
            "g2p.id.type"
        ].create({"name": "National ID"})
        partners = self.env["res.partner"]
        for given, family, phone, id_number in DEMO_REGISTRANTS:
            partners |= self.env["res.partner"].create(
                {
                    "name": f"{given} {family}",
                    "given_name": given,
                    "family_name": family,
                    "is_registrant": True,
                    "is_group": False,
                    "phone_number_ids": [(0, 0, {"phone_no": phone, "country_id": kenya.id})],
                    "reg_ids": [(0, 0, {"id_type": national_id.id, "value": id_number})],
                }
            )
        wizard = self.env["g2p.program.create.wizard"].create(
            {
                "name": DEMO_PROGRAM,
                "currency_id": kes.id,
                "amount_per_cycle": DEMO_AMOUNT,
                "target_type": "individual",
                "auto_approve_entitlements": True,
                "approver_group_id": self.env.ref("g2p_programs.g2p_program_cycle_approver").id,
            }
        )
        program = Program.browse(wizard.create_program()["res_id"])
        fund = self.env["g2p.program.fund"].create(
            {"program_id": program.id, "amount": 1_000_000, "remarks": "Demo budget"}
        )
        fund.post_fund()
        tag = self.env["g2p.payment.batch.tag"].create(
            {"name": f"Default {DEMO_PROGRAM}", "order": 1, "domain": "[]", "max_batch_size": 500}
        )
        manager = self.create(
            dict(
                SIMULATOR_SETTINGS,
                name="M-Pesa (simulator)",
                program_id=program.id,
                create_batch=True,
                batch_tag_ids=[(6, 0, tag.ids)],
                callback_base_url=base_url or False,
                validated_b2c=True,
                validation_id_type_id=national_id.id,
                validation_id_code="01",
                reconcile_after_minutes=1,
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
