"""M-Pesa organisation statements (wire.daraja.statement): the portal's CSV and XLSX read into cents.

Fixtures are in tests/fixtures/statements (README there); every test asserts the parsed values
or the exact error, row and column.
"""

import codecs
import io
import zipfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from mpesa_sim import statement as sim_statement
from mpesa_wire import daraja, msisdn_matches
from mpesa_wire import numbers as wire_numbers
from mpesa_wire.daraja.statement import (
    Statement,
    StatementError,
    StatementLine,
    parse_csv,
    parse_file,
    parse_rows,
    parse_xlsx,
)

FIXTURES = Path(__file__).parent / "fixtures" / "statements"
PORTAL = "ORG_600000_Utility Account_Completed_20261202120000"
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
PREAMBLE = [
    ["Account Holder:", "OpenG2P Demo Cash Transfers"],
    ["Short Code:", "600000"],
    ["Account:", "Utility Account"],
    ["Time Period:", "From", "01-12-2026 00:00:00", "To", "01-12-2026 23:59:59"],
    ["Operator:", "jdoe", "Date of Report:", "02-12-2026 12:00:00"],
    ["Opening Balance:", "10000.00", "Closing Balance:", "8500.00"],
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def b2c_row(**cells) -> list:
    """A B2C row of the 13 standard columns, cells overridden by header name."""
    row = {
        "Receipt No.": "UL1B2C3D4E",
        "Completion Time": "01-12-2026 09:15:02",
        "Initiation Time": "01-12-2026 09:15:01",
        "Details": "Business Payment to 254712345678 - JANE DOE via API",
        "Transaction Status": "Completed",
        "Paid In": "",
        "Withdrawn": "-1500.00",
        "Balance": "8500.00",
        "Balance Confirmed": "true",
        "Reason Type": "Business Payment to Customer via API",
        "Other Party Info": "254712345678 - JANE DOE",
        "Linked Transaction ID": "",
        "A/C No.": "",
    }
    row.update(cells)
    return [row[name] for name in HEADER]


def one_line(**cells) -> StatementLine:
    (line,) = parse_rows([*PREAMBLE, HEADER, b2c_row(**cells)]).lines
    return line


def error_of(rows) -> StatementError:
    with pytest.raises(StatementError) as caught:
        parse_rows(rows)
    return caught.value


def eat(text: str) -> datetime:
    """A portal time (EAT) as the naive UTC the parser returns."""
    return datetime.strptime(text, "%d-%m-%Y %H:%M:%S") - timedelta(hours=3)


# ------------------------------------------------------------------------------------ fixtures
PORTAL_STATEMENT = Statement(
    holder="OpenG2P Demo Cash Transfers",
    shortcode="600000",
    account="Utility Account",
    period_from=datetime(2026, 11, 30, 21, 0, 0),
    period_to=datetime(2026, 12, 2, 20, 59, 59),
    opening_balance=100_000_000,
    closing_balance=149_798_500,
    skipped=0,
    reported_at=datetime(2026, 12, 2, 9, 0, 0),
    lines=(
        StatementLine(
            row=8,
            receipt="UL2P7Q8R9S",
            completed_at=datetime(2026, 12, 2, 8, 0, 0),
            initiated_at=datetime(2026, 12, 2, 7, 59, 58),
            details="Business Payment to 254110123456 - AMINA HASSAN via API",
            status="Completed",
            paid_in=0,
            withdrawn=50_000,
            balance=149_798_500,
            reason_type="Promotion Payment via API",
            other_party="254110123456 - AMINA HASSAN",
            msisdn="254110123456",
            party_name="AMINA HASSAN",
            linked_receipt="",
            account_number="",
            kind="payment",
        ),
        StatementLine(
            row=9,
            receipt="UL2R0V1S2T",
            completed_at=datetime(2026, 12, 2, 7, 30, 0),
            initiated_at=datetime(2026, 12, 2, 7, 29, 58),
            details="Reversal of UL1C5D6E7F from 254722000001 - PETER OTIENO",
            status="Completed",
            paid_in=200_000,
            withdrawn=0,
            balance=149_848_500,
            reason_type="Reversal",
            other_party="254722000001 - PETER OTIENO",
            msisdn="254722000001",
            party_name="PETER OTIENO",
            linked_receipt="UL1C5D6E7F",
            account_number="",
            kind="reversal",
        ),
        StatementLine(
            row=10,
            receipt="UL1C5D6E7F",
            completed_at=datetime(2026, 12, 1, 7, 2, 40),
            initiated_at=datetime(2026, 12, 1, 7, 2, 39),
            details="Salary Payment to 254722000001 - PETER OTIENO via API",
            status="Completed",
            paid_in=0,
            withdrawn=200_000,
            balance=149_648_500,
            reason_type="Salary Payment via API",
            other_party="254722000001 - PETER OTIENO",
            msisdn="254722000001",
            party_name="PETER OTIENO",
            linked_receipt="",
            account_number="",
            kind="payment",
        ),
        StatementLine(
            row=11,
            receipt="UL1B2C3D4F",
            completed_at=datetime(2026, 12, 1, 6, 15, 2),
            initiated_at=datetime(2026, 12, 1, 6, 15, 1),
            details="B2C Payment Charge",
            status="Completed",
            paid_in=0,
            withdrawn=1_500,
            balance=149_848_500,
            reason_type="Business Payment Charge",
            other_party="",
            msisdn=None,
            party_name="",
            linked_receipt="UL1B2C3D4E",
            account_number="",
            kind="charge",
        ),
        StatementLine(
            row=12,
            receipt="UL1B2C3D4E",
            completed_at=datetime(2026, 12, 1, 6, 15, 2),
            initiated_at=datetime(2026, 12, 1, 6, 15, 1),
            details="Business Payment to 254712345678 - JANE WANJIKU DOE via API",
            status="Completed",
            paid_in=0,
            withdrawn=150_000,
            balance=149_850_000,
            reason_type="Business Payment to Customer via API",
            other_party="254712345678 - JANE WANJIKU DOE",
            msisdn="254712345678",
            party_name="JANE WANJIKU DOE",
            linked_receipt="",
            account_number="",
            kind="payment",
        ),
        StatementLine(
            row=13,
            receipt="UL1A0F0AT1",
            completed_at=datetime(2026, 12, 1, 5, 0, 0),
            initiated_at=datetime(2026, 12, 1, 5, 0, 0),
            details="Funds Transfer from Working Account",
            status="Completed",
            paid_in=50_000_000,
            withdrawn=0,
            balance=150_000_000,
            reason_type="Organization Revenue Settlement",
            other_party="600000 - OpenG2P Demo Cash Transfers",
            msisdn=None,
            party_name="OpenG2P Demo Cash Transfers",
            linked_receipt="",
            account_number="",
            kind="float",
        ),
    ),
)


def test_portal_csv_is_read_to_the_values_of_the_file():
    statement = parse_csv(fixture(f"{PORTAL}.csv"))
    assert statement == PORTAL_STATEMENT
    # opening + in - out = closing: the file is the whole period
    moved = sum(line.paid_in - line.withdrawn for line in statement.lines)
    assert statement.opening_balance + moved == statement.closing_balance


def test_the_same_statement_written_by_a_spreadsheet_program_reads_the_same():
    """XlsxWriter's copy: shared strings, date cells, numbers, a boolean, the shortcode a number."""
    data = fixture(f"{PORTAL}.xlsx")
    assert data[:2] == b"PK"
    assert parse_xlsx(data) == PORTAL_STATEMENT
    assert parse_file(data, f"{PORTAL}.xlsx") == PORTAL_STATEMENT


def test_hand_written_xlsx_inline_strings_gaps_1904_dates_and_binary_noise():
    statement = parse_xlsx(fixture("statement_inline_sparse.xlsx"))
    assert statement == Statement(
        holder="OpenG2P Demo Cash Transfers",
        shortcode="600000",  # a number cell
        account="",  # its row is missing
        period_from=datetime(2026, 12, 1, 21, 0, 0),
        period_to=datetime(2026, 12, 2, 20, 59, 59),
        opening_balance=149_848_500,
        closing_balance=149_798_500,  # written as 1497985.0000000002
        skipped=0,
        lines=(
            StatementLine(
                row=9,  # rows 8 (empty) and 3, 5 are absent from the sheet XML
                receipt="UL2P7Q8R9S",
                completed_at=datetime(2026, 12, 2, 8, 0, 0),  # a 1904-system serial, custom format
                initiated_at=None,  # no such column in this file
                details="Business Payment to 254110123456 - AMINA HASSAN via API",  # a formula string
                status="Completed",
                paid_in=0,  # no cell
                withdrawn=50_000,
                balance=None,
                reason_type="",
                other_party="",
                msisdn="254110123456",  # from Details
                party_name="AMINA HASSAN",
                linked_receipt="",
                account_number="",
                kind="payment",
            ),
        ),
    )


def test_commas_negative_withdrawn_masked_numbers_other_statuses_crlf_trailing_rows():
    statement = parse_csv(fixture("variant_commas_masked_crlf.csv"))
    assert (statement.holder, statement.shortcode, statement.account) == (
        "Kaunti ya Mfano, Social Protection",
        "600111",
        "Utility Account",
    )
    assert (statement.opening_balance, statement.closing_balance) == (25_000_000, 22_650_000)
    assert (statement.period_from, statement.period_to) == (
        eat("03-12-2026 00:00:00"),
        eat("03-12-2026 23:59:59"),
    )
    assert statement.skipped == 1  # the Failed row 9
    got = [
        (
            line.row,
            line.receipt,
            line.kind,
            line.paid_in,
            line.withdrawn,
            line.balance,
            line.msisdn,
            line.party_name,
        )
        for line in statement.lines
    ]
    assert got == [
        # positive Withdrawn tolerated; no Other Party Info: number and name from Details
        (8, "UL3M1A2S3N", "payment", 0, 200_000, 22_650_000, "254733444555", "GRACE NJERI"),
        (10, "UL3M1A2S3L", "payment", 0, 12_000_000, 22_850_000, "0712***678", "MARY ATIENO"),
        (11, "UL3M1A2S3K", "payment", 0, 150_000, 34_850_000, "2547****5678", "JOHN KAMAU"),
        (12, "UL3F0L0AT2", "float", 10_000_000, 0, 35_000_000, None, ""),
    ]
    assert statement.lines[0].completed_at == eat("03-12-2026 16:45:10")
    assert statement.opening_balance + sum(x.paid_in - x.withdrawn for x in statement.lines) == 22_650_000
    masked = statement.lines[2]
    assert msisdn_matches(masked.msisdn, "254711115678")
    assert not msisdn_matches(masked.msisdn, "254711115679")
    assert msisdn_matches(statement.lines[1].msisdn, "254712000678")


def test_semicolons_bom_reordered_columns_currency_iso_and_slash_dates():
    data = fixture("variant_semicolon_bom_reordered.csv")
    assert data.startswith(codecs.BOM_UTF8)
    statement = parse_csv(data)
    assert (statement.holder, statement.shortcode, statement.account) == (
        "OpenG2P Demo Cash Transfers",
        "600000",
        "Utility Account",
    )
    # "Time Period: From 04/12/2026 00:00:00 To 04/12/2026 23:59:59" in one cell
    assert (statement.period_from, statement.period_to) == (
        eat("04-12-2026 00:00:00"),
        eat("04-12-2026 23:59:59"),
    )
    assert (statement.opening_balance, statement.closing_balance) == (149_798_500, 144_598_500)
    assert [
        (x.row, x.receipt, x.kind, x.withdrawn, x.balance, x.linked_receipt) for x in statement.lines
    ] == [
        (8, "UL4S9T8U7V", "other", 5_000_000, 144_598_500, ""),  # to the settlement account
        (9, "UL4C1H2G3E", "charge", 2_240, 149_598_500, "UL4P1A2Y3T"),
        # "Business Payment to Customer Withdrawal Charge Paid via API" is a payment, not a charge
        (10, "UL4P1A2Y3T", "payment", 197_760, 149_600_740, ""),
    ]
    payment = statement.lines[2]
    assert payment.completed_at == datetime(2026, 12, 4, 9, 10, 5)
    assert payment.initiated_at == datetime(2026, 12, 4, 9, 10, 4)
    assert (payment.msisdn, payment.party_name) == ("254799000111", "WANJIRU WA-NJERI")
    assert payment.reason_type == "Business Payment to Customer Withdrawal Charge Paid via API"


def test_tabs_windows_1252_parentheses_minutes_only_and_a_loose_header_cell():
    data = fixture("variant_tab_cp1252.csv")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    statement = parse_csv(data)
    assert statement.holder == "Société Mfano Ltd"
    assert (statement.shortcode, statement.account) == ("600222", "Utility Account")
    assert (statement.opening_balance, statement.closing_balance) == (-100_000, 850_000)  # "(1,000.00)"
    assert (statement.period_from, statement.period_to) == (
        eat("05-12-2026 00:00:00"),
        eat("05-12-2026 23:59:59"),
    )
    assert statement.skipped == 1  # Pending
    payment, top_up = statement.lines
    assert (payment.row, payment.receipt, payment.kind, payment.withdrawn) == (
        8,
        "UL5B4C3D2E",
        "payment",
        150_000,
    )
    assert payment.party_name == "RENÉE AKINYI"
    assert payment.completed_at == datetime(2026, 12, 5, 11, 30)
    assert (top_up.row, top_up.kind, top_up.paid_in, top_up.account_number) == (
        10,
        "float",
        1_100_000,
        "TOPUP-2026-12",
    )


@pytest.mark.parametrize(
    ("name", "message", "row", "column"),
    [
        (
            "malformed_no_header.csv",
            "not an M-Pesa organisation statement: no 'Receipt No.' header in the first 30 rows",
            None,
            None,
        ),
        (
            "malformed_bad_amount.csv",
            "Row 9, column 'Withdrawn': '-1,50.00' is not an amount",
            9,
            "Withdrawn",
        ),
        (
            "malformed_bad_date.csv",
            "Row 8, column 'Completion Time': '31-11-2026 09:15:02' is not a date "
            "(dd-mm-yyyy HH:MM:SS expected)",
            8,
            "Completion Time",
        ),
        (
            "malformed_missing_column.csv",
            "Row 7, column 'Withdrawn': the header has no 'Withdrawn' column (it has: Receipt No., "
            "Completion Time, Initiation Time, Details, Transaction Status, Paid In, Balance, Balance "
            "Confirmed, Reason Type, Other Party Info, Linked Transaction ID, A/C No.)",
            7,
            "Withdrawn",
        ),
        (
            "malformed_duplicate_receipt.csv",
            "Row 9, column 'Receipt No.': receipt UL1B2C3D4E is also on row 8",
            9,
            "Receipt No.",
        ),
        (
            "malformed_no_amount.csv",
            "Row 8, column 'Paid In': receipt UL1B2C3D4E has no amount in Paid In or Withdrawn",
            8,
            "Paid In",
        ),
    ],
)
def test_malformed_statements_are_refused_saying_where(name, message, row, column):
    with pytest.raises(StatementError) as caught:
        parse_file(fixture(name), name)
    assert str(caught.value) == message
    assert (caught.value.row, caught.value.column) == (row, column)
    assert isinstance(caught.value, ValueError)


# -------------------------------------------------------------------------------- simulator
def test_the_simulators_csv_and_xlsx_exports_read_back():
    """The simulator's writer (mpesa_sim.statement) and this reader agree on contract A."""
    kenya = timezone(timedelta(hours=3))
    rows = [
        [
            "UL2R0V1S2T",
            "02-12-2026 10:30:00",
            "02-12-2026 10:29:58",
            "Reversal of UL1C5D6E7F from 254722000001 - PETER OTIENO",
            "Completed",
            "2000.00",
            "",
            "1000500.00",
            "true",
            "Reversal",
            "254722000001 - PETER OTIENO",
            "UL1C5D6E7F",
            "",
        ],
        [
            "UL1C5D6E7F",
            "01-12-2026 10:02:40",
            "01-12-2026 10:02:39",
            "Business Payment to 254722000001 - PETER OTIENO",
            "Completed",
            "",
            "-2000.00",
            "998500.00",
            "true",
            "Salary Payment via API",
            "254722000001 - PETER OTIENO",
            "",
            "",
        ],
    ]
    exported = sim_statement.Statement(
        org_name="Sim & Co <Demo>",
        shortcode="600000",
        start=datetime(2026, 12, 1, 0, 0, 0, tzinfo=kenya),
        end=datetime(2026, 12, 2, 23, 59, 59, tzinfo=kenya),
        generated=datetime(2026, 12, 2, 12, 0, 0, tzinfo=kenya),
        opening_cents=100_050_000,
        closing_cents=100_050_000,
        paid_in_cents=200_000,
        withdrawn_cents=-200_000,
        rows=rows,
    )
    from_csv = parse_file(sim_statement.to_csv(exported), exported.filename("csv"))
    from_xlsx = parse_file(sim_statement.to_xlsx(exported), exported.filename("xlsx"))
    assert from_csv == from_xlsx
    assert (from_csv.holder, from_csv.shortcode, from_csv.account) == (
        "Sim & Co <Demo>",
        "600000",
        "Utility Account",
    )
    assert (from_csv.period_from, from_csv.period_to) == (
        datetime(2026, 11, 30, 21),
        datetime(2026, 12, 2, 20, 59, 59),
    )
    assert (from_csv.opening_balance, from_csv.closing_balance) == (100_050_000, 100_050_000)
    reversal, payment = from_csv.lines
    assert (reversal.kind, reversal.paid_in, reversal.linked_receipt) == ("reversal", 200_000, "UL1C5D6E7F")
    assert (payment.kind, payment.withdrawn, payment.msisdn, payment.party_name) == (
        "payment",
        200_000,
        "254722000001",
        "PETER OTIENO",
    )


# ------------------------------------------------------------------------------------- amounts
@pytest.mark.parametrize(
    ("withdrawn", "cents"),
    [
        ("-1500.00", 150_000),
        ("1500.00", 150_000),
        ("-1,500.00", 150_000),
        ("1,234,567.89", 123_456_789),
        ("(1,500.00)", 150_000),
        ("1500", 150_000),
        ("1500.5", 150_050),
        ("-0.01", 1),
        (" -22.40 ", 2_240),
        (1500, 150_000),  # spreadsheet cells
        (-1977.6, 197_760),
        (-1977.6000000000001, 197_760),
        (Decimal("-22.40"), 2_240),
    ],
)
def test_withdrawn_amounts_are_cents_whatever_the_sign(withdrawn, cents):
    assert one_line(Withdrawn=withdrawn).withdrawn == cents


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.345", "'12.345' has more than 2 decimals"),
        ("1500.000", "'1500.000' has more than 2 decimals"),
        (1500.125, "'1500.125' has more than 2 decimals"),
        (Decimal("1.001"), "'1.001' has more than 2 decimals"),
        ("1,50.00", "'1,50.00' is not an amount"),
        ("1500,00", "'1500,00' is not an amount"),  # a decimal comma is not guessed
        ("1 500.00", "'1 500.00' is not an amount"),
        ("KES 1500", "'KES 1500' is not an amount"),
        ("abc", "'abc' is not an amount"),
        ("--5", "'--5' is not an amount"),
        ("-(5)", "'-(5)' is not an amount"),
        ("(5", "'(5' is not an amount"),
        ("1e3", "'1e3' is not an amount"),
        (float("nan"), "nan is not an amount"),
        (True, "'true' is not an amount"),
        (datetime(2026, 1, 1), "'2026-01-01 00:00:00' is not an amount"),
    ],
)
def test_an_amount_that_is_not_cents_is_refused_naming_row_and_column(value, reason):
    error = error_of([*PREAMBLE, HEADER, b2c_row(Withdrawn=value)])
    assert str(error) == f"Row 8, column 'Withdrawn': {reason}"
    assert (error.row, error.column, error.reason) == (8, "Withdrawn", reason)


