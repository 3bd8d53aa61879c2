"""Shared fixtures: one simulator process for the session (reset between tests) and a sink.

``sim`` is shared for speed: each test gets it with faults off, the initiator unlocked and the
default limits back, but balances carry over, so tests make their own wallets (``new_wallet``).
Tests that restart or crash the simulator use ``fresh_sim``.
"""

from __future__ import annotations

import itertools
import os
import uuid

import pytest

from mpesa_sim.organisation import DEFAULT_CONFIG
from mpesa_sim.testing import CallbackSink, RunningSimulator, start_simulator

# Unique numbers per test run and worker, so a shared simulator never mixes up two tests' wallets.
_msisdn_counter = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)


@pytest.fixture(scope="session")
def _shared_sim() -> RunningSimulator:
    with start_simulator() as running:
        yield running


@pytest.fixture
def sim(_shared_sim: RunningSimulator) -> RunningSimulator:
    if not _shared_sim.running:  # a test stopped it: bring it back for the next ones
        _shared_sim.start()
    _shared_sim.reset_faults()
    _shared_sim.admin("POST", "/sim/admin/initiator/unlock")
    _shared_sim.set_config(**DEFAULT_CONFIG)
    yield _shared_sim
    _shared_sim.reset_faults()


@pytest.fixture
def fresh_sim() -> RunningSimulator:
    with start_simulator() as running:
        yield running


@pytest.fixture
def callback_sink() -> CallbackSink:
    with CallbackSink() as sink:
        yield sink


def unique_msisdn() -> str:
    return "2547%08d" % (next(_msisdn_counter) % 10**8)


@pytest.fixture
def new_wallet(sim: RunningSimulator):
    """Factory: a fresh registered wallet (``**fields`` override), returns its MSISDN."""

    def make(target: RunningSimulator | None = None, **fields) -> str:
        msisdn = fields.pop("msisdn", None) or unique_msisdn()
        spec = {
            "msisdn": msisdn,
            "first_name": "Test",
            "last_name": "Person",
            "id_number": msisdn[-8:],
            **fields,
        }
        (target or sim).seed(wallets=[spec])
        return msisdn

    return make


def new_ocid() -> str:
    return str(uuid.uuid4())


_credential_cache: dict = {}


def credential(sim: RunningSimulator, password: str | None = None) -> str:
    """SecurityCredential for this simulator's certificate (encrypted once per run and password)."""
    key = (sim.base_url, sim.db_path, password)
    if key not in _credential_cache:
        _credential_cache[key] = sim.security_credential(password)
    return _credential_cache[key]


def b2c_body(sim: RunningSimulator, sink: CallbackSink, party_b: str, amount=500, **overrides) -> dict:
    body = {
        "OriginatorConversationID": new_ocid(),
        "InitiatorName": sim.initiator_name,
        "SecurityCredential": credential(sim),
        "CommandID": "BusinessPayment",
        "Amount": amount,
        "PartyA": sim.shortcode,
        "PartyB": party_b,
        "Remarks": "Cycle payment",
        "QueueTimeOutURL": sink.url("/timeout"),
        "ResultURL": sink.url("/result"),
        "Occassion": "G2P",
    }
    body.update(overrides)
    return body


def query_body(sim: RunningSimulator, sink: CallbackSink, command: str, **fields) -> dict:
    body = {
        "Initiator": sim.initiator_name,
        "SecurityCredential": credential(sim),
        "CommandID": command,
        "PartyA": sim.shortcode,
        "IdentifierType": "4",
        "ResultURL": sink.url("/query-result"),
        "QueueTimeOutURL": sink.url("/query-timeout"),
        "Remarks": "check",
    }
    body.update(fields)
    return body


def pay(
    sim: RunningSimulator,
    sink: CallbackSink,
    party_b: str,
    amount=500,
    path="/mpesa/b2c/v3/paymentrequest",
    timeout: float = 10,
    **overrides,
):
    """Submit a B2C and wait for its result callback: (ack status, ack body, callback body)."""
    body = b2c_body(sim, sink, party_b, amount, **overrides)
    status, ack = sim.call("POST", path, json=body, token=sim.token())
    if status != 200:
        return status, ack, None
    ocid = ack["OriginatorConversationID"]
    callback = sink.wait_for(lambda c: c.ocid == ocid and c.path == "/result", timeout=timeout)
    return status, ack, callback.body


def code_of_result(callback_body: dict):
    return callback_body["Result"]["ResultCode"]
