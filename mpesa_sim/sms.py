"""SMS confirmations in M-Pesa's wording, stored per phone (the simulated handset's inbox).

The texts are in ``i18n.SMS``, in the market's first language: English, French in DR Congo,
Portuguese in Mozambique. The receipt comes first and amounts keep the market's money format.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from mpesa_sim import i18n, markets, receipts
from mpesa_sim.receipts import shillings

SENDER = "MPESA"


def when(moment: dt.datetime) -> str:
    """'27/11/26 at 10:15 AM', as M-Pesa writes it (in French '27/11/26 à 10:15')."""
    hour = moment.hour % 12 or 12
    return i18n.sms(
        "when",
        date="%d/%d/%s" % (moment.day, moment.month, moment.strftime("%y")),
        clock12="%d:%02d %s" % (hour, moment.minute, "AM" if moment.hour < 12 else "PM"),
        clock24=moment.strftime("%H:%M"),
    )


def send(conn: sqlite3.Connection, msisdn: str, body: str) -> None:
    conn.execute(
        "INSERT INTO sms(msisdn, sender, body, created_at) VALUES (?, ?, ?, ?)",
        (msisdn, SENDER, body, receipts.iso()),
    )


def _sms(key: str, cents: int, moment: dt.datetime, new_balance: int | None = None, **values) -> str:
    balance = shillings(new_balance) if new_balance is not None else ""
    return i18n.sms(key, amount=shillings(cents), when=when(moment), balance=balance, **values)


def b2c_received(receipt: str, cents: int, org_name: str, moment: dt.datetime, new_balance: int) -> str:
    org, promo = org_name.upper(), markets.current().sms_promo
    return _sms("b2c_received", cents, moment, new_balance, receipt=receipt, org=org, promo=promo)


def till_paid(receipt: str, cents: int, till_name: str, moment: dt.datetime, new_balance: int) -> str:
    return _sms("till_paid", cents, moment, new_balance, receipt=receipt, till=till_name)


def till_received(receipt: str, cents: int, payer: str, moment: dt.datetime) -> str:
    return _sms("till_received", cents, moment, receipt=receipt, payer=payer)


def deposit_received(receipt: str, cents: int, agent_name: str, moment: dt.datetime, new_balance: int) -> str:
    return _sms("deposit_received", cents, moment, new_balance, receipt=receipt, agent=agent_name)


def transfer_sent(receipt: str, cents: int, to_name: str, moment: dt.datetime, new_balance: int) -> str:
    return _sms("transfer_sent", cents, moment, new_balance, receipt=receipt, to=to_name)


def transfer_received(receipt: str, cents: int, from_name: str, moment: dt.datetime, new_balance: int) -> str:
    return _sms("transfer_received", cents, moment, new_balance, receipt=receipt, sender=from_name)


def withdrawn(receipt: str, cents: int, agent_name: str, moment: dt.datetime, new_balance: int) -> str:
    return _sms("withdrawn", cents, moment, new_balance, receipt=receipt, agent=agent_name)


def reversal_debited(
    receipt: str, original: str, cents: int, org_name: str, moment: dt.datetime, new_balance: int
) -> str:
    """The payee's SMS when a payment to them is reversed (the simulator's wording)."""
    org = org_name.upper()
    return _sms("reversal_debited", cents, moment, new_balance, receipt=receipt, original=original, org=org)
