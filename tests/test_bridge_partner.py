"""g2p_payment_mpesa/g2p_bridge_partner.py without Odoo or a bridge: the requests it signs (what G2P
Bridge 1.1.0's validator checks), its refusals, and how a bridge status becomes an Odoo payment's
outcome (records faked). The real path: tests/test_bridge_odoo.py in the bridge suite."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import g2p_bridge_partner as gbp
import pytest
from g2p_bridge_mpesa.testing import b64url, canonical, new_rsa_key, private_pem, verify_jws


class StubBridge:
    """Answers each POST with ``answers[path]`` (status, body) and keeps what it received."""

    def __init__(self, answers):
        self.received = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.received.append((self.path, dict(self.headers), raw))
                status, body = answers[self.path]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key():
    return new_rsa_key()


def succ(message):
    return 200, {"header": {"status": "succ"}, "message": message}


def test_requests_are_signed_as_the_bridge_verifies_them_with_the_endpoint_action(key):
    bridge = StubBridge({"/create_disbursements": succ([{"disbursement_id": "D1"}])})
    try:
        partner = gbp.BridgePartner(bridge.url + "/", "pbms-odoo", private_pem(key))
        assert partner.call("/create_disbursements", [{"x": 1}, {"x": 2}], 2) == [{"disbursement_id": "D1"}]
    finally:
        bridge.close()
    ((path, headers, raw),) = bridge.received
    body = json.loads(raw)
    header = body["header"]
    assert path == "/create_disbursements"
    assert header["action"] == "create_disbursements" and header["sender_id"] == "pbms-odoo"
    assert header["total_count"] == 2 and len(header["message_id"]) == 32
    assert raw == canonical(body)  # the bytes the bridge's validator re-serialises and checks
    # The bridge rebuilds header.payload.signature from the body and the detached Signature header.
    first, empty, signature = headers["Signature"].split(".")
    assert empty == ""
    assert verify_jws(key.public_key(), f"{first}.{b64url(canonical(body))}.{signature}")
    assert not verify_jws(new_rsa_key().public_key(), f"{first}.{b64url(canonical(body))}.{signature}")
    assert "siganature" not in body and "signature" not in body


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ((500, b"Internal Server Error"), "HTTP 500"),
        (
            (200, {"header": {"status": "rjct", "status_reason_message": "rjct.jwt.invalid"}}),
            "rjct.jwt.invalid",
        ),
    ],
)
def test_a_refusal_or_an_error_is_a_bridge_error(key, answer, words):
    bridge = StubBridge({"/get_disbursement_status": answer})
    try:
        with pytest.raises(gbp.BridgeError, match=words):
            gbp.BridgePartner(bridge.url, "pbms-odoo", private_pem(key)).call(
                "/get_disbursement_status", ["D1"]
            )
    finally:
        bridge.close()


class Rec:
    """A stand-in for one Odoo record: attributes, and write()."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def write(self, values):
        self.__dict__.update(values)


class RecSet(list):
    def filtered(self, func):
        return RecSet(r for r in self if func(r))

    @property
    def ids(self):
        return [r.id for r in self]


class Partner:
    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def call(self, path, message, total_count=1):
        self.calls.append((path, message, total_count))
        return self.answer


def recon(reversal=False, receipt="UL1", reason=None):
    payload = {
        "remittance_reference_number": receipt,
        "remittance_statement_id": "S1",
        "remittance_entry_sequence": "1",
        "remittance_entry_date": "2026-12-05",
        "reversal_found": reversal,
        "reversal_statement_id": "S1" if reversal else None,
        "reversal_entry_sequence": None,
        "reversal_entry_date": None,
        "reversal_reason": reason,
    }
    return {"disbursement_recon_payloads": [payload]}


def test_status_check_writes_the_outcome_the_managers_own_check_never_writes(monkeypatch):
    def payment(did, amount):
        return Rec(
            disbursement_id=did, status_is_final=False, status=None, amount_issued=amount, amount_paid=None
        )

    paid, failed, pending = payment("D1", 1500.0), payment("D2", 700.0), payment("D3", 900.0)
    unsent = payment(False, 1)
    payments = RecSet([paid, failed, pending, unsent])
    monkeypatch.setattr(gbp, "cycle_payments", lambda cycle: payments)
    partner = Partner([
        {"disbursement_id": "D1", "disbursement_recon_records": recon(receipt="UL563R4PEJ")},
        {"disbursement_id": "D2", "disbursement_recon_records": recon(True, "XF8", "2040 Unregistered")},
        {"disbursement_id": "D3", "disbursement_recon_records": {"disbursement_recon_payloads": []}},
    ])  # fmt: skip
    counts = gbp.status_check(object(), partner)
    assert partner.calls == [("/get_disbursement_status", ["D1", "D2", "D3"], 3)]  # only sent, not final
    assert counts == {"asked": 3, "paid": 1, "failed": 1, "pending": 1}
    assert (paid.status, paid.amount_paid, paid.state, paid.status_is_final) == (
        "paid",
        1500.0,
        "reconciled",
        True,
    )
    assert paid.remittance_reference_number == "UL563R4PEJ" and paid.reversal_reason is None
    assert (failed.status, failed.amount_paid, failed.reversal_reason) == ("failed", 0, "2040 Unregistered")
    assert pending.status is None and pending.amount_paid is None and not pending.status_is_final
    assert unsent.status is None
    # asked again: only the one still open
    partner.answer = []
    assert gbp.status_check(object(), partner)["asked"] == 1


