"""USSD journeys (Africa's Talking contract) and the simple-mpesa routes, over HTTP."""

from __future__ import annotations

import urllib.parse

import pytest
from conftest import unique_msisdn

from mpesa_sim.testing import http_json


def dial(sim, msisdn, text, session="s1"):
    form = {
        "sessionId": session,
        "serviceCode": "*334#",
        "phoneNumber": "+" + msisdn,
        "networkCode": "63902",
        "text": text,
    }
    status, body = http_json(
        "POST",
        sim.base_url + "/ussd",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert body.startswith(("CON ", "END ")), body
    assert len(body) <= 160 and body.isascii(), body
    return body


@pytest.fixture
def phone(sim, new_wallet):
    msisdn = new_wallet(balance="1000", pin="4321")
    sim.seed(tills=[{"till_number": "555001", "name": "Duka La Mama"}])
    return msisdn


def test_home_and_balance(sim, phone):
    assert dial(sim, phone, "").startswith("CON M-PESA\n1. Check balance")
    assert "PIN" in dial(sim, phone, "1")
    assert dial(sim, phone, "1*4321") == "END Your M-PESA balance is Ksh1,000.00."


def test_pay_till_journey(sim, phone):
    assert "till number" in dial(sim, phone, "2")
    assert "Unknown till number 999" in dial(sim, phone, "2*999")
    assert "amount" in dial(sim, phone, "2*555001")
    assert "Invalid amount" in dial(sim, phone, "2*555001*abc")
    assert "PIN" in dial(sim, phone, "2*555001*150")
    confirm = dial(sim, phone, "2*555001*150*4321")
    assert "Pay Ksh150.00 to DUKA LA MAMA till 555001?" in confirm
    done = dial(sim, phone, "2*555001*150*4321*1")
    assert done.startswith("END ") and "Confirmed. Ksh150.00 paid to DUKA LA MAMA" in done
    assert "Ksh850.00" in done
    till = next(t for t in sim.admin("GET", "/sim/admin/tills")[1] if t["till_number"] == "555001")
    assert till["balance_cents"] >= 15000
    inbox = sim.admin("GET", f"/sim/admin/sms?msisdn={phone}")[1]
    assert "paid to DUKA LA MAMA" in inbox[0]["body"]
    statement = dial(sim, phone, "3*4321")
    assert statement.startswith("END M-PESA mini statement") and "-150.00" in statement
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_cancel_and_navigation(sim, phone):
    assert dial(sim, phone, "2*555001*150*4321*2") == "END Cancelled. No money was sent."
    assert dial(sim, phone, "2*555001*0").startswith("CON Enter till number")
    assert dial(sim, phone, "2*555001*00").startswith("CON M-PESA")
    assert dial(sim, phone, "9").startswith("CON Invalid choice.")
    assert dial(sim, phone, "9*1*4321") == "END Your M-PESA balance is Ksh1,000.00."


def test_insufficient_balance(sim, phone):
    answer = dial(sim, phone, "2*555001*5000*4321*1")
    assert "do not have enough money" in answer and "Ksh1,000.00" in answer


def test_wrong_pin_locks_after_three(sim, phone):
    assert dial(sim, phone, "1*0000") == "END Wrong PIN. 2 attempts left."
    assert dial(sim, phone, "1*4321").startswith("END Your M-PESA balance")  # resets the count
    assert "2 attempts" in dial(sim, phone, "1*0000")
    assert "1 attempt left" in dial(sim, phone, "1*0000")
    assert "locked" in dial(sim, phone, "1*0000")
    assert "locked" in dial(sim, phone, "1*4321")
    sim.admin("PATCH", f"/sim/admin/wallets/{phone}", {"unlock_pin": True})
    assert dial(sim, phone, "1*4321").startswith("END Your M-PESA balance")


def test_unregistered_and_frozen(sim, new_wallet):
    assert "not registered" in dial(sim, unique_msisdn(), "")
    assert "frozen" in dial(sim, new_wallet(status="frozen"), "")


def test_ussd_screens_fit(sim, phone):
    for text in ("", "1", "2", "3", "2*555001", "2*555001*100", "2*555001*100*4321", "3*4321", "x*y*z"):
        dial(sim, phone, text)


# -- simple-mpesa ---------------------------------------------------------------------------------
def form(sim, path, fields, token=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        headers["Authorization"] = "Bearer " + token
    return http_json(
        "POST", sim.base_url + path, data=urllib.parse.urlencode(fields).encode(), headers=headers
    )


def login(sim, kind, email, password):
    status, body = form(sim, f"/api/login/{kind}", {"email": email, "password": password})
    assert status == 200, body
    assert set(body) == {"userId", "userType", "token"}
    return body["token"]


def test_openg2p_simple_mpesa_flow(sim, new_wallet):
    """What g2p_payment_simple_mpesa does: agent login, form deposit to a customer's email."""
    info = sim.admin("GET", "/sim/admin/info")[1]["simple_mpesa"]["agent"]
    token = login(sim, "agent", info["email"], info["password"])
    msisdn = new_wallet(email=f"{unique_msisdn()}@example.org")
    email = sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["email"]
    status, body = form(
        sim,
        "/api/transaction/deposit",
        {"amount": "300", "accountNo": email, "customerType": "subscriber"},
        token,
    )
    assert status == 200
    assert body == {
        "status": "success",
        "message": "Success",
        "data": {"message": "Transaction under processing. You will receive a message shortly."},
    }
    assert sim.admin("GET", f"/sim/admin/wallets/{msisdn}")[1]["balance_cents"] == 30000
    [txn] = sim.transactions(msisdn=msisdn)
    assert txn["kind"] == "deposit" and txn["receipt"]
    assert "Give Ksh300.00 cash to DEMO AGENT" in sim.admin("GET", f"/sim/phones/{msisdn}/sms")[1][0]["body"]
    # by phone number too, JSON body
    status, _ = sim.call(
        "POST", "/api/transaction/deposit", json={"amount": 5, "accountNo": msisdn}, token=token
    )
    assert status == 200
    status, body = sim.call("GET", "/api/account/balance", token=token)
    assert status == 200 and body["status"] == "success" and "balance" in body["data"]


def test_simple_mpesa_errors(sim):
    status, body = form(sim, "/api/login/agent", {"email": "agent@mpesa-sim.local", "password": "bad"})
    assert status == 401 and set(body) == {"error", "message", "status"}
    status, body = form(sim, "/api/transaction/deposit", {"amount": "1", "accountNo": "x"}, "bad.token.here")
    assert status == 401
    token = login(sim, "agent", "agent@mpesa-sim.local", "Agent-Pass-1")
    status, _ = form(sim, "/api/transaction/deposit", {"amount": "1.5", "accountNo": "254712345678"}, token)
    assert status == 400
    status, _ = form(sim, "/api/transaction/deposit", {"amount": "1", "accountNo": "nobody@x.org"}, token)
    assert status == 400
    status, body = form(
        sim, "/api/transaction/deposit", {"amount": str(10**9), "accountNo": "254712345678"}, token
    )
    assert status == 400 and body["error"] == "insufficient_balance"


def test_register_subscriber_transfer_withdraw_statement(sim):
    msisdn = unique_msisdn()
    email = f"sub{msisdn}@example.org"
    status, body = form(
        sim,
        "/api/user/subscriber",
        {
            "firstName": "Wanjiku",
            "lastName": "Mwangi",
            "email": email,
            "password": "secret1",
            "phoneNumber": "0" + msisdn[3:],
        },
    )
    assert status == 200 and body["message"] == "user created"
    agent = login(sim, "agent", "agent@mpesa-sim.local", "Agent-Pass-1")
    assert form(sim, "/api/transaction/deposit", {"amount": "100", "accountNo": email}, agent)[0] == 200
    me = login(sim, "subscriber", email, "secret1")
    assert form(sim, "/api/transaction/transfer", {"amount": "30", "accountNo": "254712345678"}, me)[0] == 200
    assert (
        form(sim, "/api/transaction/withdraw", {"amount": "20", "agentNumber": "agent@mpesa-sim.local"}, me)[
            0
        ]
        == 200
    )
    status, body = sim.call("GET", "/api/account/balance", token=me)
    assert body["data"]["balance"] == 50 and body["message"] == "Your current balance is 50.00"
    status, body = sim.call("GET", "/api/account/statement", token=me)
    assert status == 200 and len(body["data"]) == 3
    admin = login(sim, "administrator", "admin@mpesa-sim.local", "Admin-Pass-1")
    assert (
        form(sim, "/api/admin/assign-float", {"accountNo": "agent@mpesa-sim.local", "amount": "10"}, admin)[0]
        == 200
    )
    assert (
        form(sim, "/api/admin/assign-float", {"accountNo": "agent@mpesa-sim.local", "amount": "10"}, me)[0]
        == 401
    )
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_the_menu_speaks_kiswahili_once_chosen_and_keeps_the_choice(sim, phone):
    assert "4. My Account" in dial(sim, phone, "")
    assert "1. Language" in dial(sim, phone, "4")
    choose = dial(sim, phone, "4*1")
    assert "1. English" in choose and "2. Kiswahili" in choose
    assert dial(sim, phone, "4*1*2") == "END Lugha yako ya M-PESA sasa ni Kiswahili."
    # A new session: the wallet kept its language.
    home = dial(sim, phone, "", session="s2")
    assert home.startswith("CON M-PESA\n1. Angalia salio") and "0 Rudi" not in home
    assert "Weka PIN ya M-PESA" in dial(sim, phone, "1", session="s2")
    assert dial(sim, phone, "1*4321", session="s2") == "END Salio lako la M-PESA ni Ksh1,000.00."
    assert dial(sim, phone, "9", session="s2").startswith("CON Chaguo si sahihi.")
    assert "Umebakiza" in dial(sim, phone, "1*1111", session="s2")
    confirm = dial(sim, phone, "2*555001*150*4321", session="s2")
    assert "Lipa Ksh150.00 kwa DUKA LA MAMA till 555001?" in confirm and "0 Rudi 00 Mwanzo" in confirm
    assert dial(sim, phone, "4*1*1", session="s3") == "END Your M-PESA language is now English."
    assert dial(sim, phone, "", session="s4").startswith("CON M-PESA\n1. Check balance")


def test_the_language_menu_refuses_other_choices(sim, phone):
    assert dial(sim, phone, "4*2").startswith("CON Invalid choice.")
    assert dial(sim, phone, "4*1*3").startswith("CON Invalid choice.")
