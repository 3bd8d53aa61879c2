"""The operator console in a real browser: float, faults, callbacks, wallets, credentials, live run."""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile

import pytest

pytest.importorskip("playwright")
pytest.register_assert_rewrite("ui_support")

from conftest import b2c_body, pay, unique_msisdn  # noqa: E402
from playwright.sync_api import expect  # noqa: E402
from ui_support import connect, shoot  # noqa: E402

pytest_plugins = ["ui_support"]  # the browser and page fixtures

pytestmark = pytest.mark.browser


def ksh(cents: int) -> str:
    return f"Ksh {cents / 100:,.2f}"


def open_console(tab, sim) -> None:
    tab.goto(sim.base_url + "/console")
    connect(tab, sim)


def utility_cents(sim) -> int:
    status, rows = sim.admin("GET", "/sim/admin/accounts?kind=org_utility")
    assert status == 200
    return rows[0]["balance_cents"]


def test_top_up_the_float(sim, page):
    open_console(page, sim)
    before = utility_cents(sim)
    expect(page.get_by_label("Utility balance")).to_have_text(ksh(before))
    page.get_by_label("Top-up amount (Ksh)").fill("250000.50")
    page.get_by_label("Account").select_option("utility")
    page.get_by_role("button", name="Top up").click()
    after = before + 25_000_050
    expect(page.locator("#topup-message")).to_contain_text(f"Utility balance is now {ksh(after)}")
    expect(page.get_by_label("Utility balance")).to_have_text(ksh(after))
    assert utility_cents(sim) == after
    status, check = sim.admin("GET", "/sim/admin/ledger/check")
    assert status == 200 and check["ok"], check

    # The form refuses what the admin API would refuse, and nothing moves.
    page.get_by_label("Top-up amount (Ksh)").fill("-5")
    page.get_by_role("button", name="Top up").click()
    assert page.get_by_label("Top-up amount (Ksh)").evaluate("e => e.validity.valid") is False
    assert sim.admin("POST", "/sim/admin/float/topup", {"amount": -5})[0] == 400
    assert utility_cents(sim) == after


def test_fault_switch_and_its_effect(sim, new_wallet, callback_sink, page):
    msisdn = new_wallet()
    open_console(page, sim)
    expect(page.get_by_label("Current fault settings")).to_have_text("All faults off.")

    # Switch "transient_result" on (ResultCode 26, every payment) from the console.
    page.get_by_role("checkbox", name="transient_result").check()
    page.get_by_label("transient_result rate").fill("1")
    page.get_by_label("code", exact=True).fill("26")
    page.get_by_role("button", name="Apply faults").click()
    expect(page.locator("#faults-message")).to_have_text("Faults on: transient_result")
    expect(page.get_by_label("Current fault settings")).to_contain_text('"transient_result"')
    expect(page.get_by_label("Current fault settings")).to_contain_text('"code": 26')
    status, faults = sim.admin("GET", "/sim/admin/faults")
    assert status == 200 and faults["faults"]["transient_result"]["code"] == 26  # the same switches

    # Its effect: the next payment fails with 26 and no money moves; the console shows it.
    status, ack, callback = pay(sim, callback_sink, msisdn, amount=700)
    assert status == 200 and callback["Result"]["ResultCode"] == 26
    ocid = ack["OriginatorConversationID"]
    ledger_row = page.get_by_role("table", name="Transactions").get_by_role("row").filter(has_text=msisdn)
    expect(ledger_row.first).to_contain_text("failed")
    expect(ledger_row.first.get_by_role("cell").last).to_have_text("26")
    expect(page.locator('[data-result-code="26"]')).to_contain_text(re.compile(r"ResultCode 26: [1-9]"))
    expect(page.locator('[data-injected="transient_result"]')).not_to_have_text("0")
    callback_row = page.get_by_role("table", name="Callbacks").get_by_role("row").filter(has_text=ocid)
    expect(callback_row).to_contain_text("delivered")
    shoot(page, "console-fault-on")

    # Off again from the console: payments succeed.
    page.get_by_role("button", name="Switch all faults off").click()
    expect(page.get_by_label("Current fault settings")).to_have_text("All faults off.")
    expect(page.get_by_role("checkbox", name="transient_result")).not_to_be_checked()
    status, _, callback = pay(sim, callback_sink, msisdn, amount=700)
    assert callback["Result"]["ResultCode"] == 0


