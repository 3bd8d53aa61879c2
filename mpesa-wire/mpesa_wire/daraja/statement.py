"""M-Pesa organisation portal statements (CSV or XLSX) read into lines of cents.

The portal (org.ke.m-pesa.com) exports an account as ``ORG_<shortcode>_Utility
Account_Completed_<YYYYMMDDHHMMSS>.csv`` (or Excel): six preamble rows (Account Holder, Short
Code, Account, Time Period, Operator, Opening/Closing Balance), then a header row starting with
``Receipt No.`` and one row per transaction. Nothing of this is published by Safaricom; the layout
is the one real parsers of these files agree on (README, *Reconciling with M-Pesa*). So the reader
is lenient where files are known to differ and strict where a misreading would move money:

- the header row is found by its first cell (``Receipt No.``) in the first 30 rows, and columns
  by their names, not their places (an extra ``Currency`` column, reordered columns);
- dates are ``dd-mm-yyyy HH:MM[:SS]`` (or ``dd/mm/yyyy``, ISO, Excel date cells) in East Africa
  Time, returned as naive UTC;
- amounts are integer cents; Withdrawn is written negative on real files and is taken as its
  absolute value; thousands commas are allowed, anything else (a third decimal, a decimal comma,
  text) is a :class:`StatementError` naming the row and the column, never a guess.

XLSX is read with the standard library (``zipfile`` + ``xml.etree``): openpyxl is not among Odoo
17's requirements (Odoo reads .xlsx through xlrd 1.2 or openpyxl if present), so depending on it
would break the import where it is missing.
"""

import codecs
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from xml.etree import ElementTree

from ..errors import InvalidMsisdn
from ..numbers import KENYA, NumberPlan, normalise_msisdn

__all__ = [
    "Statement",
    "StatementError",
    "StatementLine",
    "parse_csv",
    "parse_file",
    "parse_rows",
    "parse_xlsx",
]

HEADER_SEARCH_ROWS = 30
EAT_OFFSET_HOURS = 3


class StatementError(ValueError):
    """The file is not a statement this parser can read; ``row`` (1-based, as in the file) and
    ``column`` (its header text) say where, when the fault is in one place."""

    def __init__(self, reason: str, row: int | None = None, column: str | None = None):
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        place = ", ".join(where)
        super().__init__(f"{place[:1].upper()}{place[1:]}: {reason}" if where else reason)
        self.reason = reason
        self.row = row
        self.column = column


@dataclass(frozen=True)
class StatementLine:
    row: int  # 1-based row of the file
    receipt: str
    completed_at: datetime | None  # naive UTC
    initiated_at: datetime | None  # naive UTC
    details: str
    status: str
    paid_in: int  # cents, >= 0
    withdrawn: int  # cents, >= 0 (the file writes it negative)
    balance: int | None  # cents, the Utility balance after the row
    reason_type: str
    other_party: str
    msisdn: str | None  # digits as found (may hold '*' masks), None if the row names no number
    party_name: str
    linked_receipt: str
    account_number: str
    kind: str  # "payment", "charge", "reversal", "float" or "other"


@dataclass(frozen=True)
class Statement:
    holder: str
    shortcode: str
    account: str
    period_from: datetime | None  # naive UTC
    period_to: datetime | None  # naive UTC
    opening_balance: int | None  # cents
    closing_balance: int | None  # cents
    lines: tuple[StatementLine, ...]
    skipped: int = 0  # rows whose Transaction Status is not "Completed"
    # "Date of Report": when the file was made (naive UTC). Nothing after it can be on the file,
    # whatever the period says.
    reported_at: datetime | None = None


# ---------------------------------------------------------------------------------------- cells
def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def _label(value) -> str:
    """'Receipt No.' -> 'receipt no', ' Time  Period: ' -> 'time period'."""
    text = _text(value).replace("\ufeff", "").lower()
    return " ".join(text.split()).rstrip(".: ").strip()


_AMOUNT = re.compile(
    r"(?P<minus>[-+])?(?P<open>\()?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d*))?(?P<close>\))?"
)