def test_a_bad_balance_is_refused_too():
    error = error_of([*PREAMBLE, HEADER, b2c_row(Balance="8,500.0.0")])
    assert str(error) == "Row 8, column 'Balance': '8,500.0.0' is not an amount"


def test_paid_in_must_not_be_negative_and_a_row_moves_money_one_way():
    error = error_of([*PREAMBLE, HEADER, b2c_row(**{"Paid In": "-5.00", "Withdrawn": ""})])
    assert str(error) == "Row 8, column 'Paid In': receipt UL1B2C3D4E: Paid In is negative"
    error = error_of([*PREAMBLE, HEADER, b2c_row(**{"Paid In": "5.00", "Withdrawn": "-5.00"})])
    assert str(error) == "Row 8, column 'Withdrawn': receipt UL1B2C3D4E has both Paid In and Withdrawn"
    # zero in the unused column, as the SFTP extract writes it, is fine
    line = one_line(**{"Paid In": "0", "Withdrawn": "-5.00"})
    assert (line.paid_in, line.withdrawn) == (0, 500)


# --------------------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("cell", "utc"),
    [
        ("01-12-2026 09:15:02", datetime(2026, 12, 1, 6, 15, 2)),
        ("01/12/2026 09:15:02", datetime(2026, 12, 1, 6, 15, 2)),
        ("01-12-2026 09:15", datetime(2026, 12, 1, 6, 15)),
        ("2026-12-01 09:15:02", datetime(2026, 12, 1, 6, 15, 2)),
        ("2026-12-01T09:15:02", datetime(2026, 12, 1, 6, 15, 2)),
        ("2026-12-01T06:15:02Z", datetime(2026, 12, 1, 6, 15, 2)),  # an explicit zone is kept
        ("01-01-2027 01:00:00", datetime(2026, 12, 31, 22, 0)),  # across midnight and the year
        (datetime(2026, 12, 1, 9, 15, 2), datetime(2026, 12, 1, 6, 15, 2)),  # a spreadsheet cell
        (datetime(2026, 12, 1, 6, 15, 2, tzinfo=timezone.utc), datetime(2026, 12, 1, 6, 15, 2)),
        ("", None),
    ],
)
def test_completion_times_are_eat_returned_as_naive_utc(cell, utc):
    assert one_line(**{"Completion Time": cell}).completed_at == utc


