"""The Daraja client against a scripted transport and real sockets (no simulator needed)."""

import base64
import json
import logging
import socket
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import padding
from daraja_support import (
    TOKEN_OK,
    FakeClock,
    FakeResponse,
    fake_client,
    fixture,
    key_and_certificate,
    make_config,
    run_threads,
)

from mpesa_wire import B2CRequest, InvalidAmount, InvalidMsisdn, OutcomeKind, TokenCache
from mpesa_wire.daraja import DarajaAuthError, DarajaClient, DarajaConfig, DarajaTokenUnavailable

TOKEN = "/oauth/v1/generate"
B2C = "/mpesa/b2c/v3/paymentrequest"
B2C_VALIDATED = "/mpesa/b2cvalidate/v2/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"
BALANCE = "/mpesa/accountbalance/v1/query"
ACK = FakeResponse(200, fixture("b2c_ack.json"))
OCID = "5f0e9a52-6b0a-4c57-9d3e-2a1f64c1b0e7"  # the one b2c_ack.json echoes


def b2c_request(**overrides) -> B2CRequest:
    values = {
        "originator_conversation_id": OCID,
        "msisdn": "254712345678",
        "amount": 500,
        "remarks": "Cycle 2026-11",
        "result_url": "https://g2p.test/result/s3cr3t",
        "timeout_url": "https://g2p.test/timeout/s3cr3t",
    }
    values.update(overrides)
    return B2CRequest(**values)


def decrypt(credential: str, name: str = "test") -> str:
    key = key_and_certificate(name)[0]
    return key.decrypt(base64.b64decode(credential), padding.PKCS1v15()).decode()


# --- config and credential -------------------------------------------------------------------


def test_config_repr_shows_no_secret():
    config = make_config()
    text = repr(config) + str(config) + repr(DarajaClient(config, token_cache=TokenCache()))
    assert "cs-SECRET" not in text and "Init-PASSWORD" not in text and "BEGIN CERTIFICATE" not in text
    assert "ck" in text and "600000" in text


def test_config_normalises_and_validates():
    assert make_config(base_url="https://daraja.test/").base_url == "https://daraja.test"
    assert make_config(certificate=key_and_certificate()[1].decode()).certificate == key_and_certificate()[1]
    for bad in (
        {"base_url": "daraja.test"},
        {"consumer_secret": ""},
        {"initiator_password": ""},
        {"certificate": b""},
        {"read_timeout": 0},
        {"min_amount": 0},
        {"min_amount": 100, "max_amount": 10},
    ):
        with pytest.raises(ValueError):
            make_config(**bad)
    with pytest.raises(AttributeError):
        make_config().consumer_secret = "x"  # frozen


@pytest.mark.parametrize("form", [1, 2])  # PEM, DER
def test_security_credential_decrypts_to_the_password(form):
    client, _ = fake_client({}, make_config(certificate=key_and_certificate()[form]))
    credential = client.security_credential()
    assert len(credential) == 344  # 2048-bit key
    assert decrypt(credential) == "Init-PASSWORD"
    assert client.security_credential() == credential  # computed once per client
    other, _ = fake_client({}, make_config(certificate=key_and_certificate()[form]))
    # PKCS#1 v1.5 padding is random: each client's ciphertext differs, both are valid.
    assert other.security_credential() != credential
    assert decrypt(other.security_credential()) == "Init-PASSWORD"


def test_unreadable_certificate_is_an_auth_error():
    client, transport = fake_client({B2C: [ACK], TOKEN: [TOKEN_OK]}, make_config(certificate=b"not a cert"))
    with pytest.raises(DarajaAuthError, match="certificate"):
        client.security_credential()
    with pytest.raises(DarajaAuthError):
        client.b2c_submit(b2c_request())
    assert transport.calls(B2C) == []


# --- token -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["token_ok_numeric_expiry.json", "token_ok_string_expiry.json"])
def test_token_fetch_uses_basic_auth_and_both_expiry_types(name):
    clock = FakeClock()
    client, transport = fake_client(
        {TOKEN: [FakeResponse(200, fixture(name))]}, token_cache=TokenCache(clock=clock)
    )
    assert client.token() == fixture(name)["access_token"]
    assert client.token() == fixture(name)["access_token"]
    (call,) = transport.calls(TOKEN)
    assert call.method == "GET"
    assert "grant_type=client_credentials" in call.url
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"ck:cs-SECRET").decode()
    # Refreshed 60 s before the 3599 s expiry, not after.
    clock.advance(3599 - 61)
    client.token()
    assert len(transport.calls(TOKEN)) == 1
    clock.advance(2)
    client.token()
    assert len(transport.calls(TOKEN)) == 2


