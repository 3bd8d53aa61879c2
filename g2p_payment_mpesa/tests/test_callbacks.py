import json

from odoo.tests import tagged
from odoo.tests.common import HttpCase

from odoo.addons.g2p_payment_mpesa.models.payment_manager_results import CallbackRefused

from mpesa_wire import MalformedPayload

from . import payloads
from .common import MPESA, MpesaProgramMixin, MpesaTransactionCase


class _SentPaymentMixin:
    def _sent_payment(self, name="Jane"):
        """A payment whose request M-Pesa acknowledged, as the send job leaves it."""
        partner = self._registrant(name, phone="0712345678")
        self._entitlement(partner)
        self.manager.prepare_payments(self.cycle)
        payment = self.payment_of(partner)
        payment.mpesa_state = MPESA.PAY_QUEUED
        tx = self.manager._mpesa_reserve(payment)
        tx._mpesa_set_state(MPESA.TX_ACCEPTED, conversation_id="AG_20261127_00001111222233334444")
        return payment, tx

    def _callback(self, kind, body, ocid=None):
        return self.manager._mpesa_handle_callback(kind, body, ocid)

    def _result(self, ocid, **kw):
        """M-Pesa's result for a payment to the sent payment's number (the market's)."""
        return payloads.result_body(ocid, **{"msisdn": self.msisdn("712345678"), **kw})

    def _status(self, original_ocid, **kw):
        return payloads.status_body(original_ocid, **{"msisdn": self.msisdn("712345678"), **kw})


@tagged("post_install", "-at_install")
class TestResultCallbacks(_SentPaymentMixin, MpesaTransactionCase):
    def test_success_marks_the_payment_paid_with_receipt_amount_and_east_african_time_in_utc(self):
        payment, tx = self._sent_payment()
        self.assertEqual(self._callback("result", self._result(tx.originator_conversation_id)), "applied")
        self.assertEqual(
            (payment.state, payment.status, payment.status_is_final), ("reconciled", "paid", True)
        )
        self.assertEqual(payment.mpesa_receipt, "UKR1ABCDEF")
        self.assertEqual(payment.amount_paid, 500)
        self.assertEqual(str(payment.payment_datetime), "2026-11-27 10:15:00")
        self.assertEqual(payment.mpesa_receiver_name, "JANE DOE")
        self.assertEqual(tx.state, MPESA.TX_PAID)

    def test_the_same_result_twice_changes_nothing(self):
        payment, tx = self._sent_payment()
        body = self._result(tx.originator_conversation_id)
        self._callback("result", body)
        write_date = payment.write_date
        self.assertEqual(self._callback("result", body), "duplicate")
        self.assertEqual(payment.write_date, write_date)

    def test_a_contradicting_result_is_refused(self):
        payment, tx = self._sent_payment()
        self._callback("result", self._result(tx.originator_conversation_id))
        with self.assertRaises(CallbackRefused):
            self._callback("result", self._result(tx.originator_conversation_id, code=2040))
        self.assertEqual(payment.status, "paid")

    def test_unknown_id_is_refused(self):
        self._sent_payment()
        with self.assertRaisesRegex(CallbackRefused, "unknown"):
            self._callback("result", self._result("not-ours"))

    def test_amount_or_number_that_does_not_match_is_refused_and_not_applied(self):
        payment, tx = self._sent_payment()
        with self.assertRaisesRegex(CallbackRefused, "amount"):
            self._callback("result", self._result(tx.originator_conversation_id, amount=5000))
        with self.assertRaisesRegex(CallbackRefused, "number"):
            self._callback(
                "result", self._result(tx.originator_conversation_id, msisdn=self.msisdn("799999999"))
            )
        self.assertEqual((payment.mpesa_state, tx.state), (MPESA.PAY_ACCEPTED, MPESA.TX_ACCEPTED))

    def test_conversation_id_other_than_acknowledged_is_refused(self):
        _payment, tx = self._sent_payment()
        with self.assertRaisesRegex(CallbackRefused, "ConversationID"):
            self._callback(
                "result",
                self._result(tx.originator_conversation_id, conversation_id="AG_20261127_ffff"),
            )

    def test_final_failure_records_code_and_reason(self):
        payment, tx = self._sent_payment()
        self._callback("result", self._result(tx.originator_conversation_id, code=2040))
        self.assertEqual((payment.state, payment.status), ("reconciled", "failed"))
        self.assertEqual(payment.mpesa_result_code, "2040")
        self.assertEqual(payment.amount_paid, 0)

    def test_transient_result_sends_again_under_a_new_id(self):
        payment, tx = self._sent_payment()
        self._callback("result", self._result(tx.originator_conversation_id, code=17))
        self.assertEqual(tx.state, MPESA.TX_FAILED)
        self.assertEqual(payment.mpesa_state, MPESA.PAY_QUEUED)
        self.assertFalse(payment.status)
        new_tx = self.manager._mpesa_reserve(payment)
        self.assertNotEqual(new_tx.originator_conversation_id, tx.originator_conversation_id)

    def test_wrong_credential_result_stops_sending(self):
        _payment, tx = self._sent_payment()
        self._callback("result", self._result(tx.originator_conversation_id, code=2001))
        self.assertIn("2001", self.manager.sending_blocked_reason)

    def test_queue_timeout_means_unknown_never_failed(self):
        payment, tx = self._sent_payment()
        self._callback("timeout", payloads.timeout_body(tx.originator_conversation_id))
        self.assertEqual((tx.state, payment.mpesa_state), (MPESA.TX_UNKNOWN, MPESA.PAY_UNKNOWN))
        self.assertFalse(payment.status)

    def test_status_result_completed_pays(self):
        payment, tx = self._sent_payment()
        tx._mpesa_set_state(MPESA.TX_UNKNOWN)
        self._callback("status", self._status(tx.originator_conversation_id), tx.originator_conversation_id)
        self.assertEqual((payment.status, payment.mpesa_receipt), ("paid", "UKR1ABCDEF"))

    def test_status_not_found_resubmits_under_the_same_id(self):
        payment, tx = self._sent_payment()
        tx._mpesa_set_state(MPESA.TX_UNKNOWN)
        self._callback(
            "status",
            self._status(tx.originator_conversation_id, code=2033),
            tx.originator_conversation_id,
        )
        self.assertEqual(tx.state, MPESA.TX_RESERVED)
        self.assertEqual(self.manager._mpesa_reserve(payment), tx)

    def test_malformed_result_is_refused(self):
        with self.assertRaises(MalformedPayload):
            self._callback("result", {"Body": {}})


