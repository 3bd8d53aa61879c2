"""The Daraja client against the real simulator over HTTP: every outcome class, end to end.

The simulator is shared by the session (see conftest.py); every test makes its own wallets,
OriginatorConversationIDs and token cache, so tests do not depend on each other.
"""

import re
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from daraja_support import FakeClock, run_threads

from mpesa_wire import B2CRequest, OutcomeKind, ResultClass, TokenCache
from mpesa_wire.daraja import (
    DarajaAuthError,
    DarajaClient,
    DarajaConfig,
    classify_result_code,
    describe_result_code,
    parse_balance_result,
    parse_queue_timeout,
    parse_result,
    parse_status_result,
)

TOKEN_PATH = "/oauth/v1/generate"
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
RECEIPT = re.compile(r"[A-Z][A-L][1-9A-V][A-Z0-9]{7}")


def new_ocid() -> str:
    return str(uuid.uuid4())


class Recorder:
    """Counts the HTTP calls made by one or more clients (a requests response hook)."""

    def __init__(self):
        self.calls: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()

    def attach(self, client: DarajaClient) -> DarajaClient:
        client.session.hooks["response"].append(self._hook)
        return client

    def _hook(self, response, *args, **kwargs):
        with self._lock:
            self.calls.append(
                (response.request.path_url.split("?")[0], response.status_code, response.request.body)
            )

    def count(self, path: str) -> int:
        return sum(1 for call in self.calls if call[0] == path)


def make_client(
    sim, cache: TokenCache | None = None, recorder: Recorder | None = None, **overrides
) -> DarajaClient:
    values = {
        **sim.app_settings(),
        "certificate": sim.certificate_pem(),
        "read_timeout": 10.0,
    }
    values.update(overrides)
    client = DarajaClient(DarajaConfig(**values), token_cache=cache if cache is not None else TokenCache())
    if recorder is not None:
        recorder.attach(client)
    return client


@pytest.fixture
def client(sim):
    with make_client(sim) as client:
        yield client


def b2c(sink, msisdn: str, amount: int = 500, ocid: str | None = None, **fields) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=ocid or new_ocid(),
        msisdn=msisdn,
        amount=amount,
        remarks="Cycle 2026-11",
        result_url=sink.url("/result"),
        timeout_url=sink.url("/timeout"),
        occasion="G2P",
        **fields,
    )


def wait_result(sink, ocid: str, path: str = "/result", timeout: float = 10):
    return sink.wait_for(lambda r: r.path == path and r.ocid == ocid, timeout=timeout)


def status_query(client, sink, **ids):
    """Send a status query and return its parsed result (matched by the query's own id)."""
    outcome = client.transaction_status(
        result_url=sink.url("/status"), timeout_url=sink.url("/status-timeout"), **ids
    )
    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    return parse_status_result(wait_result(sink, outcome.originator_conversation_id, "/status").body)


# --- payments and results ----------------------------------------------------------------------


@pytest.mark.parametrize("certificate_form", ["pem", "der"])
def test_payment_is_accepted_paid_and_its_result_parsed(sim, callback_sink, new_wallet, certificate_form):
    msisdn = new_wallet()
    certificate = sim.certificate_pem()
    if certificate_form == "der":
        with urllib.request.urlopen(sim.base_url + "/sim/certificate.cer", timeout=10) as answer:
            certificate = answer.read()
        assert not certificate.startswith(b"-----")
    with make_client(sim, certificate=certificate) as client:
        request = b2c(callback_sink, msisdn, amount=1234)
        outcome = client.b2c_submit(request)
        assert outcome.kind is OutcomeKind.ACCEPTED, outcome
        assert outcome.conversation_id.startswith("AG_")
        assert outcome.originator_conversation_id == request.originator_conversation_id

        result = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    assert result.is_success and classify_result_code(result.result_code) is ResultClass.PAID
    assert result.conversation_id == outcome.conversation_id
    assert result.amount == Decimal("1234")
    assert result.receiver_msisdn == msisdn
    assert result.receiver_name == "TEST PERSON"
    assert RECEIPT.fullmatch(result.receipt) and result.transaction_id == result.receipt
    assert abs(result.completed_at - datetime.utcnow()) < timedelta(minutes=2)
    assert result.utility_funds is not None and result.utility_funds > 0
    (txn,) = sim.transactions(originator_conversation_id=request.originator_conversation_id)
    assert txn["status"] == "completed" and txn["receipt"] == result.receipt
    assert txn["request"]["Amount"] == 1234 and txn["request"]["PartyB"] == msisdn