def _cents(value, row: int | None = None, column: str | None = None) -> int | None:
    """Cents of a cell (None when empty), sign kept; StatementError when it is not an amount."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or isinstance(value, date | datetime):
        raise StatementError(f"{_text(value)!r} is not an amount", row, column)
    if isinstance(value, int):
        return value * 100
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise StatementError(f"{value!r} is not an amount", row, column)
        # A spreadsheet number is a double: read it to the 15 significant digits Excel shows, so
        # that 1497985.0000000002 (a sum's binary noise) is 1497985, while 1500.125 is refused.
        value = Decimal(format(value, ".15g"))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise StatementError(f"{value!r} is not an amount", row, column)
        if value != value.quantize(Decimal("0.01")):
            raise StatementError(f"{_text(value)!r} has more than 2 decimals", row, column)
        return int(value * 100)
    text = str(value).strip()
    match = _AMOUNT.fullmatch(text)
    if not match or bool(match["open"]) != bool(match["close"]) or (match["minus"] and match["open"]):
        raise StatementError(f"{text!r} is not an amount", row, column)
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise StatementError(f"{text!r} has more than 2 decimals", row, column)
    cents = int(match["int"].replace(",", "")) * 100 + int(frac.ljust(2, "0"))
    return -cents if match["minus"] == "-" or match["open"] else cents


_DATE_FORMATS = (
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y",
    "%d/%m/%Y",
)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([+-]\d{2}:?\d{2}|Z)?")


def _moment(value, offset: timedelta, row: int | None = None, column: str | None = None) -> datetime | None:
    """Naive UTC of a local (EAT) date cell; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = " ".join(value.split())
        moment = None
        if _ISO.fullmatch(text):
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                moment = None
        else:
            for fmt in _DATE_FORMATS:
                try:
                    moment = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if moment is None:
            raise StatementError(f"{text!r} is not a date (dd-mm-yyyy HH:MM:SS expected)", row, column)
    else:
        raise StatementError(f"{_text(value)!r} is not a date (dd-mm-yyyy HH:MM:SS expected)", row, column)
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment - offset


# ------------------------------------------------------------------------------------- preamble
_PREAMBLE_LABELS = {
    "account holder": "holder",
    "organization name": "holder",
    "organisation name": "holder",
    "short code": "shortcode",
    "shortcode": "shortcode",
    "account": "account",
    "account name": "account",
    "time period": "period",
    "opening balance": "opening",
    "closing balance": "closing",
    "operator": None,
    "date of report": "reported_at",
    "available balance": None,
    "total paid in": None,
    "total withdrawn": None,
}
_FROM_TO = re.compile(r"\b(from|to)\b", re.IGNORECASE)


def _split_label(value) -> tuple[str | None, str]:
    """(key, the rest of the cell) when the cell is a preamble label, else (None, '')."""
    if not isinstance(value, str):
        return None, ""
    head, colon, rest = value.partition(":")
    key = _label(head)
    if key not in _PREAMBLE_LABELS or (not colon and _label(value) != key):
        return None, ""
    return key, rest.strip()


def _period(tokens: list, offset: timedelta) -> tuple[datetime | None, datetime | None]:
    """'From <t> To <t>', in one cell or spread over cells."""
    found = {}
    marker = None
    loose = []
    for token in tokens:
        pieces = _FROM_TO.split(token) if isinstance(token, str) else [token]
        for piece in pieces:
            if isinstance(piece, str):
                piece = piece.strip()
                if not piece:
                    continue
                if piece.lower() in ("from", "to"):
                    marker = piece.lower()
                    continue
            if marker and marker not in found:
                found[marker] = piece
            else:
                loose.append(piece)
            marker = None
    for key in ("from", "to"):
        if key not in found and loose:
            found[key] = loose.pop(0)
    result = []
    for key in ("from", "to"):
        try:
            result.append(_moment(found.get(key), offset))
        except StatementError:
            result.append(None)
    return result[0], result[1]


