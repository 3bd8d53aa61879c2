"""A cycle's M-Pesa reconciliation report (issue #14 step 3): what was sent to M-Pesa and what
became of it, the fees and differences M-Pesa's statements show, the float before and after the
cycle, and the statements that cover it.

`g2p.cycle._mpesa_reconciliation()` computes every figure once, as a plain dict; the PDF (QWeb,
report/mpesa_reconciliation_report.xml) and the spreadsheet only lay that dict out, so the two
cannot disagree. Money is integer cents throughout, shown as "KES 1,500.00".
"""

import io
import re
from decimal import Decimal, InvalidOperation

import xlsxwriter

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from .. import const
from .payment_manager import money_text, when_text

# Who may see a cycle's reconciliation (the report action and the buttons name the same groups).
REPORT_GROUPS = (
    "g2p_registry_base.group_g2p_admin",
    "g2p_programs.g2p_program_manager",
    "g2p_programs.g2p_finance_validator",
)
REPORT_REF = "g2p_payment_mpesa.action_report_mpesa_reconciliation"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# ir.attachment.description of an exported spreadsheet: the user's earlier copy is replaced.
XLSX_MARKER = "g2p_payment_mpesa.reconciliation:%s"

# A payment's M-Pesa state -> the report's row. A state not named here (one added later) gets a
# row of its own, labelled as the state, after these three and before "not final yet".
STATE_ROWS = {
    const.PAY_PAID: "paid",
    const.PAY_FAILED: "failed",
    const.PAY_NEEDS_REVIEW: "review",
    const.PAY_UNKNOWN: "review",
    const.PAY_QUEUED: "in_progress",
    const.PAY_SUBMITTING: "in_progress",
    const.PAY_ACCEPTED: "in_progress",
}