@tagged("post_install", "-at_install")
class TestResultCallbacksET(TestResultCallbacks):
    """The same results for an Ethiopian manager: +251 numbers, birr, East African time too."""

    MARKET = "ET"
    CURRENCY = "ETB"


@tagged("post_install", "-at_install")
class TestWrongPersonGuard(_SentPaymentMixin, MpesaTransactionCase):
    """Invariant 6: a result naming someone other than the registrant is paid and flagged."""

    def _paid_to(self, registrant, received):
        payment, tx = self._sent_payment(name=registrant)
        payment.partner_id.name = registrant
        self._callback("result", self._result(tx.originator_conversation_id, name=received))
        return payment

    def _review_activities(self):
        return self.manager.activity_ids.filtered(lambda a: "someone else" in (a.summary or ""))

    def test_a_result_naming_someone_else_is_paid_and_flagged_with_both_names(self):
        payment = self._paid_to("Faith Njoroge", "PETER OTIENO")
        self.assertEqual((payment.status, payment.mpesa_state), ("paid", MPESA.PAY_PAID))  # money moved
        self.assertTrue(payment.mpesa_receiver_mismatch)
        activity = self._review_activities()
        self.assertEqual(len(activity), 1)
        self.assertIn("PETER OTIENO", activity.note)
        self.assertIn("Faith Njoroge", activity.note)
        flagged = self.env["g2p.payment"].search([("mpesa_receiver_mismatch", "=", True)])
        self.assertEqual(flagged, payment)

    def test_the_same_person_written_otherwise_is_not_flagged(self):
        payment = self._paid_to("Faith Wambui Njoroge", "NJOROGE F")
        self.assertFalse(payment.mpesa_receiver_mismatch)
        self.assertFalse(self._review_activities())

    def test_the_check_can_be_switched_off(self):
        self.manager.receiver_check = "off"
        payment = self._paid_to("Faith Njoroge", "PETER OTIENO")
        self.assertFalse(payment.mpesa_receiver_mismatch)

    def test_a_status_query_naming_someone_else_is_flagged_too(self):
        payment, tx = self._sent_payment(name="Faith Njoroge")
        payment.partner_id.name = "Faith Njoroge"
        tx._mpesa_pay(receipt="UKR1ABCDEF", amount=500, completed_at=None, receiver_name="PETER OTIENO")
        self.assertTrue(payment.mpesa_receiver_mismatch)


@tagged("post_install", "-at_install")
class TestCallbackRoute(_SentPaymentMixin, MpesaProgramMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_program()

    def _post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.env.flush_all()  # the test server reads through the same cursor, not this cache
        return self.url_open(path, data=data, headers={"Content-Type": "application/json"})

    def test_result_with_the_right_secret_is_applied(self):
        payment, tx = self._sent_payment()
        response = self._post(self._path("result"), self._result(tx.originator_conversation_id))
        self.assertEqual(response.status_code, 200)
        payment.invalidate_recordset()
        self.assertEqual(payment.status, "paid")

    def test_wrong_secret_is_refused_without_detail(self):
        payment, tx = self._sent_payment()
        response = self._post(
            f"/g2p_payment_mpesa/{self.manager.id}/wrong-secret/result",
            self._result(tx.originator_conversation_id),
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json(), {"ResultCode": 1, "ResultDesc": "Rejected"})
        payment.invalidate_recordset()
        self.assertFalse(payment.status)

    def test_source_outside_the_allowlist_is_refused(self):
        payment, tx = self._sent_payment()
        self.manager.callback_ip_allowlist = "196.201.214.0/24"
        response = self._post(self._path("result"), self._result(tx.originator_conversation_id))
        self.assertEqual(response.status_code, 403)

    def test_not_json_is_refused(self):
        response = self._post(self._path("result"), b"<xml/>")
        self.assertEqual(response.status_code, 400)

    def test_unknown_id_is_refused_with_the_same_answer(self):
        response = self._post(self._path("result"), self._result("not-ours"))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json(), {"ResultCode": 1, "ResultDesc": "Rejected"})

    def _path(self, kind):
        return f"/g2p_payment_mpesa/{self.manager.id}/{self.manager.sudo().callback_secret}/{kind}"