def _preamble(rows: list[list], offset: timedelta) -> dict:
    """Key/values of the rows above the header, read leniently: what is missing or unreadable is
    left empty (the lines decide what was paid; the preamble only describes the file)."""
    values = {}
    for cells in rows:
        index = 0
        while index < len(cells):
            key, rest = _split_label(cells[index])
            index += 1
            if key is None:
                continue
            field = _PREAMBLE_LABELS[key]
            following = []
            while index < len(cells) and _split_label(cells[index])[0] is None:
                if field != "period" and (rest or following):
                    break
                if _text(cells[index]):
                    following.append(cells[index])
                index += 1
            if field is None or field in values:
                continue
            if field == "period":
                values[field] = _period(([rest] if rest else []) + following, offset)
                continue
            value = rest or (following[0] if following else None)
            if field in ("opening", "closing"):
                try:
                    values[field] = _cents(value)
                except StatementError:
                    values[field] = None
            elif field == "reported_at":
                try:
                    values[field] = _moment(value, offset)
                except StatementError:
                    values[field] = None
            else:
                values[field] = _text(value)
    return values


# ---------------------------------------------------------------------------------------- lines
_COLUMNS = {
    "receipt no": "receipt",
    "completion time": "completed_at",
    "initiation time": "initiated_at",
    "details": "details",
    "transaction status": "status",
    "paid in": "paid_in",
    "withdrawn": "withdrawn",
    "balance": "balance",
    "balance confirmed": "balance_confirmed",
    "reason type": "reason_type",
    "other party info": "other_party",
    "linked transaction id": "linked_receipt",
    "a/c no": "account_number",
    "currency": "currency",
}
_REQUIRED = ("receipt", "completed_at", "paid_in", "withdrawn")
_CANONICAL_NAME = {
    "receipt": "Receipt No.",
    "completed_at": "Completion Time",
    "paid_in": "Paid In",
    "withdrawn": "Withdrawn",
}

_PAYMENT_DETAILS = re.compile(r"\s*(business|salary|promotion)\s+payment\s+to\b", re.IGNORECASE)
_PAYMENT_REASON = re.compile(
    r"\b(business\s+payment\s+to\s+customer|salary\s+payment|promotion\s+payment)\b", re.IGNORECASE
)
# "B2C Payment Charge", "Business Payment Charge"; not "... Withdrawal Charge Paid via API", a
# reason type of the payment row itself when the organisation pays the customer's withdrawal fee.
_CHARGE = re.compile(r"\bcharges?\b(?!\s+paid\b)", re.IGNORECASE)
_REVERSAL = re.compile(r"\brevers", re.IGNORECASE)
_REVERSAL_OF = re.compile(r"\breversal\s+of\s+([A-Z0-9]{8,12})\b", re.IGNORECASE)
# A number as M-Pesa writes it: 2547XXXXXXXX, 07XXXXXXXX, 7XXXXXXXX, digits masked with '*'.
_NUMBER = re.compile(r"(?<![\w*])\+?([0-9][0-9*]{8,12})(?![\w*])")
_PARTY = re.compile(r"\s*\+?[0-9*]{5,}\s*-\s*(?P<name>.*?)(?:\s+via\s+api)?\s*", re.IGNORECASE)
_PARTY_IN_DETAILS = re.compile(
    r"\b(?:to|from)\s+\+?[0-9*]{9,}\s*-\s*(?P<name>.+?)(?:\s+via\s+api)?\s*$", re.IGNORECASE
)


def _find_msisdn(*texts: str, plan: NumberPlan = KENYA) -> str | None:
    """The first number of the market's plan (or a masked one) in these texts, as written."""
    for text in texts:
        for match in _NUMBER.finditer(text or ""):
            number = match.group(1)
            digits = number.replace("*", "")
            if "*" in number:
                if len(digits) >= 4:
                    return number
            elif _payable(number, plan):
                return number
    return None