def test_callbacks_log_and_replay(sim, new_wallet, callback_sink, page):
    msisdn = new_wallet()
    callback_sink.set_status(503, "/result")
    status, ack, _ = pay(sim, callback_sink, msisdn, amount=300)
    assert status == 200
    sim.drain()
    ocid = ack["OriginatorConversationID"]
    status, records = sim.admin("GET", f"/sim/admin/callbacks?originator_conversation_id={ocid}")
    assert status == 200 and len(records) == 1 and not records[0]["delivered"]
    callback_id = records[0]["id"]

    open_console(page, sim)
    row = page.locator(f'tr[data-callback-id="{callback_id}"]')
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("503")
    expect(row).to_contain_text("receiver answered HTTP 503")
    expect(row).to_contain_text(re.compile(r"\d+\.\d ms"))

    callback_sink.set_status(200, "/result")
    page.get_by_role("button", name=f"Replay callback {callback_id}").click()
    expect(page.locator("#callbacks-message")).to_contain_text(
        re.compile(rf"#{callback_id} replayed as #\d+: delivered")
    )
    replayed = page.get_by_role("row").filter(has_text=f"replay of #{callback_id}")
    expect(replayed).to_contain_text("delivered")
    assert len([c for c in callback_sink.received("/result") if c.ocid == ocid]) == 2


def test_wallet_search_and_credentials(sim, new_wallet, page):
    msisdn = new_wallet(first_name="Zawadi", last_name="Kiprotich-Search", balance="42")
    open_console(page, sim)
    page.get_by_role("searchbox", name="Search wallets").fill("kiprotich-search")
    rows = page.get_by_role("table", name="Wallets").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(msisdn)
    expect(rows.first).to_contain_text("Ksh 42.00")
    page.get_by_role("searchbox", name="Search wallets").fill("0" + msisdn[3:])  # the local form
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name=f"Open the phone of {msisdn}")).to_have_attribute(
        "href", f"/phone?msisdn={msisdn}"
    )

    # What a user types into the addon's payment manager, and the certificate to upload.
    expect(page.get_by_label("Consumer key", exact=True)).to_contain_text(sim.consumer_key)
    expect(page.get_by_label("Consumer secret", exact=True)).to_contain_text(sim.consumer_secret)
    expect(page.get_by_label("B2C shortcode", exact=True)).to_contain_text(sim.shortcode)
    expect(page.get_by_label("Initiator name", exact=True)).to_contain_text(sim.initiator_name)
    expect(page.get_by_label("Initiator password", exact=True)).to_contain_text(sim.initiator_password)
    expect(page.get_by_label("Base URL", exact=True)).to_contain_text(sim.base_url)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download certificate (PEM)").click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == sim.certificate_pem()
    assert download.value.suggested_filename == "mpesa-sim-certificate.pem"


def _payment_run(sim, sink, recipients: list[str], count: int, per_second: float) -> None:
    token = sim.token()
    for index in range(count):
        body = b2c_body(sim, sink, recipients[index % len(recipients)], amount=100 + index % 7 * 50)
        sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)
        time.sleep(1 / per_second)


