"""Fault drill: pay a cycle through the addon into the simulator under injected faults and crashes.

Run with the OpenG2P Python (Odoo 17 importable), e.g.

    /opt/openg2p/venv/bin/python bench/fault_drill.py --payments 10000

It starts a throwaway PostgreSQL cluster, the simulator (from --sim-python) with faults switched on,
installs the addon into a new database, creates a KES program of N registrants with approved
entitlements and prepared payments, presses Send, and starts Odoo with queue_job workers. While
payments leave, it SIGKILLs the Odoo process group and starts it again, and kills and restarts the
simulator once. Reconciliation then runs until no payment is in flight. It prints a table and
exits non-zero when a payment was paid more than once, a payment has neither a final state nor a
review flag, or the simulator's payouts differ from Odoo's amount_paid.

`--market TZ` runs the same drill on a Vodacom market (Vodacom's M-Pesa OpenAPI, here Tanzania:
a TZS program, Vodacom numbers, a manager with the API key and public key, the simulator started
with --market TZ). The faults are those the OpenAPI has (OPENAPI_FAULTS); its B2C answers are
synchronous by default (the result is in the answer, applied by the send job) or, with
`--openapi-b2c async`, posted to the manager's result URL (and the callback faults are added).
There is no statement import on a Vodacom market (the layout of the portal's export is not
public): what a status query cannot settle stays "needs review", and the drill says which.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _harness import (
    MODULE,
    REPO,
    SHELL_PRELUDE,
    BenchError,
    Cluster,
    MarketData,
    OdooServer,
    RunningSimulator,
    Sql,
    default_addons_path,
    default_sim_python,
    free_port,
    odoo_run,
    write_config,
)
from _harness import Rpc as _Rpc
from _proxy import RoundRobinProxy

# queue_job's runner elects one master per database with this advisory lock (jobrunner/runner.py).
QUEUE_JOB_MASTER_LOCK = 2293787760715711918

IN_FLIGHT = ("queued", "submitting", "accepted", "unknown")
# Acknowledged by M-Pesa or beyond: how far the batch is (a reserved request may not have left).
LEFT = ("accepted", "unknown", "paid", "failed", "needs_review")

# What the simulator injects, all at once. sync_500 is refused unprocessed; sync_500_processed is
# processed yet answered 500 (the dangerous one: a blind re-send under a new id would pay twice);
# together they make the 5% of sync 500s.
FAULTS = {
    "sync_500": {"rate": 0.03},
    "sync_500_processed": {"rate": 0.02},
    "no_callback": {"rate": 0.05},
    "duplicate_callback": {"rate": 0.03, "copies": 2},
    "queue_timeout": {"rate": 0.02, "processed": False},
    "late_callback": {"rate": 0.05, "delay_ms": 3000},
    "out_of_order_callback": {"rate": 0.10, "delay_ms": 2000},
    # M-Pesa's "failed, no money moved" (17): the one case where the payment goes again under a
    # new id, so the drill also watches the path where a double payment could come from.
    "transient_result": {"rate": 0.01, "code": 17},
}

# Vodacom's M-Pesa OpenAPI (mpesa_sim/faults.py KINDS: those that apply to it). Every unknown
# outcome among them is one a status query settles: sync_500 is refused unprocessed (HTTP 500
# INS-1); sync_500_processed pays and answers 408 INS-9; ins_1 pays and answers 400 INS-1 (an
# answer that says nothing of the outcome); a slow answer still comes. The status query itself
# meets them too (party_b unknown there: every rule applies to it).
OPENAPI_FAULTS = {
    "sync_500": {"rate": 0.03},
    "sync_500_processed": {"rate": 0.02},
    "ins_1": {"rate": 0.02, "processed": True},
    "slow_response": {"rate": 0.02, "delay_ms": 2000},
}
# Results at the application's listener (openapi_b2c_mode async): Daraja's callback faults.
OPENAPI_CALLBACK_FAULTS = {
    "no_callback": {"rate": 0.05},
    "duplicate_callback": {"rate": 0.03, "copies": 2},
    "late_callback": {"rate": 0.05, "delay_ms": 3000},
    "out_of_order_callback": {"rate": 0.10, "delay_ms": 2000},
    "callback_delivery_failure": {"rate": 0.02},
}

SETUP_SCRIPT = (
    SHELL_PRELUDE
    + r"""
people = P["people"]
currency = env.ref(f"base.{P['currency']}")
currency.active = True
country = env.ref(f"base.{P['country']}")
partner_ids = []
for start in range(0, len(people), 1000):
    partner_ids += env["res.partner"].create([
        {"name": f"Drill {i:06d}", "given_name": "Drill", "family_name": f"{i:06d}",
         "is_registrant": True, "is_group": False,
         "phone_number_ids": [(0, 0, {"phone_no": phone, "country_id": country.id})]}
        for i, (phone, _amount) in enumerate(people[start:start + 1000], start)
    ]).ids
    env.cr.commit()
wizard = env["g2p.program.create.wizard"].create({
    "name": P["program"], "currency_id": currency.id, "amount_per_cycle": 100,
    "target_type": "individual", "auto_approve_entitlements": True,
    "approver_group_id": env.ref("g2p_programs.g2p_program_cycle_approver").id,
})
program = env["g2p.program"].browse(wizard.create_program()["res_id"])
total = sum(amount for _phone, amount in people)
fund = env["g2p.program.fund"].create({"program_id": program.id, "amount": total, "remarks": "Drill"})
fund.post_fund()
tag = env["g2p.payment.batch.tag"].create(
    {"name": "Drill", "order": 1, "domain": "[]", "max_batch_size": P["batch_size"]})