@pytest.mark.parametrize(
    "cell", ["31-11-2026 09:15:02", "12/31/2026 09:15:02", "yesterday", "2026-13-01 00:00:00"]
)
def test_a_date_that_is_not_one_is_refused(cell):
    error = error_of([*PREAMBLE, HEADER, b2c_row(**{"Initiation Time": cell})])
    assert (
        str(error)
        == f"Row 8, column 'Initiation Time': {cell!r} is not a date (dd-mm-yyyy HH:MM:SS expected)"
    )


def test_a_number_in_a_date_column_is_not_guessed_as_a_date():
    error = error_of([*PREAMBLE, HEADER, b2c_row(**{"Completion Time": 46357.5})])
    assert (
        str(error)
        == "Row 8, column 'Completion Time': '46357.5' is not a date (dd-mm-yyyy HH:MM:SS expected)"
    )


def test_the_time_zone_offset_is_a_parameter():
    (line,) = parse_rows([*PREAMBLE, HEADER, b2c_row()], tz_offset_hours=0).lines
    assert line.completed_at == datetime(2026, 12, 1, 9, 15, 2)
    assert parse_csv(fixture(f"{PORTAL}.csv"), tz_offset_hours=0).period_from == datetime(2026, 12, 1)


# ------------------------------------------------------------------------------ header, rows
@pytest.mark.parametrize(
    "cell", ["Receipt No.", "RECEIPT NO", " receipt  no. ", "\ufeffReceipt No.", "Receipt No.:"]
)
def test_the_header_is_found_by_its_first_cell_spelt_loosely(cell):
    statement = parse_rows([*PREAMBLE, [cell, *HEADER[1:]], b2c_row()])
    assert [line.receipt for line in statement.lines] == ["UL1B2C3D4E"]