def _payable(number: str, plan: NumberPlan) -> bool:
    try:
        normalise_msisdn(number, plan)
    except InvalidMsisdn:
        return False
    return True


def _party_name(other_party: str, details: str) -> str:
    if other_party:
        match = _PARTY.fullmatch(other_party)
        if match:
            return match["name"]
        if not _NUMBER.fullmatch(other_party.lstrip("+")):
            return other_party
    match = _PARTY_IN_DETAILS.search(details or "")
    return match["name"] if match else ""


def _kind(paid_in: int, withdrawn: int, details: str, reason: str, linked: str) -> str:
    if paid_in > 0:
        if linked or _REVERSAL.search(details) or _REVERSAL.search(reason):
            return "reversal"
        return "float"
    if withdrawn > 0:
        payment_details = bool(_PAYMENT_DETAILS.match(details))
        if not payment_details and (_CHARGE.search(details) or _CHARGE.search(reason)):
            return "charge"
        reversal_text = _REVERSAL.search(details) or _REVERSAL.search(reason)
        if payment_details or (_PAYMENT_REASON.search(reason) and not reversal_text):
            return "payment"
    return "other"


class _Cells:
    """One row's cells by field name (None past the row's end or for a column the file lacks)."""

    def __init__(self, cells: list, columns: dict):
        self.cells, self.columns = cells, columns

    def __call__(self, field: str):
        index = self.columns.get(field)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def text(self, field: str) -> str:
        return _text(self(field))


def _is_header(cells) -> bool:
    first = next((cell for cell in cells if _text(cell)), None)
    return first is not None and _label(first) == "receipt no"


def _header(cells: list, row: int) -> tuple[dict, dict]:
    columns, names = {}, {}
    for index, cell in enumerate(cells):
        field = _COLUMNS.get(_label(cell))
        if field is None:
            continue
        if field in columns:
            raise StatementError(f"the header has two '{_text(cell)}' columns", row, _text(cell))
        columns[field] = index
        names[field] = _text(cell)
    missing = [_CANONICAL_NAME[field] for field in _REQUIRED if field not in columns]
    if missing:
        raise StatementError(
            "the header has no %s column (it has: %s)"
            % (" / ".join(f"'{name}'" for name in missing), ", ".join(names.values())),
            row,
            ", ".join(missing),
        )
    return columns, names


def parse_rows(rows, tz_offset_hours: float = EAT_OFFSET_HOURS, number_plan: NumberPlan = KENYA) -> Statement:
    """Read a statement from rows of cells (str, or datetime/number/bool/None from a spreadsheet).

    Numbers in Other Party Info / Details are recognised by the market's ``number_plan``."""
    head, lines, tally = _read_rows(rows, tz_offset_hours, number_plan)
    lines = tuple(lines)
    return _replace(head, lines=lines, skipped=tally["skipped"])


def _replace(statement: Statement, **changes) -> Statement:
    return Statement(**{**statement.__dict__, **changes})


def _read_rows(rows, tz_offset_hours: float, number_plan: NumberPlan):
    """(the statement's head, with no lines; an iterator of its lines, read as it is consumed;
    a tally whose "skipped" is final once the iterator is exhausted)."""
    offset = timedelta(hours=tz_offset_hours)
    iterator = iter(rows)
    preamble_rows = []
    header_row = None
    for row_number, cells in enumerate(iterator, start=1):
        cells = list(cells)
        if _is_header(cells):
            header_row = row_number
            break
        preamble_rows.append(cells)
        if row_number >= HEADER_SEARCH_ROWS:
            break
    if header_row is None:
        raise StatementError(
            "not an M-Pesa organisation statement: no 'Receipt No.' header in the first %d rows"
            % HEADER_SEARCH_ROWS
        )
    columns, names = _header(cells, header_row)
    preamble = _preamble(preamble_rows, offset)
    period_from, period_to = preamble.get("period", (None, None))
    head = Statement(
        holder=preamble.get("holder", ""),
        shortcode=preamble.get("shortcode", ""),
        account=preamble.get("account", ""),
        period_from=period_from,
        period_to=period_to,
        opening_balance=preamble.get("opening"),
        closing_balance=preamble.get("closing"),
        lines=(),
        reported_at=preamble.get("reported_at"),
    )
    tally = {"skipped": 0}
    return head, _lines(iterator, header_row, columns, names, offset, number_plan, tally), tally