manager = env["g2p.program.payment.manager.mpesa"].create(dict(P["manager"], program_id=program.id,
    name="M-Pesa (drill)", create_batch=True, batch_tag_ids=[(6, 0, tag.ids)]))
manager._mpesa_use_for_program()
now = fields.Datetime.now()
for start in range(0, len(partner_ids), 1000):
    env["g2p.program_membership"].create([
        {"partner_id": pid, "program_id": program.id, "state": "enrolled", "enrollment_date": now}
        for pid in partner_ids[start:start + 1000]])
cycle = env["g2p.cycle"].create({"name": "Drill cycle", "program_id": program.id,
    "start_date": fields.Date.today(), "end_date": fields.Date.add(fields.Date.today(), months=1)})
# Entitlements approved and payments prepared in bulk: OpenG2P's own flows do it one record at a
# time (and asynchronously above 200), which would make the set-up, not the drill, the long part.
entitlements = env["g2p.entitlement"]
for start in range(0, len(partner_ids), 1000):
    entitlements |= env["g2p.entitlement"].create([
        {"partner_id": pid, "cycle_id": cycle.id, "initial_amount": people[i][1], "state": "approved",
         "is_cash_entitlement": True}
        for i, pid in enumerate(partner_ids[start:start + 1000], start)])
for start in range(0, len(entitlements), P["batch_size"]):
    chunk = entitlements[start:start + P["batch_size"]]
    batch = env["g2p.payment.batch"].create({"name": str(uuid.uuid4()), "cycle_id": cycle.id,
        "stats_datetime": now, "tag_id": tag.id})
    payments = env["g2p.payment"].create([
        {"name": str(uuid.uuid4()), "entitlement_id": ent.id, "cycle_id": cycle.id,
         "amount_issued": ent.initial_amount, "payment_fee": ent.transfer_fee, "state": "issued",
         "batch_id": batch.id}
        for ent in chunk])
    batch.payment_ids = [(6, 0, payments.ids)]
env.cr.commit()
# What the cycle approver's Send button does; the send jobs wait for the server's job runner.
manager.send_payments(cycle.payment_batch_ids)
env.cr.commit()
if P["print_result_url"]:
    print("DRILL_RESULT_URL", manager._mpesa_callback_url("result"))
print("DRILL_READY", cycle.id, manager.id)
"""
)


# The cycle's reconciliation report (what a finance validator prints), as text; the PDF too if kept.
REPORT_SCRIPT = (
    SHELL_PRELUDE
    + r"""
cycle = env["g2p.cycle"].browse(P["cycle"])
r = cycle._mpesa_reconciliation()
out = [f"M-Pesa reconciliation report of {r['cycle']} ({r['program']}), {r['requests']} requests"]
out += [f"  {t['label']:<56} {t['count']:>6} {t['amount']:>18}" for t in r["totals"]]
fees = r["fees"]
out.append(f"  {'fees on statements':<56} {fees['count']:>6} {fees['amount']:>18}")
flt = r["float"]
out.append(f"  float before ({flt['source_label']}): {flt['before']['amount']} ({flt['before']['detail']})")
out.append(f"  float after: {flt['after']['amount']} ({flt['after']['detail']})")
out.append(f"  discrepancies: {len(r['discrepancies'])}")
out += [f"    {d}" for d in r["discrepancies"][:10]]
out += [f"  statement {s['name']}" for s in r["statements"]]
if P["pdf"]:
    pdf, _kind = env["ir.actions.report"]._render_qweb_pdf(
        "g2p_payment_mpesa.action_report_mpesa_reconciliation", cycle.ids)
    with open(P["pdf"], "wb") as handle:
        handle.write(pdf)
    out.append(f"  PDF: {P['pdf']}")
