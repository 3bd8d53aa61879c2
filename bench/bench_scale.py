"""Scale bench: one program of ours paid at 10,000, 100,000 and 300,000, one size after the other.

Run with the OpenG2P Python (Odoo 17 importable), e.g.

    /opt/openg2p/venv/bin/python bench/bench_scale.py --sizes 10000,100000,300000

One throwaway PostgreSQL cluster; the addon is installed once into a template database, and each
size gets a copy of it, a fresh simulator, and its own Odoo server (2 HTTP workers, queue_job
runner, `[queue_job] channels = root:2,root.mpesa:2`, 16 M-Pesa requests in flight per send job).
Registrants, phone numbers and approved entitlements are written in bulk by SQL (copies of one
record made by the ORM, so every column the ORM fills is filled); the wallets are seeded in bulk.

For each size, phases, each timed from the button (or the call the web client makes) to the end of
the work it starts, with the peak RSS of every Odoo process during the phase:

- ceiling: requests/s on a route that only locks and updates one row (bench/odoo_addons): the cost
  floor of one result callback, measured in the same run;
- prepare: Prepare payments on the cycle (ours, batched);
- pre-flight: Check M-Pesa payees over every entitlement of the cycle;
- send: Send, until every payment was acknowledged, then until every result is applied;
- screens: the cycle form with its live progress, the first page of its payments filtered by
  M-Pesa state, the M-Pesa requests list, the manager form (server time, median of 5);
- report: the cycle's reconciliation report, PDF and spreadsheet;
- statement: the whole cycle's statement (the simulator's CSV export) imported, then the same
  file again (must change nothing).

Then one table row per size and the targets of issue #24 checked across sizes. `--rate-check`
also pays a short cycle at the manager's default ceiling (100 requests/s per shortcode) and reports
what M-Pesa saw per second while payments remained.
"""

import argparse
import json
import re
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
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
from bench_payments import (
    CEILING_MODULE,
    amount,
    measure_ceiling,
    open_jobs,
    our_manager,
    phase_prepare,
    phase_send_ours,
    prepare_simulator,
    say,
    wait_until,
)

TEMPLATE_DB = "scale_template"
REPORT_NAME = "g2p_payment_mpesa.report_mpesa_reconciliation"
PHONE, EMAIL = "0711%06d", "bench%06d@bench.local"