def test_short_lived_token_is_still_reused():
    clock = FakeClock()
    client, transport = fake_client(
        {TOKEN: [FakeResponse(200, {"access_token": "t", "expires_in": 10})]},
        token_cache=TokenCache(clock=clock),
    )
    client.token()
    clock.advance(4)
    client.token()
    assert len(transport.calls(TOKEN)) == 1
    clock.advance(2)
    client.token()
    assert len(transport.calls(TOKEN)) == 2


def test_token_is_shared_per_base_url_and_consumer_key():
    cache = TokenCache()
    a, transport = fake_client({TOKEN: [TOKEN_OK]}, token_cache=cache)
    b, transport_b = fake_client(
        {TOKEN: [TOKEN_OK]}, make_config(base_url="https://daraja.test/"), token_cache=cache
    )
    c, transport_c = fake_client({TOKEN: [TOKEN_OK]}, make_config(consumer_key="other"), token_cache=cache)
    a.token(), b.token(), c.token()
    assert len(transport.calls(TOKEN)) == 1 and transport_b.calls(TOKEN) == []
    assert len(transport_c.calls(TOKEN)) == 1


def test_token_fetch_is_single_flight_under_threads():
    def slow_token(request):
        time.sleep(0.2)
        return TOKEN_OK

    client, transport = fake_client({TOKEN: [slow_token], B2C: [ACK]})
    results = run_threads(20, client.token)
    assert results == ["tok-1"] * 20
    assert len(transport.calls(TOKEN)) == 1


def test_invalidate_keeps_a_token_fetched_meanwhile():
    cache = TokenCache()
    key = cache.key_for("https://x", "k")
    assert cache.get(key, lambda: ("old", 3600)) == "old"
    cache.invalidate(key, "old")
    assert cache.get(key, lambda: ("new", 3600)) == "new"
    cache.invalidate(key, "old")  # a late thread holding the stale token
    assert cache.get(key, lambda: ("newer", 3600)) == "new"
    cache.invalidate(key)
    assert cache.get(key, lambda: ("newest", 3600)) == "newest"


@pytest.mark.parametrize(
    "answer",
    [
        FakeResponse(
            400,
            {"requestId": "1", "errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"},
        ),
        FakeResponse(401, None),
        FakeResponse(400, b"Bad Request"),
    ],
)
def test_bad_consumer_credentials_raise_auth_error(answer, caplog):
    client, transport = fake_client({TOKEN: [answer], B2C: [ACK]})
    with pytest.raises(DarajaAuthError):
        client.token()
    with pytest.raises(DarajaAuthError):
        client.b2c_submit(b2c_request())
    assert transport.calls(B2C) == []
    assert "cs-SECRET" not in caplog.text


@pytest.mark.parametrize(
    "answer",
    [
        FakeResponse(503, b"<html>busy</html>"),
        FakeResponse(200, {"access_token": "", "expires_in": "3599"}),
        FakeResponse(200, {"access_token": "t"}),
        FakeResponse(200, b"not json"),
        requests.ConnectionError("boom"),
        requests.ReadTimeout("slow"),
    ],
)
def test_token_unavailable_makes_a_submit_transient(answer):
    client, transport = fake_client({TOKEN: [answer], B2C: [ACK]})
    with pytest.raises(DarajaTokenUnavailable):
        client.token()
    outcome = client.b2c_submit(b2c_request())
    # Nothing reached the payment API: safe to send again with the same id.
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "token_unavailable"
    assert transport.calls(B2C) == []


# --- B2C submit --------------------------------------------------------------------------------