def test_the_header_is_looked_for_in_the_first_30_rows_only():
    filler = [["Note:", "x"]] * 23
    assert len(parse_rows([*PREAMBLE, *filler, HEADER, b2c_row()]).lines) == 1  # header on row 30
    error = error_of([*PREAMBLE, *filler, ["Note:", "y"], HEADER, b2c_row()])  # row 31
    assert str(error) == "not an M-Pesa organisation statement: no 'Receipt No.' header in the first 30 rows"
    assert error_of([]).row is None


def test_no_preamble_and_only_the_required_columns_is_enough():
    statement = parse_rows(
        [
            ["Receipt No.", "Paid In", "Completion Time", "Withdrawn"],
            ["UL1B2C3D4E", "", "01-12-2026 09:15:02", "-1500.00"],
        ]
    )
    assert statement == Statement(
        holder="",
        shortcode="",
        account="",
        period_from=None,
        period_to=None,
        opening_balance=None,
        closing_balance=None,
        lines=(
            StatementLine(
                row=2,
                receipt="UL1B2C3D4E",
                completed_at=datetime(2026, 12, 1, 6, 15, 2),
                initiated_at=None,
                details="",
                status="Completed",  # no status column: the portal's file holds completed rows
                paid_in=0,
                withdrawn=150_000,
                balance=None,
                reason_type="",
                other_party="",
                msisdn=None,
                party_name="",
                linked_receipt="",
                account_number="",
                kind="other",  # money out, but nothing says it is a B2C payment
            ),
        ),
    )


