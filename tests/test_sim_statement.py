"""The Utility account statement export (the org portal's CSV and XLSX) read from the ledger."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from conftest import b2c_body, pay
from test_sim_reversal import reverse

EAT = dt.timezone(dt.timedelta(hours=3))
HEADER = [
    "Receipt No.",
    "Completion Time",
    "Initiation Time",
    "Details",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Balance",
    "Balance Confirmed",
    "Reason Type",
    "Other Party Info",
    "Linked Transaction ID",
    "A/C No.",
]
FILENAME = re.compile(r'^attachment; filename="ORG_(\d+)_Utility Account_Completed_(\d{14})\.(csv|xlsx)"$')
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def export(sim, token: str | None = "admin", **query) -> tuple[int, dict, bytes]:
    """GET /sim/admin/statement: (status, headers, body)."""
    query = {("from" if k == "from_" else k): v for k, v in query.items() if v is not None}
    url = sim.base_url + "/sim/admin/statement" + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {"Authorization": f"Bearer {sim.admin_token}"} if token == "admin" else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def csv_rows(sim, **query) -> list[list[str]]:
    status, headers, body = export(sim, format="csv", **query)
    assert status == 200, body
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert FILENAME.match(headers["content-disposition"]), headers["content-disposition"]
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def xlsx_rows(body: bytes) -> list[list[str]]:
    """The first sheet's cells, read with zipfile + ElementTree (every cell an inline string)."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = set(archive.namelist())
        assert {
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
        } <= names
        assert "xl/worksheets/sheet1.xml" in names
        types = archive.read("[Content_Types].xml").decode()
        assert "spreadsheetml.sheet.main+xml" in types and "spreadsheetml.worksheet+xml" in types
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        assert [s.get("name") for s in workbook.iter(MAIN + "sheet")] == ["Utility Account"]
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows = []
    for r_index, row in enumerate(sheet.iter(MAIN + "row"), start=1):
        assert row.get("r") == str(r_index)
        cells: list[str] = []
        for cell in row.iter(MAIN + "c"):
            assert cell.get("t") == "inlineStr"
            ref = re.fullmatch(r"([A-Z]+)(\d+)", cell.get("r"))
            assert ref and ref[2] == str(r_index)
            assert len(ref[1]) == 1  # 13 columns at most
            column = ord(ref[1]) - ord("A")
            cells += [""] * (column - len(cells))
            cells.append("".join(t.text or "" for t in cell.iter(MAIN + "t")))
        rows.append(cells)
    return rows


def cents(text: str) -> int:
    return int(Decimal(text.replace(",", "")) * 100) if text else 0


def preamble_amounts(rows) -> dict:
    row = rows[5]
    return {row[i].rstrip(":"): cents(row[i + 1]) for i in range(0, len(row), 2)}


def check_balances(rows) -> dict:
    """Every row's Balance follows from the one before it; opening + in + out = closing."""
    assert rows[6] == HEADER
    amounts = preamble_amounts(rows)
    running = amounts["Opening Balance"]
    paid_in = withdrawn = 0
    for row in reversed(rows[7:]):  # oldest first
        assert len(row) == 13 and row[4] == "Completed" and row[8] == "true"
        assert bool(row[5]) != bool(row[6]), row  # one of Paid In / Withdrawn
        assert not row[6] or row[6].startswith("-")
        paid_in += cents(row[5])
        withdrawn += cents(row[6])
        running += cents(row[5]) + cents(row[6])
        assert cents(row[7]) == running, row
    assert running == amounts["Closing Balance"] == amounts["Available Balance"]
    assert amounts["Total Paid In"] == paid_in and amounts["Total Withdrawn"] == withdrawn
    return amounts


def utility(sim) -> int:
    return sim.admin("GET", "/sim/admin/accounts?kind=org_utility")[1][0]["balance_cents"]


def next_second() -> dt.datetime:
    """Wait for the next whole second (Kenyan time) and return it: what happens from now is after it."""
    now = dt.datetime.now(EAT)
    start = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    time.sleep((start - now).total_seconds())
    return start


def portal(moment: dt.datetime) -> str:
    return moment.astimezone(EAT).strftime("%d-%m-%Y %H:%M:%S")


