"""Shared fixtures: a program in the market's currency (Kenya's KES unless a class says otherwise)
with registrants, an M-Pesa manager of that market, and a live simulator.

A flow test class runs for another market by subclassing it with ``MARKET``, ``CURRENCY`` (and,
for the live ones, ``SIM_MARKET``): its numbers come from the market (``msisdn``, ``LANDLINES``)."""

import base64
import os
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import SkipTest

from odoo import fields
from odoo.tests.common import HttpCase, TransactionCase

from mpesa_wire import markets

from .. import const

_REPO = Path(__file__).resolve().parents[2]

# The simulator runs in its own environment (it needs FastAPI, Odoo does not have it): the test
# command names that Python in MPESA_SIM_PYTHON. mpesa_sim.testing itself is standard library
# only, so it is imported here from the repository checkout.
SIM_PYTHON = os.environ.get("MPESA_SIM_PYTHON")


def _sim_testing():
    if not (_REPO / "mpesa_sim" / "testing.py").exists():
        raise SkipTest(f"mpesa_sim is not next to the addon (looked in {_REPO})")
    if not SIM_PYTHON:
        raise SkipTest("MPESA_SIM_PYTHON is not set: no Python to run the simulator with")
    if str(_REPO) not in sys.path:
        sys.path.insert(0, str(_REPO))
    from mpesa_sim import testing  # pylint: disable=import-outside-toplevel

    return testing


def start_simulator(stack, market=None):
    """Start a simulator (of `market`, default Kenya) for a test class; `stack` stops it."""
    testing = _sim_testing()
    return stack.enter_context(testing.start_simulator(python=SIM_PYTHON, market=market))


# A valid landline of each market (OpenG2P refuses to record an invalid number): not an M-Pesa payee.
LANDLINES = {"KE": "020 2222222", "ET": "011 123 4567"}


class MpesaProgramMixin:
    """Builds the OpenG2P side: program (journal in CURRENCY), registrants, cycle, approved
    entitlements, and an M-Pesa manager of MARKET."""

    AMOUNT = 500
    MARKET = "KE"  # the manager's market, and the program's currency below
    CURRENCY = "KES"
    API_FAMILY = None  # the market's default API, or another it offers (Mozambique: "vodacom_mz")

    @classmethod
    def market(cls):
        return markets.market(cls.MARKET)

    @classmethod
    def msisdn(cls, national):
        """The number B2C pays for a national number of the market: msisdn("712000001") is
        "254712000001" in Kenya, "251712000001" in Ethiopia. Its local spelling is "0" + national."""
        return f"{cls.market().number_plan.country_code}{national}"

    @classmethod
    def landline_number(cls):
        return LANDLINES[cls.MARKET]

    @classmethod
    def amount_out_of_limits(cls):
        """A whole amount the market refuses: half its minimum (Kenya: 5 of 10), or one above its
        maximum where nothing whole is below the minimum (Ethiopia: 150,001, its minimum is 1)."""
        market = cls.market()
        return market.min_amount // 2 or market.max_amount + 1

    def require_validated_b2c(self):
        """Skip a test of ID-validated B2C in a market that has none (no ID type to validate
        against, and no route for it in the manager's API settings)."""
        market = self.market()
        if not market.id_types:
            config = self.manager._mpesa_config()
            self.assertFalse(getattr(config, "b2c_validated_path", ""), f"{market.name} validates IDs")
            self.skipTest(f"no ID-validated B2C in {market.name}")

    @classmethod
    def _setup_program(cls, sim=None):
        env = cls.env
        cls.kes = env.ref("base.KES")
        cls.kes.active = True
        cls.currency = env.ref(f"base.{cls.CURRENCY}")
        cls.currency.active = True
        wizard = env["g2p.program.create.wizard"].create(
            {
                "name": f"M-Pesa test {uuid.uuid4().hex[:6]}",
                "currency_id": cls.currency.id,
                "amount_per_cycle": cls.AMOUNT,
                "target_type": "individual",
            }
        )
        cls.program = env["g2p.program"].browse(wizard.create_program()["res_id"])
        cls.manager = env["g2p.program.payment.manager.mpesa"].create(cls._manager_vals(sim))
        cls.manager._mpesa_use_for_program()
        cls.cycle = env["g2p.cycle"].create(
            {
                "name": "Cycle 1",
                "program_id": cls.program.id,
                "start_date": fields.Date.today(),
                "end_date": fields.Date.add(fields.Date.today(), months=1),
            }
        )
        cls.national_id = env["g2p.id.type"].search([("name", "=", "National ID")], limit=1) or env[
            "g2p.id.type"
        ].create({"name": "National ID"})

    @classmethod
    def _manager_vals(cls, sim):
        tag = cls.env["g2p.payment.batch.tag"].create(
            {"name": "All", "order": 1, "domain": "[]", "max_batch_size": 500}
        )
        vals = {
            "name": "M-Pesa",
            "program_id": cls.program.id,
            "create_batch": True,
            "batch_tag_ids": [(6, 0, tag.ids)],
            "environment": "simulator",
            "market": cls.MARKET,
            # The market's own limits, as the form's market onchange sets them.
            "min_amount": cls.market().min_amount,
            "max_amount": cls.market().max_amount,
            "callback_base_url": cls._callback_base_url(),
            "reconcile_after_minutes": 0,
            "reconcile_max_attempts": 2,
        }
        if sim:
            vals.update(sim.manager_settings(cls.API_FAMILY))
        else:
            vals.update(
                {
                    "base_url": "http://127.0.0.1:9",
                    "consumer_key": "key",
                    "consumer_secret": "secret",
                    "shortcode": "600000",
                    "initiator_name": "initiator",
                    "initiator_password": "password",
                    "certificate": base64.b64encode(b"not used before a request"),
                }
            )
        return vals

    @classmethod
    def _callback_base_url(cls):
        return cls.env["ir.config_parameter"].sudo().get_param("web.base.url")

    @classmethod
    def _registrant(cls, name, phone=None, national_id=None):
        vals = {
            "name": name,
            "given_name": name,
            "family_name": "Test",
            "is_registrant": True,
            "is_group": False,
        }
        partner = cls.env["res.partner"].create(vals)
        if phone:
            # OpenG2P validates a phone against its country when it is recorded: an international
            # number's own, a local one the market's.
            countries = {"+254": "base.ke", "+255": "base.tz", "+251": "base.et"}
            local = f"base.{cls.market().number_plan.region.lower()}"
            country = cls.env.ref(countries.get(phone[:4], local))
            cls.env["g2p.phone.number"].create(
                {"partner_id": partner.id, "phone_no": phone, "country_id": country.id}
            )
        if national_id:
            cls.env["g2p.reg.id"].create(
                {"partner_id": partner.id, "id_type": cls.national_id.id, "value": national_id}
            )
        return partner

    @classmethod
    def _entitlement(cls, partner, amount=None):
        return cls.env["g2p.entitlement"].create(
            {
                "partner_id": partner.id,
                "cycle_id": cls.cycle.id,
                "initial_amount": cls.AMOUNT if amount is None else amount,
                "state": "approved",
                "is_cash_entitlement": True,
            }
        )

    def prepare_and_send(self, entitlements=None):
        self.cycle.prepare_payment() if entitlements is None else self.manager.prepare_payments(
            self.cycle, entitlements
        )
        batches = self.cycle.payment_batch_ids.filtered(lambda b: not b.batch_has_started)
        return self.manager.with_context(queue_job__no_delay=True).send_payments(batches)

    def payment_of(self, partner):
        return self.env["g2p.payment"].search([("partner_id", "=", partner.id)], order="id desc", limit=1)

    @contextmanager
    def callbacks_flowing(self):
        """Callbacks are served only inside this block (see MpesaLiveCase.setUp)."""
        yield

    def wait_until(self, predicate, timeout=20, message="condition"):
        """Let the simulator's callbacks reach the test server, then look again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.env.invalidate_all()
            if predicate():
                return
            with self.callbacks_flowing():
                time.sleep(0.2)
        self.env.invalidate_all()
        self.fail(f"timed out after {timeout}s waiting for {message() if callable(message) else message}")


class MpesaTransactionCase(MpesaProgramMixin, TransactionCase):
    """No simulator: pre-flight, callbacks applied directly, access rights."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_program()