def test_b2c_submit_accepted_and_request_shape():
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [ACK]})
    outcome = client.b2c_submit(b2c_request(occasion="G2P"))
    assert outcome.kind is OutcomeKind.ACCEPTED and outcome.accepted
    assert outcome.conversation_id == "AG_20261127_201050b4ba2e0f8a3c1d"
    assert outcome.originator_conversation_id == OCID
    assert outcome.http_status == 200 and outcome.code == "0"
    (call,) = transport.calls(B2C)
    assert call.method == "POST"
    assert call.headers["Authorization"] == "Bearer tok-1"
    assert call.headers["Content-Type"] == "application/json"
    body = json.loads(call.body)
    credential = body.pop("SecurityCredential")
    assert decrypt(credential) == "Init-PASSWORD"
    assert body == {
        "OriginatorConversationID": OCID,
        "InitiatorName": "g2p_initiator",
        "CommandID": "BusinessPayment",
        "Amount": 500,
        "PartyA": "600000",
        "PartyB": "254712345678",
        "Remarks": "Cycle 2026-11",
        "QueueTimeOutURL": "https://g2p.test/timeout/s3cr3t",
        "ResultURL": "https://g2p.test/result/s3cr3t",
        "Occassion": "G2P",
    }


def test_validated_b2c_uses_its_endpoint_and_id_fields():
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C_VALIDATED: [ACK]})
    outcome = client.b2c_submit(b2c_request(id_type="01", id_number=" 12345678 "))
    assert outcome.kind is OutcomeKind.ACCEPTED
    (call,) = transport.calls(B2C_VALIDATED)
    body = json.loads(call.body)
    assert body["IDType"] == "01" and body["IDNumber"] == "12345678"
    assert "Occassion" not in body


@pytest.mark.parametrize(
    "answer, kind, code, retry_after",
    [
        (FakeResponse(400, fixture("error_bad_request.json")), OutcomeKind.REJECTED, "400.002.02", None),
        (FakeResponse(500, fixture("error_duplicate_ocid.json")), OutcomeKind.UNKNOWN, "500.002.1001", None),
        (FakeResponse(500, fixture("error_spike_arrest.json")), OutcomeKind.TRANSIENT, "500.003.02", 1.0),
        (
            FakeResponse(500, fixture("error_spike_arrest.json"), {"Retry-After": "7"}),
            OutcomeKind.TRANSIENT,
            "500.003.02",
            7.0,
        ),
        (
            FakeResponse(500, {"errorCode": "500.003.03", "errorMessage": "Quota"}),
            OutcomeKind.TRANSIENT,
            "500.003.03",
            60.0,
        ),
        (
            FakeResponse(500, {"errorCode": "500.001.1001", "errorMessage": "Err"}),
            OutcomeKind.UNKNOWN,
            "500.001.1001",
            None,
        ),
        (FakeResponse(500, b"<html>Internal error</html>"), OutcomeKind.UNKNOWN, "http_500", None),
        (FakeResponse(502, None), OutcomeKind.UNKNOWN, "http_502", None),
        (FakeResponse(503, {"unexpected": True}), OutcomeKind.UNKNOWN, "http_503", None),
        (FakeResponse(408, None), OutcomeKind.UNKNOWN, "http_408", None),
        (FakeResponse(429, None, {"Retry-After": "3"}), OutcomeKind.TRANSIENT, "http_429", 3.0),
        (FakeResponse(404, b"Not Found"), OutcomeKind.REJECTED, "http_404", None),
        (
            FakeResponse(302, None, {"Location": "https://elsewhere.test/"}),
            OutcomeKind.REJECTED,
            "http_302",
            None,
        ),
        (
            FakeResponse(403, {"errorCode": "403.001.01", "errorMessage": "Forbidden"}),
            OutcomeKind.REJECTED,
            "403.001.01",
            None,
        ),
        (
            FakeResponse(
                200,
                {"ResponseCode": "1", "ResponseDescription": "Rejected", "OriginatorConversationID": OCID},
            ),
            OutcomeKind.REJECTED,
            "1",
            None,
        ),
        (
            FakeResponse(200, {"ResponseCode": "0", "OriginatorConversationID": OCID}),
            OutcomeKind.UNKNOWN,
            "bad_response",
            None,
        ),
        (
            FakeResponse(200, {**fixture("b2c_ack.json"), "OriginatorConversationID": "someone-else"}),
            OutcomeKind.UNKNOWN,
            "bad_response",
            None,
        ),
        (FakeResponse(200, b"<html>OK</html>"), OutcomeKind.UNKNOWN, "bad_response", None),
        (FakeResponse(202, None), OutcomeKind.UNKNOWN, "bad_response", None),
        (requests.ReadTimeout("read timed out"), OutcomeKind.UNKNOWN, "read_timeout", None),
        (requests.ConnectTimeout("connect timed out"), OutcomeKind.TRANSIENT, "connect_timeout", None),
        (requests.ConnectionError("reset by peer"), OutcomeKind.UNKNOWN, "connection_lost", None),
        (requests.exceptions.ChunkedEncodingError("cut"), OutcomeKind.UNKNOWN, "connection_lost", None),
    ],
)
def test_b2c_outcome_classes(answer, kind, code, retry_after):
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [answer]})
    outcome = client.b2c_submit(b2c_request())
    assert (outcome.kind, outcome.code, outcome.retry_after) == (kind, code, retry_after)
    assert len(transport.calls(B2C)) == 1  # never re-sent on its own, whatever the answer
    if isinstance(answer, FakeResponse):
        assert outcome.http_status == answer.status
        if isinstance(answer.body, dict) and "errorMessage" in answer.body:
            assert outcome.message == answer.body["errorMessage"]
            assert outcome.request_id == answer.body.get("requestId")


