"""Statements read row by row (scan_file): the same head and lines as parse_file reads, every
fixture and encoding, the same refusals, and memory that does not grow with the file."""

import io
import tracemalloc
from pathlib import Path

import pytest

from mpesa_wire import daraja
from mpesa_wire.daraja.statement import StatementError, parse_file, scan_file

FIXTURES = Path(__file__).parent / "fixtures" / "statements"
READABLE = sorted(
    path.name
    for path in FIXTURES.iterdir()
    if path.suffix in (".csv", ".xlsx") and not path.name.startswith("malformed")
)
MALFORMED = sorted(path.name for path in FIXTURES.iterdir() if path.name.startswith("malformed"))


def opener_of(data: bytes):
    return lambda: io.BytesIO(data)


@pytest.mark.parametrize("name", READABLE)
def test_a_scan_reads_what_parse_file_reads(name):
    data = (FIXTURES / name).read_bytes()
    parsed = parse_file(data, name)
    scan = scan_file(opener_of(data), name)
    assert scan.statement == parsed.__class__(**{**parsed.__dict__, "lines": ()})
    assert tuple(scan.lines()) == parsed.lines
    assert tuple(scan.lines()) == parsed.lines  # each pass is a fresh one
    assert scan.line_count == len(parsed.lines)
    assert scan.moved == sum(line.paid_in - line.withdrawn for line in parsed.lines)
    assert scan.has_balances == all(line.balance is not None for line in parsed.lines)


@pytest.mark.parametrize("name", MALFORMED)
def test_a_scan_refuses_what_parse_file_refuses_with_the_same_words(name):
    data = (FIXTURES / name).read_bytes()
    with pytest.raises(StatementError) as parsed:
        parse_file(data, name)
    with pytest.raises(StatementError) as scanned:
        scan_file(opener_of(data), name)
    assert str(scanned.value) == str(parsed.value)


def test_the_daraja_family_offers_the_scan():
    assert daraja.FAMILY.scan_statement is scan_file


def big_csv(rows: int) -> bytes:
    head = (
        "Account Holder:,Org\nShort Code:,600000\nAccount:,Utility Account\n"
        "Time Period:,From,01-12-2026 00:00:00,To,01-12-2026 23:59:59\n"
        f"Opening Balance:,{rows * 100}.00,Closing Balance:,0.00\n"
        "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,"
        "Reason Type,Other Party Info,Linked Transaction ID,A/C No.\n"
    )
    body = "".join(
        f"UA{i:08d},01-12-2026 10:00:00,01-12-2026 10:00:00,Business Payment to 254711{i % 1000000:06d} - "
        f"Bench {i:06d},Completed,,-100.00,{(rows - i - 1) * 100}.00,Business Payment,"
        f"254711{i % 1000000:06d} - Bench {i:06d},,\n"
        for i in range(rows)
    )
    return (head + body).encode()


def test_a_scan_keeps_no_line_in_memory():
    """Scanning 15,000 rows and reading them back one by one takes a small fraction of what
    reading them into one statement takes: only the receipts seen (the duplicate check, about a
    hundred bytes a row) grow with the file."""
    data = big_csv(15000)

    def peak(read):
        tracemalloc.start()
        read()
        _now, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    def scan():
        scan = scan_file(opener_of(data), "big.csv")
        assert sum(1 for _line in scan.lines()) == scan.line_count == 15000
        assert scan.moved == -15000 * 10000

    scanned, parsed = peak(scan), peak(lambda: parse_file(data, "big.csv"))
    assert scanned < parsed / 5, (scanned, parsed)
    assert scanned / 15000 < 200, scanned