class MpesaLiveCase(MpesaProgramMixin, HttpCase):
    """A real simulator posting its callbacks to Odoo's test HTTP server."""

    SIM_MARKET = None  # the simulator's market (--market); None: Kenya

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._stack = ExitStack()
        cls.addClassCleanup(cls._stack.close)
        cls.sim = start_simulator(cls._stack, cls.SIM_MARKET)
        # A callback may wait for the test to let it in: give it time rather than drop it.
        cls.sim.set_config(callback_timeout_seconds=60)
        cls._setup_program(cls.sim)

    @classmethod
    def _callback_base_url(cls):
        return cls.base_url()

    def setUp(self):
        super().setUp()
        self.sim.reset_faults()
        # The test server serves callbacks on this test's own cursor; two threads must never use
        # it at once. The test holds the cursor's lock and lets callbacks in only while it waits.
        self.registry.test_lock.acquire()
        self.addCleanup(self.registry.test_lock.release)

    @contextmanager
    def callbacks_flowing(self):
        self.env.flush_all()
        self.registry.test_lock.release()
        try:
            yield
        finally:
            self.registry.test_lock.acquire()
            self.env.invalidate_all()

    def drain(self):
        """Wait until the simulator has processed what it accepted and sent its callbacks."""
        with self.callbacks_flowing():
            self.sim.drain()

    def pay_demo_cycle(self, program):
        """Start the demo program's cycle as the demo does (jobs inline), wait until every payment
        is final: (payments, {registrant: (status, result code)})."""
        inline = self.env["g2p.program.payment.manager.mpesa"].with_context(queue_job__no_delay=True)
        cycle = inline._mpesa_demo_start_cycle(program.with_env(inline.env))
        payments = self.env["g2p.payment"].search([("cycle_id", "=", cycle.id)])
        self.assertEqual(len(payments), 6)

        def outcome():
            return {p.partner_id.name: (p.status, p.mpesa_result_code) for p in payments}

        all_final = lambda: all(payments.mapped("status_is_final"))  # noqa: E731
        self.wait_until(all_final, message=lambda: f"every payment final: {outcome()}")
        return payments, outcome()

    def sim_transactions(self, ocid):
        status, body = self.sim.admin("GET", f"/sim/admin/transactions?originator_conversation_id={ocid}")
        self.assertEqual(status, 200, body)
        return body if isinstance(body, list) else body.get("transactions", [])


MPESA = const