def test_live_payment_run_chart(sim, callback_sink, page):
    recipients = [unique_msisdn() for _ in range(12)]
    sim.seed(
        wallets=[{"msisdn": m, "first_name": "Run", "last_name": str(i)} for i, m in enumerate(recipients)]
    )
    recipients.append("254799000004")  # a demo line not registered for M-Pesa: ResultCode 2040
    sim.set_faults(transient_result={"rate": 0.12, "code": 17}, seed=11)
    open_console(page, sim)
    page.evaluate("window.__notReloaded = true")

    expect(page.get_by_role("checkbox", name="transient_result")).to_be_checked()  # set through the API
    _payment_run(sim, callback_sink, recipients, 60, 15)
    legend = page.get_by_role("list", name="Results by ResultCode")
    expect(legend.locator('[data-result-code="0"]')).to_contain_text(re.compile(r"ResultCode 0: [1-9]"))
    expect(legend.locator('[data-result-code="17"]')).to_be_visible()
    expect(legend.locator('[data-result-code="2040"]')).to_be_visible()
    requests_item = legend.get_by_role("listitem").first
    expect(requests_item).to_contain_text(re.compile(r"Requests accepted: \d+"))
    seen = int(re.search(r"\d+", requests_item.inner_text()).group())

    # More payments: the chart follows without a reload.
    _payment_run(sim, callback_sink, recipients, 40, 15)
    sim.drain()
    expect(requests_item).to_contain_text(re.compile(r"Requests accepted: \d+"))
    expect(requests_item).not_to_have_text(f"Requests accepted: {seen}", timeout=6000)
    assert page.evaluate("window.__notReloaded") is True
    drawn = page.evaluate(
        """() => {
            const c = document.getElementById('live-chart');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let green = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i] === 31 && d[i + 1] === 157 && d[i + 2] === 85) green++;
            }
            return green;
        }"""
    )
    assert drawn > 50, "no success bars drawn on the chart"
    expect(page.get_by_role("status").filter(has_text="requests,")).to_contain_text(re.compile(r"peak [1-9]"))
    # Switched off through the admin API: the console's switches follow.
    sim.reset_faults()
    expect(page.get_by_label("Current fault settings")).to_have_text("All faults off.")
    expect(page.get_by_role("checkbox", name="transient_result")).not_to_be_checked()
    expect(page.get_by_label("Seed (reproducible)")).to_have_value("")
    page.get_by_label("Window").select_option("1")
    page.wait_for_timeout(300)
    shoot(page, "console")


def test_ledger_times_carry_their_zone_and_the_tables_fit_1400_px(sim, new_wallet, callback_sink, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    msisdn = new_wallet()
    status, _ack, result = pay(sim, callback_sink, msisdn, amount=120)
    assert status == 200 and result
    open_console(page, sim)
    page.locator("#ledger-form").get_by_role("button", name="Filter").click()
    first_time = page.locator("#ledger-body tr td").nth(1)
    # Kenya time as the SMS says it, and UTC, the zone Odoo shows by default.
    expect(first_time).to_have_text(re.compile(r"^\d\d:\d\d:\d\d EAT \(\d\d:\d\d:\d\d UTC\)$"))
    eat, utc = re.findall(r"(\d\d):\d\d:\d\d", first_time.inner_text())
    assert (int(eat) - int(utc)) % 24 == 3
    for label in ("Transactions", "Callbacks", "Wallets"):
        table = page.get_by_role("table", name=label)
        overflow = table.evaluate("t => t.parentElement.scrollWidth - t.parentElement.clientWidth")
        assert overflow <= 1, f"the {label} table is cut off at 1400 px by {overflow} px"
    shoot(page, "console-1400px")


def test_statement_download(sim, new_wallet, callback_sink, page):
    msisdn = new_wallet()
    status, _ack, result = pay(sim, callback_sink, msisdn, amount=130)
    assert status == 200
    receipt = result["Result"]["TransactionID"]
    open_console(page, sim)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=3))).date().isoformat()  # Kenya's date
    expect(page.get_by_label("From", exact=True)).to_have_value(today)
    expect(page.get_by_label("To", exact=True)).to_have_value(today)
    name = re.compile(rf"^ORG_{sim.shortcode}_Utility Account_Completed_\d{{14}}\.(csv|xlsx)$")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert name.match(download.value.suggested_filename) and download.value.suggested_filename.endswith(
        ".csv"
    )
    with open(download.value.path(), encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith(f"Account Holder:,{sim.org_name}") and receipt in text
    expect(page.locator("#statement-message")).to_contain_text("Downloaded ORG_")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download Excel").click()
    assert name.match(download.value.suggested_filename) and download.value.suggested_filename.endswith(
        ".xlsx"
    )
    with zipfile.ZipFile(download.value.path()) as archive:
        assert receipt in archive.read("xl/worksheets/sheet1.xml").decode()
    # A period backwards is said so, and nothing is asked for.
    page.get_by_label("From", exact=True).fill("2026-02-02")
    page.get_by_label("To", exact=True).fill("2026-02-01")
    page.get_by_role("button", name="Download CSV").click()
    expect(page.locator("#statement-message")).to_contain_text("is after its end")
