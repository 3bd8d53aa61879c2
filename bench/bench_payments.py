"""Payments benchmark: this addon against OpenG2P's own path, side by side in one run.

Run with the OpenG2P Python (Odoo 17 importable), e.g.

    /opt/openg2p/venv/bin/python bench/bench_payments.py --payments 10000

One throwaway PostgreSQL cluster, one OpenG2P database, one simulator, one Odoo server (HTTP
workers, queue_job runner). N registrants, each with a wallet in the simulator, are paid by two
programs: A by OpenG2P's `g2p_payment_simple_mpesa` (default preparation, simple-mpesa routes),
B by `g2p_payment_mpesa` (batched preparation, Daraja B2C with result callbacks). Phases, each
timed from the button to the end of the work it starts:

1. ceiling: requests/s Odoo serves on a route that locks and updates one row (bench/odoo_addons),
   the cost floor of one M-Pesa result callback;
2. prepare: Prepare payments on A's cycle (OpenG2P's default) and on B's (ours);
3. send: Send on A (until its sending is over: it never waits for a result) and on B (until every
   payment has its result applied; "submit" is until the last one was acknowledged).

It prints one table (payments/s, seconds, ratio against the anchor, peak RSS of the busiest
Odoo worker) with the command, and exits non-zero when a target is missed or a payment is wrong.

`--markets KE,TZ` pays one more program of ours per market after the first, each into a simulator
of that market (Tanzania: Vodacom's M-Pesa OpenAPI, a TZS program, Vodacom numbers), on the same
Odoo and database, one after the other; the table above is the first market's, and a second one
puts every market's figures side by side. `--openapi-b2c` says how the OpenAPI answers B2C: sync
(the result is in the answer, the simulator's default) or async (posted to the result URL).
"""

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import (
    BENCH_ADDONS,
    MODULE,
    REPO,
    SHELL_PRELUDE,
    BenchError,
    Cluster,
    CpuMeter,
    MarketData,
    OdooServer,
    Rpc,
    RssSampler,
    RunningSimulator,
    Sql,
    default_addons_path,
    default_sim_python,
    free_port,
    load_average,
    odoo_run,
    wait_for_quiet,
    write_config,
)

DB = "bench_payments"
CEILING_MODULE = "g2p_mpesa_bench_ceiling"
OLD_MODULE = "g2p_payment_simple_mpesa"
AGENT = ("agent@mpesa-sim.local", "Agent-Pass-1")
SIM_ADMIN = ("admin@mpesa-sim.local", "Admin-Pass-1")
BATCH_SIZE = 500
# Kenya (Daraja), and the Vodacom market (OpenAPI) the bench has been run on.
MARKET_CHOICES = ("KE", "TZ")

