"""Statement import: M-Pesa's own record of the Utility account resolves what no callback or status
query did, and shows every difference between the two sides (invariant 7).

A statement is the organisation's: one shortcode's Utility account, which several programs (each
with its own manager) may pay from. An import on any of those managers reconciles against all of
them (``_mpesa_statement_managers``): each line is attributed to the request, and so the program
and cycle, it belongs to; only money no manager of the organisation asked for is a discrepancy.

Real statements carry the receipt but neither OriginatorConversationID nor ConversationID
(research in the README, *Reconciling with M-Pesa*), so a line is matched to a request by its
receipt where Odoo knows it, otherwise by amount, number and time. Nothing here sends money:
a request is concluded "not paid" (and so handed back to OpenG2P's retry flow) only when a
complete statement covers the moment it was sent plus the settle window.
"""

import base64
import binascii
import hashlib
import io
import logging
import os
import tempfile
from collections import defaultdict
from datetime import timedelta

import psycopg2

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import split_every

from mpesa_wire import msisdn_matches, names_match

from .. import const
from .mpesa_reversal import may_reverse
from .payment_manager import money_text, notify, when_text

_logger = logging.getLogger(__name__)

# A line is this request's only if M-Pesa completed it after the request was made (less this much
# clock difference between M-Pesa and Odoo) and within MATCH_WINDOW of the last submission.
CLOCK_SKEW = timedelta(minutes=5)
MATCH_WINDOW = timedelta(hours=24)
# Requests that may still be paid, and so may be resolved by a statement.
RESOLVABLE_STATES = (const.TX_RESERVED, const.TX_ACCEPTED, const.TX_UNKNOWN, const.TX_NEEDS_REVIEW)
NOT_ON_STATEMENT = const.NOT_ON_STATEMENT
# pg_advisory_xact_lock(STATEMENT_LOCK, first manager id of the organisation): statement imports of
# an organisation (shortcode), one at a time.
STATEMENT_LOCK = 0x4D504553  # "MPES"
CHUNK = 1000
# A file larger than this (about 10,000 lines) is imported by a queue job, not in the request.
STATEMENT_JOB_BYTES = 2 * 1024 * 1024
# The upload route's largest file (a statement of 1,000,000 lines is about 200 MiB) and the block
# it is copied in.
STATEMENT_MAX_BYTES = 1024 * 1024 * 1024
UPLOAD_BLOCK = 1024 * 1024


