"""State survives a restart (and a crash); the CLI seeds from CSV and JSON files."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import b2c_body, pay

from mpesa_sim.testing import start_simulator


def test_restart_keeps_everything(fresh_sim, callback_sink, new_wallet):
    sim = fresh_sim
    msisdn = new_wallet(sim, balance="10")
    cert = sim.certificate_pem()
    token = sim.token()
    _, ack, result = pay(sim, callback_sink, msisdn, 100)
    sim.set_faults(spike_arrest={"msisdn": "254700000000"})
    sim.restart()
    assert sim.certificate_pem() == cert  # the same key: old SecurityCredentials stay valid
    assert sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"] == 11000
    [txn] = sim.transactions(originator_conversation_id=ack["OriginatorConversationID"])
    assert txn["receipt"] == result["Result"]["TransactionID"]
    assert sim.admin("GET", "/sim/admin/faults")[1]["faults"]["spike_arrest"]["msisdn"] == "254700000000"
    # A token issued before the restart still works, and the duplicate check still holds.
    body = b2c_body(sim, callback_sink, msisdn, OriginatorConversationID=ack["OriginatorConversationID"])
    status, answer = sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)
    assert status == 500 and answer["errorCode"] == "500.002.1001"
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_pending_payments_are_processed_after_a_crash(fresh_sim, callback_sink, new_wallet):
    sim = fresh_sim
    msisdn = new_wallet(sim)
    sim.set_faults(slow_response={"delay_ms": 0})
    token = sim.token()
    bodies = [b2c_body(sim, callback_sink, msisdn, 10) for _ in range(20)]
    for body in bodies:
        sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)
    sim.kill()
    sim.start()
    sim.drain()
    statuses = [
        sim.transactions(originator_conversation_id=b["OriginatorConversationID"])[0]["status"]
        for b in bodies
    ]
    assert set(statuses) == {"completed"}
    assert sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"] == 20 * 1000


def test_cli_seed_csv_and_json(tmp_path):
    db = tmp_path / "seeded.sqlite3"
    csv_file = tmp_path / "wallets.csv"
    csv_file.write_text(
        "msisdn,first_name,last_name,id_type,id_number,pin,balance,registered,status\n"
        "0711000111,Jane,Doe,01,111,5555,25.50,yes,active\n"
        "+254 100 000 222,Ali,Hassan,05,P9,,0,no,active\n"
    )
    json_file = tmp_path / "tills.json"
    json_file.write_text(json.dumps({"tills": [{"till_number": "777777", "name": "Soko Shop"}]}))
    cmd = [sys.executable, "-m", "mpesa_sim", "seed"]
    out = subprocess.run([*cmd, str(csv_file), "--db", str(db)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"wallets": 2, "tills": 0}
    subprocess.run([*cmd, str(json_file), "--db", str(db)], capture_output=True, text=True, check=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("msisdn,first_name\n12345,Nobody\n")
    failed = subprocess.run([*cmd, str(bad), "--db", str(db)], capture_output=True, text=True)
    assert failed.returncode == 1 and "msisdn" in failed.stderr
    with start_simulator(db_path=str(db)) as sim:
        jane = sim.admin("GET", "/sim/admin/wallets/254711000111")[1]
        assert jane["balance_cents"] == 2550 and jane["first_name"] == "Jane"
        assert sim.admin("GET", "/sim/admin/wallets/254100000222")[1]["registered"] is False
        assert any(t["till_number"] == "777777" for t in sim.admin("GET", "/sim/admin/tills")[1])
        assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_serve_prints_startup_banner(tmp_path):
    from mpesa_sim.testing import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mpesa_sim",
            "serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "b.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(8)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = "".join(lines)
    assert f"http://127.0.0.1:{port}" in text and "admin token" in text and "sim-consumer-key" in text
    assert "600000" in text