SETUP_SCRIPT = (
    SHELL_PRELUDE
    + r"""
n = P["payments"]

# Kenya's registrants (also program A's, paid by e-mail) as ever; another market's with its numbers.
def registrants(market):
    country = env.ref(f"base.{market['country']}")
    label = "Bench" if market["code"] == "KE" else f"Bench {market['code']}"
    ids = []
    for start in range(0, n, 1000):
        ids += env["res.partner"].create([
            {"name": f"{label} {i:06d}", "given_name": label, "family_name": f"{i:06d}",
             "is_registrant": True, "is_group": False,
             **({"email": P["email"] %% i} if market["code"] == "KE" else {}),
             "phone_number_ids": [(0, 0, {"phone_no": market["phones"][i], "country_id": country.id})]}
            for i in range(start, min(start + 1000, n))
        ]).ids
        env.cr.commit()
        env.invalidate_all()
    return ids

partner_ids = registrants({"code": "KE", "country": "ke", "phones": P["kenya_phones"]})

def program(name, manager_model, manager_vals, currency=kes, partner_ids=partner_ids):
    currency.active = True
    wizard = env["g2p.program.create.wizard"].create({
        "name": name, "currency_id": currency.id, "amount_per_cycle": 100, "target_type": "individual",
        "approver_group_id": env.ref("g2p_programs.g2p_program_cycle_approver").id,
    })
    prog = env["g2p.program"].browse(wizard.create_program()["res_id"])
    tag = env["g2p.payment.batch.tag"].create(
        {"name": f"All {name}", "order": 1, "domain": "[]", "max_batch_size": P["batch_size"]})
    manager = env[manager_model].create(dict(manager_vals, program_id=prog.id, name=name,
        create_batch=True, batch_tag_ids=[(6, 0, tag.ids)]))
    ref = f"{manager._name},{manager.id}"
    if prog.payment_managers:
        prog.payment_managers.manager_ref_id = ref
    else:
        prog.payment_managers = [(0, 0, {"program_id": prog.id, "manager_ref_id": ref})]
    cycle = env["g2p.cycle"].create({"name": f"{name} cycle", "program_id": prog.id,
        "start_date": fields.Date.today(), "end_date": fields.Date.add(fields.Date.today(), months=1)})
    # Approved entitlements made in bulk: what is measured starts at Prepare payments.
    for start in range(0, n, 1000):
        env["g2p.entitlement"].create([
            {"partner_id": pid, "cycle_id": cycle.id, "initial_amount": P["amount"](i),
             "state": "approved", "is_cash_entitlement": True}
            for i, pid in enumerate(partner_ids[start:start + 1000], start)])
        env.cr.commit()
        env.invalidate_all()
    return cycle, manager

P["amount"] = lambda i: 100 + (i %% 5) * 10
if P["with_old"]:
    cycle_a, manager_a = program("A simple-mpesa", "g2p.program.payment.manager.simple.mpesa", P["old"])
else:
    cycle_a = manager_a = env["g2p.cycle"]
ours = []
market_of = {market["code"]: market for market in P["markets"]}
for market in P["markets"]:
    if market["code"] == "KE":
        cycle, manager = program(market["program"], "g2p.program.payment.manager.mpesa", market["manager"])
        manager.action_fetch_simulator_certificate()
    else:
        cycle, manager = program(market["program"], "g2p.program.payment.manager.mpesa", market["manager"],
                                 env.ref(f"base.{market['currency']}"), registrants(market))
    ours.append((market["code"], cycle, manager))
counter = env["g2p.mpesa.bench.counter"].create({"name": "ceiling", "hits": 0})
env.cr.commit()
for code, cycle, manager in ours:
    # The result URL (its secret) only where the simulator must be told it: OpenAPI async.
    url = manager._mpesa_callback_url("result") if market_of[code]["result_url"] else "-"
    print("BENCH_OURS", code, cycle.id, manager.id, url)
print("BENCH_READY", cycle_a.id or 0, manager_a.id or 0, ours[0][1].id, ours[0][2].id, counter.id)
"""
)


def say(*args):
    print("bench:", *args, flush=True)


def amount(i):
    return 100 + (i % 5) * 10


def http_post(url, data, headers=None):
    import urllib.request  # pylint: disable=import-outside-toplevel

    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def prepare_simulator(sim, payments, phone, email):
    """Wallets (with e-mail, for simple-mpesa), floats for both programs, the agent's cash."""
    for start in range(0, payments, 1000):
        sim.seed(wallets=[
            {"msisdn": "254" + (phone % i)[1:], "first_name": "Bench", "last_name": f"{i:06d}",
             "id_number": f"{30000000 + i}", "pin": "1234", "email": email % i}
            for i in range(start, min(start + 1000, payments))
        ])  # fmt: skip
    total = sum(amount(i) for i in range(payments))
    for account in ("utility", "working"):
        status, body = sim.admin("POST", "/sim/admin/float/topup", {"account": account, "amount": total})
        if status != 200:
            raise BenchError(f"float top-up refused: {body}")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    login = f"email={SIM_ADMIN[0]}&password={SIM_ADMIN[1]}".encode()
    token = http_post(f"{sim.base_url}/api/login/administrator", login, form)["token"]
    http_post(
        f"{sim.base_url}/api/admin/assign-float",
        f"accountNo={AGENT[0]}&amount={total}".encode(),
        dict(form, Authorization=f"Bearer {token}"),
    )
    # A slow Odoo must not lose results: the simulator waits and retries rather than drops.
    sim.set_config(callback_timeout_seconds=120, callback_retries=3)