def test_unregistered_recipient_fails_with_2040(sim, callback_sink, new_wallet, client):
    msisdn = new_wallet(registered=False)
    request = b2c(callback_sink, msisdn)
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED  # queued, not paid
    result = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    assert result.result_code == "2040" and not result.is_success
    assert result.receipt is None and result.amount is None
    assert classify_result_code(result.result_code) is ResultClass.FAILED
    assert "not a registered" in describe_result_code(result.result_code)


def test_transient_result_code_is_classified_transient(sim, callback_sink, new_wallet, client):
    msisdn = new_wallet()
    sim.set_faults(transient_result={"code": 26, "msisdn": msisdn})
    request = b2c(callback_sink, msisdn)
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    result = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    assert result.result_code == "26"
    assert classify_result_code(result.result_code) is ResultClass.TRANSIENT
    # "Failed for this request": the status query confirms no money moved.
    status = status_query(
        client, callback_sink, originator_conversation_id=request.originator_conversation_id
    )
    assert status.status == "Failed" and status.receipt is None


@pytest.mark.parametrize("shape", ["result", "echo"])
def test_queue_timeout_notice_is_parsed_in_both_shapes(sim, callback_sink, new_wallet, client, shape):
    msisdn = new_wallet()
    sim.set_faults(queue_timeout={"shape": shape, "processed": False, "msisdn": msisdn})
    request = b2c(callback_sink, msisdn)
    outcome = client.b2c_submit(request)
    assert outcome.kind is OutcomeKind.ACCEPTED
    notice = parse_queue_timeout(
        wait_result(callback_sink, request.originator_conversation_id, "/timeout").body
    )
    assert notice.originator_conversation_id == request.originator_conversation_id
    assert notice.conversation_id == (outcome.conversation_id if shape == "result" else None)


# --- validated B2C -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "id_type, id_number, code",
    [("01", "{id}", "0"), ("01", " {id} ", "0"), ("02", "{id}", "R002"), ("01", "99999999", "R003")],
)
def test_validated_b2c_pays_only_a_matching_wallet(
    sim, callback_sink, new_wallet, client, id_type, id_number, code
):
    msisdn = new_wallet(id_type="01", id_number="27182818")
    request = b2c(callback_sink, msisdn, id_type=id_type, id_number=id_number.format(id="27182818"))
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    result = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    assert result.result_code == code
    (txn,) = sim.transactions(originator_conversation_id=request.originator_conversation_id)
    assert txn["api"] == "b2c_validate"
    assert txn["status"] == ("completed" if code == "0" else "failed")
    if code != "0":
        assert "ID" in describe_result_code(code)


# --- tokens and credentials --------------------------------------------------------------------


def test_token_expired_at_mpesa_is_refreshed_once_and_the_request_resent(sim, callback_sink, new_wallet):
    sim.set_config(token_ttl_seconds=1)
    recorder = Recorder()
    # A frozen clock: the client still believes in its token when M-Pesa has expired it.
    client = make_client(sim, cache=TokenCache(clock=FakeClock()), recorder=recorder)
    first = client.token()
    time.sleep(1.2)
    request = b2c(callback_sink, new_wallet())
    outcome = client.b2c_submit(request)
    assert outcome.kind is OutcomeKind.ACCEPTED, outcome
    assert client.token() != first
    assert recorder.count(TOKEN_PATH) == 2
    posts = [call for call in recorder.calls if call[0] == B2C_PATH]
    assert [status for _path, status, _body in posts] == [404, 200]
    assert posts[0][2] == posts[1][2]  # the same request, same OriginatorConversationID
    assert len(sim.transactions(originator_conversation_id=request.originator_conversation_id)) == 1