def test_response_code_as_number_is_accepted():
    ack = {**fixture("b2c_ack.json"), "ResponseCode": 0}
    client, _ = fake_client({TOKEN: [TOKEN_OK], B2C: [FakeResponse(200, ack)]})
    assert client.b2c_submit(b2c_request()).kind is OutcomeKind.ACCEPTED


@pytest.mark.parametrize("error", ["error_invalid_token.json", "401.002.01"])
def test_token_refused_once_is_refreshed_and_the_same_request_resent(error):
    body = (
        fixture(error) if error.endswith(".json") else {"errorCode": error, "errorMessage": "Invalid token"}
    )
    status = 404 if error.endswith(".json") else 401
    tokens = [FakeResponse(200, {"access_token": "stale", "expires_in": 3599}), TOKEN_OK]
    client, transport = fake_client({TOKEN: tokens, B2C: [FakeResponse(status, body), ACK]})
    outcome = client.b2c_submit(b2c_request())
    assert outcome.kind is OutcomeKind.ACCEPTED
    first, second = transport.calls(B2C)
    assert first.headers["Authorization"] == "Bearer stale"
    assert second.headers["Authorization"] == "Bearer tok-1"
    assert first.body == second.body  # same OriginatorConversationID, same credential
    assert len(transport.calls(TOKEN)) == 2
    client.b2c_submit(b2c_request())
    assert len(transport.calls(TOKEN)) == 2  # the fresh token is kept


def test_token_refused_twice_is_rejected_and_not_retried_further():
    refused = FakeResponse(404, fixture("error_invalid_token.json"))
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [refused]})
    outcome = client.b2c_submit(b2c_request())
    assert outcome.kind is OutcomeKind.REJECTED and outcome.code == "token"
    assert outcome.http_status == 404
    assert len(transport.calls(B2C)) == 2 and len(transport.calls(TOKEN)) == 2


def test_bad_credentials_code_on_an_api_call_raises():
    bad = FakeResponse(400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"})
    client, _ = fake_client({TOKEN: [TOKEN_OK], B2C: [bad]})
    with pytest.raises(DarajaAuthError):
        client.b2c_submit(b2c_request())


def test_amount_outside_the_apps_limits_is_never_sent():
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [ACK]}, make_config(max_amount=150_000))
    with pytest.raises(InvalidAmount, match="maximum"):
        client.b2c_submit(b2c_request(amount=150_001))
    with pytest.raises(InvalidAmount, match="minimum"):
        client.b2c_submit(b2c_request(amount=9))
    assert transport.requests == []


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"originator_conversation_id": " "}, ValueError),
        ({"msisdn": "0712345678"}, InvalidMsisdn),
        ({"msisdn": "+254712345678"}, InvalidMsisdn),
        ({"msisdn": "254201234567"}, InvalidMsisdn),
        ({"amount": 500.0}, InvalidAmount),
        ({"amount": "500"}, InvalidAmount),
        ({"amount": True}, InvalidAmount),
        ({"amount": 0}, InvalidAmount),
        ({"remarks": "x"}, ValueError),
        ({"remarks": "x" * 101}, ValueError),
        ({"occasion": "x" * 101}, ValueError),
        ({"command_id": "BusinessPayBill"}, ValueError),
        ({"result_url": "g2p.test/result"}, ValueError),
        ({"timeout_url": ""}, ValueError),
        ({"id_type": "06", "id_number": "1"}, ValueError),
        ({"id_type": "01"}, ValueError),
        ({"id_number": "12345678"}, ValueError),
    ],
)
def test_b2c_request_refuses_what_mpesa_would_reject(overrides, error):
    with pytest.raises(error):
        b2c_request(**overrides)


