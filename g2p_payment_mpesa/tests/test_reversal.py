"""Reversal of paid M-Pesa payments: the wizard, the request, its result callback, the outcomes.

TestReversalCallbacks feeds M-Pesa-shaped results straight to the handlers (no simulator);
TestReversalFlow goes through the real simulator and Odoo's test HTTP server, as M-Pesa would.
"""

import json
import urllib.parse
import uuid

import psycopg2

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.g2p_payment_mpesa.models.payment_manager_results import CallbackRefused

from ..models.payment_manager_dispatch import PreflightError
from . import payloads
from .common import MPESA, MpesaLiveCase, MpesaTransactionCase

RECEIPT = "UL27ABCD12"


def reversal_body(code=0, original=RECEIPT, amount=500, receipt="UL28WXYZ34", ocid="rev-ocid-1"):
    result = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully." if code == 0 else "Failed",
        "OriginatorConversationID": ocid,
        "ConversationID": "AG_20261202_0000aaaabbbbcccc",
        "TransactionID": receipt if code == 0 else "UL20000000",
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://x.test/t"}},
    }
    if code == 0:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "DebitAccountBalance", "Value": "Utility Account|KES|10000.00|10000.00|0.00|0.00"},
                {"Key": "Amount", "Value": float(amount)},
                {"Key": "TransCompletedTime", "Value": 20261202133000},
                {"Key": "OriginalTransactionID", "Value": original},
                {"Key": "Charge", "Value": 0},
                {"Key": "CreditPartyPublicName", "Value": "600000 - G2P ORG"},
                {"Key": "DebitPartyPublicName", "Value": "254712345678 - JANE DOE"},
            ]
        }
    return {"Result": result}


class _ReversalMixin:
    def _validator(self, login="finance-mpesa"):
        return new_test_user(
            self.env, login=login, groups="base.group_user,g2p_programs.g2p_finance_validator"
        )

    def _wizard(self, payments, user=None, reason="Paid to a recycled number"):
        payments = payments.with_user(user) if user else payments
        action = payments.action_mpesa_reverse()
        Wizard = self.env[action["res_model"]].with_env(payments.env).with_context(**action["context"])
        return Wizard.create({"reason": reason})

    def _reverse(self, payments, user=None, reason="Paid to a recycled number", run_job=True):
        """Through the wizard; the send job runs at once unless `run_job` is False (then queued)."""
        wizard = self._wizard(payments, user, reason).with_context(queue_job__no_delay=run_job)
        wizard.action_reverse()
        return (
            payments.env["g2p.mpesa.reversal"]
            .sudo()
            .search([("payment_id", "in", payments.ids)], order="id desc", limit=len(payments))
        )

    def _activities(self, text):
        return self.manager.activity_ids.filtered(lambda a: text in (a.summary or ""))