def _lines(iterator, header_row, columns, names, offset, number_plan, tally):
    seen = {}
    for row_number, cells in enumerate(iterator, start=header_row + 1):
        cells = list(cells)
        if not any(_text(value) for value in cells):
            continue
        cell = _Cells(cells, columns)
        text = cell.text
        receipt = text("receipt")
        if not receipt:
            raise StatementError("a row with no receipt", row_number, names["receipt"])
        status = text("status") if "status" in columns else "Completed"
        if not status:
            raise StatementError(f"receipt {receipt} has no status", row_number, names["status"])
        if _label(status) != "completed":
            tally["skipped"] += 1
            continue
        paid_in = _cents(cell("paid_in"), row_number, names["paid_in"])
        withdrawn = _cents(cell("withdrawn"), row_number, names["withdrawn"])
        if paid_in is None and withdrawn is None:
            raise StatementError(
                f"receipt {receipt} has no amount in {names['paid_in']} or {names['withdrawn']}",
                row_number,
                names["paid_in"],
            )
        paid_in = paid_in or 0
        withdrawn = abs(withdrawn or 0)
        if paid_in < 0:
            raise StatementError(f"receipt {receipt}: Paid In is negative", row_number, names["paid_in"])
        if paid_in and withdrawn:
            raise StatementError(
                f"receipt {receipt} has both {names['paid_in']} and {names['withdrawn']}",
                row_number,
                names["withdrawn"],
            )
        if receipt in seen:
            raise StatementError(
                f"receipt {receipt} is also on row {seen[receipt]}", row_number, names["receipt"]
            )
        seen[receipt] = row_number
        details, reason, other_party = text("details"), text("reason_type"), text("other_party")
        linked = text("linked_receipt")
        kind = _kind(paid_in, withdrawn, details, reason, linked)
        if kind == "reversal" and not linked:
            match = _REVERSAL_OF.search(details)
            linked = match.group(1).upper() if match else ""
        yield StatementLine(
            row=row_number,
            receipt=receipt,
            completed_at=_moment(cell("completed_at"), offset, row_number, names["completed_at"]),
            initiated_at=_moment(cell("initiated_at"), offset, row_number, names.get("initiated_at")),
            details=details,
            status=status,
            paid_in=paid_in,
            withdrawn=withdrawn,
            balance=_cents(cell("balance"), row_number, names.get("balance")),
            reason_type=reason,
            other_party=other_party,
            msisdn=_find_msisdn(other_party, details, plan=number_plan),
            party_name=_party_name(other_party, details),
            linked_receipt=linked,
            account_number=text("account_number"),
            kind=kind,
        )


# ------------------------------------------------------------------------------------------ CSV
def _encodings(start: bytes) -> tuple[str, ...]:
    """The encodings to try, in order, for a text file beginning with these bytes."""
    if start.startswith(codecs.BOM_UTF8):
        return ("utf-8-sig",)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ("utf-16",)  # Excel's "Unicode Text"
    return ("utf-8", "cp1252")


def _decode(data: bytes) -> str:
    for encoding in _encodings(data[:4]):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StatementError("the file is not text (neither UTF-8 nor Windows-1252)")


def _delimiter(text: str) -> str:
    """',', ';' or tab: the one the header row is cut by most (the first 30 lines otherwise)."""
    head = text.splitlines()[:HEADER_SEARCH_ROWS]
    sample = next((line for line in head if _label(line.lstrip(" \"'")).startswith("receipt no")), None)
    sample = sample if sample is not None else "\n".join(head)
    return max((",", ";", "\t"), key=sample.count)