def test_every_missing_required_column_is_named():
    error = error_of([["Receipt No.", "Details", "Withdrawn"], ["UL1B2C3D4E", "x", "-1"]])
    assert str(error) == (
        "Row 1, column 'Completion Time, Paid In': the header has no 'Completion Time' / 'Paid In' "
        "column (it has: Receipt No., Details, Withdrawn)"
    )


def test_a_column_twice_is_ambiguous():
    error = error_of([[*HEADER, "Paid in"], b2c_row()])
    assert str(error) == "Row 1, column 'Paid in': the header has two 'Paid in' columns"


def test_rows_without_receipt_or_status_are_refused_but_empty_rows_are_not():
    error = error_of([*PREAMBLE, HEADER, b2c_row(**{"Receipt No.": ""})])
    assert str(error) == "Row 8, column 'Receipt No.': a row with no receipt"
    error = error_of([*PREAMBLE, HEADER, b2c_row(**{"Transaction Status": " "})])
    assert str(error) == "Row 8, column 'Transaction Status': receipt UL1B2C3D4E has no status"
    statement = parse_rows([*PREAMBLE, HEADER, [], ["", None, "  "], b2c_row(), [""] * 13, []])
    assert [line.row for line in statement.lines] == [10]


def test_rows_of_other_statuses_are_skipped_and_counted_unchecked():
    statement = parse_rows(
        [
            *PREAMBLE,
            HEADER,
            b2c_row(**{"Receipt No.": "UL1FAILED1", "Transaction Status": "Failed", "Withdrawn": "junk"}),
            b2c_row(**{"Receipt No.": "UL1DECLIN1", "Transaction Status": "Declined"}),
            b2c_row(**{"Transaction Status": "COMPLETED"}),
        ]
    )
    assert statement.skipped == 2
    assert [(line.row, line.status) for line in statement.lines] == [(10, "COMPLETED")]