# --- status and balance ------------------------------------------------------------------------


def test_transaction_status_request_shape():
    ack = FakeResponse(
        200,
        {
            "ConversationID": "AG_2",
            "OriginatorConversationID": "q-1",
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        },
    )
    client, transport = fake_client({TOKEN: [TOKEN_OK], STATUS: [ack]})
    urls = {"result_url": "https://g2p.test/status", "timeout_url": "https://g2p.test/status-timeout"}
    outcome = client.transaction_status(originator_conversation_id=OCID, **urls)
    assert outcome.kind is OutcomeKind.ACCEPTED
    assert outcome.conversation_id == "AG_2" and outcome.originator_conversation_id == "q-1"
    body = json.loads(transport.calls(STATUS)[0].body)
    assert decrypt(body.pop("SecurityCredential")) == "Init-PASSWORD"
    assert body == {
        "Initiator": "g2p_initiator",
        "CommandID": "TransactionStatusQuery",
        "PartyA": "600000",
        "IdentifierType": "4",
        "ResultURL": "https://g2p.test/status",
        "QueueTimeOutURL": "https://g2p.test/status-timeout",
        "Remarks": "Status",
        "Occasion": "",
        "OriginalConversationID": OCID,
    }
    client.transaction_status(receipt="UKR7Q2M9ZX", remarks="Check", **urls)
    body = json.loads(transport.calls(STATUS)[1].body)
    assert body["TransactionID"] == "UKR7Q2M9ZX" and "OriginalConversationID" not in body
    assert body["Remarks"] == "Check"
    with pytest.raises(ValueError):
        client.transaction_status(**urls)


def test_account_balance_request_shape():
    client, transport = fake_client(
        {TOKEN: [TOKEN_OK], BALANCE: [FakeResponse(500, fixture("error_spike_arrest.json"))]}
    )
    outcome = client.account_balance(result_url="https://g2p.test/b", timeout_url="https://g2p.test/bt")
    assert outcome.kind is OutcomeKind.TRANSIENT
    body = json.loads(transport.calls(BALANCE)[0].body)
    body.pop("SecurityCredential")
    assert body == {
        "Initiator": "g2p_initiator",
        "CommandID": "AccountBalance",
        "PartyA": "600000",
        "IdentifierType": "4",
        "Remarks": "Balance",
        "QueueTimeOutURL": "https://g2p.test/bt",
        "ResultURL": "https://g2p.test/b",
    }


# --- concurrency and secrets -------------------------------------------------------------------


def test_concurrent_submits_share_one_token_and_one_credential():
    def ack(request):
        body = json.loads(request.body)
        time.sleep(0.01)
        return FakeResponse(
            200,
            {
                "ConversationID": "AG_" + body["OriginatorConversationID"],
                "OriginatorConversationID": body["OriginatorConversationID"],
                "ResponseCode": "0",
            },
        )

    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [ack]})
    counter = iter(range(1000))
    lock = threading.Lock()

    def submit():
        with lock:
            ocid = f"ocid-{next(counter)}"
        return client.b2c_submit(b2c_request(originator_conversation_id=ocid))

    outcomes = run_threads(24, submit)
    assert all(o.kind is OutcomeKind.ACCEPTED for o in outcomes), outcomes
    assert sorted(o.conversation_id for o in outcomes) == sorted(f"AG_ocid-{i}" for i in range(24))
    assert len(transport.calls(TOKEN)) == 1
    credentials = {json.loads(r.body)["SecurityCredential"] for r in transport.calls(B2C)}
    assert len(credentials) == 1