class StatementFile:
    """A statement file received: in memory (base64 over RPC) or in a temporary file beside the
    filestore (streamed by the upload route, never held whole in memory). Its SHA-256 is the
    import's identity; its SHA-1 the filestore's name for it."""

    def __init__(self, data=None, path=None, size=0, sha256="", sha1=""):
        self.data, self.path, self.size, self.sha256, self.sha1 = data, path, size, sha256, sha1

    @classmethod
    def of_bytes(cls, data):
        return cls(
            data=data,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            sha1=hashlib.sha1(data).hexdigest(),
        )

    @classmethod
    def receive(cls, stream, folder, limit):
        """Copy `stream` into a temporary file in `folder` (the filestore's: moved into it by
        attach()), hashing it on the way; UserError past `limit` bytes."""
        os.makedirs(folder, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=folder, prefix=".mpesa-statement-")
        sha256, sha1, size = hashlib.sha256(), hashlib.sha1(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                while block := stream.read(UPLOAD_BLOCK):
                    size += len(block)
                    if size > limit:
                        raise UserError(_("The statement file is larger than %s MiB.") % (limit // 2**20))
                    sha256.update(block)
                    sha1.update(block)
                    out.write(block)
        except BaseException:
            os.unlink(path)
            raise
        return cls(path=path, size=size, sha256=sha256.hexdigest(), sha1=sha1.hexdigest())

    def open(self):
        return open(self.path, "rb") if self.path else io.BytesIO(self.data)

    def discard(self):
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)
        self.path = None

    def attach(self, env, record, name):
        """The file as an attachment of `record`. A streamed file is moved into the filestore as
        Odoo would have written it (named by its SHA-1, marked for the filestore's garbage
        collection should this transaction not commit), not read into memory."""
        Attachment = env["ir.attachment"].sudo()
        vals = {
            "name": name,
            "res_model": record._name,
            "res_id": record.id,
            "mimetype": "application/octet-stream",
        }
        if not self.path or Attachment._storage() != "file":
            if self.path:
                with open(self.path, "rb") as file:
                    self.data = file.read()
            return Attachment.create(dict(vals, raw=self.data))
        fname = f"{self.sha1[:2]}/{self.sha1}"
        full_path = Attachment._full_path(fname)
        os.makedirs(os.path.dirname(full_path), exist_ok=True)
        if os.path.isfile(full_path) and os.path.getsize(full_path) != self.size:
            raise UserError(_("The statement file collides with an existing file."))
        if not os.path.isfile(full_path):
            os.replace(self.path, full_path)
            self.path = None
            Attachment._mark_for_gc(fname)
        attachment = Attachment.create(vals)
        # create() and write() drop these three (Odoo computes them from the content it is given).
        env.cr.execute(
            "UPDATE ir_attachment SET store_fname = %s, checksum = %s, file_size = %s WHERE id = %s",
            [fname, self.sha1, self.size, attachment.id],
        )
        attachment.invalidate_recordset(["store_fname", "checksum", "file_size", "raw", "datas"])
        return attachment


class G2PPaymentManagerMpesaStatement(models.Model):
    _inherit = "g2p.program.payment.manager.mpesa"

    statement_settle_minutes = fields.Integer(
        "Statement settle window (minutes)",
        default=60,
        help="A request M-Pesa never answered is concluded not paid only if a complete statement "
        "covers at least this long after it was sent (M-Pesa may still be processing it).",
    )
    statement_ids = fields.One2many("g2p.mpesa.statement", "manager_id", readonly=True)
    statement_count = fields.Integer(compute="_compute_statement_count")

    def _compute_statement_count(self):
        counts = dict(
            self.env["g2p.mpesa.statement"]._read_group(
                [("manager_id", "in", self.ids)], ["manager_id"], ["__count"]
            )
        )
        for manager in self:
            manager.statement_count = counts.get(manager, 0)

    def action_mpesa_import_statement(self):
        self.ensure_one()
        # The dialog posts the file as a form's file field (see the upload route), not base64 in JSON.
        return {
            "type": "ir.actions.client",
            "tag": "g2p_payment_mpesa.statement_upload",
            "name": _("Import M-Pesa statement"),
            "target": "new",
            "params": {"manager_id": self.id},
        }

    def action_mpesa_statements(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("M-Pesa statements"),
            "res_model": "g2p.mpesa.statement",
            "view_mode": "tree,form",
            "domain": [("manager_id", "in", self._mpesa_statement_managers().ids)],
        }

    def _mpesa_statement_managers(self):
        """The managers paying from this one's organisation account: the same shortcode in the same
        environment, market and API, at the same M-Pesa (base URL: two simulators are two
        organisations) (this manager first). M-Pesa's statement is theirs together."""
        self.ensure_one()
        shortcode = (self.shortcode or "").strip()
        others = self.browse()
        if shortcode:
            others = (
                self.sudo()
                .with_context(active_test=False)
                .search(
                    [
                        ("id", "!=", self.id),
                        ("shortcode", "!=", False),
                        ("environment", "=", self.environment),
                        ("market", "=", self.market),
                        ("api_family", "=", self.api_family),
                    ],
                    order="id",
                )
                .filtered(
                    lambda other: (other.shortcode or "").strip() == shortcode
                    and (other.base_url or "").rstrip("/") == (self.base_url or "").rstrip("/")
                )
            )
        return self.sudo() | others

    # ------------------------------------------------------------------ import
    def mpesa_import_statement(self, file_b64, filename):
        """Import one statement file (CSV or XLSX, base64): returns a summary dict. Importing the
        same file again changes nothing and says so. A file of more than STATEMENT_JOB_BYTES (a
        national cycle's) is imported by a queue job: the summary then says ``queued``, and the
        statement shows its progress. (The web client streams the file instead, through
        ``/g2p_payment_mpesa/statement/<manager id>``: base64 in a JSON body holds it in memory
        several times over.)"""
        self.ensure_one()
        self._mpesa_check_statement_access()
        try:
            data = base64.b64decode(file_b64 or b"", validate=True)
        except (binascii.Error, ValueError):
            raise UserError(_("The statement file is not valid base64.")) from None
        return self._mpesa_import_statement_file(StatementFile.of_bytes(data), filename)

    def _mpesa_check_statement_access(self):
        if not may_reverse(self.env):  # finance validators and administrators, as for reversals
            raise AccessError(_("Only finance validators and administrators may import M-Pesa statements."))

    def _mpesa_import_statement_file(self, upload, filename):
        """Import a received StatementFile (see mpesa_import_statement); its temporary copy, if
        any, is gone afterwards (moved into the filestore, or deleted)."""
        self.ensure_one()
        self._mpesa_check_statement_access()
        try:
            if not upload.size:
                raise UserError(_("The statement file is empty."))
            managers = self._mpesa_statement_managers()
            # One import per organisation at a time: a second one waits, then finds the first's lines.
            self._mpesa_statement_lock_organisation(managers)
            Statement = self.env["g2p.mpesa.statement"].sudo()
            earlier = Statement.search(
                [("manager_id", "in", managers.ids), ("sha256", "=", upload.sha256)], limit=1
            )
            if earlier:
                return self._mpesa_statement_summary(earlier, already=True)
            name = filename or _("statement")
            if upload.size > STATEMENT_JOB_BYTES and not self.env.context.get("mpesa_statement_inline"):
                statement = Statement.create(
                    {"name": name, "manager_id": self.id, "sha256": upload.sha256, "state": "queued"}
                )
                statement.attachment_id = upload.attach(self.env, statement, name)
                self.with_delay(
                    channel=const.QUEUE_CHANNEL,
                    description=_("M-Pesa: import statement %s") % name,
                    identity_key=f"mpesa-statement-{statement.id}",
                    max_retries=3,
                )._mpesa_import_statement_job(statement.id)
                return self._mpesa_statement_summary(statement)
            scan = self._mpesa_scan_statement(upload.open, name)
            statement = Statement.create(
                {"name": name, "manager_id": self.id, "sha256": upload.sha256, "state": "importing"}
            )
            self._mpesa_run_statement(statement, scan, managers)
            return self._mpesa_statement_summary(statement)
        finally:
            upload.discard()

    def _mpesa_statement_done_action(self, summary):
        """What the approver is told once a file is handed in (the import dialog, the upload
        route): the summary in a notification, then the statement."""
        statement = self.env["g2p.mpesa.statement"].sudo().browse(summary["statement_id"])
        if summary["already_imported"] and summary["queued"]:
            message = _("This file is already being imported: its progress shows on the statement.")
        elif summary["already_imported"]:
            message = _("This file was imported on %s: nothing changed.") % when_text(
                self, statement.create_date
            )
        elif summary["queued"]:
            message = _(
                "A large file: it is being imported in the background, and its progress shows on the "
                "statement."
            )
        else:
            message = _(
                "%(lines)s lines, %(known)s already imported; %(paid)s requests resolved as paid, "
                "%(unpaid)s as not paid, %(reversed)s reversals confirmed; %(discrepancies)s discrepancies."
            ) % {
                "lines": summary["lines"],
                "known": summary["known"],
                "paid": summary["resolved_paid"],
                "unpaid": summary["resolved_unpaid"],
                "reversed": summary["reversed"],
                "discrepancies": summary["discrepancies"],
            }
        kind = "warning" if summary["discrepancies"] else "success"
        return notify(
            _("M-Pesa statement imported"),
            message,
            kind,
            sticky=bool(summary["discrepancies"]),
            then={
                "type": "ir.actions.act_window",
                "name": _("M-Pesa statement"),
                "res_model": "g2p.mpesa.statement",
                "res_id": statement.id,
                "views": [[False, "form"]],
                "target": "current",
            },
        )

    def _mpesa_import_statement_job(self, statement_id):
        """Queue job: import a queued statement's file, reading it row by row from the filestore.
        All of it is applied in this job's one transaction: a crash rolls it all back, the job runs
        again, and nothing is half-applied; progress is written beside it (another cursor)."""
        statement = self.env["g2p.mpesa.statement"].sudo().browse(statement_id).exists()
        if not statement or statement.state == "done":
            return _("Nothing to import: the statement was already imported.")
        managers = statement.manager_id._mpesa_statement_managers()
        self._mpesa_statement_lock_organisation(managers)
        attachment = statement.attachment_id
        if attachment.store_fname:
            path = attachment._full_path(attachment.store_fname)

            def opener():
                return open(path, "rb")  # closed by the scan's with-blocks

        else:
            raw = attachment.raw or b""

            def opener():
                return io.BytesIO(raw)

        manager = statement.manager_id.sudo()
        try:
            scan = manager._mpesa_scan_statement(opener, statement.name)
        except UserError as exc:
            # A file M-Pesa did not make (or another account's): said on the statement, nothing applied.
            statement.write({"state": "failed", "import_error": str(exc.args[0] if exc.args else exc)})
            return str(exc)
        manager._mpesa_run_statement(statement, scan, managers, progress=True)
        return _("%s lines imported.") % scan.line_count

    def _mpesa_statement_lock_organisation(self, managers):
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STATEMENT_LOCK, min(managers.ids)])

    def _mpesa_scan_statement(self, opener, filename):
        """The file read through once (every row checked) by the market's statement reader."""
        family = self._mpesa_wire()
        try:
            scan = family.scan_statement(opener, filename or "", number_plan=self._mpesa_market().number_plan)
        except family.statement_error as exc:
            raise UserError(_("This is not a statement the addon can read: %s") % exc) from None
        self._mpesa_check_statement_owner(scan.statement)
        return scan

    def _mpesa_run_statement(self, statement, scan, managers, progress=False):
        """Apply a scanned file to its statement record, and fill the record in."""
        head = scan.statement
        # What the file can know of: nothing after it was made, nor after now, whatever the
        # period says ("To 23:59:59" on a file exported at 10:00).
        covered_to = min(t for t in (head.period_to, head.reported_at, fields.Datetime.now()) if t)
        vals = {
            "holder": head.holder,
            "shortcode": head.shortcode,
            "account": head.account,
            "period_from": head.period_from,
            "period_to": head.period_to,
            "opening_balance_cents": head.opening_balance,
            "closing_balance_cents": head.closing_balance,
            "complete": self._mpesa_statement_complete(scan),
            "has_balances": scan.has_balances,
            "skipped_count": head.skipped,
            "rows_total": scan.line_count,
        }
        complete = vals["complete"]
        counts = self._mpesa_apply_statement(statement, scan, complete, covered_to, managers, progress)
        # The record is written once, at the end: the progress cursor writes it meanwhile.
        statement.write(dict(vals, **counts, state="done", rows_done=scan.line_count, import_error=False))
        _logger.info("M-Pesa statement %s imported for manager %s: %s", statement.name, self.id, counts)

    def _mpesa_statement_progress(self, statement, done, total):
        """Lines applied so far, visible at once (this job's own transaction commits at its end)."""
        self.env["g2p.mpesa.job.progress"]._mpesa_tell(statement, done, total)

    def _mpesa_check_statement_owner(self, parsed):
        if parsed.shortcode and self.shortcode and parsed.shortcode.strip() != self.shortcode.strip():
            raise UserError(
                _("This statement is for shortcode %(theirs)s; this manager pays from %(ours)s.")
                % {"theirs": parsed.shortcode, "ours": self.shortcode}
            )
        if parsed.account and "utility" not in parsed.account.lower():
            raise UserError(
                _("B2C payments leave the Utility account; this statement is of the %s account.")
                % parsed.account
            )

    def _mpesa_statement_complete(self, scan):
        """The file holds every movement of its period: opening + in - out = closing."""
        head = scan.statement
        if head.opening_balance is None or head.closing_balance is None or not head.period_to:
            return False
        if head.skipped:
            return False  # rows not completed (yet): their requests may still be paid
        return head.opening_balance + scan.moved == head.closing_balance

    def _mpesa_statement_summary(self, statement, already=False):
        return {
            "statement_id": statement.id,
            "already_imported": already,
            "queued": statement.state in ("queued", "importing"),
            "state": statement.state,
            "lines": statement.line_count,
            "known": statement.known_count,
            "resolved_paid": statement.resolved_paid_count,
            "resolved_unpaid": statement.resolved_unpaid_count,
            "reversed": statement.reversed_count,
            "discrepancies": statement.discrepancy_count,
            "complete": statement.complete,
        }

    # ------------------------------------------------------------------ matching
    def _mpesa_apply_statement(self, statement, scan, complete, covered_to, managers, progress=False):
        """Every line, CHUNK at a time: stored, matched to its request, its discrepancies found.
        The ORM's cache is emptied after each chunk, so memory does not grow with the file."""
        counts = defaultdict(int)
        candidates = self._mpesa_statement_candidates(scan.statement, managers)
        candidate_ids = {tx.id for txs in candidates.values() for tx in txs}
        # Requests a line was matched to or may be, among those only a statement can resolve.
        claimed = set()
        done = 0
        for chunk in split_every(CHUNK, scan.lines()):
            claimed |= self._mpesa_apply_statement_chunk(
                statement, list(chunk), managers, candidates, candidate_ids, claimed, counts
            )
            done += len(chunk)
            self.env.flush_all()
            self.env.invalidate_all()
            if progress:
                self._mpesa_statement_progress(statement, done, scan.line_count)
        discrepancies = []
        if complete:
            counts["resolved_unpaid_count"] += self._mpesa_statement_not_paid(
                statement, scan.statement, claimed, covered_to, managers
            )
            discrepancies = self._mpesa_statement_missing_lines(scan.statement, covered_to, managers)
        self._mpesa_statement_discrepancies(statement, discrepancies, {})
        counts["discrepancy_count"] += len(discrepancies)
        return dict(counts)

    def _mpesa_apply_statement_chunk(  # pylint: disable=too-many-arguments
        self, statement, lines, managers, candidates, candidate_ids, claimed, counts
    ):
        """One chunk of lines; returns the candidate requests it claimed."""
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        Line = self.env["g2p.mpesa.statement.line"].sudo()
        self.env.cr.execute(
            "SELECT receipt FROM g2p_mpesa_statement_line WHERE manager_id = ANY(%s) AND receipt = ANY(%s)",
            [managers.ids, [line.receipt for line in lines]],
        )
        known = {row[0] for row in self.env.cr.fetchall()}
        new_lines = [line for line in lines if line.receipt not in known]
        wanted = {line.receipt for line in new_lines} | {
            line.linked_receipt for line in new_lines if line.linked_receipt
        }
        by_receipt = {
            tx.receipt: tx
            for tx in Tx.search([("manager_id", "in", managers.ids), ("receipt", "in", list(wanted))])
        }
        discrepancies = []
        line_vals = []
        newly = set()
        claimed_txs = Tx.browse(claimed)
        for line in new_lines:
            vals = {
                "statement_id": statement.id,
                "manager_id": self.id,
                "row": line.row,
                "receipt": line.receipt,
                "completed_at": line.completed_at,
                "initiated_at": line.initiated_at,
                "details": line.details,
                "kind": line.kind,
                "paid_in_cents": line.paid_in,
                "withdrawn_cents": line.withdrawn,
                "balance_cents": line.balance,
                "reason_type": line.reason_type,
                "other_party": line.other_party,
                "msisdn": line.msisdn,
                "party_name": line.party_name,
                "linked_receipt": line.linked_receipt,
            }
            if line.kind == "payment" or (line.kind == "other" and line.withdrawn):
                tx, match, found, protect = self._mpesa_match_payment(
                    line, by_receipt, candidates, claimed_txs, statement
                )
                # A request a line may be (even one that stays unresolved) is never concluded unpaid.
                taken = {record_id for record_id in (tx | protect).ids if record_id in candidate_ids}
                if taken - newly - claimed:
                    newly |= taken
                    claimed_txs |= Tx.browse(taken)
                discrepancies += found
                vals["match"] = match
                if match == "resolved":
                    counts["resolved_paid_count"] += 1
            elif line.kind == "charge":
                tx = by_receipt.get(line.linked_receipt, Tx)
                vals["match"] = "fee" if tx else "none"
            elif line.kind == "reversal":
                tx, found = self._mpesa_statement_reversal(line, by_receipt.get(line.linked_receipt, Tx))
                discrepancies += found
                vals["match"] = "discrepancy" if found else "reversal"
                counts["reversed_count"] += 0 if found else 1
            else:
                tx = Tx
            vals["transaction_id"] = tx.id
            vals["cycle_id"] = tx.payment_id.cycle_id.id
            # The line is the program's whose request it is; unattributed money, the importer's.
            vals["manager_id"] = tx.manager_id.id or self.id
            line_vals.append(vals)
        try:
            with self.env.cr.savepoint():
                created = Line.create(line_vals)
        except psycopg2.errors.UniqueViolation:
            raise UserError(
                _("Another statement of this organisation was being imported at the same time: import again.")
            ) from None
        self._mpesa_statement_discrepancies(statement, discrepancies, {line.row: line for line in created})
        counts["line_count"] += len(new_lines)
        counts["known_count"] += len(lines) - len(new_lines)
        counts["discrepancy_count"] += len(discrepancies)
        return newly

    def _mpesa_statement_discrepancies(self, statement, discrepancies, line_of_row):
        for found in discrepancies:
            row = found.pop("row", False)
            found["line_id"] = line_of_row[row].id if row else False
        self.env["g2p.mpesa.discrepancy"].sudo().create(
            [
                dict(found, statement_id=statement.id, manager_id=found.pop("manager_id") or self.id)
                for found in discrepancies
            ]
        )

    def _mpesa_statement_candidates(self, parsed, managers):
        """Requests a line without a known receipt may belong to, by amount in cents: those still
        open, and failed ones of the period (M-Pesa may have paid what Odoo thought failed), of
        every manager of the organisation."""
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        domain = [("manager_id", "in", managers.ids), ("receipt", "=", False)]
        open_txs = Tx.search(domain + [("state", "in", RESOLVABLE_STATES)], order="id")
        failed = Tx
        if parsed.period_from and parsed.period_to:
            failed = Tx.search(
                domain
                + [
                    # Only what Odoo concluded itself: M-Pesa's own "failed" moved no money.
                    ("state", "=", const.TX_FAILED),
                    ("result_code", "=", NOT_ON_STATEMENT),
                    ("last_submit_at", ">=", parsed.period_from - MATCH_WINDOW),
                    ("last_submit_at", "<=", parsed.period_to + CLOCK_SKEW),
                ],
                order="id",
            )
        by_amount = defaultdict(list)
        for tx in open_txs | failed:
            by_amount[tx.amount * 100].append(tx)
        return by_amount

    def _mpesa_match_payment(self, line, by_receipt, candidates, claimed, statement):
        """(request, match, discrepancies, requests it may be) for money that left the account."""
        Tx = self.env["g2p.mpesa.transaction"]
        tx = by_receipt.get(line.receipt)
        if tx:
            found = []
            if tx.amount * 100 != line.withdrawn:
                found.append(
                    self._mpesa_discrepancy(
                        "amount",
                        line,
                        tx,
                        _("Odoo sent %(ours)s, the statement says %(theirs)s.")
                        % {
                            "ours": money_text(tx.amount * 100, self._mpesa_market().currency),
                            "theirs": money_text(line.withdrawn, self._mpesa_market().currency),
                        },
                    )
                )
            if line.msisdn and not msisdn_matches(line.msisdn, tx.msisdn, self._mpesa_market().number_plan):
                found.append(
                    self._mpesa_discrepancy(
                        "number",
                        line,
                        tx,
                        _("Odoo sent to %(ours)s, the statement says %(theirs)s.")
                        % {"ours": tx.msisdn, "theirs": line.msisdn},
                    )
                )
            return tx, ("discrepancy" if found else "matched"), found, Tx
        when = line.completed_at or line.initiated_at
        fits = [
            candidate
            for candidate in candidates.get(line.withdrawn, [])
            if candidate not in claimed and self._mpesa_statement_fits(candidate, line, when)
        ]
        if not fits:
            return (
                Tx,
                "discrepancy",
                [
                    self._mpesa_discrepancy(
                        "no_request",
                        line,
                        Tx,
                        _("%(amount)s to %(party)s (receipt %(receipt)s): no request in Odoo matches it.")
                        % {
                            "amount": money_text(line.withdrawn, self._mpesa_market().currency),
                            "party": line.other_party or line.details,
                            "receipt": line.receipt,
                        },
                    )
                ],
                Tx,
            )
        if len(fits) > 1:
            return (
                Tx,
                "discrepancy",
                [
                    self._mpesa_discrepancy(
                        "ambiguous",
                        line,
                        Tx,
                        _(
                            "%(count)s requests of %(amount)s to this number could be receipt "
                            "%(receipt)s: %(ids)s."
                        )
                        % {
                            "count": len(fits),
                            "amount": money_text(line.withdrawn, self._mpesa_market().currency),
                            "receipt": line.receipt,
                            "ids": ", ".join(fit.originator_conversation_id for fit in fits[:5]),
                        },
                    )
                ],
                Tx.union(*fits),
            )
        return self._mpesa_statement_pay(fits[0], line, statement)

    def _mpesa_statement_fits(self, tx, line, when):
        """Could this line be this request: same number (a masked one also needs the registrant's
        name: a few visible digits alone could be somebody else), in time."""
        plan = self._mpesa_market().number_plan
        if not msisdn_matches(line.msisdn, tx.msisdn, plan) or not self._mpesa_statement_in_time(tx, when):
            return False
        if "*" in (line.msisdn or ""):
            return names_match(tx.payment_id.partner_id.name, line.party_name) is True
        return True

    def _mpesa_statement_in_time(self, tx, when):
        if not when:
            return False
        made = min(tx.create_date, tx.last_submit_at or tx.create_date)
        sent = tx.last_submit_at or tx.create_date
        return made - CLOCK_SKEW <= when <= sent + MATCH_WINDOW

    def _mpesa_statement_pay(self, tx, line, statement):
        """The statement shows the money reached the number: the request is paid, with the receipt.
        Returns (request, match, discrepancies, requests to protect from "not paid")."""
        Tx = self.env["g2p.mpesa.transaction"].sudo()
        state = self._mpesa_statement_lock(tx)
        if state not in RESOLVABLE_STATES + (const.TX_FAILED,):
            # M-Pesa's result arrived while the file was read: it decides, the line only checks it.
            if state == const.TX_PAID and tx.receipt == line.receipt:
                return tx, "matched", [], Tx
            description = _(
                "Request %(ocid)s was answered by M-Pesa during the import (%(state)s, receipt %(receipt)s), "
                "not as this line (%(line)s)."
            ) % {
                "ocid": tx.originator_conversation_id,
                "state": state,
                "receipt": tx.receipt,
                "line": line.receipt,
            }
            return tx, "discrepancy", [self._mpesa_discrepancy("ambiguous", line, tx, description)], Tx
        found = []
        if state == const.TX_FAILED:
            # Odoo concluded it unpaid (NOT_ON_STATEMENT); OpenG2P may have paid the entitlement again.
            payments = tx._mpesa_paid_again()
            others = Tx.search([("payment_id", "in", payments.ids), ("state", "!=", const.TX_FAILED)])
            if payments:
                description = _(
                    "M-Pesa paid request %(ocid)s (receipt %(receipt)s) that Odoo recorded as failed, and "
                    "the entitlement has another payment %(other)s: paid twice? Hold or reverse one."
                ) % {
                    "ocid": tx.originator_conversation_id,
                    "receipt": line.receipt,
                    "other": payments[0].name,
                }
                return (
                    tx,
                    "discrepancy",
                    [self._mpesa_discrepancy("failed_but_paid", line, tx, description)],
                    others,
                )
            found.append(
                self._mpesa_discrepancy(
                    "failed_but_paid",
                    line,
                    tx,
                    _("M-Pesa paid request %(ocid)s that Odoo recorded as failed: now marked paid.")
                    % {"ocid": tx.originator_conversation_id},
                )
            )
        tx._mpesa_pay(
            line.receipt,
            tx.amount,
            line.completed_at,
            line.party_name,
            result_code="0",
            result_desc=_("Paid according to the M-Pesa statement %s") % statement.name,
        )
        return tx, "resolved", found, Tx

    def _mpesa_statement_lock(self, tx):
        """Lock the request against a result being applied now (as results lock it), and read its
        state afresh (through its own manager: it may be another program's)."""
        return tx.manager_id.sudo()._mpesa_lock_tx(tx.originator_conversation_id).state

    def _mpesa_statement_not_paid(self, statement, parsed, claimed, covered_to, managers):
        """Requests the complete statement would show if M-Pesa had paid them: not paid, back to
        OpenG2P's retry flow (which makes a new request; this one can no longer move money)."""
        # Each request by its own manager's settle window (searched with the shortest of them).
        settle = timedelta(minutes=max(0, min(managers.mapped("statement_settle_minutes"))))
        if not parsed.period_from or not covered_to:
            return 0
        unpaid = (
            self.env["g2p.mpesa.transaction"]
            .sudo()
            .search(
                [
                    ("manager_id", "in", managers.ids),
                    ("state", "in", RESOLVABLE_STATES),
                    ("create_date", ">=", parsed.period_from + CLOCK_SKEW),
                    ("last_submit_at", "<=", covered_to - settle),
                    ("id", "not in", list(claimed)),
                ]
            )
        )
        # Requests this statement's lines name (by receipt) are the lines' to decide, never unpaid.
        self.env.cr.execute(
            "SELECT transaction_id FROM g2p_mpesa_statement_line WHERE statement_id = %s"
            " AND transaction_id = ANY(%s)",
            [statement.id, unpaid.ids],
        )
        on_statement = {row[0] for row in self.env.cr.fetchall()}
        unpaid = unpaid.filtered(
            lambda tx: tx.id not in on_statement
            and tx.last_submit_at
            <= covered_to - timedelta(minutes=max(tx.manager_id.statement_settle_minutes, 0))
        )
        unpaid -= self._mpesa_statement_unresolved_fits(unpaid, managers)
        failed = 0
        for tx in unpaid:
            if self._mpesa_statement_lock(tx) not in RESOLVABLE_STATES:
                continue  # answered meanwhile
            tx._mpesa_fail(
                NOT_ON_STATEMENT,
                _(
                    "Not on the M-Pesa statement %(file)s, which holds every movement from %(start)s to "
                    "%(end)s: M-Pesa did not pay it."
                )
                % {
                    "file": statement.name,
                    "start": when_text(self, parsed.period_from),
                    "end": when_text(self, covered_to),
                },
            )
            failed += 1
        return failed

    def _mpesa_statement_unresolved_fits(self, txs, managers):
        """Requests that a line left unresolved (of this or an earlier statement: ambiguous, or
        money with no request) could be: money may have moved for them, never conclude otherwise."""
        Tx = self.env["g2p.mpesa.transaction"]
        if not txs:
            return Tx
        earliest = min(txs.mapped("create_date")) - CLOCK_SKEW
        lines = (
            self.env["g2p.mpesa.statement.line"]
            .sudo()
            .search(
                [
                    ("manager_id", "in", managers.ids),
                    ("transaction_id", "=", False),
                    ("match", "=", "discrepancy"),
                    ("withdrawn_cents", ">", 0),
                    ("completed_at", ">=", earliest),
                ]
            )
        )
        by_amount = defaultdict(list)
        for line in lines:
            by_amount[line.withdrawn_cents].append(line)
        return Tx.union(
            *(
                tx
                for tx in txs
                if any(
                    self._mpesa_statement_fits(tx, line, line.completed_at)
                    for line in by_amount[tx.amount * 100]
                )
            )
        )

    def _mpesa_statement_missing_lines(self, head, covered_to, managers):
        """Requests Odoo holds as paid in the period whose receipt is on no statement line (asked of
        PostgreSQL: a national cycle's paid requests are not read into memory to find the few)."""
        if not head.period_from:
            return []
        self.env.cr.execute(
            """
            SELECT t.id FROM g2p_mpesa_transaction t
             WHERE t.manager_id = ANY(%(managers)s) AND t.state = %(paid)s
               AND t.completed_at >= %(start)s AND t.completed_at <= %(end)s
               AND NOT EXISTS (SELECT 1 FROM g2p_mpesa_statement_line l
                                WHERE l.manager_id = ANY(%(managers)s) AND l.receipt = t.receipt)
             ORDER BY t.id
            """,
            {
                "managers": managers.ids,
                "paid": const.TX_PAID,
                "start": head.period_from + CLOCK_SKEW,
                "end": covered_to - CLOCK_SKEW,
            },
        )
        missing = self.env["g2p.mpesa.transaction"].sudo().browse([row[0] for row in self.env.cr.fetchall()])
        return [
            self._mpesa_discrepancy(
                "no_line",
                None,
                tx,
                _("Request %(ocid)s is paid in Odoo (receipt %(receipt)s) but is not on the statement.")
                % {"ocid": tx.originator_conversation_id, "receipt": tx.receipt},
            )
            for tx in missing
        ]

    def _mpesa_statement_reversal(self, line, tx):
        """Money back in for an earlier receipt: confirms a reversal Odoo asked for."""
        Tx = self.env["g2p.mpesa.transaction"]
        if not tx:
            return Tx, [
                self._mpesa_discrepancy(
                    "reversal",
                    line,
                    Tx,
                    _("Reversal %(receipt)s of %(linked)s: Odoo sent no payment with that receipt.")
                    % {"receipt": line.receipt, "linked": line.linked_receipt or "?"},
                )
            ]
        if tx._mpesa_statement_confirms_reversal(line):
            return tx, []
        return tx, [
            self._mpesa_discrepancy(
                "reversal",
                line,
                tx,
                _(
                    "Payment %(receipt)s was reversed on M-Pesa (%(reversal)s) with no reversal "
                    "request in Odoo."
                )
                % {"receipt": tx.receipt, "reversal": line.receipt},
            )
        ]

    def _mpesa_discrepancy(self, kind, line, tx, description):
        return {
            "kind": kind,
            "row": line.row if line else False,
            "manager_id": tx.manager_id.id,
            "transaction_id": tx.id,
            "payment_id": tx.payment_id.id,
            "cycle_id": tx.payment_id.cycle_id.id,
            "receipt": line.receipt if line else tx.receipt,
            "amount_cents": line.withdrawn or line.paid_in if line else tx.amount * 100,
            "description": description,
        }


class MpesaTransactionStatement(models.Model):
    _inherit = "g2p.mpesa.transaction"

    def _mpesa_statement_confirms_reversal(self, line):
        """True when a reversal Odoo asked for is what this statement line shows (the reversal
        model applies it); False for money returned that Odoo never asked for."""
        self.ensure_one()
        Reversal = self.env.get("g2p.mpesa.reversal")
        if Reversal is None:
            return False
        reversal = Reversal.sudo().search([("transaction_id", "=", self.id)], order="id desc", limit=1)
        return bool(reversal) and reversal._mpesa_confirm_from_statement(line)