def test_statement_rows_balances_and_preamble(fresh_sim, callback_sink, new_wallet):
    sim = fresh_sim
    jane = new_wallet(sim, first_name="Jane", last_name="Doe")
    ali = new_wallet(sim, first_name="Ali", last_name="Hassan")
    start = next_second()
    opening = utility(sim)
    assert opening == 10_000_000_00  # the demo float; the agent's float came from the Working account
    _, _, first = pay(sim, callback_sink, jane, 1500)
    _, _, second = pay(sim, callback_sink, ali, 700, CommandID="SalaryPayment")
    _, _, refused = pay(sim, callback_sink, "254799000004", 100)  # not registered: 2040, no row
    assert refused["Result"]["ResultCode"] == 2040
    assert sim.admin("POST", "/sim/admin/float/topup", {"account": "utility", "amount": 1000})[0] == 200
    assert sim.admin("POST", "/sim/admin/float/topup", {"account": "working", "amount": 50})[0] == 200
    _, _, reversal = reverse(sim, callback_sink, first["Result"]["TransactionID"], 1500)
    sim.drain()
    receipt_1, receipt_2 = first["Result"]["TransactionID"], second["Result"]["TransactionID"]
    reversal_receipt = reversal["Result"]["TransactionID"]

    rows = csv_rows(sim, from_=start.strftime("%Y-%m-%dT%H:%M:%S"))
    today = portal(start)[:10]
    assert rows[0] == ["Account Holder:", sim.org_name]
    assert rows[1] == ["Short Code:", sim.shortcode]
    assert rows[2] == ["Account:", "Utility Account"]
    assert rows[3] == ["Time Period:", "From", portal(start), "To", f"{today} 23:59:59"]
    assert rows[4][0] == "Operator:" and rows[4][2] == "Date of Report:"
    reported = dt.datetime.strptime(rows[4][3], "%d-%m-%Y %H:%M:%S").replace(tzinfo=EAT)
    assert abs((reported - dt.datetime.now(EAT)).total_seconds()) < 30
    amounts = check_balances(rows)
    closing = opening - 150000 - 70000 + 100000 + 150000
    assert amounts["Opening Balance"] == opening and amounts["Closing Balance"] == closing == utility(sim)
    assert amounts["Total Paid In"] == 250000 and amounts["Total Withdrawn"] == -220000

    body = rows[7:]
    rev, topup, salary, business = body  # newest first
    assert (rev[0], salary[0], business[0]) == (reversal_receipt, receipt_2, receipt_1)
    assert rev[3:] == [
        f"Reversal of {receipt_1} from {jane} - JANE DOE",
        "Completed",
        "1500.00",
        "",
        "%d.%02d" % divmod(closing, 100),
        "true",
        "Reversal",
        f"{jane} - JANE DOE",
        receipt_1,
        "",
    ]
    assert re.fullmatch(r"[A-Z][A-L][1-9A-V][A-Z0-9]{7}", topup[0])
    assert topup[3] == "Funds Transfer from Working Account" and topup[5] == "1000.00" and topup[6] == ""
    assert topup[9] == "Organization Revenue Settlement" and topup[11] == ""
    assert salary[3] == f"Business Payment to {ali} - ALI HASSAN" and salary[6] == "-700.00"
    assert salary[9] == "Salary Payment via API" and salary[10] == f"{ali} - ALI HASSAN"
    assert business[3] == f"Business Payment to {jane} - JANE DOE" and business[6] == "-1500.00"
    assert business[9] == "Business Payment to Customer via API" and business[11] == ""
    assert business[7] == "%d.%02d" % divmod(opening - 150000, 100)
    # The Completion Time is the callback's TransactionCompletedDateTime, in the portal's format.
    completed = {p["Key"]: p["Value"] for p in first["Result"]["ResultParameters"]["ResultParameter"]}
    assert business[1] == completed["TransactionCompletedDateTime"].replace(".", "-")
    for row in body:
        assert start <= dt.datetime.strptime(row[1], "%d-%m-%Y %H:%M:%S").replace(tzinfo=EAT) <= reported
        assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d", row[2])
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]

    # Today by default, from its first second: the initial float of this new database is in it.
    rows = csv_rows(sim)
    assert rows[3][2:] == [f"{today} 00:00:00", "To", f"{today} 23:59:59"]
    assert preamble_amounts(rows)["Opening Balance"] == 0
    assert rows[-1][3] == "Funds Transfer from Working Account" and rows[-1][5] == "10000000.00"
    check_balances(rows)


