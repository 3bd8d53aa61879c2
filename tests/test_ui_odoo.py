"""The admin's and the cycle approver's path in the Odoo UI, through clicks only, in Debian's chromium.

Run by the Odoo suite (scripts/odoo_ui_stage.py sets up a real OpenG2P with this addon, the
simulator, a program of four registrants and a cycle waiting for approval, then runs this file
with the MPESA_UI_* variables). Without them every test here is skipped, and the Odoo suite says
so loudly. Screenshots of each step go to artifacts/screenshots/odoo-*.png.

The walk, in order (one test: each step needs the one before):
1. The admin opens the program, chooses M-Pesa as its payment manager (Configuration tab),
   fills in the simulator's settings, fetches its certificate and tests the connection.
2. The approver checks the M-Pesa payees: the US number is named before anything is approved.
   Approving asks for confirmation and names it; the approver approves anyway.
3. The approver prepares and sends the payments; the cycle's M-Pesa progress updates by itself
   (the bus) to 2 paid and 2 failed; the payments list shows receipts and reasons.
4. The unregistered beneficiary registers with M-Pesa; Prepare payments and Send again pay her.
5. The admin imports the day's statement (the simulator's portal export) from the manager's form:
   the notification, then the statement.

Then a new Kenyan program from scratch (README "A new program paid through M-Pesa, from scratch"),
at 1400x900: Create Program in KES, Pay with M-Pesa, what the manager's readiness list names done
one by one (Add to Program and Enroll, the approver group, a posted fund), the manager's dialog
buttons keeping the dialog, a cycle approved, prepared and sent, the payments paid with receipts
and summed in the list's footer, a reversal and the float that follows it. Screenshots
artifacts/screenshots/odoo-new-*.png (the README's are copies in docs/screenshots/).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

pytest.importorskip("playwright")
pytest.register_assert_rewrite("ui_support")

from playwright.sync_api import expect  # noqa: E402
from ui_support import shoot  # noqa: E402

pytest_plugins = ["ui_support"]  # the browser and page fixtures

ODOO = os.environ.get("MPESA_UI_ODOO_URL")
pytestmark = [
    pytest.mark.odoo_ui,
    pytest.mark.skipif(not ODOO, reason="no live Odoo (the Odoo suite's UI stage runs this file)"),
]
SETTINGS = json.loads(os.environ.get("MPESA_UI_SIM_SETTINGS") or "{}")
SIM = os.environ.get("MPESA_UI_SIM_URL")
WAIT = 60_000  # results arrive through the simulator's callbacks: seconds, not milliseconds


def step(page, name):
    shoot(page, f"odoo-{name}")


def sim_admin(method, path, body=None):
    request = urllib.request.Request(
        SIM + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {os.environ['MPESA_UI_SIM_ADMIN_TOKEN']}",
            "Content-Type": "application/json",
        },
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def sim_statement():
    """The simulator's organisation statement of the day as the portal exports it (CSV): up to a
    minute from now (Kenyan time, as the portal's period is)."""
    kenya = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=3)
    query = urllib.parse.urlencode(
        {"from": kenya.date().isoformat(), "to": (kenya + timedelta(minutes=1)).isoformat(), "format": "csv"}
    )
    request = urllib.request.Request(
        f"{SIM}/sim/admin/statement?{query}",
        headers={"Authorization": f"Bearer {os.environ['MPESA_UI_SIM_ADMIN_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def login(page):
    page.goto(f"{ODOO}/web/login?db={os.environ['MPESA_UI_ODOO_DB']}")
    page.locator("input[name=login]").fill("admin")
    page.locator("input[name=password]").fill("admin")
    page.locator("button[type=submit]").click()
    expect(page.locator(".o_main_navbar")).to_be_visible(timeout=WAIT)


def open_url(page, url):
    page.goto(url)
    expect(page.locator(".o_form_view").first).to_be_visible(timeout=WAIT)


def open_record(page, model, record_id):
    page.goto(f"{ODOO}/web#id={record_id}&model={model}&view_type=form")
    expect(page.locator(".o_form_view").first).to_be_visible(timeout=WAIT)


def field(scope, name):
    return scope.locator(f"div[name='{name}']").first


def fill(scope, name, value):
    box = field(scope, name).locator("input").first
    box.fill(str(value))
    box.press("Tab")


def press(scope, method):
    """Click the object button that calls `method` (what the user sees is its label)."""
    scope.locator(f"button[name='{method}']").first.click()


def click_button(scope, text):
    scope.get_by_role("button", name=text, exact=True).first.click()


def notification(page):
    return page.locator(".o_notification").last


def current_state(page):
    return page.locator(".o_statusbar_status .o_arrow_button_current").first.inner_text().strip()


def reload_until(page, condition, timeout=WAIT / 1000):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the page never showed what was expected (see the screenshot)")
        page.wait_for_timeout(1000)
        page.reload()
        expect(page.locator(".o_form_view").first).to_be_visible(timeout=WAIT)


def choose(scope, name, text):
    """A many2one: type, then pick the suggestion."""
    box = field(scope, name).locator("input").first
    box.fill(text)
    page = getattr(scope, "page", scope)
    page.locator(".o-autocomplete--dropdown-item", has_text=text).first.click()
    expect(box).to_have_value(re.compile(re.escape(text)))


def money(text):
    """'KES 9,998,000.00' -> Decimal('9998000.00')."""
    return Decimal(re.search(r"[\d,]+\.\d\d", text).group().replace(",", ""))


def save(page):
    button = page.locator(".o_form_view .o_form_button_save").first
    if button.is_visible():  # only when something changed
        button.click()
        expect(button).to_be_hidden(timeout=WAIT)


def test_admin_and_approver_pay_a_cycle_through_mpesa(page):
    page.context.set_default_timeout(20_000)
    login(page)
    program_id, cycle_id = os.environ["MPESA_UI_PROGRAM_ID"], os.environ["MPESA_UI_CYCLE_ID"]

    # 1. The admin chooses M-Pesa on the program form and configures it.
    open_record(page, "g2p.program", program_id)
    page.get_by_role("tab", name="Configuration").click()
    managers = field(page, "payment_managers")
    managers.locator("td[name='manager_ref_id']").first.click()
    managers.locator("select").first.select_option(label="M-Pesa")
    name_box = managers.locator("input.o-autocomplete--input").first
    name_box.fill("M-Pesa (walk)")
    page.locator(".o-autocomplete--dropdown-item", has_text="Create and edit").first.click()
    dialog = page.locator(".modal-dialog").last
    expect(field(dialog, "base_url")).to_be_visible()
    step(page, "1-new-mpesa-manager")
    dialog.locator(
        ".o_form_button_save, button:has-text('Save & Close'), button:has-text('Save')"
    ).first.click()
    expect(page.locator(".modal-dialog")).to_have_count(0, timeout=WAIT)
    save(page)
    # Configured on its own form (Programs > Configuration > Managers > M-Pesa Payment Managers).
    page.goto(f"{ODOO}/web#action=g2p_payment_mpesa.action_payment_manager_mpesa")
    expect(page.locator(".o_breadcrumb")).to_contain_text("M-Pesa Payment Managers", timeout=WAIT)
    page.locator(".o_list_view td[name='name']", has_text="M-Pesa (walk)").last.click()  # the newest
    expect(field(page, "base_url")).to_be_visible(timeout=WAIT)
    fill(page, "base_url", SIM)
    for name in ("consumer_key", "consumer_secret", "shortcode", "initiator_name", "initiator_password"):
        fill(page, name, SETTINGS[name])
    save(page)
    press(page, "action_fetch_simulator_certificate")
    expect(notification(page)).to_contain_text("Certificate fetched")
    press(page, "action_test_connection")
    expect(notification(page)).to_contain_text("Connected")
    # The float arrives with M-Pesa's balance callback, a moment later: the form shows it on reload.
    reload_until(page, lambda: "KES " in field(page, "float_utility_display").inner_text())
    expect(field(page, "callback_url_masked")).to_contain_text("/***/")
    step(page, "2-manager-configured")

    # 2. The approver checks the payees, then approves (asked to confirm the one M-Pesa refuses).
    open_record(page, "g2p.cycle", cycle_id)
    press(page, "action_mpesa_check_payees")
    dialog = page.locator(".modal-dialog").last
    expect(dialog).to_contain_text("1 of 4 would be refused by M-Pesa")
    expect(dialog).to_contain_text("Mary")
    step(page, "3-check-payees")
    click_button(dialog, "Close")
    press(page, "approve")
    dialog = page.locator(".modal-dialog").last
    expect(dialog).to_contain_text("Approving now approves them too")
    step(page, "4-approve-asks")
    press(dialog, "action_proceed")
    confirm = page.locator(".modal-dialog").last
    click_button(confirm, "Ok")
    reload_until(page, lambda: current_state(page) == "Approved")

    # 3. Prepare and send; the progress updates itself (no reload).
    press(page, "prepare_payment")
    expect(page.locator("button[name='send_payment']").first).to_be_visible(timeout=WAIT)
    press(page, "send_payment")
    progress = page.locator("div[name='mpesa_progress']")
    expect(field(progress, "mpesa_paid_count")).to_have_text("2", timeout=WAIT)
    expect(field(progress, "mpesa_failed_count")).to_have_text("2", timeout=WAIT)
    expect(field(progress, "mpesa_in_flight_count")).to_have_text("0", timeout=WAIT)
    step(page, "5-cycle-progress")
    page.locator("button[name='open_payments_form']").click()
    rows = page.locator(".o_list_view .o_data_row")
    expect(rows).to_have_count(4, timeout=WAIT)
    for name, column, expected in (
        ("Amina", "mpesa_receipt", re.compile(r"^[A-Z][A-L][1-9A-V][A-Z0-9]{7}$")),  # M-Pesa's receipt
        ("Faith", "mpesa_result_desc", re.compile("Unregistered")),  # M-Pesa's 2040
        ("Mary", "mpesa_result_desc", re.compile("not Kenyan")),  # refused before sending
    ):
        cell = rows.filter(has_text=name).first.locator(f"td[name='{column}']")
        expect(cell).to_have_text(expected)
    # At 1400 px the M-Pesa state, receipt and result are in view, not cut off.
    for column in ("mpesa_state", "mpesa_receipt", "mpesa_result_desc"):
        box = page.locator(f".o_list_view th[data-name='{column}']").first.bounding_box()
        assert box and box["x"] + box["width"] <= 1400 and box["width"] >= 40, (column, box)
    step(page, "6-payments-list")

    # 4. Faith registers with M-Pesa; OpenG2P's own flow pays her: Prepare, then Send again.
    sim_admin("POST", "/sim/admin/seed", {"wallets": [{"msisdn": "254799000004", "registered": True}]})
    open_record(page, "g2p.cycle", cycle_id)
    press(page, "prepare_payment")
    press(page, "send_payment")
    progress = page.locator("div[name='mpesa_progress']")
    expect(field(progress, "mpesa_paid_count")).to_have_text("3", timeout=WAIT)
    step(page, "7-failed-payment-paid-again")

    # 5. The day's M-Pesa statement, imported from the manager's form (the file goes up as it is,
    # with its progress): the summary in a notification, then the statement.
    page.goto(f"{ODOO}/web#action=g2p_payment_mpesa.action_payment_manager_mpesa")
    page.locator(".o_list_view td[name='name']", has_text="M-Pesa (walk)").last.click()
    press(page, "action_mpesa_import_statement")
    dialog = page.locator(".modal-dialog").last
    expect(dialog.locator(".modal-title")).to_have_text("Import M-Pesa statement")
    expect(dialog).to_contain_text("M-Pesa organisation portal")
    importer = dialog.locator("button.o_mpesa_statement_import")
    expect(importer).to_be_disabled()
    name = "ORG_600000_Utility Account_Completed_walk.csv"
    dialog.locator("input.o_mpesa_statement_file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": sim_statement()}]
    )
    step(page, "8-statement-chosen")
    importer.click()
    expect(notification(page)).to_contain_text("M-Pesa statement imported", timeout=WAIT)
    expect(page.locator(".modal-dialog")).to_have_count(0)
    expect(page.locator(".o_breadcrumb")).to_contain_text(name)
    expect(field(page, "line_count")).not_to_have_text("0")
    step(page, "9-statement-imported")


