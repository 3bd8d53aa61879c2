"""The organisation's Utility account statement, as the M-Pesa organisation portal exports it.

Read from the ledger's journal of the Utility account (``account_entries``: every change of the
balance with the balance after it, written in the transaction that made the change), so each
row's Balance is the real one and opening + paid in + withdrawn = closing holds by construction.
The layout (6 preamble rows, the 13-column header, newest first, dd-mm-yyyy Kenyan times,
Withdrawn negative) follows the portal's export; the Details and Reason Type of float and
reversal rows are the simulator's choice (not public).

CSV (UTF-8, comma separated, quoted where needed) or XLSX (the same cells as inline strings in
the first sheet, written with the standard library).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sqlite3
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape

from mpesa_sim import ledger, receipts
from mpesa_sim.shared import B2C_COMMANDS

ACCOUNT = "Utility Account"
OPERATOR = "mpesa-sim"  # the portal user who ran the report: the simulator has one
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
FLOAT_IN_DETAILS = "Funds Transfer from Working Account"
FLOAT_IN_REASON = "Organization Revenue Settlement"
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class StatementError(ValueError):
    pass


# -- the period ----------------------------------------------------------------------------------
def parse_bound(text: str | None, end: bool, today: dt.date) -> dt.datetime:
    """An ISO 8601 date or datetime as a Kenyan time, to the second.

    A naive time is Kenyan (EAT); one with an offset (``Z``, ``+00:00``) is converted. A date
    (or nothing: today) stands for its first second as a start and its last as an end.
    """
    raw = (text or "").strip()
    try:
        if not raw or re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = dt.date.fromisoformat(raw) if raw else today
            moment = dt.datetime.combine(day, dt.time(23, 59, 59) if end else dt.time(0, 0, 0))
            return moment.replace(tzinfo=receipts.KENYA)
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        moment = dt.datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=receipts.KENYA)
        return moment.astimezone(receipts.KENYA).replace(microsecond=0)
    except (ValueError, OverflowError):
        raise StatementError(
            f"not an ISO 8601 date or datetime: {text!r} (e.g. 2026-01-31 or 2026-01-31T08:00:00)"
        ) from None


def period(from_text: str | None, to_text: str | None) -> tuple[dt.datetime, dt.datetime]:
    today = receipts.now().date()
    start = parse_bound(from_text, False, today)
    end = parse_bound(to_text, True, today)
    if start > end:
        raise StatementError("from is after to")
    if end.year == dt.MAXYEAR:
        raise StatementError("to: a year before 9999")
    return start, end


def _key(moment: dt.datetime) -> str:
    """The prefix of the stored Kenyan ISO times that a bound compares with, to the second."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


def portal_time(moment: dt.datetime) -> str:
    return moment.astimezone(receipts.KENYA).strftime("%d-%m-%Y %H:%M:%S")


def _stored_time(text: str | None) -> str:
    return portal_time(receipts.parse_iso(text)) if text else ""