def parse_csv(
    data: bytes, *, tz_offset_hours: float = EAT_OFFSET_HOURS, number_plan: NumberPlan = KENYA
) -> Statement:
    """A statement exported as CSV (UTF-8 with or without BOM, or Windows-1252; ',', ';' or tab)."""
    text = _decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as exc:
        raise StatementError(f"the file is not readable as CSV: {exc}") from None
    return parse_rows(rows, tz_offset_hours, number_plan)


# ----------------------------------------------------------------------------------------- XLSX
_MAX_PART_BYTES = 256 * 1024 * 1024  # uncompressed; a statement of a million rows is far below
_MAX_ROW = 1_048_576  # Excel's limits
_MAX_COLUMN = 16_384
_DATE_FORMAT_IDS = frozenset(range(14, 23)) | frozenset(range(45, 48)) | frozenset(range(27, 37))
_DATE_FORMAT_IDS |= frozenset(range(50, 59))
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element, name: str):
    """An attribute by its local name, whatever its namespace (transitional or strict OOXML)."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


class _Xlsx:
    def __init__(self, data: bytes):
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, ValueError, OSError):
            raise StatementError("the file is not an XLSX workbook (not a zip archive)") from None
        self.names = set(self.zip.namelist())

    def _open(self, name: str):
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise StatementError(f"the XLSX workbook has no {name}") from None
        if info.file_size > _MAX_PART_BYTES:
            raise StatementError(f"the XLSX part {name} is too large ({info.file_size} bytes)")
        return self.zip.open(info)

    def _parse(self, name: str):
        try:
            with self._open(name) as part:
                return ElementTree.parse(part).getroot()
        except (ElementTree.ParseError, zipfile.BadZipFile, OSError) as exc:
            raise StatementError(f"the XLSX part {name} is not readable: {exc}") from None

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """{Id: (type, zip path)} of a part's relationships."""
        folder, _slash, base = part.rpartition("/")
        name = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
        if name not in self.names:
            return {}
        rels = {}
        for rel in self._parse(name):
            target = rel.get("Target") or ""
            if rel.get("TargetMode") == "External":
                continue
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                path = f"{folder}/{target}" if folder else target
            parts = []
            for piece in path.split("/"):
                if piece == "..":
                    if parts:
                        parts.pop()
                elif piece not in ("", "."):
                    parts.append(piece)
            rels[rel.get("Id")] = ((rel.get("Type") or "").rsplit("/", 1)[-1], "/".join(parts))
        return rels

    def rows(self) -> list[list]:
        workbook_path = next(
            (path for kind, path in self._rels("").values() if kind == "officeDocument"), "xl/workbook.xml"
        )
        workbook = self._parse(workbook_path)
        rels = self._rels(workbook_path)
        date1904 = False
        sheet_id = None
        for element in workbook.iter():
            tag = _local(element.tag)
            if tag == "workbookPr":
                date1904 = (element.get("date1904") or "").lower() in ("1", "true")
            elif tag == "sheet" and sheet_id is None:
                sheet_id = _attr(element, "id")
        by_kind = dict(rels.values())
        if sheet_id in rels:
            sheet_path = rels[sheet_id][1]
        else:
            sheet_path = by_kind.get("worksheet", "xl/worksheets/sheet1.xml")
        shared = self._shared_strings(by_kind.get("sharedStrings", "xl/sharedStrings.xml"))
        date_styles = self._date_styles(by_kind.get("styles", "xl/styles.xml"))
        epoch = datetime(1904, 1, 1) if date1904 else datetime(1899, 12, 30)
        return self._sheet(sheet_path, shared, date_styles, epoch)

    def _shared_strings(self, path: str | None) -> list[str]:
        if not path or path not in self.names:
            return []
        return [_rich_text(item) for item in self._parse(path) if _local(item.tag) == "si"]

    def _date_styles(self, path: str | None) -> set[int]:
        if not path or path not in self.names:
            return set()
        styles = self._parse(path)
        custom = {}
        cell_formats = []
        for element in styles:
            if _local(element.tag) == "numFmts":
                for fmt in element:
                    custom[int(fmt.get("numFmtId", "-1"))] = fmt.get("formatCode") or ""
            elif _local(element.tag) == "cellXfs":
                cell_formats = [int(xf.get("numFmtId", "0")) for xf in element if _local(xf.tag) == "xf"]
        return {
            index
            for index, fmt_id in enumerate(cell_formats)
            if (fmt_id in custom and _is_date_format(custom[fmt_id]))
            or (fmt_id not in custom and fmt_id in _DATE_FORMAT_IDS)
        }

    def _sheet(self, path: str, shared: list[str], date_styles: set[int], epoch: datetime) -> list[list]:
        rows: list[list] = []
        try:
            with self._open(path) as part:
                for _event, element in ElementTree.iterparse(part, events=("end",)):
                    if _local(element.tag) != "row":
                        continue
                    number = int(element.get("r") or len(rows) + 1)
                    if number > _MAX_ROW or number <= len(rows):
                        raise StatementError(f"the XLSX sheet has a row numbered {number} out of order")
                    rows.extend([] for _gap in range(number - 1 - len(rows)))
                    rows.append(self._row(element, number, shared, date_styles, epoch))
                    element.clear()
        except (ElementTree.ParseError, zipfile.BadZipFile, OSError) as exc:
            raise StatementError(f"the XLSX part {path} is not readable: {exc}") from None
        return rows

    @staticmethod
    def _row(element, number: int, shared: list[str], date_styles: set[int], epoch: datetime) -> list:
        cells: list = []
        for cell in element:
            if _local(cell.tag) != "c":
                continue
            ref = _CELL_REF.fullmatch(cell.get("r") or "")
            column = len(cells) + 1
            if ref:
                column = 0
                for letter in ref.group(1):
                    column = column * 26 + ord(letter) - 64
            if column > _MAX_COLUMN or column <= len(cells):
                raise StatementError("the XLSX sheet has cells out of order", number)
            cells.extend([None] * (column - 1 - len(cells)))
            cells.append(_cell_value(cell, number, shared, date_styles, epoch))
        return cells