def prepare_market_simulator(sim, market, payments, openapi_b2c):
    """Another market's simulator: a wallet per registrant and the float for the program."""
    for start in range(0, payments, 1000):
        sim.seed(wallets=[
            {"msisdn": market.msisdn(market.phone(i)), "first_name": f"Bench {market.code}",
             "last_name": f"{i:06d}", "id_number": f"{30000000 + i}", "pin": "1234"}
            for i in range(start, min(start + 1000, payments))
        ])  # fmt: skip
    total = sum(amount(i) for i in range(payments))
    status, body = sim.admin("POST", "/sim/admin/float/topup", {"account": "utility", "amount": total})
    if status != 200:
        raise BenchError(f"{market.code} float top-up refused: {body}")
    sim.set_config(callback_timeout_seconds=120, callback_retries=3)
    if market.openapi:
        # Sessions live at once (the manager waits session_delay_seconds: 0 too).
        sim.set_config(openapi_session_delay_seconds=0, openapi_b2c_mode=openapi_b2c)


def our_manager(sim, market, odoo_url, args):
    """Our manager's settings for a market's simulator."""
    return {
        "market": market.code,
        **sim.manager_settings(),
        "environment": "simulator",
        "callback_base_url": odoo_url,
        "concurrency": args.concurrency,
        "max_requests_per_second": args.rate,
        "reconcile_after_minutes": 30,
    }


def measure_ceiling(url, row, seconds, clients):
    """Requests/s on the lock-and-update route, from `clients` keep-alive connections."""
    host, port = url.split("//")[1].split(":")
    path = f"/g2p_mpesa_bench/ceiling/{row}"
    body = json.dumps({"Result": {"ResultCode": 0, "ConversationID": "x" * 24}}).encode()
    counts, errors = [0] * clients, [0] * clients
    stop = time.monotonic() + seconds

    def client(k):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.monotonic() < stop:
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    counts[k] += 1
                else:
                    errors[k] += 1
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, sum(counts), sum(errors)


def open_jobs(sql):
    return sql.one("SELECT count(*) FROM queue_job WHERE state NOT IN ('done', 'failed', 'cancelled')")[0]