def test_no_secret_is_logged(caplog):
    caplog.set_level(logging.DEBUG)
    answers = [
        FakeResponse(404, fixture("error_invalid_token.json")),
        ACK,
        FakeResponse(500, fixture("error_spike_arrest.json")),
        requests.ReadTimeout("slow"),
        FakeResponse(400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"}),
    ]
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: answers})
    for _ in range(3):
        client.b2c_submit(b2c_request())
    with pytest.raises(DarajaAuthError) as info:
        client.b2c_submit(b2c_request())
    credential = client.security_credential()
    text = caplog.text + str(info.value)
    assert "Daraja" in caplog.text  # outcomes are logged...
    for secret in (
        "cs-SECRET",
        "Init-PASSWORD",
        credential,
        "tok-1",
        base64.b64encode(b"ck:cs-SECRET").decode(),
    ):
        assert secret not in text  # ...secrets are not


# --- real sockets ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client_with_token(base_url: str, **config) -> DarajaClient:
    """A real client whose token is already cached (the test server only plays the API)."""
    cache = TokenCache()
    client = DarajaClient(make_config(base_url=base_url, **config), token_cache=cache)
    cache.get(cache.key_for(base_url, "ck"), lambda: ("tok-1", 3600))
    return client


class _RawServer:
    """A TCP server that reads one HTTP request per connection and then runs ``behaviour``."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                data = b""
                conn.settimeout(2)
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        (
                            line.split(b":")[1]
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        b"0",
                    )
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.received.append(data)
                self.behaviour(conn, self.stop)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_connection_refused_is_transient():
    client = _client_with_token(f"http://127.0.0.1:{_free_port()}")
    outcome = client.b2c_submit(b2c_request())
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "connect_error"


def test_unresolvable_host_is_transient():
    client = _client_with_token("http://no-such-host.invalid")
    outcome = client.b2c_submit(b2c_request())
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "connect_error"


def test_no_answer_within_read_timeout_is_unknown():
    server = _RawServer(lambda conn, stop: stop.wait(3))
    try:
        client = _client_with_token(f"http://127.0.0.1:{server.port}", read_timeout=0.3)
        started = time.monotonic()
        outcome = client.b2c_submit(b2c_request())
        assert outcome.kind is OutcomeKind.UNKNOWN and outcome.code == "read_timeout"
        assert time.monotonic() - started < 2.5
        assert len(server.received) == 1  # sent once, never re-sent
    finally:
        server.close()


def test_connection_closed_after_the_request_is_unknown():
    server = _RawServer(lambda conn, stop: None)  # read the request, close without answering
    try:
        client = _client_with_token(f"http://127.0.0.1:{server.port}")
        outcome = client.b2c_submit(b2c_request())
        assert outcome.kind is OutcomeKind.UNKNOWN and outcome.code == "connection_lost"
        assert len(server.received) == 1
    finally:
        server.close()


def test_daraja_config_is_hashable_and_comparable():
    assert make_config() == make_config()
    assert hash(make_config()) == hash(make_config())
    assert isinstance(make_config(), DarajaConfig)


def test_a_failed_token_fetch_is_shared_by_the_waiting_threads():
    def slow_refusal(request):
        time.sleep(0.2)
        return FakeResponse(400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"})

    client, transport = fake_client({TOKEN: [slow_refusal]})
    results = run_threads(10, client.token)
    assert all(isinstance(result, DarajaAuthError) for result in results), results
    assert len(transport.calls(TOKEN)) == 1
    # Nothing is cached on failure: the next caller tries again.
    with pytest.raises(DarajaAuthError):
        client.token()
    assert len(transport.calls(TOKEN)) == 2


def test_netrc_does_not_replace_the_bearer_token(tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine daraja.test login user password pass\n")
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [ACK]})
    assert client.b2c_submit(b2c_request()).kind is OutcomeKind.ACCEPTED
    assert transport.calls(B2C)[0].headers["Authorization"] == "Bearer tok-1"


def test_non_ascii_consumer_secret_is_sent_as_utf8():
    client, transport = fake_client({TOKEN: [TOKEN_OK]}, make_config(consumer_secret="sécret-€"))
    assert client.token() == "tok-1"
    expected = base64.b64encode("ck:sécret-€".encode()).decode()
    assert transport.calls(TOKEN)[0].headers["Authorization"] == f"Basic {expected}"


def test_absurd_token_lifetime_is_capped():
    clock = FakeClock()
    client, transport = fake_client(
        {TOKEN: [FakeResponse(200, {"access_token": "t", "expires_in": "inf"})]},
        token_cache=TokenCache(clock=clock),
    )
    client.token()
    clock.advance(24 * 3600)
    client.token()
    assert len(transport.calls(TOKEN)) == 2


# --- flow control ----------------------------------------------------------------------------


class RecordingThrottle:
    """Records the order of slot requests and pauses against the transport's calls."""

    def __init__(self, transport_calls):
        self.events = []
        self._calls = transport_calls

    def wait(self):
        self.events.append(("wait", self._calls()))

    def pause(self, seconds):
        self.events.append(("pause", seconds))