def _rich_text(item) -> str:
    """Text of a shared or inline string: its <t>, or its runs' <t> (phonetic runs left out)."""
    parts = []
    for child in item:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def _is_date_format(code: str) -> bool:
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.', "", code)
    return bool(re.search(r"[dmyhs]", code, re.IGNORECASE))


def _cell_value(cell, row: int, shared: list[str], date_styles: set[int], epoch: datetime):
    kind = cell.get("t") or "n"
    value = next((child.text for child in cell if _local(child.tag) == "v"), None)
    if kind == "inlineStr":
        inline = next((child for child in cell if _local(child.tag) == "is"), None)
        return _rich_text(inline) if inline is not None else ""
    if value is None:
        return None
    if kind == "s":
        try:
            return shared[int(value)]
        except (ValueError, IndexError):
            raise StatementError(f"the XLSX cell {cell.get('r')} names no shared string", row) from None
    if kind in ("str", "e"):
        return value
    if kind == "b":
        return value.strip() in ("1", "true")
    if kind == "d":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    try:
        number = int(value) if re.fullmatch(r"-?[0-9]+", value.strip()) else float(value)
    except ValueError:
        raise StatementError(f"the XLSX cell {cell.get('r')} holds {value!r}, not a number", row) from None
    if int(cell.get("s") or 0) in date_styles:
        return epoch + timedelta(seconds=round(float(number) * 86400))
    return number


def parse_xlsx(
    data: bytes, *, tz_offset_hours: float = EAT_OFFSET_HOURS, number_plan: NumberPlan = KENYA
) -> Statement:
    """A statement exported as Excel (.xlsx): the same rows and cells, in the first sheet."""
    return parse_rows(_Xlsx(data).rows(), tz_offset_hours, number_plan)


