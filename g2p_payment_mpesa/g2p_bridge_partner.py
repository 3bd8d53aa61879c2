"""G2P Bridge 1.1.0's partner API driven for an OpenG2P 17 cycle whose payment manager is OpenG2P's
own ``g2p_payment_g2p_connect`` (PBMS 1.3's *G2P Connect Payment Manager*), where that manager
cannot talk to this bridge release itself.

What the manager (17.0-develop) sends cannot pass 1.1.0 (docs/g2p-bridge.md, *An OpenG2P 17
program paid through the bridge*): no ``Signature`` header at all (the bridge's
signature check then fails with an HTTP 500 on every signed endpoint), a header of placeholders
(``sender_id``, ``message_id``, ``action`` all "string"), a misspelt ``siganature`` body field.
So this module does what current PBMS's workers do toward the bridge: each request a G2P Connect
envelope with a real header (its own message id and time, the action the endpoint expects, a
partner ``sender_id`` whose key the bridge's key manager knows), signed with a detached RS256
JWS in a ``Signature`` header; the envelope first, then the disbursements batch by batch, then
the status polled. It works on the manager's own records: the cycle's
``disbursement_envelope_id``, each payment's ``disbursement_id``, ``dispatch_status`` and the
remittance/reversal fields the manager's status check writes, and it computes each payee's
``beneficiary_id`` with the manager's own ``_get_payee_fa``. It also writes what that status
check never does: the payment's final ``status``, ``amount_paid`` (only for a payment the bridge
reconciled without a reversal) and ``state`` ``reconciled``.

No Odoo import: ``env`` and the records are Odoo's, passed in (e.g. from ``odoo shell``)::

    partner = BridgePartner("http://g2p-bridge:8000", "pbms", private_key_pem)
    send_cycle(cycle, partner, "CT-KE")          # envelope + disbursements
    status_check(cycle, partner)                 # again until every payment is final
"""

import datetime
import json
import uuid

try:  # inside the addon
    from . import spar
except ImportError:  # imported from the addon's folder, without Odoo (the bridge suite)
    import spar  # pylint: disable=import-error

# The action each endpoint checks in the header (the manager sends "string").
ACTIONS = {
    "/create_disbursement_envelope": "create_disbursement_envelope",
    "/create_disbursements": "create_disbursements",
    "/get_disbursement_status": "get_disbursement_status",
    "/get_disbursement_envelope_status": "get_disbursement_envelope_status",
}


MANAGER_PAYMENT = 7  # g2p_programs.models.constants.MANAGER_PAYMENT


class BridgeError(Exception):
    """The bridge could not be reached, answered HTTP != 200 or refused the request (``rjct``)."""

    def __init__(self, message, answer=None):
        super().__init__(message)
        self.answer = answer


class BridgePartner:
    """A G2P Connect partner of G2P Bridge 1.1.0 (what PBMS is): signed requests to its partner API."""

    def __init__(self, api_url, sender_id, private_key_pem, timeout=30):
        self.api_url = api_url.rstrip("/")
        self.sender_id = sender_id
        self.private_key_pem = private_key_pem
        self.timeout = timeout

    def body(self, path, message, total_count=1):
        return {
            "header": {
                "version": "1.0.0",
                "message_id": uuid.uuid4().hex,
                "message_ts": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "action": ACTIONS[path],
                "sender_id": self.sender_id,
                "sender_uri": "",
                "receiver_id": "",
                "total_count": total_count,
                "is_msg_encrypted": False,
            },
            "message": message,
        }

    def call(self, path, message, total_count=1):
        """POST a signed request; the answer's ``message``. BridgeError on any failure."""
        body = self.body(path, message, total_count)
        url = self.api_url + path
        try:
            response, answer = spar.post_signed(
                url, body, self.private_key_pem, self.timeout, BridgeError, "G2P Bridge"
            )
        except spar.SparError as exc:  # the signing key is not a PEM private key
            raise BridgeError(str(exc).replace("SPAR signing key", "bridge signing key")) from None
        if response.status_code != 200 or not isinstance(answer, dict):
            raise BridgeError(
                f"G2P Bridge {path} answered HTTP {response.status_code}: {response.text[:300]}"
            )
        header = answer.get("header") or {}
        if header.get("status") != "succ":
            reason = header.get("status_reason_message") or header.get("status_reason_code") or ""
            raise BridgeError(
                f"G2P Bridge {path} refused the request: {header.get('status')} {reason}", answer
            )
        return answer.get("message")