def test_token_is_refreshed_before_it_expires(sim, callback_sink, new_wallet):
    sim.set_config(token_ttl_seconds=2)
    recorder = Recorder()
    client = make_client(sim, recorder=recorder)
    first = client.token()
    assert client.token() == first and recorder.count(TOKEN_PATH) == 1
    time.sleep(1.1)  # past ttl - margin (margin is capped at half a short lifetime)
    assert client.token() != first and recorder.count(TOKEN_PATH) == 2
    assert client.b2c_submit(b2c(callback_sink, new_wallet())).kind is OutcomeKind.ACCEPTED
    # No request was ever refused for a stale token.
    assert all(status != 404 for _path, status, _body in recorder.calls)


def test_token_is_single_flight_across_threads_and_clients(sim):
    cache = TokenCache()
    recorder = Recorder()
    clients = [make_client(sim, cache=cache, recorder=recorder) for _ in range(12)]
    barrier_index = iter(range(12))
    lock = threading.Lock()

    def get_token():
        with lock:
            index = next(barrier_index)
        return clients[index].token()

    tokens = run_threads(12, get_token)
    assert len(set(tokens)) == 1 and isinstance(tokens[0], str)
    assert recorder.count(TOKEN_PATH) == 1


def test_wrong_consumer_secret_raises_auth_error(sim, callback_sink, new_wallet):
    recorder = Recorder()
    client = make_client(sim, consumer_secret="not-the-secret", recorder=recorder)
    with pytest.raises(DarajaAuthError, match="400.008.01"):
        client.token()
    request = b2c(callback_sink, new_wallet())
    with pytest.raises(DarajaAuthError):
        client.b2c_submit(request)
    assert recorder.count(B2C_PATH) == 0
    assert sim.transactions(originator_conversation_id=request.originator_conversation_id) == []