def test_cells_past_a_short_rows_end_are_empty():
    statement = parse_rows([HEADER, ["UL1B2C3D4E", "01-12-2026 09:15:02", "", "", "Completed", "100.00"]])
    (line,) = statement.lines
    assert (line.paid_in, line.withdrawn, line.balance, line.kind) == (10_000, 0, None, "float")


# ----------------------------------------------------------------------------------- preamble
def test_the_preamble_is_read_leniently():
    rows = [
        ["Account Holder: OpenG2P Demo"],  # label and value in one cell
        ["Short Code", 600000.0],  # no colon; a number cell
        ["Time Period:", "From 01-12-2026 00:00:00", "To 01-12-2026 23:59:59"],
        ["Opening Balance:", "not known", "Closing Balance:", 8500],
        ["Account:"],  # no value
        HEADER,
    ]
    statement = parse_rows(rows)
    assert (statement.holder, statement.shortcode, statement.account) == ("OpenG2P Demo", "600000", "")
    assert (statement.period_from, statement.period_to) == (
        eat("01-12-2026 00:00:00"),
        eat("01-12-2026 23:59:59"),
    )
    assert (statement.opening_balance, statement.closing_balance) == (None, 850_000)
    assert statement.lines == ()


def test_a_period_of_spreadsheet_dates_or_unreadable_text():
    period = ["Time Period:", "From", datetime(2026, 12, 1), "To", datetime(2026, 12, 1, 23, 59, 59)]
    statement = parse_rows([period, HEADER])
    assert (statement.period_from, statement.period_to) == (
        eat("01-12-2026 00:00:00"),
        eat("01-12-2026 23:59:59"),
    )
    statement = parse_rows([["Time Period:", "From", "last week", "To", "02-12-2026 00:00:00"], HEADER])
    assert (statement.period_from, statement.period_to) == (None, eat("02-12-2026 00:00:00"))