def test_xlsx_has_the_csv_cells(sim, callback_sink, new_wallet):
    start = next_second()
    pay(sim, callback_sink, new_wallet(), 120)
    sim.drain()
    query = {"from_": start.isoformat(), "to": dt.datetime.now(EAT).date().isoformat()}
    status, headers, body = export(sim, format="xlsx", **query)
    assert status == 200
    assert headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    match = FILENAME.match(headers["content-disposition"])
    assert match and match[1] == sim.shortcode and match[3] == "xlsx"
    from_xlsx = xlsx_rows(body)
    from_csv = csv_rows(sim, **query)
    del from_xlsx[4][3], from_csv[4][3]  # the Date of Report: the two files were made apart
    assert len(from_xlsx) >= 8
    # The same cells; an empty one is simply absent from the sheet.
    assert [_rstrip(row) for row in from_xlsx] == [_rstrip(row) for row in from_csv]
    check_balances(from_xlsx[:7] + [row + [""] * (13 - len(row)) for row in from_xlsx[7:]])


def _rstrip(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


def _openpyxl_python() -> str | None:
    for python in (os.environ.get("OPENPYXL_PYTHON"), sys.executable, "/opt/openg2p/venv/bin/python"):
        if python and (os.path.exists(python) or shutil.which(python)):
            probe = subprocess.run([python, "-c", "import openpyxl"], capture_output=True)
            if probe.returncode == 0:
                return python
    return None


def test_xlsx_opens_in_openpyxl(sim, tmp_path):
    python = _openpyxl_python()
    if python is None:
        pytest.skip(
            "*** no Python with openpyxl (set OPENPYXL_PYTHON): the XLSX was not opened in openpyxl ***"
        )
    status, _headers, body = export(sim, format="xlsx")
    assert status == 200
    path = tmp_path / "statement.xlsx"
    path.write_bytes(body)
    script = (
        "import sys, openpyxl\n"
        "ws = openpyxl.load_workbook(sys.argv[1]).worksheets[0]\n"
        "rows = list(ws.iter_rows(values_only=True))\n"
        "assert rows[0][0] == 'Account Holder:' and rows[6][0] == 'Receipt No.', rows[:7]\n"
        "print(len(rows))\n"
    )
    done = subprocess.run([python, "-W", "error", "-c", script, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 7


def test_period_bounds_dates_datetimes_and_zones(sim, callback_sink, new_wallet):
    msisdn = new_wallet()
    _, ack, result = pay(sim, callback_sink, msisdn, 210)
    receipt = result["Result"]["TransactionID"]
    [txn] = sim.transactions(originator_conversation_id=ack["OriginatorConversationID"])
    done = dt.datetime.fromisoformat(txn["finalised_at"]).replace(microsecond=0)  # Kenyan time
    as_utc = done.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def receipts_in(**query):
        return [r[0] for r in csv_rows(sim, **query)[7:]]

    # The same second given in UTC (Z), with an offset and naive (Kenyan): the period is inclusive.
    assert receipt in receipts_in(from_=as_utc, to=as_utc)
    assert receipt in receipts_in(from_=done.isoformat(), to=done.isoformat())
    naive = done.replace(tzinfo=None).isoformat()
    rows = csv_rows(sim, from_=naive, to=naive)
    assert receipt in [r[0] for r in rows[7:]]
    assert rows[3] == ["Time Period:", "From", portal(done), "To", portal(done)]
    later = (done + dt.timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert receipt not in receipts_in(from_=later)
    earlier = (done - dt.timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert receipt not in receipts_in(from_=earlier, to=earlier)
    # A naive time is Kenyan: the same wall-clock time read as UTC is three hours later.
    assert receipt not in receipts_in(from_=naive + "Z", to=naive + "Z")
    day = done.date().isoformat()
    assert receipt in receipts_in(from_=day, to=day)


def test_periods_without_rows(sim, callback_sink, new_wallet):
    pay(sim, callback_sink, new_wallet(), 100)
    sim.drain()
    rows = csv_rows(sim, from_="2001-01-01", to="2001-01-31")
    assert rows[7:] == [] and rows[3][2:] == ["01-01-2001 00:00:00", "To", "31-01-2001 23:59:59"]
    amounts = check_balances(rows)
    assert amounts["Opening Balance"] == amounts["Closing Balance"] == 0  # before the database was made
    tomorrow = (dt.datetime.now(EAT) + dt.timedelta(days=2)).date().isoformat()
    rows = csv_rows(sim, from_=tomorrow, to=tomorrow)
    assert rows[7:] == []
    assert check_balances(rows)["Closing Balance"] == utility(sim)


@pytest.mark.parametrize(
    "query",
    [
        {"from_": "yesterday"},
        {"to": "2026-13-01"},
        {"from_": "2026-02-02", "to": "2026-02-01"},
        {"format": "pdf"},
        {"to": "9999-12-31"},
        {"from_": "2026-01-01T25:00:00"},
    ],
)
def test_bad_requests(sim, query):
    status, _headers, body = export(sim, **query)
    assert status == 400, body


def test_admin_token_required(sim):
    status, _headers, _body = export(sim, token=None)
    assert status == 401


def test_balances_stay_right_under_concurrent_payments_and_top_ups(sim, callback_sink, new_wallet):
    wallets = [new_wallet() for _ in range(6)]
    start = next_second()
    token = sim.token()

    def send(index: int) -> None:
        if index % 7 == 3:
            sim.admin("POST", "/sim/admin/float/topup", {"account": "utility", "amount": 10 + index})
        else:
            body = b2c_body(sim, callback_sink, wallets[index % len(wallets)], 10 + index % 13)
            sim.call("POST", "/mpesa/b2c/v3/paymentrequest", json=body, token=token)

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(send, range(120)))
    sim.drain(30)
    rows = csv_rows(sim, from_=start.isoformat())
    amounts = check_balances(rows)
    assert amounts["Closing Balance"] == utility(sim)
    assert len(rows) - 7 >= 120  # every payment (all succeed) and top-up, and nothing else of ours
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]


def test_a_database_made_before_the_journal_is_upgraded(fresh_sim, callback_sink, new_wallet):
    sim = fresh_sim
    msisdn = new_wallet(sim)
    receipts = [
        pay(sim, callback_sink, msisdn, amount)[2]["Result"]["TransactionID"] for amount in (100, 250)
    ]
    sim.admin("POST", "/sim/admin/float/topup", {"account": "utility", "amount": 75})
    sim.drain()
    sim.stop()
    # What an older simulator left: no journal, no top-up receipts, none of the new columns.
    with sqlite3.connect(sim.db_path) as conn:
        conn.execute("DROP TABLE account_entries")
        conn.execute("DROP INDEX topups_receipt")
        conn.execute("ALTER TABLE topups DROP COLUMN receipt")
        for column in ("linked_receipt", "reversed_by", "silent"):
            conn.execute(f"ALTER TABLE transactions DROP COLUMN {column}")
    sim.start()
    check = sim.admin("GET", "/sim/admin/ledger/check")[1]
    assert check["journal_ok"] and check["ok"], check
    rows = csv_rows(sim)
    amounts = check_balances(rows)
    assert amounts["Opening Balance"] == 0 and amounts["Closing Balance"] == utility(sim)
    assert [r[0] for r in rows[7:] if r[6]] == receipts[::-1]
    assert all(re.fullmatch(r"[A-Z0-9]{10}", r[0]) for r in rows[7:])  # top-ups got receipts
    # And it goes on from there: a payment and a reversal after the upgrade.
    _, _, result = pay(sim, callback_sink, msisdn, 40)
    reverse(sim, callback_sink, receipts[0], 100)
    rows = csv_rows(sim)
    assert rows[8][0] == result["Result"]["TransactionID"] and rows[7][11] == receipts[0]
    assert check_balances(rows)["Closing Balance"] == utility(sim)
    assert sim.admin("GET", "/sim/admin/ledger/check")[1]["ok"]