print("REPORT_BEGIN")
print("\n".join(out))
print("REPORT_END")
"""
)

# Kenya, and the Vodacom markets the drill has been run on.
MARKET_CHOICES = ("KE", "TZ", "MZ")

# The harness's failures are the drill's: set-up problems, not invariant violations.
DrillError = BenchError


def say(*args):
    print("drill:", *args, flush=True)


def beneficiaries(count, seed):
    """(phone, amount) per registrant: distinct Safaricom numbers, amounts that vary."""
    return MarketData.of("KE").beneficiaries(count, seed)


class Rpc(_Rpc):
    def states(self, cycle_id):
        groups = self("g2p.payment", "read_group", [("cycle_id", "=", cycle_id)], ["mpesa_state"],
                      ["mpesa_state"], lazy=False)  # fmt: skip
        return {g["mpesa_state"] or "none": g["__count"] for g in groups}

    def read_all(self, model, domain, fields, page=2000):
        rows, offset = [], 0
        while True:
            chunk = self(model, "search_read", domain, fields=fields, offset=offset, limit=page, order="id")
            rows += chunk
            if len(chunk) < page:
                return rows
            offset += page


def run(
    payments=10000,
    addons_path=None,
    sim_python=None,
    seed=1,
    crashes=1,
    sim_restarts=1,
    workers=4,
    keep=False,
    cluster=None,
    db="fault_drill",
    reconcile_after_minutes=0,
    time_limit=None,
    nodes=1,
    rate=None,
    rate_tolerance=None,
    log_level="warn",
    lost_results=None,
    market="KE",
    openapi_b2c="sync",
    api_family=None,
):
    """Run the drill; returns (ok, report text). `cluster` reuses a running one (the Odoo suite).

    lost_results (e.g. 0.05): that share of payments is processed by M-Pesa but neither its result
    nor any status query about it is ever answered (the simulator's lost_result fault); after
    reconciliation the drill exports the organisation's statement from the simulator and imports
    it, which alone must resolve them: 0 needing review at the end.

    nodes > 1: that many Odoo servers on the database behind a round-robin load balancer (send jobs
    and callbacks spread over them; the node whose runner is queue_job's master is the one killed).
    rate: the manager's requests-per-second ceiling; the simulator's record of request times must
    then show at most rate (+ rate_tolerance) starts in any one-second window, with reconciliation
    running during the sends. log_level debug: every logger at debug; the callback secret must
    appear in no log line either way.

    market: the simulator's and the manager's market (KE; TZ, CD, LS, GH, MZ: Vodacom's OpenAPI).
    openapi_b2c (OpenAPI markets): "sync", results in the answers; "async", results posted to the
    manager's result URL. lost_results there is not resolved by a statement (none can be imported
    on a Vodacom market): those payments must end "needs review", every one of them one whose
    answers the simulator lost, and their money is counted apart.

    api_family: the manager's API where the market offers more than one (MZ: "vodacom_mz", Vodacom
    Mozambique's own API; synchronous only). Its status answer names no receipt: a payment whose
    answer was lost and whose status query says Completed ends "needs review" too, its money
    counted apart; a payment needing review must be one M-Pesa paid or one whose answers it lost."""
    market = MarketData.of(market)
    if openapi_b2c not in ("sync", "async"):
        raise DrillError(f"openapi_b2c is sync or async, not {openapi_b2c!r}")
    if api_family == "vodacom_mz" and (market.code != "MZ" or openapi_b2c != "sync"):
        raise DrillError("Vodacom Mozambique's own API: market MZ, synchronous answers")
    results_by_callback = not market.openapi or openapi_b2c == "async"
    addons_path = addons_path or default_addons_path()
    sim_python = sim_python or default_sim_python()
    time_limit = time_limit or max(600, payments * 0.12)
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-drill-"))
    os.chmod(root, 0o755)
    own_cluster = cluster is None
    if own_cluster:
        cluster = Cluster(root / "pg")
    sim = proxy = None
    servers = []
    try:
        if own_cluster:
            cluster.start()
        # The simulator: a fresh database of its own, no demo wallets, our beneficiaries seeded.
        market_args = () if market.code == "KE" else ("--market", market.code)
        sim = RunningSimulator(str(root / "sim.sqlite3"), free_port(), "drill-admin-token", sim_python,
                               ("--no-demo", *market_args), str(root / "sim.log")).start()  # fmt: skip
        people = market.beneficiaries(payments, seed)
        say(f"simulator {sim.base_url} ({market.code}); seeding {payments} wallets")
        for start in range(0, payments, 1000):
            sim.seed(wallets=[
                {"msisdn": market.msisdn(phone), "first_name": "Drill", "last_name": f"{i:06d}",
                 "id_number": f"{30000000 + i}", "pin": "1234"}
                for i, (phone, _amount) in enumerate(people[start:start + 1000], start)
            ])  # fmt: skip
        sim.set_config(callback_timeout_seconds=30)
        if market.openapi:
            # Sessions live at once (the manager waits session_delay_seconds, 0 here too).
            sim.set_config(openapi_session_delay_seconds=0, openapi_b2c_mode=openapi_b2c)
            faults = dict(OPENAPI_FAULTS, **(OPENAPI_CALLBACK_FAULTS if openapi_b2c == "async" else {}))
        else:
            faults = FAULTS
        if lost_results:
            faults = dict(faults, lost_result={"rate": lost_results})
        sim.set_faults(faults, seed=seed)

        ports = [free_port() for _ in range(nodes)]
        proxy = None
        queue_job_target = {}
        if nodes > 1:
            # The load balancer of a scaled-out deployment: M-Pesa, the job runner and the drill
            # reach the nodes only through it (queue_job's [queue_job] host/port point at it).
            proxy = RoundRobinProxy([("127.0.0.1", port) for port in ports], free_port()).start()
            queue_job_target = {"queue_job_host": "127.0.0.1", "queue_job_port": proxy.address[1]}
        odoo_url = proxy.url if proxy else f"http://127.0.0.1:{ports[0]}"
        addons = [p for p in addons_path.split(",") if p] + [str(REPO)]
        log_options = {"log_level": log_level}
        if log_level == "debug":
            log_options["log_handler"] = ":DEBUG"  # werkzeug, urllib3, requests... every logger
        configs = []
        for index, port in enumerate(ports):
            configs.append(root / f"odoo-{index}.conf")
            # Workers beyond the job channel's capacity keep callbacks flowing while send jobs run.
            # One runner (queue_job's elected master) dispatches for every node: its capacity is
            # the whole deployment's.
            write_config(
                configs[-1], cluster, addons, root / "data", port,
                without_demo="all", workers=workers, max_cron_threads=1, gevent_port=free_port(),
                server_wide_modules="base,web,queue_job",
                queue_job_channels=f"root:{2 * nodes},root.mpesa:{2 * nodes}",
                db_name=db, list_db="False", limit_time_real=600, **log_options, **queue_job_target,
            )  # fmt: skip
        config = configs[0]
        say(f"installing {MODULE} into database {db}")
        install = ("-i", MODULE, "--stop-after-init", "--workers=0", "--max-cron-threads=0")
        proc = odoo_run(config, "-d", db, *install)
        if proc.returncode:
            raise DrillError(f"install failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")

        say(f"creating {payments} registrants, program, cycle, approved entitlements, payments; Send")
        # The manager takes its market's limits when created, as the form's market onchange sets them.
        connection = {"market": market.code, **sim.manager_settings(api_family)}
        if not market.openapi:
            connection["certificate_filename"] = "sim.pem"
        params = {
            "odoo_url": odoo_url,
            "people": people,
            "program": f"Fault drill {payments}" + ("" if market.code == "KE" else f" {market.code}"),
            "batch_size": 500,
            "currency": market.currency,
            "country": market.code.lower(),
            "print_result_url": market.openapi and openapi_b2c == "async",
            "manager": {
                **connection,
                "environment": "simulator",
                "callback_base_url": odoo_url,
                "reconcile_after_minutes": reconcile_after_minutes,
                "reconcile_max_attempts": 5,
                # The drill's statement is exported right after the last request: no settle window.
                "statement_settle_minutes": 0,
                **({"max_requests_per_second": rate} if rate is not None else {}),
            },
        }
        script = SETUP_SCRIPT % {"params": json.dumps(params)}
        proc = odoo_run(config, "-d", db, "--no-http", command="shell", stdin=script)
        ready = re.search(r"^DRILL_READY (\d+) (\d+)$", proc.stdout, re.M)
        if not ready:
            raise DrillError(f"set-up failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        cycle_id, manager_id = int(ready.group(1)), int(ready.group(2))
        if params["print_result_url"]:
            # The application's Response URL on the portal: where the asynchronous results go.
            sim.set_config(openapi_callback_url=re.search(r"^DRILL_RESULT_URL (\S+)$", proc.stdout, re.M)[1])
        say(f"set-up done in {time.monotonic() - started:.0f}s; starting {nodes} Odoo node(s) at {odoo_url}")

        servers = [
            OdooServer(configs[i], db, root / f"odoo-{i}.log", f"http://127.0.0.1:{port}")
            for i, port in enumerate(ports)
        ]
        rpc = Rpc(odoo_url, db)
        sql = Sql(cluster, db)
        requests_seen = RequestTimes(sim)
        statement_from = utc_now() - timedelta(minutes=5)
        statement = None
        # The time limit counts from here: set-up time depends on the machine, not on the addon.
        dispatch_started = time.monotonic()
        for server in servers:
            server.spawn()  # all nodes boot at once, as a deployment restarts
        for server in servers:
            server.wait_serving()
        events, timed_out = [], None
        refused = post_refused_callbacks(odoo_url, manager_id)
        try:
            with ReconcileDuringSends(rpc, enabled=rate is not None) as during:
                events += drive_dispatch(
                    servers, sim, rpc, cycle_id, payments, crashes, sim_restarts, dispatch_started,
                    time_limit, sql=sql, requests_seen=requests_seen,
                )  # fmt: skip
            if during.rounds:
                events.append(f"reconciliation rounds during the sends: {during.rounds}")
            say(f"dispatch done in {time.monotonic() - dispatch_started:.0f}s; reconciling")
            events += reconcile(rpc, cycle_id, dispatch_started, time_limit)
            if lost_results and not market.openapi:
                statement = import_statement(rpc, sim, manager_id, statement_from)
                events.append(
                    "statement import: {lines} lines, {resolved_paid} resolved paid, {resolved_unpaid} "
                    "not paid, {discrepancies} discrepancies, complete {complete}".format(**statement)
                )
                say(events[-1])
        except DrillError as exc:
            timed_out = str(exc)  # still print the figures: they say what was left and where
        sim.drain(30)
        requests_seen.collect()
        secret, api_key = sql.one(
            "SELECT callback_secret, api_key FROM g2p_program_payment_manager_mpesa WHERE id = %s",
            [manager_id],
        )
        sql.close()
        checks = Checks(
            nodes=nodes, proxy=proxy, rate=rate, rate_tolerance=rate_tolerance, requests_seen=requests_seen,
            logs=[server.log_path for server in servers], secret=secret, manager_id=manager_id,
            refused=refused, log_level=log_level, market=market, results_by_callback=results_by_callback,
            api_key=api_key if market.openapi else None,
        )  # fmt: skip
        report, ok = figures(
            rpc, sim, cycle_id, root, events, checks, statement=statement, market=market,
            lost_results=lost_results, receipts_in_status=api_family != "vodacom_mz",
        )  # fmt: skip
        if statement is not None:
            report += "\n\n" + cycle_report(
                config, db, cycle_id, root / "reconciliation.pdf" if keep else None, odoo_url
            )
        if timed_out:
            ok = False
            report += f"\nFAIL: {timed_out}"
        where = "" if market.code == "KE" else f", market {market.code}, OpenAPI B2C {openapi_b2c}"
        if api_family:
            where += f", API {api_family}"
        report += f"\ndrill took {time.monotonic() - started:.0f}s (N={payments}, seed {seed}{where})"
        return ok, report
    finally:
        for server in servers:
            server.stop()
        if proxy:
            proxy.stop()
        if sim:
            sim.stop()
        if own_cluster:
            cluster.stop()
        if keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _states(rpc, cycle_id):
    try:
        return rpc.states(cycle_id)
    except (OSError, xmlrpc.client.Error):
        return None  # Odoo is restarting


def runner_node(sql, servers):
    """Index of the node whose queue_job runner holds the master lock (None: none holds it now)."""
    row = sql.one(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.classid::bigint * 4294967296 + l.objid::bigint = %s",
        [QUEUE_JOB_MASTER_LOCK],
    )
    if not row or not (row[0] or "").startswith("odoo-"):
        return None
    pid = int(row[0].split("-", 1)[1])
    for index, server in enumerate(servers):
        if server.proc and pid in server.processes():
            return index
    return None


def drive_dispatch(servers, sim, rpc, cycle_id, total, crashes, sim_restarts, started, time_limit,
                   sql=None, requests_seen=None):  # fmt: skip
    """Watch payments leave; crash an Odoo node and restart the simulator on the way; until none
    waits. With several nodes, the node killed is the one whose job runner is the master."""
    crash_at = [0.3 + 0.4 * k / max(crashes, 1) for k in range(crashes)]
    restart_at = [0.5 + 0.4 * k / max(sim_restarts, 1) for k in range(sim_restarts)]
    events = []
    began = time.monotonic()
    while time.monotonic() - started < time_limit:
        states = _states(rpc, cycle_id)
        if states is None:
            time.sleep(0.5)
            continue
        left = sum(states.get(s, 0) for s in LEFT) / total
        waiting = states.get("queued", 0) + states.get("submitting", 0) + states.get("none", 0)
        if crash_at and (left >= crash_at[0] or not waiting):
            crash_at.pop(0)
            victim = 0
            if len(servers) > 1 and sql is not None:
                master = runner_node(sql, servers)
                victim = master if master is not None else 0
            servers[victim].kill()
            # queue_job re-queues a dead job only once it was enqueued more than 10 s ago, and its
            # runner looks at start-up and then on the next queue event (at most a minute later):
            # a restart like systemd's, a few seconds on, lets the first look find them.
            time.sleep(11)
            at = f"{time.monotonic() - began:.0f}s: "
            who = f"Odoo node {victim + 1} (the job runner's master) " if len(servers) > 1 else "Odoo "
            events.append(
                f"{at}{who}SIGKILLed at {left:.0%} left "
                f"({states.get('submitting', 0)} submitting, {states.get('queued', 0)} queued)"
            )
            say(events[-1])
            servers[victim].start()
            continue
        if restart_at and (left >= restart_at[0] or not waiting):
            restart_at.pop(0)
            if requests_seen is not None:
                requests_seen.collect()  # the simulator's request log does not survive it
            sim.kill()
            at = f"{time.monotonic() - began:.0f}s: "
            events.append(
                f"{at}simulator SIGKILLed at {left:.0%} left ({states.get('accepted', 0)} awaiting result)"
            )
            say(events[-1])
            sim.start()
            continue
        if not waiting and not crash_at and not restart_at:
            return events
        time.sleep(0.2)
    raise DrillError(f"payments still waiting to be sent after {time_limit:.0f}s: {_states(rpc, cycle_id)}")


class RequestTimes:
    """Every M-Pesa API request (payment, status query) the simulator saw, across its restarts."""

    def __init__(self, sim):
        self.sim = sim
        self.times = {}  # (time, path) -> count: collect() may see one twice

    def collect(self):
        try:
            status, body = self.sim.admin("GET", "/sim/admin/requests?times=true")
        except OSError:
            return
        if status == 200:
            for entry in body.get("requests", []):
                self.times[(entry["at"], entry["path"])] = 1

    def max_in_window(self, window=1.0):
        from mpesa_sim.state import max_in_window  # standard library only

        return max_in_window([at for at, _path in self.times], window)


class ReconcileDuringSends:
    """Runs the reconciliation cron every few seconds while payments are being sent, so status
    queries compete with the submissions for the same rate budget."""

    def __init__(self, rpc, enabled, every=3.0):
        self.rpc, self.enabled, self.every = rpc, enabled, every
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = None

    def _loop(self):
        xmlid = [("module", "=", MODULE), ("name", "=", "ir_cron_mpesa_reconcile")]
        cron = None
        while not self._stop.wait(self.every):
            try:
                if cron is None:
                    cron = self.rpc("ir.model.data", "search_read", xmlid, fields=["res_id"])[0]["res_id"]
                self.rpc("ir.cron", "method_direct_trigger", [cron])
                self.rounds += 1
            except (OSError, xmlrpc.client.Error):
                continue  # a node restarting, or the cron already running

    def __enter__(self):
        if self.enabled:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="reconcile-during")
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join(60)


def post_refused_callbacks(odoo_url, manager_id):
    """Callbacks that must be refused, as an attacker or a broken proxy would post them:
    [(what, expected HTTP status, status got)]. Their lines must not show the real secret either."""
    cases = [
        ("wrong secret", f"/g2p_payment_mpesa/{manager_id}/not-the-secret-0123456789/result", b"{}", 403),
        ("unknown manager", "/g2p_payment_mpesa/999999/whatever-secret-abcdef/result", b"{}", 403),
    ]
    got = []
    for what, path, body, expected in cases:
        request = urllib.request.Request(
            odoo_url + path, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = None
        got.append((what, expected, status))
    return got


class Checks:
    """What the drill asserts beyond payments: nodes, rate, logs."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def rows(self):
        rows, ok = [], True
        if self.nodes > 1:
            jobs, callbacks = self.proxy.served_by("job"), self.proxy.served_by("callback")
            if self.results_by_callback:
                spread = all(jobs) and all(callbacks)
                rows += [
                    ("Odoo nodes behind the load balancer", self.nodes),
                    ("  send and other jobs run, per node", " / ".join(map(str, jobs))),
                    ("  M-Pesa callbacks served, per node", " / ".join(map(str, callbacks))),
                    ("  every node ran jobs and served callbacks", spread),
                ]
            else:
                # Results in the answers: the send jobs apply them; no callback but the refused ones.
                spread = all(jobs)
                rows += [
                    ("Odoo nodes behind the load balancer", self.nodes),
                    ("  send and other jobs run, per node", " / ".join(map(str, jobs))),
                    ("  every node ran jobs (results in the answers: no callbacks)", spread),
                ]
            ok = ok and spread
        if self.rate is not None:
            seen = self.requests_seen.max_in_window(1.0)
            tolerance = self.rate_tolerance if self.rate_tolerance is not None else max(1, self.rate // 10)
            within = bool(self.rate) and seen <= self.rate + tolerance
            api = "OpenAPI requests (b2cPayment, status)" if self.market.openapi else "Daraja API requests"
            rows += [
                (f"{api} the simulator saw", len(self.requests_seen.times)),
                (f"  most in any 1 s window (ceiling {self.rate}, tolerance +{tolerance})", seen),
            ]
            ok = ok and within
        text = ""
        for path in self.logs:
            text += Path(path).read_text(errors="replace")
        leaked = text.count(self.secret) if self.secret else 0
        key_leaked = text.count(self.api_key) if self.api_key else 0
        redacted = text.count(f"/g2p_payment_mpesa/{self.manager_id}/***/")
        serialization = text.count("could not serialize access")
        bad_queries = text.count("bad query:")
        refused_ok = all(expected == status for _what, expected, status in self.refused)
        rows += [
            (f"Odoo log lines read (level {self.log_level})", text.count("\n")),
            ("  callback secret in the logs (must be 0)", leaked),
            *([("  OpenAPI API key in the logs (must be 0)", key_leaked)] if self.api_key else []),
            ("  callback paths logged with the secret redacted", redacted),
            ("  'could not serialize' / 'bad query' errors (must be 0)", f"{serialization} / {bad_queries}"),
            ("refused callbacks answered as expected", f"{sum(e == s for _w, e, s in self.refused)}"
                                                       f"/{len(self.refused)}"),
        ]  # fmt: skip
        ok = ok and not leaked and not key_leaked and not serialization and not bad_queries and refused_ok
        if bad_queries or serialization:
            # What failed, so that the report alone says where to look.
            lines = text.splitlines()
            shown = [
                " | ".join(lines[i : i + 3])[:300]
                for i, line in enumerate(lines)
                if "bad query:" in line or "could not serialize" in line
            ]
            rows += [("  first errors:", "")] + [(f"    {line}", "") for line in shown[:3]]
        if self.log_level in ("debug", "info"):
            ok = ok and redacted > 0  # the access lines were there, and redacted
        return rows, ok


def reconcile(rpc, cycle_id, started, time_limit):
    """Run the reconciliation cron (as its Run manually button does) until nothing is in flight."""
    xmlid = [("module", "=", MODULE), ("name", "=", "ir_cron_mpesa_reconcile")]
    cron = rpc("ir.model.data", "search_read", xmlid, fields=["res_id"])[0]["res_id"]
    rounds = 0
    while time.monotonic() - started < time_limit:
        states = _states(rpc, cycle_id)
        if states is not None and not any(states.get(s) for s in IN_FLIGHT):
            return [f"reconciliation rounds run by the drill: {rounds}"]
        try:
            rpc("ir.cron", "method_direct_trigger", [cron])
            rounds += 1
        except xmlrpc.client.Fault as exc:
            if "currently being executed" not in exc.faultString:
                raise
        time.sleep(2)
    raise DrillError(f"payments still in flight after {time_limit:.0f}s: {_states(rpc, cycle_id)}")


def cycle_report(config, db, cycle_id, pdf, odoo_url):
    params = {"odoo_url": odoo_url, "cycle": cycle_id, "pdf": str(pdf) if pdf else ""}
    proc = odoo_run(
        config, "-d", db, "--no-http", command="shell", stdin=REPORT_SCRIPT % {"params": json.dumps(params)}
    )
    found = re.search(r"REPORT_BEGIN\n(.*)\nREPORT_END", proc.stdout, re.S)
    return found.group(1) if found else f"(no report: {proc.stderr[-1000:]})"


def utc_now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def import_statement(rpc, sim, manager_id, start):
    """Export the organisation's statement from the simulator (as a finance officer downloads it
    from the portal) and import it into the manager; returns the import's summary."""
    eat = timedelta(hours=3)  # the portal's (and the simulator's) statement times are Nairobi's
    end = utc_now() + timedelta(minutes=1)
    query = urllib.parse.urlencode(
        {"from": (start + eat).isoformat(timespec="seconds"), "to": (end + eat).isoformat(timespec="seconds"),
         "format": "csv"}
    )  # fmt: skip
    request = urllib.request.Request(
        f"{sim.base_url}/sim/admin/statement?{query}", headers={"Authorization": f"Bearer {sim.admin_token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        data = response.read()
        filename = re.search(r'filename="?([^";]+)', response.headers.get("Content-Disposition", ""))
    name = filename.group(1) if filename else "statement.csv"
    summary = rpc(
        "g2p.program.payment.manager.mpesa", "mpesa_import_statement", [manager_id],
        base64.b64encode(data).decode(), name,
    )  # fmt: skip
    # A large file is imported by a queue job: wait for it, then read what it concluded.
    deadline = time.monotonic() + 1800
    while summary.get("queued") and time.monotonic() < deadline:
        time.sleep(1)
        [statement] = rpc("g2p.mpesa.statement", "read", [summary["statement_id"]], STATEMENT_FIELDS)
        summary = {
            "statement_id": statement["id"], "already_imported": summary["already_imported"],
            "queued": statement["state"] in ("queued", "importing"), "state": statement["state"],
            "lines": statement["line_count"], "known": statement["known_count"],
            "resolved_paid": statement["resolved_paid_count"],
            "resolved_unpaid": statement["resolved_unpaid_count"], "reversed": statement["reversed_count"],
            "discrepancies": statement["discrepancy_count"], "complete": statement["complete"],
        }  # fmt: skip
    if summary.get("state") == "failed" or summary.get("queued"):
        raise DrillError(f"the statement was not imported: {summary}")
    return summary


STATEMENT_FIELDS = [
    "state", "line_count", "known_count", "resolved_paid_count", "resolved_unpaid_count", "reversed_count",
    "discrepancy_count", "complete",
]  # fmt: skip


def figures(
    rpc, sim, cycle_id, root, events, checks=None, statement=None, market=None, lost_results=None,
    receipts_in_status=True,
):  # fmt: skip
    market = market or MarketData.of("KE")
    payments = rpc.read_all(
        "g2p.payment", [("cycle_id", "=", cycle_id)],
        ["mpesa_state", "status", "status_is_final", "amount_paid"],
    )  # fmt: skip
    txs = rpc.read_all(
        "g2p.mpesa.transaction", [("payment_id.cycle_id", "=", cycle_id)],
        ["originator_conversation_id", "payment_id", "state", "submit_attempts", "status_queries", "amount"],
    )  # fmt: skip
    payment_of = {tx["originator_conversation_id"]: tx["payment_id"][0] for tx in txs}
    by_id = {p["id"]: p for p in payments}

    # The simulator's own ledger (its database file, read-only): every B2C it completed.
    conn = sqlite3.connect(f"file:{root / 'sim.sqlite3'}?mode=ro", uri=True)
    completed = conn.execute(
        "SELECT originator_conversation_id, amount_cents FROM transactions"
        " WHERE kind = 'b2c' AND status = 'completed'"
    ).fetchall()
    # lost_result: the requests whose result and status answers the simulator never gave.
    silent = {row[0] for row in conn.execute("SELECT originator_conversation_id FROM transactions"
                                             " WHERE kind = 'b2c' AND silent = 1")}  # fmt: skip
    conn.close()
    status, stats = sim.admin("GET", "/sim/admin/stats")
    status_check, ledger = sim.admin("GET", "/sim/admin/ledger/check")

    sim_paid = defaultdict(list)
    unmatched = 0
    for ocid, cents in completed:
        if ocid in payment_of:
            sim_paid[payment_of[ocid]].append(cents)
        else:
            unmatched += 1
    double = sum(1 for amounts in sim_paid.values() if len(amounts) > 1)
    unfinished = sum(1 for p in payments if not p["status_is_final"] and p["mpesa_state"] != "needs_review")
    mpesa_states = Counter(p["mpesa_state"] or "none" for p in payments)
    sim_total = sum(cents for _ocid, cents in completed)
    odoo_total = sum(round(p["amount_paid"] * 100) for p in payments if p["status"] == "paid")
    # Money M-Pesa moved for payments a person must review is not in Odoo's amount_paid yet.
    review_moved = sum(sum(a) for pid, a in sim_paid.items() if by_id[pid]["mpesa_state"] == "needs_review")
    mismatched = sum(
        1 for p in payments
        if (p["status"] == "paid") != bool(sim_paid.get(p["id"])) and p["mpesa_state"] != "needs_review"
    )  # fmt: skip
    dead_requeued = sum(
        path.read_text(errors="replace").count("Re-queued dead job") for path in root.glob("odoo-*.log")
    )

    rows = [("faults injected", "")]
    rows += [(f"  {kind}", n) for kind, n in sorted(stats.get("faults_injected", {}).items())]
    rows += [(f"  {event}", "") for event in events]
    ids = "ThirdPartyConversationIDs" if market.openapi else "OriginatorConversationIDs"
    cur = market.currency
    rows += [
        ("send jobs found dead and re-queued", dead_requeued),
        (f"M-Pesa requests ({ids})", len(txs)),
        ("re-submissions under the same id", sum(max(t["submit_attempts"] - 1, 0) for t in txs)),
        ("new ids after M-Pesa said failed", len(txs) - len({t["payment_id"][0] for t in txs})),
        ("status queries", sum(t["status_queries"] for t in txs)),
        ("payments", len(payments)),
        ("  paid", mpesa_states["paid"]),
        ("  failed", mpesa_states["failed"]),
        ("  needs review", mpesa_states["needs_review"]),
        ("payments with >1 M-Pesa transaction (must be 0)", double),
        ("payments with no final state, no review flag (must be 0)", unfinished),
        ("completed M-Pesa transactions unknown to Odoo (must be 0)", unmatched),
        ("paid in Odoo xor paid by M-Pesa, not flagged (must be 0)", mismatched),
        (f"simulator paid out ({cur})", f"{sim_total / 100:,.2f}"),
        (f"sum of amount_paid in Odoo ({cur})", f"{odoo_total / 100:,.2f}"),
        (f"  of which for needs-review payments ({cur})", f"{review_moved / 100:,.2f}"),
        ("simulator ledger conserved", bool(status_check == 200 and ledger.get("ok"))),
    ]
    totals_ok = sim_total == odoo_total + review_moved
    ok = not (double or unfinished or unmatched or mismatched) and totals_ok and rows[-1][1] and status == 200
    if statement is not None:
        # The statement must have resolved everything: nothing left for a person, nothing differing.
        rows += [
            ("statement lines imported", statement["lines"]),
            ("  requests resolved as paid by the statement", statement["resolved_paid"]),
            ("  requests resolved as not paid by the statement", statement["resolved_unpaid"]),
            ("  discrepancies (must be 0)", statement["discrepancies"]),
            ("  needs review after the import (must be 0)", mpesa_states["needs_review"]),
        ]
        left = statement["discrepancies"] or mpesa_states["needs_review"]
        resolved = not left and statement["complete"]
        ok = ok and resolved and review_moved == 0 and sim_total == odoo_total
    review = {p["id"] for p in payments if p["mpesa_state"] == "needs_review"}
    lost = {payment_of[ocid] for ocid in silent if ocid in payment_of}
    # Vodacom Mozambique's status answer names no receipt: what it says completed waits for a
    # person too (never paid on its word, never sent again); it must be money M-Pesa moved.
    no_receipt = set() if receipts_in_status else (review & set(sim_paid)) - lost
    if lost_results and market.openapi:
        # No statement import on a Vodacom market: what M-Pesa paid and never answered about is
        # left to a person ("needs review"), never taken for paid or failed. Every payment needing
        # review must be one whose answers were lost (or, above, completed with no receipt named),
        # and none of those may be final.
        rows += [
            ("payments whose answers M-Pesa lost (lost_result)", len(lost)),
            ("  left needing review, its money counted apart", len(lost & review)),
            ("  taken as final, paid or failed (must be 0)", len(lost - review)),
            ("statement import", "n/a (Vodacom)"),
        ]
        ok = ok and lost <= review
    if not receipts_in_status:
        rows.append(("needs review: completed by M-Pesa's word, no receipt named", len(no_receipt)))
    if market.openapi and (lost_results or not receipts_in_status):
        unexplained = review - lost - no_receipt
        rows.append(("needs review without a lost or receipt-less answer (must be 0)", len(unexplained)))
        ok = ok and not unexplained
    if checks is not None:
        extra, checks_ok = checks.rows()
        rows += extra
        ok = ok and checks_ok
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value!s:>14}" for label, value in rows]
    lines.append(f"{'RESULT':<{width}}  {'PASS' if ok else 'FAIL':>14}")
    if not totals_ok:
        lines.append("the simulator's payouts differ from Odoo's amount_paid")
    return "\n".join(lines), ok


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=10000)
    parser.add_argument(
        "--addons-path", default=None, help="OpenG2P's addons folders (default as openg2p_env.sh)"
    )
    parser.add_argument(
        "--sim-python", default=None, help="a Python that runs mpesa_sim (default REPO/.venv)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crashes", type=int, default=1, help="times the Odoo server is SIGKILLed")
    parser.add_argument("--sim-restarts", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, simulator database)")
    parser.add_argument(
        "--nodes", type=int, default=1, help="Odoo servers on the database, behind a load balancer"
    )
    parser.add_argument(
        "--rate", type=int, default=None,
        help="the manager's requests-per-second ceiling, checked against the simulator's record",
    )  # fmt: skip
    parser.add_argument("--log-level", default="warn", choices=["warn", "info", "debug"])
    parser.add_argument(
        "--lost-results", type=float, default=None,
        help="share of payments whose result and status answers are lost; the statement import resolves them "
        "(Kenya); on a Vodacom market they must end needing review",
    )  # fmt: skip
    parser.add_argument(
        "--market", default="KE", choices=MARKET_CHOICES,
        help="the market paid in: KE (Safaricom's Daraja, the default) or a Vodacom market (M-Pesa OpenAPI)",
    )  # fmt: skip
    parser.add_argument(
        "--api-family", default=None, choices=["vodacom_mz"],
        help="MZ: pay through Vodacom Mozambique's own API instead of the OpenAPI",
    )  # fmt: skip
    parser.add_argument(
        "--openapi-b2c", default="sync", choices=["sync", "async"],
        help="Vodacom markets: B2C results in the answers (sync, the simulator's default) or posted to "
        "the manager's result URL (async, with the callback faults)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        ok, report = run(
            payments=args.payments, addons_path=args.addons_path, sim_python=args.sim_python, seed=args.seed,
            crashes=args.crashes, sim_restarts=args.sim_restarts, workers=args.workers, keep=args.keep,
            nodes=args.nodes, rate=args.rate, log_level=args.log_level, lost_results=args.lost_results,
            market=args.market, openapi_b2c=args.openapi_b2c, api_family=args.api_family,
        )  # fmt: skip
    except DrillError as exc:
        print(f"drill: FAILED: {exc}", file=sys.stderr)
        return 2
    print("\n" + report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