# ----------------------------------------------------------------------------------------- file
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def parse_file(
    data: bytes,
    filename: str = "",
    *,
    tz_offset_hours: float = EAT_OFFSET_HOURS,
    number_plan: NumberPlan = KENYA,
) -> Statement:
    """CSV or XLSX, told apart by content (an XLSX is a zip: b'PK') and then by name."""
    if _is_xlsx(data[:8], filename):
        return parse_xlsx(data, tz_offset_hours=tz_offset_hours, number_plan=number_plan)
    return parse_csv(data, tz_offset_hours=tz_offset_hours, number_plan=number_plan)


def _is_xlsx(start: bytes, filename: str) -> bool:
    """An XLSX workbook (a zip: b'PK') or else CSV, from a file's first 8 bytes and its name;
    what is neither (an Excel 97-2003 file, a non-zip named .xlsx) is refused."""
    if start[:2] == b"PK":
        return True
    if start[:8] == _OLE2:
        raise StatementError("this is an Excel 97-2003 (.xls) file: save it as .xlsx or CSV and import that")
    if (filename or "").lower().endswith((".xlsx", ".xlsm")):
        raise StatementError(f"{filename} is named as an XLSX workbook but is not one (not a zip archive)")
    return False


# ------------------------------------------------------------------------------------ streaming
@dataclass(frozen=True)
class StatementScan:
    """A statement file read once through, row by row, without keeping its lines: its head
    (``statement``, with no lines; ``skipped`` final), what its lines add up to, and ``lines()``,
    a fresh pass yielding them one at a time. A national statement (300,000 rows) is read twice
    in the memory of one row; a bad row fails the scan before any line is used."""

    statement: Statement
    line_count: int
    moved: int  # cents: money in minus money out over every line
    has_balances: bool  # every line has a Balance
    rows: Callable[[], Iterator] = field(repr=False)
    tz_offset_hours: float = EAT_OFFSET_HOURS
    number_plan: NumberPlan = KENYA

    def lines(self) -> Iterator[StatementLine]:
        _head, lines, _tally = _read_rows(self.rows(), self.tz_offset_hours, self.number_plan)
        yield from lines


def _csv_rows(opener, encoding: str):
    """The rows of a CSV file opened by ``opener`` (binary), decoded as it is read."""
    with opener() as stream:
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        head = [line for line in (text.readline() for _ in range(HEADER_SEARCH_ROWS)) if line]
        try:
            yield from csv.reader(itertools.chain(head, text), delimiter=_delimiter("".join(head)))
        except csv.Error as exc:
            raise StatementError(f"the file is not readable as CSV: {exc}") from None


def scan_file(
    opener: Callable,
    filename: str = "",
    *,
    tz_offset_hours: float = EAT_OFFSET_HOURS,
    number_plan: NumberPlan = KENYA,
) -> StatementScan:
    """A statement file (``opener()`` -> a binary file object, called once per pass) scanned as
    :func:`parse_file` reads it, CSV streamed; an XLSX workbook is read whole (its rows live in a
    zip of XML parts)."""
    with opener() as stream:
        start = stream.read(8)
    if _is_xlsx(start, filename):

        def rows():
            with opener() as stream:
                data = stream.read()
            return _Xlsx(data).rows()

        candidates = [rows]
    else:
        candidates = [
            (lambda encoding=encoding: _csv_rows(opener, encoding)) for encoding in _encodings(start)
        ]
    for rows in candidates:
        try:
            head, lines, tally = _read_rows(rows(), tz_offset_hours, number_plan)
            count = moved = 0
            has_balances = True
            for line in lines:
                count += 1
                moved += line.paid_in - line.withdrawn
                has_balances = has_balances and line.balance is not None
        except UnicodeDecodeError:
            continue  # not this encoding: the next one (Windows-1252 after UTF-8)
        return StatementScan(
            statement=_replace(head, skipped=tally["skipped"]),
            line_count=count,
            moved=moved,
            has_balances=has_balances and bool(count),
            rows=rows,
            tz_offset_hours=tz_offset_hours,
            number_plan=number_plan,
        )
    raise StatementError("the file is not text (neither UTF-8 nor Windows-1252)")