def _whole(amount):
    return int(amount) if float(amount).is_integer() else float(amount)


def cycle_payments(cycle):
    return cycle.env["g2p.payment"].search([("cycle_id", "=", cycle.id)], order="id")


def envelope_message(cycle, mnemonic, payments, currency, schedule_date=None):
    """The envelope of a cycle: its payments' count and total, in the program's currency, due
    today at the earliest (1.1.0 refuses a date in the past, and pays only today's envelopes
    unless told to process future ones)."""
    today = datetime.date.today()
    start = cycle.start_date or today
    schedule = schedule_date or max(start, today)
    beneficiaries = len(set(payments.mapped("partner_id").ids))
    return {
        "benefit_program_mnemonic": mnemonic,
        "disbursement_frequency": "OnDemand",
        "cycle_code_mnemonic": cycle.name,
        "number_of_beneficiaries": beneficiaries,
        "number_of_disbursements": len(payments),
        "total_disbursement_amount": _whole(sum(payments.mapped("amount_issued"))),
        "disbursement_currency_code": currency,
        "disbursement_schedule_date": schedule.isoformat(),
    }


def send_cycle(cycle, partner, mnemonic, manager=None):
    """Create the cycle's envelope (once) and send every payment not yet sent, batch by batch.
    Returns {"envelope_id", "sent", "refused": {payment id: reason}}. Commits nothing: the caller
    commits after each call.

    1.1.0 makes the disbursement ids itself, so a batch whose answer was lost cannot be matched
    again by id, and sending it again would pay its people twice. So before each batch the
    envelope's count of disbursements received is compared with the payments Odoo knows an id
    for; when the bridge has more, nothing more is sent (BridgeError): those payments wait for a
    person, who finds them in the bridge (``disbursements.mis_reference_number`` is the payment's
    id)."""
    manager = manager or cycle.program_id.get_manager(MANAGER_PAYMENT)
    payments = cycle_payments(cycle)
    if not payments:
        return {"envelope_id": cycle.disbursement_envelope_id, "sent": 0, "refused": {}}
    currency = payments[0].currency_id.name or cycle.program_id.company_id.currency_id.name
    if not cycle.disbursement_envelope_id:
        message = envelope_message(cycle, mnemonic, payments, currency)
        answer = partner.call("/create_disbursement_envelope", message)
        cycle.disbursement_envelope_id = answer["disbursement_envelope_id"]
    envelope_id = cycle.disbursement_envelope_id
    sent, refused = 0, {}
    groups = [payments.filtered(lambda p, b=b: p.batch_id == b) for b in payments.mapped("batch_id")]
    if payments.filtered(lambda p: not p.batch_id):
        groups.append(payments.filtered(lambda p: not p.batch_id))
    for group in groups:  # one create_disbursements per payment batch, as the manager sends them
        items, by_ref = [], {}
        for payment in group.filtered(lambda p: not p.disbursement_id):
            payee = manager._get_payee_fa(payment)  # pylint: disable=protected-access
            if not payee:
                refused[payment.id] = "no payee id of the manager's payee id type"
                payment.write({"status": "failed", "status_is_final": True, "amount_paid": 0})
                continue
            by_ref[str(payment.id)] = payment
            items.append(
                {
                    "disbursement_envelope_id": envelope_id,
                    "beneficiary_id": payee,
                    "mis_reference_number": str(payment.id),
                    "beneficiary_name": payment.partner_id.name,
                    "disbursement_amount": _whole(payment.amount_issued),
                    "narrative": f"Payment for {cycle.name} under {cycle.program_id.name}",
                }
            )
        if not items:
            continue
        received = partner.call("/get_disbursement_envelope_status", envelope_id)[
            "number_of_disbursements_received"
        ]
        known = len(payments.filtered("disbursement_id"))
        if received != known:
            raise BridgeError(
                f"G2P Bridge has {received} disbursements of envelope {envelope_id} and Odoo knows {known}: "
                "an answer was lost; nothing more is sent until a person matches them "
                "(disbursements.mis_reference_number is the payment's id)"
            )
        answer = partner.call("/create_disbursements", items, len(items))
        for made in answer:
            payment = by_ref.get(str(made.get("mis_reference_number")))
            if payment and made.get("disbursement_id"):
                payment.write(
                    {"disbursement_id": made["disbursement_id"], "dispatch_status": "sent", "state": "sent"}
                )
                sent += 1
        if group.batch_id:
            group.batch_id[:1].batch_has_started = True
    return {"envelope_id": envelope_id, "sent": sent, "refused": refused}