# Registrants, phones and entitlements in bulk: one of each made by the ORM, then copied by SQL
# with the columns that differ per row rewritten (g = the row's number, 1..n-1).
SETUP_BODY = r"""
n = P["payments"]
cr = env.cr

def columns(table):
    cr.execute("SELECT column_name FROM information_schema.columns"
               " WHERE table_name = %s AND column_name != 'id'", [table])
    return [row[0] for row in cr.fetchall()]

def clone(table, template_id, overrides, source="generate_series(1, %s) g" % (n - 1), where=""):
    cols = columns(table)
    exprs = [overrides.get(col, f"t.{col}") for col in cols]
    cr.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM {table} t, {source}"
               f" WHERE t.id = %s {where}", [template_id])
    return cr.rowcount

first = env["res.partner"].create({
    "name": "Bench 000000", "given_name": "Bench", "family_name": "000000", "is_registrant": True,
    "is_group": False, "email": P["email"] % 0,
    "phone_number_ids": [(0, 0, {"phone_no": P["phone"] % 0, "country_id": kenya.id})]})
env.flush_all()
six = "lpad(g::text, 6, '0')"
made = clone("res_partner", first.id, {
    "name": f"'Bench ' || {six}", "complete_name": f"'Bench ' || {six}", "family_name": six,
    "email": f"'bench' || {six} || '@bench.local'"})
cr.execute("SELECT max(id) FROM res_partner")
last_id = cr.fetchone()[0]
phone = first.phone_number_ids
clone("g2p_phone_number", phone.id, {
    "partner_id": "p.id",
    "phone_no": "left(t.phone_no, length(t.phone_no) - 6) || p.family_name",
    "phone_sanitized": "left(t.phone_sanitized, length(t.phone_sanitized) - 6) || p.family_name",
}, source="res_partner p", where="AND p.id > %d AND p.id <= %d" % (first.id, last_id))
cr.execute("SELECT id FROM res_partner WHERE name LIKE 'Bench %' ORDER BY family_name")
partner_ids = [row[0] for row in cr.fetchall()]
assert len(partner_ids) == n, (len(partner_ids), n)
env.cr.commit()

wizard = env["g2p.program.create.wizard"].create({
    "name": "Scale", "currency_id": kes.id, "amount_per_cycle": 100, "target_type": "individual",
    "approver_group_id": env.ref("g2p_programs.g2p_program_cycle_approver").id})
prog = env["g2p.program"].browse(wizard.create_program()["res_id"])
tag = env["g2p.payment.batch.tag"].create(
    {"name": "All", "order": 1, "domain": "[]", "max_batch_size": P["batch_size"]})
manager = env["g2p.program.payment.manager.mpesa"].create(dict(P["manager"], program_id=prog.id,
    name="Scale", create_batch=True, batch_tag_ids=[(6, 0, tag.ids)]))
ref = f"{manager._name},{manager.id}"
if prog.payment_managers:
    prog.payment_managers.manager_ref_id = ref
else:
    prog.payment_managers = [(0, 0, {"program_id": prog.id, "manager_ref_id": ref})]
manager.action_fetch_simulator_certificate()
cycle = env["g2p.cycle"].create({"name": "Scale cycle", "program_id": prog.id,
    "start_date": fields.Date.today(), "end_date": fields.Date.add(fields.Date.today(), months=1)})
ent = env["g2p.entitlement"].create({"partner_id": first.id, "cycle_id": cycle.id, "initial_amount": 100,
    "state": "approved", "is_cash_entitlement": True})
env.flush_all()
clone("g2p_entitlement", ent.id, {
    "partner_id": "p.id",
    "initial_amount": "100 + (p.family_name::int %% 5) * 10",
    "code": "substr(md5(p.id::text || random()::text), 1, 20)",
    "ern": "lpad(floor(random() * 9999999999)::bigint::text, 10, '0')",
}, source="res_partner p", where="AND p.id > %d AND p.id <= %d" % (first.id, last_id))
# A second, smaller cycle of the same program for the rate check (paid under the manager's ceiling).
rate_cycle = env["g2p.cycle"].create({"name": "Rate cycle", "program_id": prog.id,
    "start_date": fields.Date.today(), "end_date": fields.Date.add(fields.Date.today(), months=1)})
if P["rate_payments"]:
    rate_ent = env["g2p.entitlement"].create({"partner_id": first.id, "cycle_id": rate_cycle.id,
        "initial_amount": 100, "state": "approved", "is_cash_entitlement": True})
    env.flush_all()
    clone("g2p_entitlement", rate_ent.id, {
        "partner_id": "p.id",
        "code": "substr(md5(p.id::text || random()::text), 1, 20)",
        "ern": "lpad(floor(random() * 9999999999)::bigint::text, 10, '0')",
    }, source="res_partner p",
       where="AND p.id > %d AND p.id <= %d" % (first.id, first.id + P["rate_payments"] - 1))
counter = env["g2p.mpesa.bench.counter"].create({"name": "ceiling", "hits": 0})
env.cr.commit()
cr.execute("SELECT count(*), sum(initial_amount) FROM g2p_entitlement WHERE cycle_id = %s", [cycle.id])
print("BENCH_ENTITLEMENTS", *cr.fetchone())
print("BENCH_READY", cycle.id, manager.id, counter.id, made + 1, rate_cycle.id)
"""