def wait_until(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")


def phase_prepare(server, rpc, sql, cycle_id, payments, timeout):
    """Prepare payments pressed on the cycle: until the cycle is unlocked with N payments."""
    with RssSampler(server) as rss:
        started = time.monotonic()
        rpc("g2p.cycle", "prepare_payment", [cycle_id])

        def done():
            locked, count = sql.one(
                "SELECT c.locked, (SELECT count(*) FROM g2p_payment p WHERE p.cycle_id = c.id)"
                " FROM g2p_cycle c WHERE c.id = %s",
                (cycle_id,),
            )
            return not locked and count >= payments and not open_jobs(sql)

        wait_until(done, timeout, f"payments of cycle {cycle_id}")
        elapsed = time.monotonic() - started
    count, batches = sql.one(
        "SELECT count(*), count(DISTINCT batch_id) FROM g2p_payment WHERE cycle_id = %s", (cycle_id,)
    )
    if count != payments:
        raise BenchError(f"cycle {cycle_id}: {count} payments prepared, expected {payments}")
    return {"seconds": elapsed, "rate": payments / elapsed, "rss": rss.peak(), "batches": batches}


def phase_send_old(server, rpc, sql, cycle_id, payments, timeout, cpu=None):
    """Send on A: simple-mpesa posts every payment and marks it paid on a 2xx; no result to wait."""
    cpu_before = cpu.snapshot() if cpu else None
    with RssSampler(server) as rss:
        started = time.monotonic()
        error = []

        def press():
            try:
                rpc("g2p.cycle", "send_payment", [cycle_id])
            except Exception as exc:  # reported below: the bench must stop its processes
                error.append(exc)

        thread = threading.Thread(target=press)
        thread.start()
        wait_until(lambda: not thread.is_alive() and not open_jobs(sql), timeout, "simple-mpesa sending")
        elapsed = time.monotonic() - started
    cpu_used = cpu.used(cpu_before, cpu.snapshot()) if cpu else {}
    if error:
        raise BenchError(f"simple-mpesa Send failed: {error[0]}")
    sent = sql.one(
        "SELECT count(*) FROM g2p_payment WHERE cycle_id = %s AND state = 'sent' AND status = 'paid'",
        (cycle_id,),
    )[0]
    if sent != payments:
        raise BenchError(f"simple-mpesa: {sent} of {payments} payments sent")
    return {"seconds": elapsed, "rate": payments / elapsed, "rss": rss.peak(), "cpu": cpu_used}


def py_spy(server, output):
    """Sample every Odoo process (py-spy, if installed next to this Python) into collapsed stacks."""
    exe = Path(sys.executable).with_name("py-spy")
    if not output or not exe.exists():
        return None
    return subprocess.Popen(
        [str(exe), "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking", "--idle",
         "--rate", "50", "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def phase_send_ours(server, rpc, sql, cycle_id, payments, timeout, profile=None, cpu=None):
    """Send on B: until every payment has M-Pesa's result applied (status_is_final)."""
    progress = []
    spy = py_spy(server, profile)
    cpu_before = cpu.snapshot() if cpu else None
    with RssSampler(server) as rss:
        started = time.monotonic()
        rpc("g2p.cycle", "send_payment", [cycle_id])
        pressed = time.monotonic() - started
        submitted, cpu_submitted = None, {}
        while True:
            waiting, final = sql.one(
                "SELECT count(*) FILTER (WHERE mpesa_state IS NULL"
                "                          OR mpesa_state IN ('queued', 'submitting')),"
                "       count(*) FILTER (WHERE status_is_final)"
                "  FROM g2p_payment WHERE cycle_id = %s",
                (cycle_id,),
            )
            now = time.monotonic() - started
            if submitted is None and not waiting:
                submitted = now
                cpu_submitted = cpu.used(cpu_before, cpu.snapshot()) if cpu else {}
            progress.append((now, final))
            if final >= payments:
                break
            if now > timeout:
                raise BenchError(
                    f"after {timeout:.0f}s: {waiting} not submitted, {final} of {payments} final"
                )
            time.sleep(0.25)
        elapsed = time.monotonic() - started
    cpu_used = cpu.used(cpu_before, cpu.snapshot()) if cpu else {}
    if spy:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    states = dict(
        sql.all("SELECT mpesa_state, count(*) FROM g2p_payment WHERE cycle_id = %s GROUP BY 1", (cycle_id,))
    )
    if states.get("paid") != payments:
        raise BenchError(f"M-Pesa: not every payment paid: {states}")
    return {
        "seconds": elapsed,
        "rate": payments / elapsed,
        "submit_seconds": submitted,
        "submit_rate": payments / submitted,
        "pressed_seconds": pressed,
        "rss": rss.peak(),
        "progress": progress,
        "cpu": cpu_used,
        "cpu_submitted": cpu_submitted,
    }


def market_label(code, args):
    market = MarketData.of(code)
    if not market.openapi:
        return f"{code} (Daraja)"
    return f"{code} (OpenAPI, {args.openapi_b2c})"


def markets_table(results, args):
    """Our figures per market, side by side (the first market's are also in the table above)."""
    codes = list(results["markets"])
    first = codes[0]
    n = args.payments

    rows = []
    for label, phase, rate, seconds in (
        ("prepare (batched), payments/s", "prepare", "rate", "seconds"),
        ("send, submitted (acknowledged), payments/s", "send", "submit_rate", "submit_seconds"),
        ("send, end to end (results applied), payments/s", "send", "rate", "seconds"),
    ):
        cells = [f"{r[phase][rate]:,.0f} ({r[phase][seconds]:.1f} s)" for r in results["markets"].values()]
        ratios = [
            f"{results['markets'][c][phase][rate] / results['markets'][first][phase][rate]:.2f}x"
            for c in codes[1:]
        ]
        rows.append((label, *cells, *ratios))
    sends = [r["send"] for r in results["markets"].values()]
    blank = [""] * (len(codes) - 1)
    rows += [
        ("Send returned after, s", *(f"{s['pressed_seconds']:.1f}" for s in sends), *blank),
        ("peak RSS of the busiest Odoo worker (send), MiB", *(f"{s['rss']:.0f}" for s in sends), *blank),
        (
            "M-Pesa requests the simulator saw (most in 1 s)",
            *(f"{s.get('requests_seen')} ({s.get('max_per_second')})" for s in sends),
            *blank,
        ),
    ]
    if all(s.get("cpu") for s in sends):
        parts = ("odoo", "postgres", "simulator")
        per = [" / ".join(f"{s['cpu'].get(name, 0.0) * 1000 / n:.2f}" for name in parts) for s in sends]
        totals = [sum(s["cpu"].values()) * 1000 / n for s in sends]
        rows += [
            ("CPU ms per payment, end to end: odoo / postgres / simulator", *per, *blank),
            (
                "CPU ms per payment, end to end: total",
                *(f"{t:.2f}" for t in totals),
                *(f"{t / totals[0]:.2f}x" for t in totals[1:]),
            ),
        ]
    head = ("ours, by market", *(market_label(c, args) for c in codes))
    head += tuple(f"{c} / {first}" for c in codes[1:])
    lines = [
        "",
        f"Our manager per market, one after the other on the same Odoo (N = {n:,} each):",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def table(results, args, command):
    n = args.payments
    first = args.markets[0]
    ours = "ours" if first == "KE" else f"ours {first}"
    ceiling = results["ceiling"]["rate"]
    prep_old, prep_ours = results.get("prepare_old"), results["prepare_ours"]
    send_old, send_ours = results.get("send_old"), results["send_ours"]
    anchor = "1.00 (anchor)"
    rows = [
        (
            "ceiling: lock+update route",
            f"{ceiling:,.0f} req/s",
            "",
            anchor,
            f"{results['ceiling']['rss']:.0f}",
        ),
    ]
    if prep_old:
        rows.append(("prepare: OpenG2P default", f"{prep_old['rate']:,.0f}", f"{prep_old['seconds']:.1f}",
                     anchor, f"{prep_old['rss']:.0f}"))  # fmt: skip
    faster = f"{prep_old['seconds'] / prep_ours['seconds']:.1f}x faster" if prep_old else "-"
    rows.append((f"prepare: {ours} (batched)", f"{prep_ours['rate']:,.0f}", f"{prep_ours['seconds']:.1f}",
                 faster, f"{prep_ours['rss']:.0f}"))  # fmt: skip
    if send_old:
        rows.append(("send: simple-mpesa (submit only)", f"{send_old['rate']:,.0f}",
                     f"{send_old['seconds']:.1f}", "1.00 (anchor)", f"{send_old['rss']:.0f}"))  # fmt: skip
        submit_ratio = f"{send_ours['submit_rate'] / send_old['rate']:.1f}x simple-mpesa"
    else:
        submit_ratio = "-"
    rows += [
        (f"send: {ours}, submitted (acknowledged)", f"{send_ours['submit_rate']:,.0f}",
         f"{send_ours['submit_seconds']:.1f}", submit_ratio, ""),
        (f"send: {ours}, end to end (results applied)", f"{send_ours['rate']:,.0f}",
         f"{send_ours['seconds']:.1f}", f"{send_ours['rate'] / ceiling:.0%} of ceiling",
         f"{send_ours['rss']:.0f}"),
    ]  # fmt: skip
    head = ("phase", "payments/s", "seconds", "ratio", "peak RSS MiB")
    lines = [
        f"N = {n:,} payments; Odoo workers={args.workers}, [queue_job] channels={args.channels}, "
        f"M-Pesa parallel requests per job={args.concurrency}; 1-min load at start {results['load']:.2f}",
        *(
            [f"DIAGNOSTIC: result callbacks held back {args.defer_results:.0f}s (not a comparable run)"]
            if args.defer_results
            else []
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    ceiling_text = f"{args.rate}/s per shortcode" if args.rate else "none"
    lines += [
        "",
        f"Our Send returned after {send_ours['pressed_seconds']:.1f}s (pre-flight of every payment, send"
        " jobs queued); the old manager's Send returns when it has posted every payment.",
        f"Requests-per-second ceiling on our manager: {ceiling_text}; the simulator saw "
        f"{send_ours.get('requests_seen')} {'OpenAPI' if MarketData.of(first).openapi else 'Daraja'} "
        f"requests, at most {send_ours.get('max_per_second')} in any one-second window.",
    ]
    cpu_rows = [
        ("simple-mpesa send", send_old and send_old.get("cpu"), send_old and send_old["seconds"]),
        ("ours until acknowledged", send_ours.get("cpu_submitted"), send_ours["submit_seconds"]),
        ("ours end to end", send_ours.get("cpu"), send_ours["seconds"]),
    ]
    cpu_rows = [row for row in cpu_rows if row[1]]
    if cpu_rows:
        lines += [
            "",
            f"CPU used ({os.cpu_count()} cores), ms per payment:",
            "",
            "| span | seconds | odoo | postgres | simulator | total | cores busy |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label, used, seconds in cpu_rows:
            total = sum(used.values())
            per = [used.get(name, 0.0) * 1000 / n for name in ("odoo", "postgres", "simulator")]
            lines.append(
                f"| {label} | {seconds:.1f} | "
                + " | ".join(f"{ms:.2f}" for ms in per)
                + f" | {total * 1000 / n:.2f} | {total / seconds:.2f} |"
            )
    if len(results["markets"]) > 1:
        lines += markets_table(results, args)
    lines += ["", f"command: {command}"]
    targets = [("end to end at least 50% of the ceiling", send_ours["rate"] >= 0.5 * ceiling)]
    if prep_old:
        targets.insert(
            0, ("prepare at least 5x the default", prep_old["seconds"] / prep_ours["seconds"] >= 5)
        )
    if send_old:
        targets.append(("submit at least 2x simple-mpesa", send_ours["submit_rate"] >= 2 * send_old["rate"]))
    for code, figures in list(results["markets"].items())[1:]:
        targets.append(
            (f"{code}: end to end at least 50% of the ceiling", figures["send"]["rate"] >= 0.5 * ceiling)
        )
    lines += [f"target: {label}: {'met' if ok else 'MISSED'}" for label, ok in targets]
    return "\n".join(lines), all(ok for _label, ok in targets)


def run(args, command):
    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-bench-"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    sim = server = sql = None
    sims = {}  # market -> its simulator (Kenya's is `sim`: program A's and the Kenyan program's)
    n = args.payments
    phone, email = "0711%06d", "bench%06d@bench.local"
    results = {}
    try:
        cluster.start()
        sim = RunningSimulator(str(root / "sim.sqlite3"), free_port(), "bench-admin-token", args.sim_python,
                               (), str(root / "sim.log")).start()  # fmt: skip
        say(f"simulator {sim.base_url}; seeding {n} wallets")
        prepare_simulator(sim, n, phone, email)
        sims["KE"] = sim
        for code in args.markets:
            if code in sims:
                continue
            market = MarketData.of(code)
            sims[code] = RunningSimulator(
                str(root / f"sim-{code}.sqlite3"), free_port(), "bench-admin-token", args.sim_python,
                ("--market", code), str(root / f"sim-{code}.log"),
            ).start()  # fmt: skip
            say(f"{code} simulator {sims[code].base_url}; seeding {n} wallets")
            prepare_market_simulator(sims[code], market, n, args.openapi_b2c)

        odoo_port = free_port()
        odoo_url = f"http://127.0.0.1:{odoo_port}"
        config = root / "odoo.conf"
        addons = [p for p in args.addons_path.split(",") if p] + [str(REPO), str(BENCH_ADDONS)]
        write_config(
            config, cluster, addons, root / "data", odoo_port,
            without_demo="all", workers=args.workers, max_cron_threads=1, gevent_port=free_port(),
            server_wide_modules="base,web,queue_job", queue_job_channels=args.channels,
            log_level="warn", db_name=DB, list_db="False",
            # simple-mpesa sends every payment inside the Send request: let it finish.
            limit_time_real=7200, limit_time_cpu=7200, limit_memory_soft=4 * 1024**3,
            limit_memory_hard=5 * 1024**3,
        )  # fmt: skip
        say(f"installing {MODULE}, {OLD_MODULE}, {CEILING_MODULE} into {DB}")
        modules = f"{MODULE},{OLD_MODULE},{CEILING_MODULE}"
        proc = odoo_run(
            config, "-d", DB, "-i", modules, "--stop-after-init", "--workers=0", "--max-cron-threads=0"
        )
        if proc.returncode:
            raise BenchError(f"install failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")

        say(f"creating {n} registrants, programs A (simple-mpesa) and B (M-Pesa), approved entitlements")
        markets = []
        for code in args.markets:
            market = MarketData.of(code)
            markets.append({
                "code": code,
                "program": "B M-Pesa" if code == "KE" else f"B M-Pesa {code}",
                "currency": market.currency,
                "country": code.lower(),
                "phones": [market.phone(i) for i in range(n)] if code != "KE" else [],
                "manager": our_manager(sims[code], market, odoo_url, args),
                "result_url": market.openapi and args.openapi_b2c == "async",
            })  # fmt: skip
        params = {
            "odoo_url": odoo_url,
            "payments": n,
            "kenya_phones": [phone % i for i in range(n)],
            "email": email,
            "batch_size": BATCH_SIZE,
            "with_old": not args.only_ours,
            "old": {
                "payee_id_type": "email",
                "customer_type": "subscriber",
                "auth_endpoint_url": f"{sim.base_url}/api/login/agent",
                "payment_endpoint_url": f"{sim.base_url}/api/transaction/deposit",
                "username": AGENT[0],
                "password": AGENT[1],
                "api_timeout": 30,
            },
            "markets": markets,
        }
        proc = odoo_run(config, "-d", DB, "--no-http", command="shell",
                        stdin=SETUP_SCRIPT % {"params": json.dumps(params)})  # fmt: skip
        ready = re.search(r"^BENCH_READY (\d+) (\d+) (\d+) (\d+) (\d+)$", proc.stdout, re.M)
        if not ready:
            raise BenchError(f"set-up failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        cycle_a, _manager_a, _cycle_b, _manager_b, counter = (int(x) for x in ready.groups())
        found = re.findall(r"^BENCH_OURS (\w+) (\d+) (\d+) (\S+)$", proc.stdout, re.M)
        ours = {code: (int(cycle), url) for code, cycle, _manager, url in found}
        for code in args.markets:
            if MarketData.of(code).openapi and args.openapi_b2c == "async":
                # The application's Response URL on the portal: where asynchronous results go.
                sims[code].set_config(openapi_callback_url=ours[code][1])

        server = OdooServer(config, DB, root / "odoo.log", odoo_url).start()
        rpc = Rpc(odoo_url, DB)
        sql = Sql(cluster, DB)
        results["load"] = wait_for_quiet(args.max_load, args.max_wait, say)
        timeout = max(600, n * 0.2)

        say("1/3 ceiling: lock-and-update route")
        measure_ceiling(odoo_url, counter, 2, args.ceiling_clients)  # warm the workers
        with RssSampler(server) as rss:
            rate, count, errors = measure_ceiling(
                odoo_url, counter, args.ceiling_seconds, args.ceiling_clients
            )
        results["ceiling"] = {"rate": rate, "rss": rss.peak()}
        say(f"ceiling {rate:.0f} req/s ({count} requests, {errors} errors)")

        if not args.only_ours:
            say("2/3 prepare: OpenG2P's default (program A)")
            results["prepare_old"] = phase_prepare(server, rpc, sql, cycle_a, n, timeout)
            say(f"default prepare {results['prepare_old']['seconds']:.1f}s")
        results["markets"] = {code: {} for code in args.markets}
        for code in args.markets:
            say(f"2/3 prepare: ours (program B, {code})")
            figures = results["markets"][code]
            figures["prepare"] = phase_prepare(server, rpc, sql, ours[code][0], n, timeout)
            say(f"our prepare ({code}) {figures['prepare']['seconds']:.1f}s")
        results["prepare_ours"] = results["markets"][args.markets[0]]["prepare"]

        if not (args.skip_old_send or args.only_ours):
            say("3/3 send: simple-mpesa (program A)")
            results["send_old"] = phase_send_old(
                server, rpc, sql, cycle_a, n, timeout * 3, CpuMeter(server, sim, cluster)
            )
            say(f"simple-mpesa send {results['send_old']['seconds']:.1f}s")
        for index, code in enumerate(args.markets):
            market_sim = sims[code]
            if args.defer_results:
                # Diagnostic: every result callback held back, to see what submitting alone costs.
                market_sim.set_faults(late_callback={"rate": 1, "delay_ms": int(args.defer_results * 1000)})
                say(f"diagnostic: result callbacks held back {args.defer_results:.0f}s")
            say(f"3/3 send: ours (program B, {code}), until every result is applied")
            cpu = CpuMeter(server, market_sim, cluster)
            since = time.time()
            profile = args.py_spy if index == 0 else None
            send = phase_send_ours(server, rpc, sql, ours[code][0], n, timeout, profile, cpu)
            # What M-Pesa saw: the simulator records when each API request arrived.
            _status, seen = market_sim.admin("GET", f"/sim/admin/requests?since={since}")
            send["requests_seen"], send["max_per_second"] = seen.get("total"), seen.get("max_in_window")
            results["markets"][code]["send"] = send
            say(f"our send ({code}) {send['seconds']:.1f}s (submitted {send['submit_seconds']:.1f}s)")
            if args.keep:
                suffix = "" if index == 0 else f"-{code}"
                (root / f"progress{suffix}.json").write_text(json.dumps(send["progress"]))
        results["send_ours"] = results["markets"][args.markets[0]]["send"]
        text, ok = table(results, args, command)
        return text, ok
    finally:
        if sql:
            sql.close()
        if server:
            server.stop()
        for market_sim in sims.values():
            if market_sim is not sim:
                market_sim.stop()
        if sim:
            sim.stop()
        cluster.stop()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--payments", type=int, default=10000, help="beneficiaries per program (100000 on request)"
    )
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers")
    parser.add_argument("--channels", default="root:2,root.mpesa:2", help="[queue_job] channels")
    parser.add_argument("--concurrency", type=int, default=16, help="M-Pesa requests in flight per send job")
    parser.add_argument("--ceiling-seconds", type=float, default=10)
    parser.add_argument("--ceiling-clients", type=int, default=8)
    parser.add_argument("--only-ours", action="store_true", help="no program A at all (memory at 100,000)")
    parser.add_argument("--skip-old-send", action="store_true", help="no simple-mpesa send (long at 100,000)")
    parser.add_argument("--max-load", type=float, default=0.8, help="wait for a 1-minute load below this")
    parser.add_argument("--max-wait", type=float, default=0, help="seconds to wait for it (0: do not wait)")
    parser.add_argument(
        "--addons-path", default=None, help="OpenG2P's addons folders (default as openg2p_env.sh)"
    )
    parser.add_argument(
        "--sim-python", default=None, help="a Python that runs mpesa_sim (default REPO/.venv)"
    )
    parser.add_argument(
        "--defer-results", type=float, default=0,
        help="diagnostic: the simulator holds every result callback this many seconds (submit alone)",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=int, default=0,
        help="our manager's requests-per-second ceiling (0: none, as before; the manager's default is 100)",
    )  # fmt: skip
    parser.add_argument("--py-spy", help="profile Odoo during our send into this file (collapsed stacks)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    parser.add_argument(
        "--markets", default="KE",
        help="our manager's markets, comma-separated (KE, TZ), each paid in turn and shown side by side; "
        "the first one's figures are the main table's",
    )  # fmt: skip
    parser.add_argument(
        "--openapi-b2c", default="sync", choices=["sync", "async"],
        help="Vodacom markets: B2C results in the answers (sync, the simulator's default) or posted to the "
        "manager's result URL (async)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.markets = [code.strip().upper() for code in args.markets.split(",") if code.strip()]
    unknown = [code for code in args.markets if code not in MARKET_CHOICES]
    if unknown or not args.markets or len(set(args.markets)) != len(args.markets):
        parser.error(f"--markets: distinct codes among {', '.join(MARKET_CHOICES)}")
    args.addons_path = args.addons_path or default_addons_path()
    args.sim_python = args.sim_python or default_sim_python()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    argv_shown = argv if argv is not None else sys.argv[1:]
    command = shlex.join([sys.executable, "bench/bench_payments.py", *argv_shown])
    started = time.monotonic()
    try:
        text, ok = run(args, command)
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 2
    print("\n" + text)
    print(f"bench took {time.monotonic() - started:.0f}s; 1-min load at the end {load_average():.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