def test_wrong_initiator_password_fails_with_2001_then_locks_with_8006(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    bad = make_client(sim, initiator_password="Wrong-Pass")
    codes = []
    for _ in range(3):  # the simulator locks after 3 consecutive failures
        request = b2c(callback_sink, msisdn)
        assert bad.b2c_submit(request).kind is OutcomeKind.ACCEPTED
        codes.append(
            parse_result(wait_result(callback_sink, request.originator_conversation_id).body).result_code
        )
    assert codes == ["2001"] * 3
    assert "Initiator information invalid" in describe_result_code("2001")
    good = make_client(sim)
    request = b2c(callback_sink, msisdn)
    assert good.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    assert (
        parse_result(wait_result(callback_sink, request.originator_conversation_id).body).result_code
        == "8006"
    )


# --- outcome classes from simulator faults -----------------------------------------------------


def test_spike_arrest_is_transient_and_the_same_id_succeeds_later(sim, callback_sink, new_wallet, client):
    msisdn = new_wallet()
    sim.set_faults(spike_arrest={"msisdn": msisdn})
    request = b2c(callback_sink, msisdn)
    outcome = client.b2c_submit(request)
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "500.003.02"
    assert outcome.retry_after and outcome.retry_after > 0 and outcome.http_status == 500
    assert sim.transactions(originator_conversation_id=request.originator_conversation_id) == []
    sim.reset_faults()
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    assert parse_result(wait_result(callback_sink, request.originator_conversation_id).body).is_success
    assert len(sim.transactions(originator_conversation_id=request.originator_conversation_id)) == 1


def test_unprocessed_500_is_unknown_and_status_says_not_found(sim, callback_sink, new_wallet, client):
    msisdn = new_wallet()
    sim.set_faults(sync_500={"msisdn": msisdn})
    request = b2c(callback_sink, msisdn)
    outcome = client.b2c_submit(request)
    assert outcome.kind is OutcomeKind.UNKNOWN and outcome.code == "500.001.1001"
    sim.reset_faults()
    status = status_query(
        client, callback_sink, originator_conversation_id=request.originator_conversation_id
    )
    assert status.result_code == "2033"  # never received: now safe to send the same id again
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    assert parse_result(wait_result(callback_sink, request.originator_conversation_id).body).is_success


def test_processed_500_is_unknown_resolved_by_status_and_a_resend_is_a_duplicate(
    sim, callback_sink, new_wallet, client
):
    msisdn = new_wallet()
    sim.set_faults(sync_500_processed={"msisdn": msisdn})
    request = b2c(callback_sink, msisdn, amount=700)
    outcome = client.b2c_submit(request)
    assert outcome.kind is OutcomeKind.UNKNOWN and outcome.code == "500.001.1001"
    sim.reset_faults()
    paid = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    assert paid.is_success
    status = status_query(
        client, callback_sink, originator_conversation_id=request.originator_conversation_id
    )
    assert status.is_success and status.status == "Completed"
    assert status.receipt == paid.receipt and status.amount == Decimal("700")
    assert status.original_conversation_id == request.originator_conversation_id
    # Re-sending the same id can never pay twice: M-Pesa answers "duplicate" (still UNKNOWN).
    again = client.b2c_submit(request)
    assert again.kind is OutcomeKind.UNKNOWN and again.code == "500.002.1001"
    assert len(sim.transactions(originator_conversation_id=request.originator_conversation_id)) == 1


def test_duplicate_originator_conversation_id_is_unknown(sim, callback_sink, new_wallet, client):
    request = b2c(callback_sink, new_wallet())
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    duplicate = client.b2c_submit(request)
    assert duplicate.kind is OutcomeKind.UNKNOWN and duplicate.code == "500.002.1001"
    assert "Duplicate" in duplicate.message
    sim.drain()
    results = [r for r in callback_sink.received("/result") if r.ocid == request.originator_conversation_id]
    assert len(results) == 1


def test_slow_answer_beyond_read_timeout_is_unknown_and_the_payment_may_still_happen(
    sim, callback_sink, new_wallet
):
    msisdn = new_wallet()
    sim.set_faults(slow_response={"delay_ms": 1500, "msisdn": msisdn})
    client = make_client(sim, read_timeout=0.5)
    request = b2c(callback_sink, msisdn)
    started = time.monotonic()
    outcome = client.b2c_submit(request)
    assert outcome.kind is OutcomeKind.UNKNOWN and outcome.code == "read_timeout"
    assert time.monotonic() - started < 1.4
    # The request did go out: M-Pesa carries on and pays, which is why this is not TRANSIENT.
    result = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    assert result.is_success


def test_connection_refused_is_transient(sim, callback_sink):
    from mpesa_sim.testing import free_port

    cache = TokenCache()
    client = make_client(sim, cache=cache, base_url=f"http://127.0.0.1:{free_port()}")
    cache.get(cache.key_for(client.config.base_url, client.config.consumer_key), lambda: ("any", 3600))
    outcome = client.b2c_submit(b2c(callback_sink, "254712345678"))
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "connect_error"
    # Without a token, the token request is what fails: still nothing sent, still TRANSIENT.
    fresh = make_client(sim, base_url=client.config.base_url)
    outcome = fresh.b2c_submit(b2c(callback_sink, "254712345678"))
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "token_unavailable"


def test_concurrent_submits_from_many_threads(sim, callback_sink, new_wallet):
    recorder = Recorder()
    client = make_client(sim, recorder=recorder)
    requests_ = [b2c(callback_sink, new_wallet(), amount=100 + i) for i in range(16)]
    pending = iter(requests_)
    lock = threading.Lock()

    def submit():
        with lock:
            request = next(pending)
        return client.b2c_submit(request)

    outcomes = run_threads(16, submit)
    assert all(o.kind is OutcomeKind.ACCEPTED for o in outcomes), outcomes
    assert recorder.count(TOKEN_PATH) == 1
    assert len({o.conversation_id for o in outcomes}) == 16
    for request in requests_:
        result = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
        assert result.is_success and result.amount == request.amount


# --- status and balance queries ----------------------------------------------------------------


def test_status_query_by_receipt_and_by_id(sim, callback_sink, new_wallet, client):
    msisdn = new_wallet()
    request = b2c(callback_sink, msisdn, amount=2500)
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    paid = parse_result(wait_result(callback_sink, request.originator_conversation_id).body)
    by_receipt = status_query(client, callback_sink, receipt=paid.receipt)
    by_id = status_query(client, callback_sink, originator_conversation_id=request.originator_conversation_id)
    for status in (by_receipt, by_id):
        assert status.is_success and status.status == "Completed"
        assert status.receipt == paid.receipt
        assert status.amount == Decimal("2500")
        assert status.original_conversation_id == request.originator_conversation_id
        assert status.credit_party_msisdn == msisdn
        assert abs(status.finalised_at - paid.completed_at) <= timedelta(seconds=1)
    assert by_receipt.originator_conversation_id != by_id.originator_conversation_id  # each query has its own


def test_status_query_for_unknown_transactions(sim, callback_sink, client):
    assert status_query(client, callback_sink, receipt="UKR9ZZZZZZ").result_code == "2032"
    assert status_query(client, callback_sink, originator_conversation_id=new_ocid()).result_code == "2033"


def test_balance_query(sim, callback_sink, client):
    outcome = client.account_balance(
        result_url=callback_sink.url("/balance"), timeout_url=callback_sink.url("/bt")
    )
    assert outcome.kind is OutcomeKind.ACCEPTED
    balance = parse_balance_result(
        wait_result(callback_sink, outcome.originator_conversation_id, "/balance").body
    )
    assert balance.is_success
    accounts = {a["ref"]: a for a in sim.admin("GET", "/sim/admin/accounts")[1]}
    utility = next(a for a in accounts.values() if a["kind"] == "org_utility")
    assert balance.accounts["Utility Account"].available == Decimal(utility["balance_cents"]) / 100
    assert balance.accounts["Utility Account"].currency == "KES"
    assert "Working Account" in balance.accounts


def test_balance_query_with_a_wrong_password_fails_in_the_result(sim, callback_sink):
    client = make_client(sim, initiator_password="Wrong-Pass")
    outcome = client.account_balance(
        result_url=callback_sink.url("/balance"), timeout_url=callback_sink.url("/bt")
    )
    assert outcome.kind is OutcomeKind.ACCEPTED
    balance = parse_balance_result(
        wait_result(callback_sink, outcome.originator_conversation_id, "/balance").body
    )
    assert balance.result_code == "2001" and balance.accounts == {}


def test_a_failed_status_query_says_nothing_about_the_payment(sim, callback_sink, new_wallet, client):
    request = b2c(callback_sink, new_wallet())
    assert client.b2c_submit(request).kind is OutcomeKind.ACCEPTED
    assert parse_result(wait_result(callback_sink, request.originator_conversation_id).body).is_success
    bad = make_client(sim, initiator_password="Wrong-Pass")
    status = status_query(bad, callback_sink, originator_conversation_id=request.originator_conversation_id)
    # The payment was made; the query failed on its own credential.
    assert status.result_code == "2001" and not status.transaction_found
    assert status_query(client, callback_sink, receipt="UKR9ZZZZZZ").transaction_found is False