def test_every_api_request_takes_a_slot_first_and_the_token_takes_none():
    client, transport = fake_client(
        {
            TOKEN: [TOKEN_OK],
            B2C: [ACK],
            STATUS: [FakeResponse(200, fixture("b2c_ack.json"))],
            BALANCE: [FakeResponse(200, fixture("b2c_ack.json"))],
        }
    )
    api_calls = lambda: len(transport.calls(B2C) + transport.calls(STATUS) + transport.calls(BALANCE))  # noqa: E731
    throttle = client.throttle = RecordingThrottle(api_calls)
    urls = {"result_url": "https://g2p.test/r", "timeout_url": "https://g2p.test/t"}
    client.b2c_submit(b2c_request())
    client.transaction_status(originator_conversation_id=OCID, **urls)
    client.account_balance(**urls)
    # Each slot is taken before its request leaves: 0, 1, 2 API calls made so far.
    assert throttle.events == [("wait", 0), ("wait", 1), ("wait", 2)]
    assert api_calls() == 3 and len(transport.calls(TOKEN)) == 1


def test_a_refused_token_retry_is_a_second_request_with_its_own_slot():
    client, transport = fake_client(
        {TOKEN: [TOKEN_OK, TOKEN_OK], B2C: [FakeResponse(404, fixture("error_invalid_token.json")), ACK]}
    )
    throttle = client.throttle = RecordingThrottle(lambda: len(transport.calls(B2C)))
    assert client.b2c_submit(b2c_request()).kind is OutcomeKind.ACCEPTED
    assert throttle.events == [("wait", 0), ("wait", 1)]


@pytest.mark.parametrize(
    ("answer", "paused"),
    [
        (FakeResponse(500, fixture("error_spike_arrest.json")), 1.0),
        (FakeResponse(500, fixture("error_spike_arrest.json"), {"Retry-After": "7"}), 7.0),
        (FakeResponse(500, {"errorCode": "500.003.03", "errorMessage": "Quota Violation"}), 60.0),
        (FakeResponse(429, {}), 1.0),
    ],
)
def test_too_many_requests_pauses_everybody_sharing_the_throttle(answer, paused):
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [answer]})
    throttle = client.throttle = RecordingThrottle(lambda: len(transport.calls(B2C)))
    outcome = client.b2c_submit(b2c_request())
    assert outcome.kind is OutcomeKind.TRANSIENT
    assert throttle.events == [("wait", 0), ("pause", paused)]


@pytest.mark.parametrize(
    "answer",
    [ACK, FakeResponse(500, {"errorCode": "500.001.1001", "errorMessage": "Internal Server Error"})],
)
def test_other_answers_do_not_pause(answer):
    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [answer]})
    throttle = client.throttle = RecordingThrottle(lambda: len(transport.calls(B2C)))
    client.b2c_submit(b2c_request())
    assert [kind for kind, _ in throttle.events] == ["wait"]


def test_a_throttle_that_fails_sends_nothing_and_says_transient():
    class Broken:
        def wait(self):
            raise OSError("database unreachable")

        def pause(self, seconds):
            raise AssertionError("not called")

    client, transport = fake_client({TOKEN: [TOKEN_OK], B2C: [ACK]})
    client.throttle = Broken()
    outcome = client.b2c_submit(b2c_request())
    # No slot, no request: provably not processed, so the same id may go again.
    assert outcome.kind is OutcomeKind.TRANSIENT and outcome.code == "throttle"
    assert transport.calls(B2C) == []


def test_a_pause_that_fails_keeps_the_outcome():
    class NoPause:
        def wait(self):
            return None

        def pause(self, seconds):
            raise OSError("database unreachable")

    client, _transport = fake_client(
        {TOKEN: [TOKEN_OK], B2C: [FakeResponse(500, fixture("error_spike_arrest.json"))]}
    )
    client.throttle = NoPause()
    assert client.b2c_submit(b2c_request()).code == "500.003.02"