class G2PCycleReconciliation(models.Model):
    _inherit = "g2p.cycle"

    # ------------------------------------------------------------------ actions
    def action_mpesa_reconciliation_pdf(self):
        self.ensure_one()
        self._mpesa_reconciliation_check_access()
        return self.env.ref(REPORT_REF).report_action(self)

    def action_mpesa_reconciliation_xlsx(self):
        """The spreadsheet, as a download of a private attachment (only its creator may read it:
        no res_id, see ir.attachment.check); the user's earlier copy of this cycle's is replaced."""
        self.ensure_one()
        data = self._mpesa_reconciliation_xlsx()
        marker = XLSX_MARKER % self.id
        Attachment = self.env["ir.attachment"]
        Attachment.search(
            [("description", "=", marker), ("create_uid", "=", self.env.uid), ("res_id", "=", False)]
        ).unlink()
        name = re.sub(r"[^\w .-]+", "_", self.name or str(self.id)).strip() or str(self.id)
        attachment = Attachment.create(
            {
                "name": _("M-Pesa reconciliation - %s.xlsx") % name,
                "raw": data,
                "mimetype": XLSX_MIMETYPE,
                "description": marker,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }

    # ------------------------------------------------------------------ access
    def _mpesa_reconciliation_check_access(self):
        """Finance validators, program managers and administrators who may read the cycle: the
        figures are then read with sudo (M-Pesa's rows are not every cycle reader's to read)."""
        if self.env.su:
            return
        if not any(self.env.user.has_group(group) for group in REPORT_GROUPS):
            raise AccessError(
                _(
                    "Only finance validators, program managers and administrators can see a cycle's "
                    "M-Pesa reconciliation."
                )
            )
        self.check_access_rights("read")
        self.check_access_rule("read")

    # ------------------------------------------------------------------ figures
    def _mpesa_money(self, cents):
        """Cents in the currency of the market that paid the cycle (set by _mpesa_reconciliation)."""
        return money_text(cents, self.env.context.get("mpesa_currency") or const.CURRENCY)

    def _mpesa_reconciliation(self):
        """Every figure of the report, as a plain dict of strings, integers (cents) and lists."""
        self.ensure_one()
        self._mpesa_reconciliation_check_access()
        cycle = self.sudo()
        for model in (
            "g2p.payment",
            "g2p.mpesa.transaction",
            "g2p.mpesa.statement.line",
            "g2p.mpesa.discrepancy",
            "g2p.mpesa.float.report",
        ):
            self.env[model].flush_model()
        window = cycle._mpesa_reconciliation_window()
        managers = cycle._mpesa_reconciliation_managers()
        currency = managers[:1]._mpesa_market().currency if managers else const.CURRENCY
        cycle = cycle.with_context(mpesa_currency=currency)
        totals = cycle._mpesa_reconciliation_totals()
        paid_count = next(row["count"] for row in totals if row["key"] == "paid")
        now = fields.Datetime.now()
        return {
            "cycle": cycle.name,
            "program": cycle.program_id.name,
            "cycle_period": f"{cycle.start_date or ''} – {cycle.end_date or ''}",
            "managers": ", ".join(
                f"{manager.name} ({manager.shortcode})" if manager.shortcode else manager.name
                for manager in managers
            )
            or _("This program does not pay through M-Pesa."),
            "currency": currency,
            "requests": window["requests"],
            "first_sent": self._mpesa_when(window["first_sent"]),
            "last_result": self._mpesa_when(window["last_result"]),
            "totals": totals,
            "fees": cycle._mpesa_reconciliation_fees(),
            "float": cycle._mpesa_reconciliation_float(window, managers, paid_count),
            "discrepancies": cycle._mpesa_reconciliation_discrepancies(),
            "statements": cycle._mpesa_reconciliation_statements(window, managers),
            "generated_at": self._mpesa_when(now),
            "generated_by": self.env.user.name,
        }

    def _mpesa_when(self, moment):
        """A UTC datetime in the reader's time zone, e.g. '2026-03-01 10:30 EAT'."""
        return when_text(self, moment)

    def _mpesa_reconciliation_window(self):
        """When the cycle's first request was made and its last result applied (Odoo's clock, the
        float reports' too), and how many requests there were."""
        self.env.cr.execute(
            """
            SELECT count(*), min(t.create_date),
                   max(t.write_date) FILTER (WHERE t.state IN %s)
              FROM g2p_mpesa_transaction t
              JOIN g2p_payment p ON p.id = t.payment_id
             WHERE p.cycle_id = %s
            """,
            [const.TX_FINAL_STATES, self.id],
        )
        requests, first_sent, last_result = self.env.cr.fetchone()
        return {"requests": requests, "first_sent": first_sent, "last_result": last_result}

    def _mpesa_reconciliation_managers(self):
        """The M-Pesa managers that paid this cycle, and the program's current one."""
        self.env.cr.execute(
            "SELECT DISTINCT t.manager_id FROM g2p_mpesa_transaction t"
            " JOIN g2p_payment p ON p.id = t.payment_id WHERE p.cycle_id = %s",
            [self.id],
        )
        Manager = self.env["g2p.program.payment.manager.mpesa"].sudo()
        managers = Manager.browse([row[0] for row in self.env.cr.fetchall()])
        current = self.program_id.get_manager(self.program_id.MANAGER_PAYMENT) if self.program_id else None
        if current and current._name == Manager._name:
            managers |= current.sudo()
        return managers.sorted("id")

    def _mpesa_reconciliation_totals(self):
        """Counts and cents of the cycle's M-Pesa payments: those sent (with at least one request),
        then by state. A payment's amount is its newest request's (what M-Pesa was asked to pay),
        or, before any request, the amount OpenG2P issued."""
        self.env.cr.execute(
            """
            SELECT p.mpesa_state, last_tx.id IS NOT NULL, count(*),
                   coalesce(sum(coalesce(last_tx.amount::numeric * 100, round(p.amount_issued * 100))), 0)
                       ::bigint
              FROM g2p_payment p
              LEFT JOIN LATERAL (
                    SELECT t.id, t.amount FROM g2p_mpesa_transaction t
                     WHERE t.payment_id = p.id ORDER BY t.id DESC LIMIT 1
                   ) last_tx ON true
             WHERE p.cycle_id = %s AND p.mpesa_state IS NOT NULL
          GROUP BY p.mpesa_state, last_tx.id IS NOT NULL
            """,
            [self.id],
        )
        rows = self.env.cr.fetchall()
        labels = dict(self.env["g2p.payment"]._fields["mpesa_state"]._description_selection(self.env))
        names = {
            "sent": _("Sent to M-Pesa"),
            "paid": _("Paid"),
            "failed": _("Failed"),
            "review": _("Needs review or outcome unknown"),
            "in_progress": _("Not final yet (queued, submitting, awaiting a result)"),
        }
        keys = ["sent", "paid", "failed", "review"]
        keys += [state for state, _label in const.PAYMENT_MPESA_STATES if state not in STATE_ROWS]
        keys.append("in_progress")
        figures = {key: [0, 0] for key in keys}
        for state, sent, count, cents in rows:
            key = STATE_ROWS.get(state, state)
            for row in (key, "sent") if sent else (key,):
                figures.setdefault(row, [0, 0])
                figures[row][0] += count
                figures[row][1] += cents
        return [
            {
                "key": key,
                "label": names.get(key) or labels.get(key) or key,
                "count": figures[key][0],
                "cents": figures[key][1],
                "amount": self._mpesa_money(figures[key][1]),
            }
            for key in [*keys, *(key for key in figures if key not in keys)]
        ]

    def _mpesa_reconciliation_fees(self):
        """M-Pesa's charges on the imported statements: lines of this cycle, or linked by receipt
        to one of its requests."""
        self.env.cr.execute(
            """
            SELECT count(*), coalesce(sum(l.withdrawn_cents), 0)::bigint
              FROM g2p_mpesa_statement_line l
             WHERE l.kind = 'charge'
               AND (l.cycle_id = %s OR l.linked_receipt IN (
                    SELECT t.receipt FROM g2p_mpesa_transaction t
                      JOIN g2p_payment p ON p.id = t.payment_id
                     WHERE p.cycle_id = %s AND t.receipt IS NOT NULL))
            """,
            [self.id, self.id],
        )
        count, cents = self.env.cr.fetchone()
        return {
            "count": count,
            "cents": cents,
            "amount": self._mpesa_money(cents),
            "note": ""
            if count
            else _("No charge line of this cycle on the imported statements (M-Pesa's fees are not known)."),
        }

    def _mpesa_reconciliation_float(self, window, managers, paid_count):
        """The Utility account before and after the cycle: from the Balance column of the cycle's
        payment lines where a statement holds them, otherwise from the float reports M-Pesa's results
        and balance queries gave (the newest before the first request, the first after the last
        result)."""
        Line = self.env["g2p.mpesa.statement.line"].sudo()
        # Only statements with a Balance column on every line say what the float was.
        domain = [
            ("cycle_id", "=", self.id),
            ("kind", "=", "payment"),
            ("statement_id.has_balances", "=", True),
        ]
        first = Line.search(domain, order="completed_at asc, statement_id asc, row desc, id asc", limit=1)
        if first:
            last = Line.search(
                domain, order="completed_at desc, statement_id desc, row asc, id desc", limit=1
            )
            on_statements = Line.search_count(domain)
            before = first.balance_cents + first.withdrawn_cents
            return {
                "source": "statement",
                "source_label": _("M-Pesa statement (Balance column)"),
                "before": {
                    "cents": before,
                    "amount": self._mpesa_money(before),
                    "detail": _("Before receipt %(receipt)s of %(when)s, statement %(file)s")
                    % {
                        "receipt": first.receipt,
                        "when": self._mpesa_when(first.completed_at),
                        "file": first.statement_id.name,
                    },
                },
                "after": {
                    "cents": last.balance_cents,
                    "amount": self._mpesa_money(last.balance_cents),
                    "detail": _("After receipt %(receipt)s of %(when)s, statement %(file)s")
                    % {
                        "receipt": last.receipt,
                        "when": self._mpesa_when(last.completed_at),
                        "file": last.statement_id.name,
                    },
                },
                "note": ""
                if on_statements >= paid_count
                else _("Only %(lines)s of the cycle's %(paid)s paid payments are on the imported statements.")
                % {"lines": on_statements, "paid": paid_count},
            }
        Report = self.env["g2p.mpesa.float.report"].sudo()
        base = [("manager_id", "in", managers.ids), ("utility_balance", "!=", False)]
        before = after = Report
        if window["first_sent"]:
            before = Report.search(
                base + [("reported_at", "<", window["first_sent"])],
                order="reported_at desc, id desc",
                limit=1,
            )
        if window["last_result"]:
            after = Report.search(
                base + [("reported_at", ">=", window["last_result"])],
                order="reported_at asc, id asc",
                limit=1,
            )
        if not (before or after):
            return {
                "source": "none",
                "source_label": _(
                    "None: no statement holds the cycle's payments and M-Pesa reported no float"
                ),
                "before": self._mpesa_float_side(Report),
                "after": self._mpesa_float_side(Report),
                "note": "",
            }
        return {
            "source": "float_report",
            "source_label": _("M-Pesa float reports (payment results and balance queries)"),
            "before": self._mpesa_float_side(before),
            "after": self._mpesa_float_side(after),
            "note": _("No statement holds the cycle's payments: import one for M-Pesa's own balances."),
        }

    def _mpesa_float_side(self, report):
        if not report:
            return {"cents": None, "amount": "", "detail": _("No float report")}
        try:
            cents = int(Decimal(report.utility_balance) * 100)
        except (InvalidOperation, TypeError):
            return {"cents": None, "amount": "", "detail": _("Unreadable float report %s") % report.id}
        sources = dict(report._fields["source"]._description_selection(self.env))
        return {
            "cents": cents,
            "amount": self._mpesa_money(cents),
            "detail": _("Reported at %(when)s (%(source)s)")
            % {"when": self._mpesa_when(report.reported_at), "source": sources.get(report.source, "")},
        }

    def _mpesa_reconciliation_discrepancies(self):
        Discrepancy = self.env["g2p.mpesa.discrepancy"].sudo()
        kinds = dict(Discrepancy._fields["kind"]._description_selection(self.env))
        return [
            {
                "kind": found.kind,
                "kind_label": kinds.get(found.kind, found.kind),
                "receipt": found.receipt or "",
                "cents": found.amount_cents,
                "amount": self._mpesa_money(found.amount_cents),
                "description": found.description,
                "statement": found.statement_id.name,
            }
            for found in Discrepancy.search([("cycle_id", "=", self.id)], order="id")
        ]

    def _mpesa_reconciliation_statements(self, window, managers):
        """Imported statements holding a line or a discrepancy of the cycle, or whose period overlaps
        the cycle's sending (first request to last result, or to now while results are awaited)."""
        self.env.cr.execute(
            """
            SELECT statement_id FROM g2p_mpesa_statement_line WHERE cycle_id = %s
             UNION
            SELECT statement_id FROM g2p_mpesa_discrepancy WHERE cycle_id = %s
            """,
            [self.id, self.id],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        domain = [("id", "in", ids)]
        if window["first_sent"] and managers:
            domain = [
                "|",
                *domain,
                "&",
                "&",
                ("manager_id", "in", managers.ids),
                ("period_from", "<=", window["last_result"] or fields.Datetime.now()),
                ("period_to", ">=", window["first_sent"]),
            ]
        statements = self.env["g2p.mpesa.statement"].sudo().search(domain, order="period_from, id")
        return [
            {
                "name": statement.name,
                "period": "%s – %s"
                % (self._mpesa_when(statement.period_from), self._mpesa_when(statement.period_to)),
                "complete": statement.complete,
                "complete_label": _("Yes") if statement.complete else _("No"),
                "opening": self._mpesa_money(statement.opening_balance_cents),
                "closing": self._mpesa_money(statement.closing_balance_cents),
                "imported_at": self._mpesa_when(statement.create_date),
            }
            for statement in statements
        ]

    # ------------------------------------------------------------------ spreadsheet
    def _mpesa_reconciliation_xlsx(self):
        """The report as an XLSX workbook (bytes): the same dict as the PDF, one sheet. Amounts are
        the PDF's text and, beside it, integer cents (exact, and summable)."""
        figures = self._mpesa_reconciliation()
        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"in_memory": True})
        sheet = book.add_worksheet(_("Reconciliation")[:31])
        title = book.add_format({"bold": True, "font_size": 14})
        head = book.add_format({"bold": True, "bottom": 1})
        sheet.set_column(0, 0, 44)
        sheet.set_column(1, 1, 24)
        sheet.set_column(2, 3, 20)
        sheet.set_column(4, 4, 60)
        sheet.set_column(5, 5, 40)
        row = 0

        def line(*cells, fmt=None):
            nonlocal row
            for col, value in enumerate(cells):
                if isinstance(value, int):
                    sheet.write_number(row, col, value, fmt)
                elif value:
                    sheet.write_string(row, col, value, fmt)
                elif fmt:
                    sheet.write_blank(row, col, None, fmt)
            row += 1

        line(_("M-Pesa reconciliation: %s") % figures["cycle"], fmt=title)
        line(_("Program"), figures["program"])
        line(_("Cycle"), figures["cycle"])
        line(_("Cycle period"), figures["cycle_period"])
        line(_("Payment manager"), figures["managers"])
        line(_("M-Pesa requests"), figures["requests"])
        line(_("First request sent"), figures["first_sent"])
        line(_("Last result"), figures["last_result"])
        line(_("Generated"), figures["generated_at"])
        line(_("Generated by"), figures["generated_by"])
        row += 1
        line(_("Payments"), _("Count"), _("Amount"), _("Amount (cents)"), fmt=head)
        for total in figures["totals"]:
            line(total["label"], total["count"], total["amount"], total["cents"])
        row += 1
        fees = figures["fees"]
        line(_("Fees"), _("Count"), _("Amount"), _("Amount (cents)"), fmt=head)
        line(_("M-Pesa charges"), fees["count"], fees["amount"], fees["cents"], fees["note"])
        row += 1
        float_ = figures["float"]
        line(_("Float (Utility account)"), "", _("Amount"), _("Amount (cents)"), _("From"), fmt=head)
        line(_("Source"), float_["source_label"], "", "", float_["note"])
        for key, label in (("before", _("Before the cycle")), ("after", _("After the cycle"))):
            side = float_[key]
            line(label, "", side["amount"], side["cents"], side["detail"])
        row += 1
        line(
            _("Discrepancies"),
            _("Receipt"),
            _("Amount"),
            _("Amount (cents)"),
            _("Description"),
            _("Statement"),
            fmt=head,
        )
        if not figures["discrepancies"]:
            line(_("None"))
        for found in figures["discrepancies"]:
            line(
                found["kind_label"],
                found["receipt"],
                found["amount"],
                found["cents"],
                found["description"],
                found["statement"],
            )
        row += 1
        line(
            _("Statements covering the cycle"),
            _("Period"),
            _("Opening"),
            _("Closing"),
            _("Complete"),
            _("Imported"),
            fmt=head,
        )
        if not figures["statements"]:
            line(_("None imported"))
        for statement in figures["statements"]:
            line(
                statement["name"],
                statement["period"],
                statement["opening"],
                statement["closing"],
                statement["complete_label"],
                statement["imported_at"],
            )
        book.close()
        return out.getvalue()


class ReportMpesaReconciliation(models.AbstractModel):
    """The QWeb report's values: the same dict, per cycle."""

    _name = "report.g2p_payment_mpesa.report_mpesa_reconciliation"
    _description = "M-Pesa reconciliation report"

    @api.model
    def _get_report_values(self, docids, data=None):
        cycles = self.env["g2p.cycle"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "g2p.cycle",
            "docs": cycles,
            "reconciliations": {cycle.id: cycle._mpesa_reconciliation() for cycle in cycles},
        }
