"""``g2p-bridge-mpesa`` (or ``python -m g2p_bridge_mpesa``): migrate, serve, status, and one-off steps.

Settings come from the environment and the working directory's ``.env`` (``G2P_BRIDGE_MPESA_*``),
exactly as the bridge's workers read them.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import report, statements
from .db import database
from .engine import Engine
from .service import Service, run_once
from .settings import SettingsError, load_settings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="g2p-bridge-mpesa", description=__doc__)
    parser.add_argument("--env-file", default=".env")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create the connector's tables")
    serve = sub.add_parser("serve", help="result listener + reconcile/statement loop")
    serve.add_argument("--port", type=int)
    status = sub.add_parser("status", help="payments by state, held ones, reservations, statements")
    status.add_argument("--json", action="store_true")
    sub.add_parser("run-once", help="one reconcile + statement pass for every bank")
    balance = sub.add_parser("balance", help="ask M-Pesa for the float (Daraja) and wait for it")
    balance.add_argument("bank_code")
    resume = sub.add_parser("resume", help="send again for a bank stopped by refused credentials")
    resume.add_argument("bank_code")
    post = sub.add_parser("statements", help="write and post statements now")
    post.add_argument("--no-post", action="store_true")
    sub.add_parser("check-bridge", help="does the installed G2P Bridge (1.1.0 or 1.2) fit the connector?")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "check-bridge":
        from .bridge_check import check

        ok, lines = check()
        print("\n".join(lines))
        print("the connector fits this bridge" if ok else "the connector does NOT fit this bridge")
        return 0 if ok else 1
    try:
        settings = load_settings(args.env_file)
        db = database(settings.dsn())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        db.ensure_schema()
        print("mpesa_bridge_ tables ready")
    elif args.command == "serve":
        Service(settings, port=args.port).start().wait()
    elif args.command == "status":
        data = report.collect(db)
        print(report.as_json(data) if args.json else report.render(data))
        return 1 if data["ledger_problems"] else 0
    elif args.command == "run-once":
        print(run_once(settings))
    elif args.command == "balance":
        engine = Engine.for_bank(settings, args.bank_code)
        found = engine.fresh_balance()
        print(f"{engine.market.currency} {found[0]} at {found[1]}" if found else "no balance from M-Pesa yet")
    elif args.command == "resume":
        Engine.for_bank(settings, args.bank_code).resume_sending()
        print(f"sending resumed for {args.bank_code.upper()}")
    elif args.command == "statements":
        for code, bank in settings.banks.items():
            engine = Engine(settings, code, bank)
            print(code, "written:", statements.build(engine))
            if not args.no_post:
                print(code, "posted:", statements.post(engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