# -------------------------------------------------------------------------- kinds and parties
@pytest.mark.parametrize(
    ("cells", "kind"),
    [
        ({}, "payment"),
        (
            {"Details": "Salary Payment to 254712345678 - JANE DOE", "Reason Type": "Salary Payment via API"},
            "payment",
        ),
        ({"Details": "Promotion Payment to 254712345678 - JANE DOE"}, "payment"),
        ({"Details": "", "Reason Type": "Business Payment to Customer via API"}, "payment"),
        ({"Details": "B2C Payment Charge", "Reason Type": "", "Other Party Info": ""}, "charge"),
        (
            {"Details": "Withdrawal", "Reason Type": "Business Payment Charge", "Other Party Info": ""},
            "charge",
        ),
        ({"Details": "Business Pay Bill Charge", "Reason Type": "Pay Bill Charges"}, "charge"),
        (
            {"Reason Type": "Business Payment to Customer Withdrawal Charge Paid via API"},
            "payment",
        ),
        ({"Withdrawn": "", "Paid In": "1500.00", "Linked Transaction ID": "UL1C5D6E7F"}, "reversal"),
        (
            {"Withdrawn": "", "Paid In": "1500.00", "Details": "Reversal of UL1C5D6E7F", "Reason Type": ""},
            "reversal",
        ),
        ({"Withdrawn": "", "Paid In": "1500.00", "Details": "Funds Transfer from Working Account"}, "float"),
        (
            {
                "Withdrawn": "",
                "Paid In": "100.00",
                "Details": "Pay Bill from 254712345678",
                "Reason Type": "",
            },
            "float",
        ),
        ({"Details": "Reversal of UL1XXXXXXX to 254712345678", "Reason Type": "Reversal"}, "other"),
        ({"Details": "Funds Transfer to Working Account", "Reason Type": "Funds Transfer"}, "other"),
        ({"Withdrawn": "0.00", "Paid In": "0.00"}, "other"),
    ],
)
def test_kinds(cells, kind):
    assert one_line(**cells).kind == kind


def test_a_reversal_without_a_linked_id_names_the_original_from_its_details():
    line = one_line(
        **{
            "Withdrawn": "",
            "Paid In": "2000.00",
            "Details": "Reversal of ul1c5d6e7f from 254722000001 - PETER OTIENO",
            "Reason Type": "Reversal",
        }
    )
    assert (line.kind, line.linked_receipt) == ("reversal", "UL1C5D6E7F")


@pytest.mark.parametrize(
    ("other_party", "details", "msisdn", "name"),
    [
        ("254712345678 - JANE DOE", "", "254712345678", "JANE DOE"),
        ("2547****5678 - JANE DOE", "", "2547****5678", "JANE DOE"),
        ("0712***678 - JANE DOE", "", "0712***678", "JANE DOE"),
        ("+254712345678 - JANE DOE", "", "254712345678", "JANE DOE"),
        ("0722926212- CYNTHIA OMONDI", "", "0722926212", "CYNTHIA OMONDI"),
        ("254712345678", "", "254712345678", ""),
        ("", "Business Payment to 254733444555 - GRACE NJERI via API", "254733444555", "GRACE NJERI"),
        ("", "Business Payment to 2547****4555 - GRACE NJERI", "2547****4555", "GRACE NJERI"),
        ("600000 - OpenG2P Demo", "Funds Transfer", None, "OpenG2P Demo"),  # a shortcode is no number
        ("Working Account", "", None, "Working Account"),
        ("Customer Credits Acc. 123456789012", "", None, "Customer Credits Acc. 123456789012"),
        ("", "B2C Payment Charge", None, ""),
    ],
)
def test_the_number_and_name_of_the_other_party(other_party, details, msisdn, name):
    line = one_line(**{"Other Party Info": other_party, "Details": details})
    assert (line.msisdn, line.party_name) == (msisdn, name)


