"""SMS confirmations in M-Pesa's wording, stored per phone (the simulated handset's inbox)."""

from __future__ import annotations

import datetime as dt
import sqlite3

from mpesa_sim import markets, receipts
from mpesa_sim.receipts import shillings

SENDER = "MPESA"


def _m() -> str:
    """The currency as the market's SMS write it before an amount ("Ksh", "ETB ")."""
    return markets.current().money


def when(moment: dt.datetime) -> str:
    """'27/11/26 at 10:15 AM', as M-Pesa writes it."""
    hour = moment.hour % 12 or 12
    return "%d/%d/%s at %d:%02d %s" % (
        moment.day,
        moment.month,
        moment.strftime("%y"),
        hour,
        moment.minute,
        "AM" if moment.hour < 12 else "PM",
    )


def send(conn: sqlite3.Connection, msisdn: str, body: str) -> None:
    conn.execute(
        "INSERT INTO sms(msisdn, sender, body, created_at) VALUES (?, ?, ?, ?)",
        (msisdn, SENDER, body, receipts.iso()),
    )


def b2c_received(receipt: str, cents: int, org_name: str, moment: dt.datetime, new_balance: int) -> str:
    return (
        f"{receipt} Confirmed. You have received {_m()}{shillings(cents)} from {org_name.upper()}"
        f" on {when(moment)}."
        f" New M-PESA balance is {_m()}{shillings(new_balance)}."
        f"{markets.current().sms_promo}"
    )


def till_paid(receipt: str, cents: int, till_name: str, moment: dt.datetime, new_balance: int) -> str:
    return (
        f"{receipt} Confirmed. {_m()}{shillings(cents)} paid to {till_name}. on {when(moment)}."
        f"New M-PESA balance is {_m()}{shillings(new_balance)}. Transaction cost, {_m()}0.00."
    )


def till_received(receipt: str, cents: int, payer: str, moment: dt.datetime) -> str:
    return f"{receipt} Confirmed. {_m()}{shillings(cents)} received from {payer} on {when(moment)}."


def deposit_received(receipt: str, cents: int, agent_name: str, moment: dt.datetime, new_balance: int) -> str:
    return (
        f"{receipt} Confirmed. On {when(moment)} Give {_m()}{shillings(cents)} cash to {agent_name}"
        f" New M-PESA balance is {_m()}{shillings(new_balance)}."
    )


def transfer_sent(receipt: str, cents: int, to_name: str, moment: dt.datetime, new_balance: int) -> str:
    return (
        f"{receipt} Confirmed. {_m()}{shillings(cents)} sent to {to_name} on {when(moment)}."
        f" New M-PESA balance is {_m()}{shillings(new_balance)}. Transaction cost, {_m()}0.00."
    )


def transfer_received(receipt: str, cents: int, from_name: str, moment: dt.datetime, new_balance: int) -> str:
    return (
        f"{receipt} Confirmed. You have received {_m()}{shillings(cents)} from {from_name} on {when(moment)}."
        f" New M-PESA balance is {_m()}{shillings(new_balance)}."
    )


def withdrawn(receipt: str, cents: int, agent_name: str, moment: dt.datetime, new_balance: int) -> str:
    return (
        f"{receipt} Confirmed. On {when(moment)} Withdraw {_m()}{shillings(cents)} from {agent_name}"
        f" New M-PESA balance is {_m()}{shillings(new_balance)}. Transaction cost, {_m()}0.00."
    )


def reversal_debited(
    receipt: str, original: str, cents: int, org_name: str, moment: dt.datetime, new_balance: int
) -> str:
    """The payee's SMS when a payment to them is reversed (the simulator's wording)."""
    return (
        f"{receipt} Confirmed. Transaction {original} of {_m()}{shillings(cents)} from {org_name.upper()}"
        f" has been reversed on {when(moment)}. {_m()}{shillings(cents)} has been debited from your"
        f" M-PESA account. New M-PESA balance is {_m()}{shillings(new_balance)}."
    )