@tagged("post_install", "-at_install")
class TestReversalCallbacks(_ReversalMixin, MpesaTransactionCase):
    """Results applied directly: once, only to the reversal they answer."""

    def _paid_payment(self, name="Jane"):
        partner = self._registrant(name, phone="0712345678")
        self._entitlement(partner)
        self.manager.prepare_payments(self.cycle, partner.entitlement_ids)
        payment = self.payment_of(partner)
        payment.mpesa_state = MPESA.PAY_QUEUED
        tx = self.manager._mpesa_reserve(payment)
        tx._mpesa_set_state(MPESA.TX_ACCEPTED, conversation_id="AG_20261127_00001111222233334444")
        tx._mpesa_pay(receipt=RECEIPT, amount=500, completed_at=None, receiver_name="JANE DOE")
        return payment, tx

    def _requested(self, name="Jane"):
        payment, tx = self._paid_payment(name)
        reversal = self._reverse(payment, run_job=False)
        self.assertEqual(reversal.state, MPESA.REV_REQUESTED)  # the job is queued, not run here
        return payment, tx, reversal

    def _callback(self, body, reversal, kind="reversal"):
        return self.manager._mpesa_handle_callback(kind, body, reversal.reference)

    def test_the_request_is_recorded_with_the_original_and_its_reason(self):
        payment, tx, reversal = self._requested()
        self.assertEqual((reversal.transaction_id, reversal.manager_id), (tx, self.manager))
        self.assertEqual((reversal.original_receipt, reversal.amount), (RECEIPT, 500))
        self.assertEqual(reversal.reason, "Paid to a recycled number")
        self.assertEqual(reversal.requested_by, self.env.user)
        jobs = self.env["queue.job"].search([("method_name", "=", "_mpesa_send_reversal")])
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs.channel, "root.mpesa")
        self.assertEqual(payment.mpesa_reversal_state, MPESA.REV_REQUESTED)

    def test_success_reverses_the_request_and_fails_the_payment_once(self):
        payment, tx, reversal = self._requested()
        body = reversal_body()
        self.assertEqual(self._callback(body, reversal), "applied")
        self.assertEqual(reversal.state, MPESA.REV_REVERSED)
        self.assertEqual(reversal.reversal_receipt, "UL28WXYZ34")
        self.assertEqual(str(reversal.completed_at), "2026-12-02 10:30:00")
        self.assertEqual(reversal.originator_conversation_id, "rev-ocid-1")
        self.assertEqual(tx.state, MPESA.TX_REVERSED)
        self.assertEqual(
            (payment.status, payment.amount_paid, payment.mpesa_state), ("failed", 0, "reversed")
        )
        self.assertEqual(payment.mpesa_result_code, MPESA.REVERSED_RESULT_CODE)
        self.assertEqual(payment.mpesa_receipt, RECEIPT, "the original receipt stays on the payment")
        self.assertEqual(len(self._activities("reversed")), 1)
        write_dates = (payment.write_date, reversal.write_date, tx.write_date)
        self.assertEqual(self._callback(body, reversal), "duplicate")
        self.assertEqual((payment.write_date, reversal.write_date, tx.write_date), write_dates)
        self.assertEqual(len(self._activities("reversed")), 1)
        # The original B2C result arriving again is a duplicate too, never paid again.
        again = payloads.result_body(tx.originator_conversation_id, receipt=RECEIPT)
        self.assertEqual(self.manager._mpesa_handle_callback("result", again), "duplicate")
        self.assertEqual(payment.status, "failed")

    def test_the_float_shown_follows_the_money_back(self):
        payment, tx, reversal = self._requested()
        self.manager._mpesa_store_float("9500.00", None, source="result")
        self.assertEqual(self._callback(reversal_body(), reversal), "applied")
        self.manager.invalidate_recordset()
        self.assertEqual(self.manager.float_utility_display, "KES 10,000.00")

    def test_a_reversed_request_no_longer_blocks_a_new_one(self):
        payment, tx, reversal = self._requested()
        self._callback(reversal_body(), reversal)
        payment.mpesa_state = MPESA.PAY_QUEUED
        new_tx = self.manager._mpesa_reserve(payment)
        self.assertTrue(new_tx)
        self.assertNotEqual(new_tx, tx)

    def test_a_result_for_another_receipt_or_amount_is_refused(self):
        _payment, _tx, reversal = self._requested()
        with self.assertRaisesRegex(CallbackRefused, "names"):
            self._callback(reversal_body(original="UL27OTHER1"), reversal)
        with self.assertRaisesRegex(CallbackRefused, "amount"):
            self._callback(reversal_body(amount=5000), reversal)
        with self.assertRaisesRegex(CallbackRefused, "unknown reversal"):
            self.manager._mpesa_handle_callback("reversal", reversal_body(), str(uuid.uuid4()))
        with self.assertRaisesRegex(CallbackRefused, "no reversal reference"):
            self.manager._mpesa_handle_callback("reversal", reversal_body(), None)
        self.assertEqual(reversal.state, MPESA.REV_REQUESTED)

    def test_already_reversed_without_a_success_on_record_needs_review(self):
        payment, tx, reversal = self._requested()
        self.assertEqual(self._callback(reversal_body(code="R000001"), reversal), "applied")
        self.assertEqual(reversal.state, MPESA.REV_NEEDS_REVIEW)
        self.assertEqual((payment.status, tx.state), ("paid", MPESA.TX_PAID), "not reversed on trust")
        self.assertEqual(len(self._activities("needs review")), 1)
        self.assertEqual(self._callback(reversal_body(code="R000001"), reversal), "duplicate")
        # The success of the first request, late: proof, applied.
        self.assertEqual(self._callback(reversal_body(), reversal), "applied")
        self.assertEqual((reversal.state, payment.mpesa_state), (MPESA.REV_REVERSED, "reversed"))

    def test_already_reversed_after_our_success_is_the_answer_to_a_resend(self):
        _payment, _tx, reversal = self._requested()
        self._callback(reversal_body(), reversal)
        self.assertEqual(
            self._callback(reversal_body(code="R000001", ocid="rev-ocid-2"), reversal), "duplicate"
        )
        self.assertEqual(reversal.state, MPESA.REV_REVERSED)

    def test_final_failures_leave_the_payment_paid_and_tell_the_validator(self):
        for code in ("1", "R000002", "2006"):
            payment, tx, reversal = self._requested(name=f"Failure {code}")
            self._callback(reversal_body(code=code), reversal)
            self.assertEqual((reversal.state, reversal.result_code), (MPESA.REV_FAILED, code))
            self.assertEqual((payment.status, payment.mpesa_state, tx.state), ("paid", "paid", "paid"))
            self.assertEqual(self._callback(reversal_body(code=code), reversal), "duplicate")
        self.assertEqual(len(self._activities("failed")), 3)

    def test_a_credential_failure_stops_sending(self):
        _payment, _tx, reversal = self._requested()
        self._callback(reversal_body(code=2001), reversal)
        self.assertEqual(reversal.state, MPESA.REV_FAILED)
        self.assertIn("2001", self.manager.sending_blocked_reason)

    def test_a_transient_result_sends_again(self):
        _payment, _tx, reversal = self._requested()
        self.assertEqual(self._callback(reversal_body(code=17), reversal), "resubmitted")
        self.assertEqual(reversal.state, MPESA.REV_REQUESTED)
        jobs = self.env["queue.job"].search([("method_name", "=", "_mpesa_send_reversal")])
        self.assertEqual(len(jobs), 2)

    def test_a_queue_timeout_sends_again_and_fails_nothing(self):
        payment, _tx, reversal = self._requested()
        echo = {"CommandID": "TransactionReversal", "TransactionID": RECEIPT, "Amount": 500}
        self.assertEqual(self._callback(echo, reversal, kind="reversal_timeout"), "applied")
        self.assertEqual((reversal.state, payment.status), (MPESA.REV_REQUESTED, "paid"))
        with self.assertRaises(CallbackRefused):
            self._callback(dict(echo, TransactionID="UL27OTHER1"), reversal, kind="reversal_timeout")

    def test_refused_without_reason_unpaid_twice_or_when_sending_is_off(self):
        payment, _tx = self._paid_payment()
        for reason in ("", "   "):
            with self.assertRaisesRegex(UserError, "reason"):
                self._reverse(payment, reason=reason)
        # The database refuses an empty reason whatever the code does.
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["g2p.mpesa.reversal"].create(
                {
                    "payment_id": payment.id,
                    "transaction_id": payment.mpesa_transaction_ids.id,
                    "manager_id": self.manager.id,
                    "original_receipt": RECEIPT,
                    "amount": 500,
                    "reason": " ",
                }
            )
        unpaid = self._registrant("Unpaid", phone="0712345679")
        self._entitlement(unpaid)
        self.manager.prepare_payments(self.cycle, unpaid.entitlement_ids)
        with self.assertRaisesRegex(UserError, "not paid through M-Pesa"):
            self.payment_of(unpaid).action_mpesa_reverse()
        self.manager.sending_enabled = False
        with self.assertRaisesRegex(UserError, "disabled"):
            payment.action_mpesa_reverse()
        self.manager.sending_enabled = True
        reversal = self._reverse(payment, run_job=False)
        with self.assertRaisesRegex(UserError, "in progress"):
            payment.action_mpesa_reverse()
        self._callback(reversal_body(), reversal)
        with self.assertRaisesRegex(UserError, "already reversed"):
            payment.action_mpesa_reverse()

    def test_only_finance_validators_and_admins_reverse(self):
        payment, _tx = self._paid_payment()
        approver = new_test_user(
            self.env, login="approver-rev", groups="base.group_user,g2p_programs.g2p_program_cycle_approver"
        )
        with self.assertRaises(AccessError):
            payment.with_user(approver).action_mpesa_reverse()
        validator = self._validator()
        reversal = self._reverse(payment, user=validator, run_job=False)
        self.assertEqual(reversal.requested_by, validator)
        self.assertEqual(reversal.with_user(validator).state, MPESA.REV_REQUESTED)  # and may read it
        with self.assertRaises(AccessError):
            reversal.with_user(approver).read(["state"])
        with self.assertRaises(AccessError):
            reversal.with_user(validator).write({"reason": "changed"})

    def test_reconciliation_sends_again_then_flags_what_stays_silent(self):
        _payment, _tx, reversal = self._requested()
        Job = self.env["queue.job"]
        jobs = Job.search_count([("method_name", "=", "_mpesa_send_reversal")])
        reversal.write(
            {"state": MPESA.REV_ACCEPTED, "send_attempts": 1, "next_check_at": "2026-01-01 00:00:00"}
        )
        self.assertEqual(self.manager._mpesa_reconcile_reversals(), 1)
        self.assertEqual(Job.search_count([("method_name", "=", "_mpesa_send_reversal")]), jobs + 1)
        self.assertGreater(reversal.next_check_at, fields.Datetime.now())  # asked again later
        reversal.write(
            {"send_attempts": self.manager.reconcile_max_attempts + 1, "next_check_at": "2026-01-01"}
        )
        self.manager._mpesa_reconcile_reversals()
        self.assertEqual((reversal.state, reversal.result_code), (MPESA.REV_NEEDS_REVIEW, "NO_RESULT"))
        # A request whose job died (never sent, long ago) is queued again.
        _payment2, _tx2, stale = self._requested(name="Stale")
        self.env.cr.execute(
            "UPDATE g2p_mpesa_reversal SET create_date = now() - interval '1 hour' WHERE id = %s", [stale.id]
        )
        stale.invalidate_recordset()
        before = Job.search_count([("method_name", "=", "_mpesa_send_reversal")])
        self.assertEqual(self.manager._mpesa_reconcile_reversals(), 1)
        self.assertEqual(Job.search_count([("method_name", "=", "_mpesa_send_reversal")]), before + 1)

    def test_a_request_no_longer_paid_is_not_sent(self):
        _payment, tx, reversal = self._requested()
        tx.state = MPESA.TX_REVERSED
        self.manager._mpesa_send_reversal(reversal.id)
        self.assertEqual((reversal.state, reversal.send_attempts), (MPESA.REV_FAILED, 0))

    def test_review_resolved_by_a_person(self):
        payment, _tx, reversal = self._requested()
        self._callback(reversal_body(code="R000001"), reversal)
        reversal.action_confirm_reversed()
        self.assertEqual(
            (reversal.state, payment.mpesa_state, payment.status), ("reversed", "reversed", "failed")
        )
        other, _tx2, second = self._requested(name="Second")
        self._callback(reversal_body(code="R000001"), second)
        second.action_mark_not_reversed()
        self.assertEqual((second.state, other.status), (MPESA.REV_FAILED, "paid"))

    def test_a_number_that_reached_someone_else_is_not_paid_again_after_the_reversal(self):
        payment, _tx, reversal = self._requested()
        partner = payment.partner_id
        self.assertFalse(self.manager._mpesa_reversed_numbers())
        payment.mpesa_receiver_mismatch = True
        self._callback(reversal_body(), reversal)
        with self.assertRaisesRegex(PreflightError, "correct the registrant's number"):
            self.manager._mpesa_check_payee(partner, 500, self.kes)
        partner.phone_number_ids.phone_no = "0712345679"
        self.assertEqual(self.manager._mpesa_check_payee(partner, 500, self.kes)[0], "254712345679")

    def test_the_wizard_names_receivers_who_are_not_the_registrant(self):
        payment, _tx = self._paid_payment()
        payment.mpesa_receiver_mismatch = True
        wizard = self._wizard(payment)
        self.assertEqual((wizard.payment_count, wizard.mismatch_count, wizard.total_text), (1, 1, "KES 500"))