class Web:
    """A logged-in web client session (JSON-RPC, as the browser calls the server)."""

    def __init__(self, url, db):
        self.url, self.db = url, db
        self.cookie = None

    def post(self, path, params, timeout=3600):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        headers = {"Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        req = urllib.request.Request(self.url + path, body, headers)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            cookie = resp.headers.get("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            answer = json.loads(resp.read())
        if "error" in answer:
            raise BenchError(f"{path}: {answer['error'].get('data', {}).get('message') or answer['error']}")
        return answer["result"]

    def login(self):
        self.post("/web/session/authenticate", {"db": self.db, "login": "admin", "password": "admin"})
        return self

    def call(self, model, method, args=(), kwargs=None):
        return self.post(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs or {}},
        )

    def csrf_token(self):
        """The token the web client posts with forms (written into the /web page)."""
        page = self.download("/web").decode()
        found = re.search(r'csrf_token: "(\w+)"', page)
        if not found:
            raise BenchError("no csrf_token in /web")
        return found.group(1)

    def upload(self, path, data, filename, timeout=3600):
        """A multipart form (csrf_token, ufile) as a browser posts a file."""
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'.encode(),
                self.csrf_token().encode(),
                f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="ufile"; '
                f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode(),
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": self.cookie}
        req = urllib.request.Request(self.url + path, body, headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise BenchError(f"{path}: {exc.code} {exc.read()[:300]!r}") from None

    def download(self, path, timeout=3600):
        req = urllib.request.Request(self.url + path, headers={"Cookie": self.cookie})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()


def view_spec(web, model, view_type):
    """What the web client asks for when it opens a view: every field of it, x2many ids only."""
    views = web.call(model, "get_views", [], {"views": [[False, view_type]], "options": {}})
    spec = {}
    for name, desc in views["models"][model].items():
        if desc["type"] == "many2one":
            spec[name] = {"fields": {"display_name": {}}}
        elif desc["type"] in ("one2many", "many2many"):
            spec[name] = {"fields": {"display_name": {}}, "limit": 40}  # the first page of a list
        else:
            spec[name] = {}
    return spec


def timed(call, repeat=5):
    """Median wall time of `repeat` calls, in seconds, and the last answer."""
    times, answer = [], None
    for _ in range(repeat):
        started = time.monotonic()
        answer = call()
        times.append(time.monotonic() - started)
    return statistics.median(times), answer


def phase_screens(web, cycle_id, manager_id):
    """Server time of the screens an approver opens on a cycle of this size."""
    cycle_spec = view_spec(web, "g2p.cycle", "form")
    payment_spec = view_spec(web, "g2p.payment", "list")
    tx_spec = view_spec(web, "g2p.mpesa.transaction", "list")
    manager_spec = view_spec(web, "g2p.program.payment.manager.mpesa", "form")
    screens = {
        "cycle form": lambda: web.call("g2p.cycle", "web_read", [[cycle_id]], {"specification": cycle_spec}),
        "payments, first page, by M-Pesa state": lambda: web.call(
            "g2p.payment",
            "web_search_read",
            [],
            {
                "domain": [["cycle_id", "=", cycle_id], ["mpesa_state", "=", "paid"]],
                "specification": payment_spec,
                "offset": 0,
                "limit": 80,
                "order": "",
                "count_limit": 10001,
            },
        ),  # fmt: skip
        "M-Pesa requests list": lambda: web.call(
            "g2p.mpesa.transaction",
            "web_search_read",
            [],
            {
                "domain": [],
                "specification": tx_spec,
                "offset": 0,
                "limit": 80,
                "order": "",
                "count_limit": 10001,
            },
        ),  # fmt: skip
        "manager form": lambda: web.call(
            "g2p.program.payment.manager.mpesa", "web_read", [[manager_id]], {"specification": manager_spec}
        ),
    }
    return {name: timed(call)[0] for name, call in screens.items()}


def wait_jobs(sql, timeout, what):
    wait_until(lambda: not open_jobs(sql), timeout, what, interval=0.5)


def phase(server, work):
    """Run work() with every Odoo process's RSS sampled; returns (seconds, peaks, result)."""
    with RssSampler(server) as rss:
        started = time.monotonic()
        result = work()
        elapsed = time.monotonic() - started
    return elapsed, rss_of(rss), result


def rss_of(rss):
    """Peak RSS per process in MiB: main, gevent, workers (largest first)."""
    peaks = {"main": 0.0, "gevent": 0.0, "workers": []}
    for role, kib in rss.peaks.values():
        if role == "worker":
            peaks["workers"].append(kib / 1024)
        else:
            peaks[role] = max(peaks[role], kib / 1024)
    peaks["workers"].sort(reverse=True)
    return peaks


def phase_preflight(server, web, sql, cycle_id):
    def work():
        action = web.call("g2p.cycle", "action_mpesa_check_payees", [[cycle_id]])
        wait_jobs(sql, 3600, "the pre-flight")
        return action

    seconds, rss, action = phase(server, work)
    return {"seconds": seconds, "rss": rss, "answer": (action or {}).get("res_model") or action.get("tag")}


def phase_report(server, web, sql, cycle_id):
    def pdf():
        action = web.call("g2p.cycle", "action_mpesa_reconciliation_pdf", [[cycle_id]])
        if action.get("res_model") == "queue.job" or action.get("tag") == "display_notification":
            wait_jobs(sql, 3600, "the reconciliation PDF")
            return len(sql.one("SELECT max(id) FROM ir_attachment")) and action
        name = action.get("report_name") or REPORT_NAME
        data = web.download(f"/report/pdf/{name}/{cycle_id}")
        if not data.startswith(b"%PDF"):
            raise BenchError("the reconciliation report is not a PDF")
        return len(data)

    def xlsx():
        action = web.call("g2p.cycle", "action_mpesa_reconciliation_xlsx", [[cycle_id]])
        if action.get("type") == "ir.actions.act_url":
            data = web.download(action["url"])
            if not data.startswith(b"PK"):
                raise BenchError("the reconciliation spreadsheet is not an XLSX file")
            return len(data)
        wait_jobs(sql, 3600, "the reconciliation spreadsheet")
        return action

    if not shutil.which("wkhtmltopdf"):
        say("*** wkhtmltopdf is not installed: the reconciliation PDF is NOT measured ***")
        pdf_seconds, pdf_rss, pdf_size = float("nan"), {"main": 0.0, "gevent": 0.0, "workers": []}, 0
    else:
        pdf_seconds, pdf_rss, pdf_size = phase(server, pdf)
    xlsx_seconds, xlsx_rss, xlsx_size = phase(server, xlsx)
    return {
        "pdf": {"seconds": pdf_seconds, "rss": pdf_rss, "size": pdf_size},
        "xlsx": {"seconds": xlsx_seconds, "rss": xlsx_rss, "size": xlsx_size},
    }


def statement_counts(sql):
    return sql.one(
        "SELECT (SELECT count(*) FROM g2p_mpesa_statement_line),"
        "       (SELECT count(*) FROM g2p_mpesa_discrepancy),"
        "       (SELECT count(*) FROM g2p_mpesa_transaction WHERE state = 'paid'),"
        "       (SELECT coalesce(sum(amount_paid), 0) FROM g2p_payment)"
    )


def import_statement(web, sql, manager_id, data, filename):
    """As the import dialog does: the file posted as a form's file to the upload route."""
    answer = web.upload(f"/g2p_payment_mpesa/statement/{manager_id}", data, filename)
    wait_jobs(sql, 3600, "the statement import")
    return answer


def phase_statement(server, web, sql, sim, manager_id, payments):
    status, _body = sim.admin("GET", "/sim/admin/info")
    if status != 200:
        raise BenchError("simulator admin refused")
    req = urllib.request.Request(
        f"{sim.base_url}/sim/admin/statement?format=csv&from=2000-01-01",
        headers={"Authorization": f"Bearer {sim.admin_token}"},
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        data = resp.read()
    lines_in_file = data.count(b"\n")
    before = statement_counts(sql)
    seconds, rss, _answer = phase(server, lambda: import_statement(web, sql, manager_id, data, "scale.csv"))
    after = statement_counts(sql)
    imported = after[0] - before[0]
    again_seconds, _rss, _again = phase(
        server, lambda: import_statement(web, sql, manager_id, data, "scale.csv")
    )
    again = statement_counts(sql)
    if imported < payments:
        raise BenchError(f"statement: {imported} lines imported for {payments} payments")
    return {
        "seconds": seconds,
        "rss": rss,
        "lines": imported,
        "file_rows": lines_in_file,
        "file_mib": len(data) / 2**20,
        "rate": imported / seconds,
        "discrepancies": after[1] - before[1],
        "again_seconds": again_seconds,
        "again_unchanged": again == after,
    }


def phase_rate_check(server, rpc, sql, sim, manager_id, cycle_id, args):
    """A cycle paid under the manager's requests-per-second ceiling R: what M-Pesa saw each second
    while payments remained (from the simulator's own request log)."""
    rate = args.rate_check
    rpc("g2p.program.payment.manager.mpesa", "write", [manager_id], {"max_requests_per_second": rate})
    phase_prepare(server, rpc, sql, cycle_id, args.rate_payments, 600)
    since = time.time()
    send = phase_send_ours(server, rpc, sql, cycle_id, args.rate_payments, 1800)
    rpc("g2p.program.payment.manager.mpesa", "write", [manager_id], {"max_requests_per_second": args.rate})
    _status, seen = sim.admin("GET", f"/sim/admin/requests?since={since}&times=true")
    times = [entry["at"] for entry in seen.get("requests") or []]
    if len(times) < 3:
        raise BenchError(f"rate check: M-Pesa saw {len(times)} requests")
    first, last = int(times[0]), int(times[-1])
    per_second = [0] * (last - first + 1)
    for at in times:
        per_second[int(at) - first] += 1
    full = per_second[1:-1] or per_second  # the first and last seconds are partial
    return {
        "ceiling": rate,
        "payments": args.rate_payments,
        "requests": len(times),
        "sustained": statistics.median(full),
        "mean": sum(full) / len(full),
        "max": max(per_second),
        "seconds_at_95": sum(1 for count in full if count >= 0.95 * rate) / len(full),
        "submit_seconds": send["submit_seconds"],
    }


def fmt_rss(peaks):
    workers = "/".join(f"{w:.0f}" for w in peaks["workers"][:3]) or "-"
    return f"{workers} (main {peaks['main']:.0f})"


def run_size(args, cluster, root, n):
    db = f"scale_{n}"
    folder = root / db
    folder.mkdir()
    admin = Sql(cluster, "postgres")
    try:
        admin.run(f'CREATE DATABASE "{db}" TEMPLATE "{TEMPLATE_DB}"')
    finally:
        admin.close()
    shutil.copytree(root / "data" / "filestore" / TEMPLATE_DB, root / "data" / "filestore" / db)
    sim = server = sql = None
    figures = {"n": n}
    try:
        sim = RunningSimulator(str(folder / "sim.sqlite3"), free_port(), "bench-admin-token", args.sim_python,
                               (), str(folder / "sim.log")).start()  # fmt: skip
        started = time.monotonic()
        prepare_simulator(sim, n, PHONE, EMAIL)
        figures["seed_seconds"] = time.monotonic() - started
        say(f"N={n:,}: {n:,} wallets seeded in {figures['seed_seconds']:.0f}s")
        odoo_port = free_port()
        odoo_url = f"http://127.0.0.1:{odoo_port}"
        config = folder / "odoo.conf"
        write_config(
            config, cluster, args.addons, root / "data", odoo_port,
            without_demo="all", workers=args.workers, max_cron_threads=1, gevent_port=free_port(),
            server_wide_modules="base,web,queue_job", queue_job_channels=args.channels,
            log_level="warn", db_name=db, list_db="False",
            limit_time_real=7200, limit_time_cpu=7200, limit_memory_soft=4 * 1024**3,
            limit_memory_hard=5 * 1024**3,
        )  # fmt: skip
        params = {
            "odoo_url": odoo_url,
            "payments": n,
            "phone": PHONE,
            "email": EMAIL,
            "batch_size": 500,
            "manager": our_manager(sim, MarketData.of("KE"), odoo_url, args),
            "rate_payments": args.rate_payments if n == args.sizes[0] else 0,
        }
        started = time.monotonic()
        proc = odoo_run(config, "-d", db, "--no-http", command="shell",
                        stdin=SHELL_PRELUDE % {"params": json.dumps(params)} + SETUP_BODY)  # fmt: skip
        ready = re.search(r"^BENCH_READY (\d+) (\d+) (\d+) (\d+) (\d+)$", proc.stdout, re.M)
        if not ready:
            raise BenchError(f"set-up failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        cycle_id, manager_id, counter, registrants, rate_cycle_id = (int(x) for x in ready.groups())
        figures["setup_seconds"] = time.monotonic() - started
        say(
            f"N={n:,}: {registrants:,} registrants and entitlements written in "
            f"{figures['setup_seconds']:.0f}s"
        )

        server = OdooServer(config, db, folder / "odoo.log", odoo_url).start()
        sql = Sql(cluster, db)
        web = Web(odoo_url, db).login()
        rpc = Rpc(odoo_url, db)
        figures["load"] = wait_for_quiet(args.max_load, args.max_wait, say)
        timeout = max(900, n * 0.2)

        measure_ceiling(odoo_url, counter, 2, args.ceiling_clients)  # warm the workers
        cpu = CpuMeter(server, sim, cluster)
        before = cpu.snapshot()
        with RssSampler(server) as rss:
            rate, count, _errors = measure_ceiling(
                odoo_url, counter, args.ceiling_seconds, args.ceiling_clients
            )
        used = cpu.used(before, cpu.snapshot())
        figures["ceiling"] = {
            "rate": rate,
            "rss": rss_of(rss),
            "cpu_ms": (used["odoo"] + used["postgres"]) * 1000 / max(count, 1),
        }
        say(f"N={n:,}: ceiling {rate:.0f} req/s")

        prepare = phase_prepare(server, rpc, sql, cycle_id, n, timeout)
        figures["prepare"] = prepare
        say(f"N={n:,}: prepare {prepare['seconds']:.1f}s")

        figures["preflight"] = phase_preflight(server, web, sql, cycle_id)
        say(f"N={n:,}: pre-flight {figures['preflight']['seconds']:.1f}s")

        cpu = CpuMeter(server, sim, cluster)
        since = time.time()
        with RssSampler(server) as rss:
            send = phase_send_ours(server, rpc, sql, cycle_id, n, timeout * 3, None, cpu)
        send["rss_all"] = rss_of(rss)
        _status, seen = sim.admin("GET", f"/sim/admin/requests?since={since}")
        send["requests_seen"], send["max_per_second"] = seen.get("total"), seen.get("max_in_window")
        figures["send"] = send
        say(f"N={n:,}: send {send['seconds']:.1f}s (acknowledged at {send['submit_seconds']:.1f}s)")

        figures["screens"] = phase_screens(web, cycle_id, manager_id)
        say(f"N={n:,}: screens {figures['screens']}")
        figures["report"] = phase_report(server, web, sql, cycle_id)
        say(f"N={n:,}: report PDF {figures['report']['pdf']['seconds']:.1f}s, "
            f"XLSX {figures['report']['xlsx']['seconds']:.1f}s")  # fmt: skip
        figures["statement"] = phase_statement(server, web, sql, sim, manager_id, n)
        say(
            f"N={n:,}: statement {figures['statement']['lines']:,} lines in "
            f"{figures['statement']['seconds']:.1f}s"
        )
        if args.rate_payments and n == args.sizes[0]:
            figures["rate_check"] = phase_rate_check(server, rpc, sql, sim, manager_id, rate_cycle_id, args)
            say(f"N={n:,}: rate check {figures['rate_check']}")
        paid = sql.one(
            "SELECT count(*) FILTER (WHERE mpesa_state = 'paid'), coalesce(sum(amount_paid), 0)"
            " FROM g2p_payment WHERE cycle_id = %s",
            (cycle_id,),
        )
        expected = sum(amount(i) for i in range(n))
        figures["paid"] = {"count": paid[0], "amount": paid[1], "expected": expected}
        if paid[0] != n or int(paid[1]) != expected:
            raise BenchError(f"N={n}: {paid[0]} paid, KES {paid[1]} in Odoo; expected {n}, KES {expected}")
        return figures
    finally:
        # What this size measured, even if it stopped half-way (kept with --keep).
        (root / f"partial-{n}.json").write_text(json.dumps(figures, default=str))
        if sql:
            sql.close()
        if server:
            server.stop()
        if sim:
            sim.stop()


def table(sizes, args, command):
    first = sizes[0]
    cols = [f"N = {f['n']:,}" for f in sizes]
    rows = []

    def row(label, cell):
        rows.append((label, *(cell(f) for f in sizes)))

    row("ceiling route, req/s", lambda f: f"{f['ceiling']['rate']:,.0f}")
    row("prepare, s (peak RSS MiB)", lambda f: f"{f['prepare']['seconds']:.1f} ({f['prepare']['rss']:.0f})")
    row("pre-flight, s (peak RSS MiB)",
        lambda f: f"{f['preflight']['seconds']:.1f} ({fmt_rss(f['preflight']['rss'])})")  # fmt: skip
    row("send until acknowledged, s", lambda f: f"{f['send']['submit_seconds']:.1f}")
    row("send until results applied, s (peak RSS MiB)",
        lambda f: f"{f['send']['seconds']:.1f} ({fmt_rss(f['send']['rss_all'])})")  # fmt: skip
    row("end to end, payments/s", lambda f: f"{f['send']['rate']:,.0f}")
    row("end to end / ceiling", lambda f: f"{f['send']['rate'] / f['ceiling']['rate']:.0%}")
    row("Odoo+PostgreSQL CPU ms per result / per ceiling request",
        lambda f: f"{cpu_per_result(f):.2f} / {f['ceiling']['cpu_ms']:.2f}")  # fmt: skip
    row("CPU ms per payment (odoo/postgres/simulator)", cpu_text)
    for name in sizes[0]["screens"]:
        row(f"screen: {name}, s", lambda f, name=name: f"{f['screens'][name]:.3f}")
    row("reconciliation PDF, s (peak RSS MiB)",
        lambda f: f"{f['report']['pdf']['seconds']:.1f} ({fmt_rss(f['report']['pdf']['rss'])})")  # fmt: skip
    row("reconciliation XLSX, s (peak RSS MiB)",
        lambda f: f"{f['report']['xlsx']['seconds']:.1f} "
        f"({fmt_rss(f['report']['xlsx']['rss'])})")  # fmt: skip
    row("statement import, lines/s (s; peak RSS MiB)",
        lambda f: f"{f['statement']['rate']:,.0f} ({f['statement']['seconds']:.1f}; "
        f"{fmt_rss(f['statement']['rss'])})")  # fmt: skip
    row("same statement again: s, unchanged",
        lambda f: f"{f['statement']['again_seconds']:.1f}, "
        f"{'yes' if f['statement']['again_unchanged'] else 'NO'}")  # fmt: skip
    rate = first.get("rate_check")
    lines = [
        "| phase | " + " | ".join(cols) + " |",
        "|---|" + "|".join(["---:"] * len(cols)) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "Peak RSS: the three largest Odoo workers (HTTP workers run the queue jobs), and the main process.",
        *(
            [
                f"Rate check (at N = {first['n']:,}): {rate['payments']:,} payments under a ceiling of "
                f"{rate['ceiling']} requests/s: M-Pesa saw {rate['requests']:,} requests, a median of "
                f"{rate['sustained']:.0f}/s (mean {rate['mean']:.1f}, most {rate['max']}) while payments "
                "remained; "
                f"{rate['seconds_at_95']:.0%} of the seconds at 0.95 R or more."
            ]
            if rate
            else []
        ),
        f"command: {command}",
    ]
    last = sizes[-1]

    def ratio(key):
        return max(last[key]["rss"]["workers"][:1] or [0]) / max(first[key]["rss"]["workers"][:1] or [1])

    targets = []
    if len(sizes) > 1:
        for key, label in (("preflight", "pre-flight"), ("send", "send")):
            source = last["send"]["rss_all"] if key == "send" else None
            if key == "send":
                r = max(source["workers"]) / max(first["send"]["rss_all"]["workers"])
            else:
                r = ratio(key)
            targets.append((f"flat memory, {label}: busiest worker at {last['n']:,} {r:.2f}x its "
                            f"{first['n']:,} figure (at most 1.25x)", r <= 1.25))  # fmt: skip
        r = last["send"]["rate"] / first["send"]["rate"]
        targets.append((f"flat throughput: end to end at {last['n']:,} is {r:.2f}x its rate at "
                        f"{first['n']:,} (at least 0.9x)", r >= 0.9))  # fmt: skip
    for f in sizes:
        share = f["send"]["rate"] / f["ceiling"]["rate"]
        targets.append((f"N={f['n']:,}: end to end {share:.0%} of the ceiling (at least 85%)", share >= 0.85))
        cpu_ratio = cpu_per_result(f) / f["ceiling"]["cpu_ms"]
        targets.append((f"N={f['n']:,}: Odoo+PostgreSQL CPU per result {cpu_ratio:.2f}x the ceiling's "
                        "per request (at most 1.25x)", cpu_ratio <= 1.25))  # fmt: skip
        slow = [name for name, s in f["screens"].items() if s >= 1.0]
        targets.append(
            (f"N={f['n']:,}: screens under 1 s{': not ' + ', '.join(slow) if slow else ''}", not slow)
        )
    if rate:
        sustained = rate["sustained"]
        targets.append((f"at a ceiling of {rate['ceiling']}/s M-Pesa sees at least 0.95 R sustained "
                        f"({sustained:.0f}/s)", sustained >= 0.95 * rate["ceiling"]))  # fmt: skip
    lines += [f"target: {label}: {'met' if ok else 'MISSED'}" for label, ok in targets]
    return "\n".join(lines), all(ok for _l, ok in targets)


def cpu_per_result(f):
    cpu = f["send"]["cpu"]
    return (cpu.get("odoo", 0) + cpu.get("postgres", 0)) * 1000 / f["n"]


def cpu_text(f):
    cpu = f["send"]["cpu"]
    return " / ".join(f"{cpu.get(k, 0) * 1000 / f['n']:.2f}" for k in ("odoo", "postgres", "simulator"))


def run(args, command):
    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-scale-"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    results = []
    try:
        cluster.start()
        args.addons = [p for p in args.addons_path.split(",") if p] + [str(REPO), str(BENCH_ADDONS)]
        config = root / "template.conf"
        write_config(config, cluster, args.addons, root / "data", free_port(), without_demo="all",
                     log_level="warn", db_name=TEMPLATE_DB, list_db="False")  # fmt: skip
        say(f"installing {MODULE} and {CEILING_MODULE} into the template database")
        proc = odoo_run(config, "-d", TEMPLATE_DB, "-i", f"{MODULE},{CEILING_MODULE}", "--stop-after-init",
                        "--workers=0", "--max-cron-threads=0")  # fmt: skip
        if proc.returncode:
            raise BenchError(f"install failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        for n in args.sizes:
            results.append(run_size(args, cluster, root, n))
            (root / "figures.json").write_text(json.dumps(results, default=str))
        return table(results, args, command)
    finally:
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
        "--sizes", default="10000,100000,300000", help="cycle sizes, paid one after the other"
    )
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers")
    parser.add_argument("--channels", default="root:2,root.mpesa:2", help="[queue_job] channels")
    parser.add_argument("--concurrency", type=int, default=16, help="M-Pesa requests in flight per send job")
    parser.add_argument(
        "--rate", type=int, default=0, help="requests-per-second ceiling of the manager (0: none)"
    )
    parser.add_argument("--rate-check", type=int, default=100, help="the ceiling R of the rate check")
    parser.add_argument(
        "--rate-payments",
        type=int,
        default=3000,
        help="payments of the rate check at the first size (0: none)",
    )
    parser.add_argument("--ceiling-seconds", type=float, default=10)
    parser.add_argument("--ceiling-clients", type=int, default=8)
    parser.add_argument("--max-load", type=float, default=0.8)
    parser.add_argument("--max-wait", type=float, default=60)
    parser.add_argument("--addons-path", default=None)
    parser.add_argument("--sim-python", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--table-from", help="print the table of an earlier run's figures.json (kept with --keep) and exit"
    )
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.table_from:
        sizes = json.loads(Path(args.table_from).read_text())
        text, ok = table(sizes, args, f"(figures of {args.table_from}: the sizes it completed)")
        print(text)
        return 0 if ok else 1
    args.addons_path = args.addons_path or default_addons_path()
    args.sim_python = args.sim_python or default_sim_python()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = shlex.join(
        [sys.executable, "bench/bench_scale.py", *(argv if argv is not None else sys.argv[1:])]
    )
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