def amount(cents: int) -> str:
    """2 decimals, no thousands separator; negative with a minus sign."""
    sign = "-" if cents < 0 else ""
    return "%s%d.%02d" % (sign, abs(cents) // 100, abs(cents) % 100)


# -- the rows ------------------------------------------------------------------------------------
@dataclass
class Statement:
    org_name: str
    shortcode: str
    start: dt.datetime
    end: dt.datetime
    generated: dt.datetime
    opening_cents: int
    closing_cents: int
    paid_in_cents: int
    withdrawn_cents: int  # negative, as the Withdrawn column
    rows: list[list[str]]

    def cells(self) -> list[list[str]]:
        """Every row of the file: the 6 preamble rows, the header, the transactions."""
        return [
            ["Account Holder:", self.org_name],
            ["Short Code:", self.shortcode],
            ["Account:", ACCOUNT],
            ["Time Period:", "From", portal_time(self.start), "To", portal_time(self.end)],
            ["Operator:", OPERATOR, "Date of Report:", portal_time(self.generated)],
            [
                "Opening Balance:",
                amount(self.opening_cents),
                "Closing Balance:",
                amount(self.closing_cents),
                "Available Balance:",
                amount(self.closing_cents),
                "Total Paid In:",
                amount(self.paid_in_cents),
                "Total Withdrawn:",
                amount(self.withdrawn_cents),
            ],
            list(HEADER),
            *self.rows,
        ]

    def filename(self, fmt: str) -> str:
        stamp = self.generated.astimezone(receipts.KENYA).strftime("%Y%m%d%H%M%S")
        return f"ORG_{self.shortcode}_{ACCOUNT}_Completed_{stamp}.{fmt}"


_ROWS_SQL = """
SELECT e.id, e.amount_cents AS signed, e.balance_after_cents AS after, e.created_at AS completed,
       t.kind, t.receipt, t.created_at AS initiated, t.party_b, t.linked_receipt, t.request_json,
       CASE WHEN t.from_account = e.account_ref THEN t.to_account ELSE t.from_account END AS other,
       c.name AS other_name, p.receipt AS topup_receipt, p.created_at AS topup_at
FROM account_entries e
LEFT JOIN transactions t ON t.id = e.transaction_id
LEFT JOIN topups p ON p.id = e.topup_id
LEFT JOIN accounts c
       ON c.ref = CASE WHEN t.from_account = e.account_ref THEN t.to_account ELSE t.from_account END
WHERE e.account_ref = ? AND e.created_at >= ? AND e.created_at < ?
ORDER BY e.id DESC
"""


def build(conn: sqlite3.Connection, org: dict, start: dt.datetime, end: dt.datetime) -> Statement:
    """The statement of the completed Utility rows in [start, end] (to the second), newest first.

    Run it in one read transaction (``Database.snapshot``) so the balances are of one moment.
    """
    until = end.replace(microsecond=0) + dt.timedelta(seconds=1)
    entries = conn.execute(_ROWS_SQL, (ledger.UTILITY, _key(start), _key(until))).fetchall()
    if entries:
        oldest = entries[-1]
        opening = oldest["after"] - oldest["signed"]
        closing = entries[0]["after"]
    else:
        before = conn.execute(
            "SELECT balance_after_cents FROM account_entries WHERE account_ref = ? AND created_at < ?"
            " ORDER BY id DESC LIMIT 1",
            (ledger.UTILITY, _key(start)),
        ).fetchone()
        opening = closing = before["balance_after_cents"] if before else 0
    shortcode, org_name = org["shortcode"], org["org_name"]
    return Statement(
        org_name=org_name,
        shortcode=shortcode,
        start=start,
        end=end,
        generated=receipts.now(),
        opening_cents=opening,
        closing_cents=closing,
        paid_in_cents=sum(e["signed"] for e in entries if e["signed"] > 0),
        withdrawn_cents=sum(e["signed"] for e in entries if e["signed"] < 0),
        rows=[_row(e, shortcode, org_name) for e in entries],
    )


def _row(entry: sqlite3.Row, shortcode: str, org_name: str) -> list[str]:
    signed = entry["signed"]
    linked = ""
    if entry["kind"] is None:  # a top-up: float arriving in the Utility account
        receipt, initiated = entry["topup_receipt"], entry["topup_at"]
        details, reason, other = FLOAT_IN_DETAILS, FLOAT_IN_REASON, f"{shortcode} - {org_name}"
    else:
        receipt, initiated = entry["receipt"], entry["initiated"]
        party = entry["party_b"] or (entry["other"] or "").split(":", 1)[-1]
        name = (entry["other_name"] or "").upper()
        other = f"{party} - {name}" if name else party
        kind = entry["kind"]
        if kind == "b2c":
            command = json.loads(entry["request_json"] or "{}").get("CommandID")
            details = f"Business Payment to {other}"
            reason = B2C_COMMANDS.get(command, B2C_COMMANDS["BusinessPayment"])
        elif kind == "reversal":
            linked = entry["linked_receipt"] or ""
            details, reason = f"Reversal of {linked} from {other}", "Reversal"
        elif entry["other"] == ledger.WORKING:
            other = f"{shortcode} - {org_name}"
            details = FLOAT_IN_DETAILS if signed > 0 else "Funds Transfer to Working Account"
            reason = FLOAT_IN_REASON if signed > 0 else "Funds Transfer"
        else:
            details = ("Funds Transfer from " if signed > 0 else "Funds Transfer to ") + other
            reason = "Funds Transfer"
    return [
        receipt or "",
        _stored_time(entry["completed"]),
        _stored_time(initiated),
        details,
        "Completed",
        amount(signed) if signed > 0 else "",
        amount(signed) if signed < 0 else "",
        amount(entry["after"]),
        "true",
        reason,
        other,
        linked,
        "",
    ]


# -- the files -----------------------------------------------------------------------------------
def to_csv(statement: Statement) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(statement.cells())
    return out.getvalue().encode("utf-8")


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _sheet(rows: list[list[str]]) -> str:
    width = max(len(row) for row in rows)
    out = [
        _XML,
        f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{column_letter(width - 1)}{len(rows)}"/><sheetData>',
    ]
    for r, row in enumerate(rows, start=1):
        out.append(f'<row r="{r}">')
        for c, value in enumerate(row):
            if value == "":
                continue
            text = escape(_NOT_XML.sub("", value))
            out.append(
                f'<c r="{column_letter(c)}{r}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
            )
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out)


def to_xlsx(statement: Statement) -> bytes:
    """A minimal SpreadsheetML workbook: one sheet, every cell an inline string."""
    parts = {
        "[Content_Types].xml": _XML
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        "</Types>",
        "_rels/.rels": _XML + f'<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f'<sheets><sheet name="{ACCOUNT}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": _XML + f'<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
        "</Relationships>",
        "xl/styles.xml": _XML + f'<styleSheet xmlns="{_MAIN}">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>",
        "xl/worksheets/sheet1.xml": _sheet(statement.cells()),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8"))
    return out.getvalue()


def export(conn: sqlite3.Connection, org: dict, from_text: str | None, to_text: str | None, fmt: str):
    """(file bytes, filename, media type); StatementError on a bad period or format."""
    if fmt not in FORMATS:
        raise StatementError("format: csv or xlsx")
    start, end = period(from_text, to_text)
    statement = build(conn, org, start, end)
    data = to_csv(statement) if fmt == "csv" else to_xlsx(statement)
    return data, statement.filename(fmt), FORMATS[fmt]