@pytest.mark.parametrize(
    ("found", "expected", "matches"),
    [
        ("254712345678", "254712345678", True),
        ("0712345678", "254712345678", True),
        ("2547****5678", "254712345678", True),
        ("0712***678", "254712345678", True),
        ("2547****5678", "254712345679", False),
        ("2547****567", "254712345678", False),  # lengths differ after normalisation
        ("254712345679", "254712345678", False),
        (None, "254712345678", False),
        ("", "254712345678", False),
    ],
)
def test_msisdn_matches_is_the_wire_codes_own(found, expected, matches):
    assert msisdn_matches is wire_numbers.msisdn_matches
    assert msisdn_matches(found, expected) is matches


# -------------------------------------------------------------------------- files and formats
def test_the_package_exports_the_parser():
    assert daraja.parse_file is parse_file
    assert daraja.StatementError is StatementError
    assert {"Statement", "StatementLine", "parse_csv", "parse_rows", "parse_xlsx"} <= set(daraja.__all__)


def test_a_csv_is_read_whatever_its_name_and_an_xlsx_by_its_content():
    csv_data = fixture(f"{PORTAL}.csv")
    assert parse_file(csv_data, "statement.txt") == PORTAL_STATEMENT
    assert parse_file(fixture(f"{PORTAL}.xlsx"), "statement.csv") == PORTAL_STATEMENT


def test_utf16_text_as_excel_saves_unicode_text():
    text = fixture(f"{PORTAL}.csv").decode("utf-8").replace(",", "\t")
    assert parse_csv(text.encode("utf-16")) == PORTAL_STATEMENT


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
            "statement.xls",
            "this is an Excel 97-2003 (.xls) file: save it as .xlsx or CSV and import that",
        ),
        (
            b"Receipt No.,x",
            "statement.xlsx",
            "statement.xlsx is named as an XLSX workbook but is not one (not a zip archive)",
        ),
        (b"\x81\x8d\x8f\x90\x9d", "statement.csv", "the file is not text (neither UTF-8 nor Windows-1252)"),
        (
            b"",
            "statement.csv",
            "not an M-Pesa organisation statement: no 'Receipt No.' header in the first 30 rows",
        ),
        (
            b'Receipt No.,"' + b"x" * 200_000,
            "s.csv",
            "the file is not readable as CSV: field larger than field limit (131072)",
        ),
    ],
)
def test_files_that_are_no_statement(data, filename, message):
    with pytest.raises(StatementError) as caught:
        parse_file(data, filename)
    assert str(caught.value) == message


def _zip(parts: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 not really", "the file is not an XLSX workbook (not a zip archive)"),
        (_zip({"word/document.xml": "<w/>"}), "the XLSX workbook has no xl/workbook.xml"),
        (
            _zip({"xl/workbook.xml": "<workbook><sheets>"}),
            "the XLSX part xl/workbook.xml is not readable: no element found: line 1, column 18",
        ),
        (_zip({"xl/workbook.xml": "<workbook/>"}), "the XLSX workbook has no xl/worksheets/sheet1.xml"),
        (
            _zip(
                {
                    "xl/workbook.xml": "<workbook/>",
                    "xl/worksheets/sheet1.xml": (
                        '<worksheet><sheetData><row r="2"/><row r="1"/></sheetData></worksheet>'
                    ),
                }
            ),
            "the XLSX sheet has a row numbered 1 out of order",
        ),
        (
            _zip(
                {
                    "xl/workbook.xml": "<workbook/>",
                    "xl/worksheets/sheet1.xml": (
                        '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
                        "</worksheet>"
                    ),
                }
            ),
            "Row 1: the XLSX cell A1 names no shared string",
        ),
    ],
)
def test_xlsx_files_that_cannot_be_read(data, message):
    with pytest.raises(StatementError) as caught:
        parse_xlsx(data)
    assert str(caught.value) == message


def test_a_minimal_xlsx_with_shared_rich_strings():
    shared = (
        "<sst><si><t>Receipt No.</t></si><si><r><t>Completion </t></r><r><t>Time</t></r>"
        "<rPh><t>ignored</t></rPh></si><si><t>Paid In</t></si><si><t>Withdrawn</t></si></sst>"
    )
    sheet = (
        '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>UL1B2C3D4E</t></is></c>'
        '<c r="B2" t="d"><v>2026-12-01T09:15:02</v></c><c r="D2"><v>-1500</v></c></row>'
        "</sheetData></worksheet>"
    )
    data = _zip(
        {"xl/workbook.xml": "<workbook/>", "xl/sharedStrings.xml": shared, "xl/worksheets/sheet1.xml": sheet}
    )
    (line,) = parse_xlsx(data).lines
    assert (line.row, line.receipt, line.completed_at, line.withdrawn) == (
        2,
        "UL1B2C3D4E",
        datetime(2026, 12, 1, 6, 15, 2),
        150_000,
    )
