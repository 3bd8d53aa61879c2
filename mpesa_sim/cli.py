"""`mpesa-sim serve | seed | info`."""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_DB = "./mpesa_sim.sqlite3"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mpesa-sim", description="A local M-Pesa (Daraja B2C, Vodacom OpenAPI) simulator."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    db_help = f"SQLite file (default $MPESA_SIM_DB or {DEFAULT_DB})"

    serve = sub.add_parser("serve", help="run the simulator")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: local only)")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--db", default=os.environ.get("MPESA_SIM_DB", DEFAULT_DB), help=db_help)
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("MPESA_SIM_ADMIN_TOKEN"),
        help="admin token (default: generated at first start and stored)",
    )
    serve.add_argument("--no-demo", action="store_true", help="no demo wallets/till/agent on a new database")
    from mpesa_sim.markets import MARKETS

    serve.add_argument(
        "--market",
        type=str.upper,
        choices=list(MARKETS),
        default=os.environ.get("MPESA_SIM_MARKET") or None,
        help="KE (Kenya, the default for a new database) or ET (Ethiopia): Daraja; TZ (Tanzania), CD (DR"
        " Congo), LS (Lesotho), GH (Ghana) or MZ (Mozambique): Vodacom's M-Pesa OpenAPI, and in MZ also"
        " Vodacom Mozambique's own API (v1x). One market per process, stored in the database: a restart"
        " keeps it, another market is refused",
    )
    serve.add_argument(
        "--mz-ports",
        default=os.environ.get("MPESA_SIM_MZ_PORTS") or "",
        help="Mozambique (--market MZ): also listen on these ports (comma separated), on the same"
        " address, with the same app and ledger. Vodacom Mozambique's own API has one port per"
        " operation (18345 B2C, 18353 query, 18354 reversal, 18352 C2B, 18349 B2B) and its clients"
        " append them to the host: e.g. --mz-ports 18345,18352,18353,18354",
    )
    serve.add_argument("--log-level", default="warning")

    seed = sub.add_parser("seed", help="create/update wallets and tills from a CSV or JSON file")
    seed.add_argument("file")
    seed.add_argument("--db", default=os.environ.get("MPESA_SIM_DB", DEFAULT_DB), help=db_help)

    info = sub.add_parser("info", help="print credentials and settings of a database")
    info.add_argument("--db", default=os.environ.get("MPESA_SIM_DB", DEFAULT_DB), help=db_help)

    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve_command(args)
    if args.command == "seed":
        return seed_command(args)
    return info_command(args)


def parse_ports(text: str, own_port: int) -> tuple[int, ...]:
    """``"18345,18353"`` -> (18345, 18353); ValueError for anything else, a repeat or the
    simulator's own port."""
    ports: list[int] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise ValueError(f"--mz-ports: {item!r} is not a port (1 to 65535)")
        port = int(item)
        if port == own_port or port in ports:
            raise ValueError(f"--mz-ports: port {port} is given twice (or is --port)")
        ports.append(port)
    return tuple(ports)


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from mpesa_sim import families
    from mpesa_sim.app import create_app
    from mpesa_sim.markets import MarketMismatch
    from mpesa_sim.state import Simulator

    try:
        extra_ports = parse_ports(args.mz_ports, args.port)
    except ValueError as exc:
        print(f"mpesa-sim: {exc}", file=sys.stderr)
        return 2
    try:
        sim = Simulator(args.db, admin_token=args.admin_token, demo=not args.no_demo, market=args.market)
    except MarketMismatch as exc:
        print(f"mpesa-sim: {exc}", file=sys.stderr)
        return 2
    if extra_ports and "mz" not in {family.name for family in families.serving(sim.market)}:
        print(
            f"mpesa-sim: --mz-ports is for Mozambique (--market MZ); this is a {sim.market.code} simulator",
            file=sys.stderr,
        )
        sim.stop()
        return 2
    sim.extra_ports = extra_ports
    app = create_app(sim)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    if not extra_ports:
        print(banner(sim, f"http://{args.host}:{args.port}", args.db), flush=True)
        uvicorn.Server(config).run()
        return 0
    # One process, one app, one ledger: the same server listens on every port.
    sockets = []
    try:
        for port in (args.port, *extra_ports):
            sockets.append(
                uvicorn.Config(app, host=args.host, port=port, log_level=args.log_level).bind_socket()
            )
    except SystemExit:  # uvicorn logged why (the port is taken)
        for sock in sockets:
            sock.close()
        sim.stop()
        return 2
    print(banner(sim, f"http://{args.host}:{args.port}", args.db), flush=True)
    uvicorn.Server(config).run(sockets=sockets)
    return 0