@tagged("post_install", "-at_install")
class TestReversalFlow(_ReversalMixin, MpesaLiveCase):
    """Paid through the simulator, reversed through it: M-Pesa's callbacks reach Odoo's server."""

    def _sim_has_reversal(self):
        status, spec = self.sim.call("GET", "/openapi.json")
        return status == 200 and self.sim.path("reversal") in spec.get("paths", {})

    def setUp(self):
        super().setUp()
        if not self._sim_has_reversal():
            self.skipTest("the simulator does not serve the Reversal API")

    def _paid(self, national, name="Amina Wanjiru"):
        """A registrant of this national number, paid through the simulator: (partner, payment)."""
        msisdn = self.msisdn(national)
        self.sim.seed(wallets=[{"msisdn": msisdn, "name": name, "id_number": msisdn[-8:]}])
        partner = self._registrant(name.split()[0], phone="0" + national)
        partner.name = name
        self._entitlement(partner)
        self.prepare_and_send(partner.entitlement_ids)
        payment = self.payment_of(partner)
        self.wait_until(lambda: payment.status_is_final, message="payment final")
        self.assertEqual(payment.status, "paid")
        return partner, payment

    def _balance(self, msisdn):
        status, wallet = self.sim.admin("GET", f"/sim/admin/wallets/{msisdn}")
        self.assertEqual(status, 200, wallet)
        return wallet["balance_cents"]

    def _final(self, reversal):
        return reversal.state in (MPESA.REV_REVERSED, MPESA.REV_FAILED, MPESA.REV_NEEDS_REVIEW)

    def _post(self, path, body):
        self.env.flush_all()
        with self.callbacks_flowing():
            return self.url_open(
                path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )

    def test_a_paid_payment_is_reversed_once_and_paid_again_by_openg2p(self):
        msisdn = self.msisdn("722100001")
        partner, payment = self._paid("722100001")
        paid_balance = self._balance(msisdn)
        validator = self._validator()
        reversal = self._reverse(payment, user=validator)
        self.assertIn(reversal.state, (MPESA.REV_REQUESTED, MPESA.REV_ACCEPTED))
        self.wait_until(lambda: self._final(reversal), message=lambda: f"reversal final ({reversal.state})")
        self.assertEqual(reversal.state, MPESA.REV_REVERSED, reversal.result_desc)
        self.assertTrue(reversal.reversal_receipt)
        self.assertNotEqual(reversal.reversal_receipt, payment.mpesa_receipt)
        self.assertTrue(reversal.originator_conversation_id and reversal.completed_at)
        self.assertEqual(
            (payment.status, payment.amount_paid, payment.mpesa_state), ("failed", 0, "reversed")
        )
        self.assertEqual(payment.mpesa_transaction_ids.state, MPESA.TX_REVERSED)
        self.assertEqual(self._balance(msisdn), paid_balance - self.AMOUNT * 100)
        activity = self._activities("reversed")
        self.assertEqual(activity.user_id, validator)
        self.assertIn(reversal.reversal_receipt, activity.note)
        self.assertIn("recycled number", activity.note)

        # The same callback again (M-Pesa's own bytes, replayed): nothing changes.
        (callback,) = [
            c
            for c in self.sim.admin(
                "GET",
                f"/sim/admin/callbacks?originator_conversation_id={reversal.originator_conversation_id}",
            )[1]
            if "/reversal/" in c["url"]
        ]
        write_date = reversal.write_date
        with self.callbacks_flowing():
            status, _replayed = self.sim.admin("POST", f"/sim/admin/callbacks/{callback['id']}/replay")
        self.assertEqual(status, 200)
        self.env.invalidate_all()
        self.assertEqual((reversal.write_date, reversal.state), (write_date, MPESA.REV_REVERSED))
        self.assertEqual(self._balance(msisdn), paid_balance - self.AMOUNT * 100)

        # A wrong secret is refused and changes nothing.
        path = f"/g2p_payment_mpesa/{self.manager.id}/wrong-secret/reversal/{reversal.reference}"
        self.assertEqual(self._post(path, callback["body"]).status_code, 403)

        # OpenG2P's own flow pays the entitlement again (a new payment).
        self.prepare_and_send(partner.entitlement_ids)
        second = self.payment_of(partner)
        self.assertNotEqual(second, payment)
        self.wait_until(lambda: second.status_is_final, message="second payment final")
        self.assertEqual(second.status, "paid")

    def test_sending_again_after_a_lost_acknowledgement_reverses_once(self):
        msisdn = self.msisdn("722100002")
        _partner, payment = self._paid("722100002")
        paid_balance = self._balance(msisdn)
        reversal = self._reverse(payment)
        # The job runs again (its acknowledgement lost, or a crash): M-Pesa answers R000001.
        self.manager.with_context(queue_job__no_delay=True)._mpesa_send_reversal(reversal.id)
        self.assertEqual(reversal.send_attempts, 2)
        self.drain()
        self.wait_until(
            lambda: reversal.state == MPESA.REV_REVERSED
            and len(
                [t for t in self.sim.transactions(kind="reversal", msisdn=msisdn) if t["status"] != "pending"]
            )
            == 2,
            message=lambda: f"reversed ({reversal.state})",
        )
        self.drain()
        self.env.invalidate_all()
        self.assertEqual(reversal.state, MPESA.REV_REVERSED)
        self.assertEqual(self._balance(msisdn), paid_balance - self.AMOUNT * 100)
        self.assertEqual(payment.mpesa_state, "reversed")

    def test_reversed_elsewhere_first_needs_review(self):
        _partner, payment = self._paid("722100003")
        # Reversed on the portal (here: straight through the API), unknown to Odoo.
        body = {
            "Initiator": self.sim.initiator_name,
            "SecurityCredential": self.sim.security_credential(),
            "CommandID": "TransactionReversal",
            "TransactionID": payment.mpesa_receipt,
            "Amount": self.AMOUNT,
            "ReceiverParty": self.sim.shortcode,
            "RecieverIdentifierType": "11",
            "ResultURL": "http://127.0.0.1:9/portal",
            "QueueTimeOutURL": "http://127.0.0.1:9/portal",
            "Remarks": "Portal reversal",
        }
        status, ack = self.sim.call("POST", self.sim.path("reversal"), json=body, token=self.sim.token())
        self.assertEqual(status, 200, ack)
        self.drain()
        validator = self._validator()
        reversal = self._reverse(payment, user=validator)
        self.wait_until(lambda: self._final(reversal), message=lambda: f"reversal final ({reversal.state})")
        self.assertEqual((reversal.state, reversal.result_code), (MPESA.REV_NEEDS_REVIEW, "R000001"))
        self.assertEqual(payment.status, "paid", "never reversed on M-Pesa's word alone")
        self.assertEqual(self._activities("needs review").user_id, validator)
        reversal.with_user(validator).action_confirm_reversed()
        self.assertEqual((reversal.state, payment.mpesa_state), (MPESA.REV_REVERSED, "reversed"))

    def test_money_already_spent_cannot_be_reversed(self):
        msisdn = self.msisdn("722100004")
        _partner, payment = self._paid("722100004")
        self._spend(msisdn)
        validator = self._validator()
        reversal = self._reverse(payment, user=validator)
        self.wait_until(lambda: self._final(reversal), message=lambda: f"reversal final ({reversal.state})")
        self.assertEqual((reversal.state, reversal.result_code), (MPESA.REV_FAILED, "1"))
        self.assertEqual((payment.status, payment.mpesa_state), ("paid", "paid"))
        activity = self._activities("failed")
        self.assertEqual(activity.user_id, validator)
        self.assertIn("stays paid", activity.note)
        # A later attempt is allowed (the beneficiary may hold the money again).
        self.assertTrue(payment.action_mpesa_reverse())

    def test_an_unknown_receipt_fails_the_reversal(self):
        _partner, payment = self._paid("722100005")
        tx = payment.mpesa_transaction_ids
        tx.receipt = "UL10000009"  # not a receipt M-Pesa knows
        reversal = self._reverse(payment)
        self.wait_until(lambda: self._final(reversal), message=lambda: f"reversal final ({reversal.state})")
        self.assertEqual((reversal.state, reversal.result_code), (MPESA.REV_FAILED, "R000002"))
        self.assertEqual(payment.status, "paid")

    def _spend(self, msisdn):
        """The beneficiary pays a vendor from the phone (USSD, the wallet's default PIN)."""
        whole = self._balance(msisdn) // 100
        till = "7" + msisdn[-5:]
        self.sim.seed(tills=[{"till_number": till, "name": "Duka"}])
        form = urllib.parse.urlencode(
            {"sessionId": uuid.uuid4().hex, "phoneNumber": msisdn, "text": f"2*{till}*{whole}*1234*1"}
        )
        status, screen = self.sim.call(
            "POST", "/ussd", data=form.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        self.assertEqual(status, 200)
        self.assertTrue(str(screen).startswith("END"), screen)
        self.assertLess(self._balance(msisdn), self.AMOUNT * 100, screen)


@tagged("post_install", "-at_install")
class TestReversalFlowET(TestReversalFlow):
    """The same reversals in Ethiopia (the Reversal API's v2 route)."""

    MARKET = SIM_MARKET = "ET"
    CURRENCY = "ETB"
