"""The phone page in a real browser: USSD through the simulator's own USSD application, SMS inbox."""

from __future__ import annotations

import re
import urllib.parse

import pytest

pytest.importorskip("playwright")
pytest.register_assert_rewrite("ui_support")

from conftest import pay  # noqa: E402
from playwright.sync_api import expect  # noqa: E402
from ui_support import connect, shoot  # noqa: E402

pytest_plugins = ["ui_support"]  # the browser and page fixtures

pytestmark = pytest.mark.browser


def open_phone(tab, sim, msisdn: str) -> None:
    tab.goto(f"{sim.base_url}/phone?msisdn={msisdn}")
    connect(tab, sim)
    expect(tab.get_by_label("This phone's number")).to_have_text("+" + msisdn)


def reply(tab, text: str) -> None:
    tab.get_by_label("Reply").fill(text)
    with tab.expect_response("**/ussd"):
        tab.get_by_role("button", name="Send", exact=True).click()


def test_dial_and_check_balance(sim, new_wallet, page):
    msisdn = new_wallet(balance="750", first_name="Wanjiku")
    open_phone(page, sim, msisdn)
    # Dial on the keypad, like a handset; the request goes to the same POST /ussd as Africa's Talking's.
    for key in "*334#":
        page.get_by_role("button", name=key, exact=True).click()
    expect(page.get_by_label("USSD code")).to_have_value("*334#")
    with page.expect_request("**/ussd") as hop:
        page.get_by_role("button", name="Call", exact=True).click()
    form = dict(urllib.parse.parse_qsl(hop.value.post_data, keep_blank_values=True))
    assert (form["phoneNumber"], form["serviceCode"], form["text"]) == ("+" + msisdn, "*334#", "")
    screen = page.locator("#ussd-text")
    expect(screen).to_contain_text("1. Check balance")
    reply(page, "1")
    expect(screen).to_contain_text("Enter M-PESA PIN")
    reply(page, "1234")
    expect(screen).to_have_text("Your M-PESA balance is Ksh750.00.")
    shoot(page, "phone-balance")
    page.get_by_role("button", name="OK", exact=True).click()
    expect(page.get_by_label("USSD code")).to_be_visible()

    # A shortcut dial (*334*1*1234#) carries its inputs into the first hop, as Africa's Talking does.
    page.get_by_label("USSD code").fill("*334*1*1234#")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(screen).to_have_text("Your M-PESA balance is Ksh750.00.")
    page.get_by_role("button", name="OK", exact=True).click()

    # A wrong PIN is counted by the same application.
    page.get_by_label("USSD code").fill("*334*1#")
    page.get_by_role("button", name="Call", exact=True).click()
    reply(page, "9999")
    expect(screen).to_contain_text("Wrong PIN. 2 attempts left.")


def test_pay_vendor_and_see_both_sms(sim, new_wallet, callback_sink, page):
    msisdn = new_wallet(first_name="Achieng", last_name="Odhiambo")
    open_phone(page, sim, msisdn)
    expect(page.locator("#inbox-note")).to_have_text("No messages yet.")

    # The G2P payment arrives while the phone is open: its SMS shows up without reloading.
    status, _, callback = pay(sim, callback_sink, msisdn, amount=1500)
    assert status == 200 and callback["Result"]["ResultCode"] == 0
    inbox = page.get_by_role("list", name="SMS inbox").get_by_role("listitem")
    expect(inbox).to_have_count(1)
    expect(inbox.first).to_contain_text("You have received Ksh1,500.00 from OPENG2P DEMO MINISTRY")

    # Lipa na M-PESA: till 123456 (Mama Mboga Groceries), Ksh 200, PIN, confirm.
    page.get_by_label("USSD code").fill("*334#")
    page.get_by_role("button", name="Call", exact=True).click()
    screen = page.locator("#ussd-text")
    expect(screen).to_contain_text("Lipa na M-PESA")
    reply(page, "2")
    expect(screen).to_contain_text("Enter till number")
    reply(page, "123456")
    expect(screen).to_contain_text("Enter amount")
    reply(page, "200")
    expect(screen).to_contain_text("Enter M-PESA PIN")
    reply(page, "1234")
    expect(screen).to_contain_text(re.compile(r"Pay Ksh200\.00 to Mama Mboga Groceries till 123456\?", re.I))
    reply(page, "1")
    expect(screen).to_contain_text(
        re.compile(r"Confirmed\. Ksh200\.00 paid to Mama Mboga Groceries\. New balance Ksh1,300\.00\.", re.I)
    )

    expect(inbox).to_have_count(2)
    expect(inbox.first).to_contain_text(re.compile(r"Ksh200\.00 paid to Mama Mboga Groceries", re.I))
    expect(inbox.first).to_contain_text("New M-PESA balance is Ksh1,300.00")
    expect(inbox.nth(1)).to_contain_text("You have received Ksh1,500.00")
    shoot(page, "phone")

    # The ledger agrees with what the phone showed.
    status, wallet = sim.admin("GET", f"/sim/admin/wallets/{msisdn}")
    assert status == 200 and wallet["balance_cents"] == 130_000


def test_unregistered_number_and_unknown_code(sim, new_wallet, page):
    msisdn = new_wallet(registered=False)
    open_phone(page, sim, msisdn)
    page.get_by_label("USSD code").fill("*334#")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#ussd-text")).to_have_text("This number is not registered for M-PESA.")
    page.get_by_role("button", name="OK", exact=True).click()
    page.get_by_label("USSD code").fill("*144#")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#ussd-text")).to_contain_text("UNKNOWN APPLICATION")