def status_check(cycle, partner):
    """Ask the bridge about every sent payment of the cycle that is not final, and write its
    answer back: the fields the manager's own status check writes, and the final status.
    Returns {"asked", "paid", "failed", "pending"}. Commits nothing."""
    payments = cycle_payments(cycle).filtered(lambda p: p.disbursement_id and not p.status_is_final)
    counts = {"asked": len(payments), "paid": 0, "failed": 0, "pending": 0}
    if not payments:
        return counts
    by_id = {p.disbursement_id: p for p in payments}
    answer = partner.call("/get_disbursement_status", list(by_id), len(by_id))
    now = datetime.datetime.now().replace(microsecond=0)
    for item in answer or []:
        payment = by_id.get(item.get("disbursement_id"))
        records = (item.get("disbursement_recon_records") or {}).get("disbursement_recon_payloads") or []
        if not payment or not records:
            continue
        recon = records[-1]
        values = {
            # what g2p_payment_g2p_connect's payments_status_check writes
            "remittance_reference_number": recon.get("remittance_reference_number"),
            "remittance_statement_id": recon.get("remittance_statement_id"),
            "remittance_entry_sequence": recon.get("remittance_entry_sequence"),
            "remittance_entry_date": recon.get("remittance_entry_date"),
            "reversal_statement_id": recon.get("reversal_statement_id"),
            "reversal_entry_sequence": recon.get("reversal_entry_sequence"),
            "reversal_entry_date": recon.get("reversal_entry_date"),
            "reversal_reason": recon.get("reversal_reason"),
            # what it never writes: the outcome
            "state": "reconciled",
            "status_is_final": True,
            "status_datetime": now,
        }
        if recon.get("reversal_found"):
            values.update(status="failed", amount_paid=0)
        else:
            values.update(status="paid", amount_paid=payment.amount_issued, payment_datetime=now)
        payment.write(values)
    for payment in payments:
        if payment.status == "paid":
            counts["paid"] += 1
        elif payment.status == "failed":
            counts["failed"] += 1
        else:
            counts["pending"] += 1
    return counts


def payments_report(cycle):
    """Each payment of the cycle as the tests and the drill read it (JSON-ready)."""
    return [
        {
            "payment_id": p.id,
            "partner": p.partner_id.name,
            "amount_issued": p.amount_issued,
            "amount_paid": p.amount_paid,
            "currency": p.currency_id.name,
            "state": p.state,
            "status": p.status,
            "dispatch_status": p.dispatch_status,
            "disbursement_id": p.disbursement_id,
            "disbursement_envelope_id": p.disbursement_envelope_id,
            "remittance_reference_number": p.remittance_reference_number,
            "reversal_reason": p.reversal_reason,
        }
        for p in cycle_payments(cycle)
    ]


def dumps(data):
    return json.dumps(data, default=str)