def banner(sim, base_url: str, db_path: str) -> str:
    from mpesa_sim import organisation

    org = sim.org
    market = sim.market
    paths = market.api_paths
    agent, admin = organisation.DEMO_AGENT, organisation.DEMO_ADMIN
    wallets = sim.db.all(
        "SELECT msisdn, first_name, last_name, registered, status FROM wallets ORDER BY rowid LIMIT 8"
    )
    lines = [
        "M-Pesa simulator",
        f"  URL               {base_url}   (OpenAPI docs: {base_url}/docs)",
        f"  pages             {base_url}/phone (a beneficiary's phone), {base_url}/console (operator)",
        f"  database          {os.path.abspath(db_path)}",
        f"  admin token       {sim.admin_token}   (Authorization: Bearer ... on /sim/admin/*)",
    ]
    market_line = (
        f"  market            {market.code} ({market.country}, {market.operator}),"
        f" currency {market.currency}, USSD {market.ussd_code}"
    )
    if market.is_openapi:
        cfg = sim.config
        lines += [
            f"  API key           {sim.openapi['api_key']}",
            f"  public key        {base_url}/sim/openapi/public-key (base64 DER; encrypt the API key and"
            " the SessionID with it)",
            f"  ServiceProvider   {org['shortcode']} ({org['org_name']})",
            market_line,
            f"  OpenAPI paths     {market.openapi['path_prefix']}/{market.openapi['context']}/:"
            " getSession/ GET, b2cPayment/ POST, queryTransactionStatus/ GET, reversal/ PUT"
            " (also under /openapi/ipg/v2)",
            f"  input_Country     {market.openapi['country']}, input_Currency {market.currency}",
            f"  sessions          live after {cfg['openapi_session_delay_seconds']} s, for"
            f" {cfg['openapi_session_lifetime_seconds']} s; answers {cfg['openapi_b2c_mode']}"
            + (f", results to {cfg['openapi_callback_url']}" if cfg["openapi_callback_url"] else ""),
        ]
    else:
        lines += [
            f"  consumer key      {org['consumer_key']}",
            f"  consumer secret   {org['consumer_secret']}",
            f"  B2C shortcode     {org['shortcode']} ({org['org_name']})",
            market_line,
            f"  Daraja paths      token GET {paths['token']}, B2C POST {paths['b2c']},"
            f" status {paths['status']}, balance {paths['balance']}, reversal {paths['reversal']}",
            f"  initiator         {org['initiator_name']} / {org['initiator_password']}",
            f"  certificate       {base_url}/sim/certificate.pem (encrypt the initiator password with it)",
        ]
    from mpesa_sim import families

    for family in families.serving(market):
        if family.banner is not None:
            lines += family.banner(sim, base_url)
    lines += [
        f"  simple-mpesa      agent {agent['email']} / {agent['password']};"
        f" administrator {admin['email']} / {admin['password']}",
        "  wallets (PIN 1234 unless seeded otherwise):",
    ]
    for w in wallets:
        note = "" if w["registered"] else " [not registered]"
        note += "" if w["status"] == "active" else f" [{w['status']}]"
        lines.append(f"    {w['msisdn']}  {w['first_name']} {w['last_name']}{note}")
    lines += [
        "  seed more:         mpesa-sim seed wallets.csv --db ...   or POST /sim/admin/seed",
        "                     CSV columns: msisdn,first_name,last_name,id_type,id_number,pin,balance,"
        "registered,status",
        f"  USSD:              POST {base_url}/ussd (Africa's Talking form fields), code {market.ussd_code}",
    ]
    return "\n".join(lines)


def seed_command(args: argparse.Namespace) -> int:
    import json

    from mpesa_sim import directory, organisation
    from mpesa_sim.db import Database

    with open(args.file, encoding="utf-8") as handle:
        text = handle.read()
    db = Database(args.db)
    organisation.bootstrap(db)  # the database's own market (Kenya for a new file)
    try:
        data = directory.parse_seed_file(args.file, text)
        with db.write() as conn:
            result = directory.seed(conn, data)
    except (directory.SeedError, ValueError) as exc:
        print(f"seed failed, nothing changed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"wallets": len(result["wallets"]), "tills": len(result["tills"])}))
    return 0


def info_command(args: argparse.Namespace) -> int:
    import mpesa_sim.app  # noqa: F401  (registers the API families the state resumes)
    from mpesa_sim.state import Simulator

    sim = Simulator(args.db)
    print(banner(sim, "http://127.0.0.1:8090", args.db))
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