def test_the_envelope_is_due_today_at_the_earliest_and_counts_the_cycles_payments():
    people = [Rec(id=1), Rec(id=2)]
    payments = type("P", (), {
        "__len__": lambda self: 3,
        "mapped": lambda self, name: RecSet(people) if name == "partner_id" else [1500.0, 2500.0, 1000.0],
    })()  # fmt: skip
    past = Rec(name="KE cycle 1", start_date=datetime.date(2020, 1, 1))
    message = gbp.envelope_message(past, "CT-KE", payments, "KES")
    assert message["disbursement_schedule_date"] == datetime.date.today().isoformat()
    assert message["number_of_disbursements"] == 3 and message["number_of_beneficiaries"] == 2
    assert message["total_disbursement_amount"] == 5000 and isinstance(
        message["total_disbursement_amount"], int
    )
    assert message["disbursement_currency_code"] == "KES" and message["cycle_code_mnemonic"] == "KE cycle 1"
    future = Rec(name="c2", start_date=datetime.date.today() + datetime.timedelta(days=3))
    assert gbp.envelope_message(future, "CT-KE", payments, "KES")["disbursement_schedule_date"] == (
        future.start_date.isoformat()
    )


class Records(list):
    """Just enough of an Odoo recordset for send_cycle: filtered, mapped, slices, attributes."""

    def filtered(self, func):
        if isinstance(func, str):
            name = func
            func = lambda r: getattr(r, name)  # noqa: E731
        return Records(r for r in self if func(r))

    def mapped(self, name):
        values = [getattr(r, name) for r in self]
        if name.endswith("_id"):
            return Records(dict.fromkeys(v for v in values if v))
        return values

    def __getitem__(self, index):
        found = list.__getitem__(self, index)
        return Records(found) if isinstance(index, slice) else found

    def __getattr__(self, name):
        return self.mapped(name)

    def __setattr__(self, name, value):
        for record in self:
            setattr(record, name, value)

    @property
    def ids(self):
        return [r.id for r in self]


class EnvelopePartner:
    """Answers the envelope's status with ``received``, and makes an id for each disbursement."""

    def __init__(self, received):
        self.received, self.posted = received, []

    def call(self, path, message, total_count=1):
        if path == "/get_disbursement_envelope_status":
            return {"number_of_disbursements_received": self.received}
        self.posted.append(message)
        self.received += len(message)
        refs = [m["mis_reference_number"] for m in message]
        return [{"mis_reference_number": ref, "disbursement_id": f"D{ref}"} for ref in refs]


def cycle_of(monkeypatch, *batches):
    payments = Records(
        Rec(id=10 * b + i, batch_id=batch, disbursement_id=False, amount_issued=100.0,
            partner_id=Rec(id=i, name="P"), currency_id=Rec(name="KES"))
        for b, batch in enumerate(batches) for i in range(2)
    )  # fmt: skip
    monkeypatch.setattr(gbp, "cycle_payments", lambda cycle: payments)
    manager = Rec(_get_payee_fa=lambda payment: f"KE-NID-{payment.id}")
    cycle = Rec(disbursement_envelope_id="E1", name="c1", program_id=Rec(name="CT"), start_date=None)
    return cycle, manager, payments


def test_batches_are_sent_with_the_managers_payee_ids_and_marked_started(monkeypatch):
    one, two = Rec(batch_has_started=False), Rec(batch_has_started=False)
    cycle, manager, payments = cycle_of(monkeypatch, one, two)
    partner = EnvelopePartner(received=0)
    result = gbp.send_cycle(cycle, partner, "CT-KE", manager)
    assert result == {"envelope_id": "E1", "sent": 4, "refused": {}}
    assert [[m["beneficiary_id"] for m in batch] for batch in partner.posted] == [
        ["KE-NID-0", "KE-NID-1"], ["KE-NID-10", "KE-NID-11"]]  # fmt: skip
    assert [p.disbursement_id for p in payments] == ["D0", "D1", "D10", "D11"]
    assert one.batch_has_started and two.batch_has_started
    assert gbp.send_cycle(cycle, partner, "CT-KE", manager)["sent"] == 0  # all sent: nothing again


def test_a_lost_answer_stops_the_sending_instead_of_paying_twice(monkeypatch):
    cycle, manager, payments = cycle_of(
        monkeypatch, Rec(batch_has_started=False), Rec(batch_has_started=False)
    )
    partner = EnvelopePartner(received=2)  # the bridge took a batch whose answer never came back
    with pytest.raises(gbp.BridgeError, match="has 2 disbursements of envelope E1 and Odoo knows 0"):
        gbp.send_cycle(cycle, partner, "CT-KE", manager)
    assert partner.posted == [] and not any(p.disbursement_id for p in payments)


def test_a_key_that_is_no_pem_private_key_is_a_bridge_error():
    with pytest.raises(gbp.BridgeError, match="bridge signing key is not a PEM private key"):
        gbp.BridgePartner("http://127.0.0.1:9", "pbms-odoo", "not a key").call("/get_disbursement_status", [])