def pay_with_mpesa(page, program):
    """The program's header button: its own M-Pesa manager, in a dialog."""
    page.locator("button[name='action_mpesa_pay_with_mpesa']").click()
    dialog = page.locator(".modal-dialog").last
    expect(dialog.locator(".modal-title")).to_have_text(f"M-Pesa payment manager of {program}")
    return dialog


def close_dialog(page, dialog):
    dialog.locator(".modal-header .btn-close").click()
    expect(page.locator(".modal-dialog")).to_have_count(0)


def test_a_new_kenyan_program_from_scratch_paid_through_mpesa(page):
    """README "A new program paid through M-Pesa, from scratch": clicks only, at 1400x900.

    The admin makes a program in KES, chooses M-Pesa with the program's button, and does what
    the manager's readiness list says until it is empty (Add to Program and Enroll, the approver
    group, a posted fund); the manager dialog's buttons keep the dialog and say what they did,
    its float follows the money live (payments, a reversal). Then a cycle: approve, prepare, send;
    the payments end paid with M-Pesa's receipts, their amounts summed in the list's footer."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.context.set_default_timeout(20_000)
    program = os.environ.get("MPESA_UI_NEW_PROGRAM", "Kenya Cash Transfer")
    login(page)

    # 1. Programs > Create Program: Individual, KES, 1,000 a cycle, entitlements approved with it.
    page.goto(f"{ODOO}/web#action=g2p_programs.action_program_list")
    click_button(page, "Create Program")
    wizard = page.locator(".modal-dialog").last
    fill(wizard, "name", program)
    field(wizard, "target_type").get_by_text("Individual").click()
    choose(wizard, "currency_id", "KES")
    wizard.get_by_role("tab", name="Configure the Cycle Manager").click()
    field(wizard, "auto_approve_entitlements").locator("input").check()
    wizard.get_by_role("tab", name="Configure the Entitlement Manager").click()
    fill(wizard, "amount_per_cycle", 1000)
    step(page, "new-1-create-program")
    press(wizard, "create_program")
    expect(page.locator(".o_form_view h1 input, .o_form_view h1 span").first).to_have_value(program)

    expect(page).to_have_url(re.compile(r"[#&]id=\d+.*model=g2p\.program\b|model=g2p\.program&.*id=\d+"))
    program_url = page.url

    # 2. Pay with M-Pesa: the program's own manager, and what is still missing.
    dialog = pay_with_mpesa(page, program)
    readiness = dialog.locator(".o_mpesa_readiness")
    for missing in ("No beneficiary is enrolled", "No cycle approver group", "no posted fund",
                    "M-Pesa settings missing"):  # fmt: skip
        expect(readiness).to_contain_text(missing)
    step(page, "new-2-pay-with-mpesa")

    # 3. The manager, in the dialog: the simulator's settings, its key, the connection. Each button
    #    keeps the dialog and says what it did; the float arrives by itself (the bus).
    field(dialog, "environment").locator("select").select_option(label="Simulator")
    fill(dialog, "base_url", SIM)
    for name in ("consumer_key", "consumer_secret", "shortcode", "initiator_name", "initiator_password"):
        fill(dialog, name, SETTINGS[name])
    press(dialog, "action_fetch_simulator_certificate")
    expect(notification(page)).to_contain_text("Certificate fetched")
    expect(dialog).to_be_visible()
    expect(field(dialog, "certificate").locator("input[type=text]")).to_have_value("sim.pem")  # shown again
    expect(readiness).not_to_contain_text("M-Pesa settings missing")
    press(dialog, "action_test_connection")
    expect(notification(page)).to_contain_text("Connected")
    expect(dialog).to_be_visible()
    expect(field(dialog, "float_utility_display")).to_contain_text("KES ", timeout=WAIT)
    float_before = money(field(dialog, "float_utility_display").inner_text())
    step(page, "new-3-manager-set-up")
    # A button that opens a dialog of its own: its Close leads back to the manager's dialog.
    press(dialog, "action_show_callback_url")
    expect(page.locator(".modal-title").last).to_have_text("Callback URL")
    press(page.locator(".modal-dialog").last, "action_close")  # the footer's Close
    dialog = page.locator(".modal-dialog").last
    expect(dialog.locator(".modal-title")).to_have_text(f"M-Pesa payment manager of {program}")
    expect(field(dialog, "float_utility_display")).to_contain_text("KES ")
    close_dialog(page, dialog)

    # 4. What the list says. Enrolment: Registry > Individuals, Add to Program, then Enroll.
    page.goto(f"{ODOO}/web#action=g2p_registry_individual.action_individuals_list")
    rows = page.locator(".o_list_view .o_data_row")
    for name in ("Amina", "Peter"):
        rows.filter(has_text=name).first.locator(".o_list_record_selector input").check()
    page.locator(".o_cp_action_menus button", has_text="Actions").click()
    page.locator(".o-dropdown--menu .dropdown-item", has_text="Add to Program").click()
    wizard = page.locator(".modal-dialog").last
    choose(wizard, "program_id", program)
    step(page, "new-4-add-to-program")
    press(wizard, "assign_registrant")
    expect(notification(page)).to_contain_text("Newly added:2")
    open_url(page, program_url)
    press(page, "enroll_eligible_registrants")
    beneficiaries = page.locator("button[name='open_eligible_beneficiaries_form'] .o_stat_value")
    reload_until(page, lambda: beneficiaries.inner_text().strip() == "2")

    # The approver group: Configuration > Cycle Manager, its form.
    page.get_by_role("tab", name="Configuration").click()
    field(page, "cycle_managers").locator("button[name='open_manager_form']").first.click()
    manager = page.locator(".modal-dialog", has=page.locator("div[name='approver_group_id']"))
    choose(manager, "approver_group_id", "Cycle Approver")
    step(page, "new-5-approver-group")
    click_button(manager, "Save")
    expect(page.locator(".modal-dialog")).to_have_count(0)

    # A posted fund: Programs > Accounting > Program Funds, New, Post.
    page.goto(f"{ODOO}/web#action=g2p_programs.action_program_fund")
    page.locator(".o_list_button_add:visible").click()
    choose(page, "program_id", program)
    fill(page, "amount", 50000)
    save(page)
    press(page, "post_fund")
    expect(page.locator(".o_statusbar_status .o_arrow_button_current").first).to_have_text("Posted")
    step(page, "new-6-fund-posted")

    # Nothing is missing any more.
    open_url(page, program_url)
    dialog = pay_with_mpesa(page, program)
    expect(field(dialog, "name")).to_be_visible()
    expect(dialog.locator(".o_mpesa_readiness")).to_have_count(0)
    field(dialog, "float_utility_display").scroll_into_view_if_needed()
    step(page, "new-7-ready")
    close_dialog(page, dialog)

    # 5. A cycle: beneficiaries, entitlements, approval (OpenG2P's checks pass: M-Pesa asks nothing
    #    as every payee can be paid), payments prepared and sent; the progress updates itself.
    press(page, "create_new_cycle")
    expect(notification(page)).to_contain_text("created")
    press(page, "open_cycles_form")
    expect(page.locator(".o_breadcrumb .active")).to_have_text("Cycles")
    page.locator(".o_list_view .o_data_row td[name='name']").first.click()
    expect(page.locator("button[name='prepare_entitlement']")).to_be_visible()
    expect(field(page, "members_count")).to_have_text("2")  # the enrolled, copied in by OpenG2P
    press(page, "prepare_entitlement")
    reload_until(page, lambda: page.locator("button[name='to_approve']").is_visible())
    press(page, "to_approve")
    reload_until(page, lambda: current_state(page) == "To Approve")
    press(page, "approve")
    reload_until(page, lambda: current_state(page) == "Approved")
    step(page, "new-8-cycle-approved")
    press(page, "prepare_payment")
    expect(page.locator("button[name='send_payment']").first).to_be_visible(timeout=WAIT)
    press(page, "send_payment")
    progress = page.locator("div[name='mpesa_progress']")
    expect(field(progress, "mpesa_paid_count")).to_have_text("2", timeout=WAIT)
    expect(field(progress, "mpesa_in_flight_count")).to_have_text("0", timeout=WAIT)
    step(page, "new-9-cycle-paid")
    cycle_url = page.url

    # 6. The payments: M-Pesa's receipts, the amounts summed in the footer (not "—"), M-Pesa's
    #    words in full (wrapped, not cut off).
    page.locator("button[name='open_payments_form']").click()
    rows = page.locator(".o_list_view .o_data_row")
    expect(rows).to_have_count(2, timeout=WAIT)
    for name in ("Amina", "Peter"):
        cell = rows.filter(has_text=name).first.locator("td[name='mpesa_receipt']")
        expect(cell).to_have_text(re.compile(r"^[A-Z][A-L][1-9A-V][A-Z0-9]{7}$"))
    footer = page.locator(".o_list_view tfoot")
    expect(footer).to_contain_text("2,000.00")
    expect(footer).not_to_contain_text("—")
    for cell in page.locator(".o_list_view td[name='mpesa_result_desc']").all():
        assert cell.evaluate("td => td.scrollWidth <= td.clientWidth"), cell.inner_text()
    step(page, "new-10-payments")

    # 7. The manager's float followed the payments; a reversal moves it back (live in the dialog).
    open_url(page, program_url)
    dialog = pay_with_mpesa(page, program)
    float_shown = field(dialog, "float_utility_display")
    expect(float_shown).to_have_text(f"KES {float_before - 2000:,.2f}", timeout=WAIT)
    close_dialog(page, dialog)
    open_url(page, cycle_url)
    page.locator("button[name='open_payments_form']").click()
    rows.filter(has_text="Amina").first.locator(".o_list_record_selector input").check()
    page.locator(".o_cp_action_menus button", has_text="Actions").click()
    page.locator(".o-dropdown--menu .dropdown-item", has_text="Reverse M-Pesa payment").click()
    wizard = page.locator(".modal-dialog", has=page.locator("div[name='reason']"))
    wizard.locator("div[name='reason'] textarea").fill("Paid twice by mistake (UI walk)")
    press(wizard, "action_reverse")
    click_button(page.locator(".modal-dialog").last, "Ok")
    expect(notification(page)).to_contain_text("asked to reverse 1 payment")
    expect(page.locator(".modal-dialog")).to_have_count(0)
    open_url(page, program_url)
    dialog = pay_with_mpesa(page, program)
    expect(field(dialog, "float_utility_display")).to_have_text(
        f"KES {float_before - 1000:,.2f}", timeout=WAIT
    )
    field(dialog, "float_utility_display").scroll_into_view_if_needed()
    step(page, "new-11-float-after-reversal")
