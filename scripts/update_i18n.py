"""Regenerate the addon's translation template (.pot) with Odoo itself, and check its .po files.

Run with the OpenG2P Python (Odoo 17 importable):

    source scripts/openg2p_env.sh && find_openg2p
    $openg2p_python scripts/update_i18n.py --addons-path "$openg2p_addons" [--write]

In a throwaway PostgreSQL cluster (scripts/odoo_cluster.py) it installs the addon without demo
data, exports its terms with `odoo --i18n-export --modules=g2p_payment_mpesa` (no --language: the
template), then loads every i18n/<lang>.po of the addon into that database (`--load-language`,
which reads the files the way an install does) and reports any warning Odoo logs while doing so.
Without --write the new template is left in --out; with --write it replaces i18n/<module>.pot.
With --merge (implies --write) every i18n/<lang>.po is then rewritten on the new template, before
being loaded: its header and every translation kept as they are, the template's comments and
order, strings no longer in the template dropped, new ones added untranslated (listed; translate
them, tests/test_translations.py fails until then). Installs nothing.
"""

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from odoo_cluster import ODOO_MAIN, Cluster, free_port, write_config

REPO = Path(__file__).resolve().parents[1]
MODULE = "g2p_payment_mpesa"
I18N = REPO / MODULE / "i18n"
DB = "mpesa_i18n"


def odoo(config, *args, log):
    cmd = [sys.executable, "-c", ODOO_MAIN, "-c", str(config), "-d", DB, "--stop-after-init", *args]
    with open(log, "w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    lines = Path(log).read_text(errors="replace").splitlines()
    if rc != 0:
        print("\n".join(lines[-40:]))
        sys.exit(f"odoo {' '.join(args)} exited with {rc} (log: {log})")
    return lines


# ---------------------------------------------------------------- merging a .po on the template
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
ENTRY = re.compile(r'(?ms)^msgid ((?:"(?:[^"\\]|\\.)*"\n?)+)(msgstr .*)$')


def po_entries(text):
    """The blocks of a .po/.pot in order, as (msgid as written, without quotes, block)."""
    found = []
    for block in text.strip("\n").split("\n\n"):
        match = ENTRY.search(block)
        if match:
            found.append(("".join(QUOTED.findall(match.group(1))), block))
    return found


def po_quote(text):
    """A string as a one-line PO string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def po_unquote(written):
    """A PO string's content, escapes resolved."""
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), written)


def merge_po(pot_text, po_text, extra=None):
    """po_text rewritten on pot_text: (text, msgids added untranslated, msgids dropped).

    Keys are msgids as written in the files (escapes kept), as Odoo writes both. `extra` gives
    translations of new strings, keyed by the msgid as Python text (escapes resolved)."""
    extra = extra or {}
    old = {msgid: ENTRY.search(block).group(2) for msgid, block in po_entries(po_text)}
    header = next((block for msgid, block in po_entries(po_text) if not msgid), None)
    now = time.strftime("%Y-%m-%d %H:%M+0000", time.gmtime())
    blocks, untranslated, kept = [], [], set()
    for msgid, block in po_entries(pot_text):
        if not msgid:
            pot_date = re.search(r'"POT-Creation-Date: ([^"]*?)\\n"', block)
            if header:
                if pot_date:
                    header = re.sub(
                        r'("POT-Creation-Date: )[^"]*?(\\n")', rf"\g<1>{pot_date.group(1)}\g<2>", header
                    )
                header = re.sub(r'("PO-Revision-Date: )[^"]*?(\\n")', rf"\g<1>{now}\g<2>", header)
            blocks.append(header or block)
            continue
        kept.add(msgid)
        msgstr = old.get(msgid)
        if msgstr is None or msgstr in ('msgstr ""', ""):
            text = extra.get(po_unquote(msgid))
            if text:
                msgstr = f"msgstr {po_quote(text)}"
            else:
                untranslated.append(msgid)
                msgstr = 'msgstr ""'
        head = block[: ENTRY.search(block).start(2)]
        blocks.append(head + msgstr)
    dropped = [msgid for msgid in old if msgid and msgid not in kept]
    return "\n\n".join(blocks) + "\n", untranslated, dropped


# Loggers that speak of translation files (the rest of a registry load has warnings of its own).
I18N_LOGGERS = (
    "odoo.tools.translate",
    "odoo.addons.base.models.ir_module",
    "odoo.addons.base.models.res_lang",
)


def problems(lines):
    """Warnings and errors about translations in an Odoo log, with their tracebacks."""
    found, inside = [], False
    for line in lines:
        if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ ", line):
            inside = any(f" {level} " in line for level in ("WARNING", "ERROR", "CRITICAL")) and (
                any(f" {logger}: " in line for logger in I18N_LOGGERS)
                or ".po" in line
                or "translat" in line.lower()
            )
        if inside:
            found.append(line)
    return found


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--addons-path", required=True, help="comma-separated addons folders of OpenG2P")
    parser.add_argument("--out", default=None, help="where to write the new template (default: a temp file)")
    parser.add_argument(
        "--write", action="store_true", help=f"replace i18n/{MODULE}.pot with the new template"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="also rewrite every i18n/<lang>.po on the new template (implies --write)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the cluster folder and logs for inspection")
    args = parser.parse_args()
    args.write = args.write or args.merge

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="g2p-mpesa-i18n-"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg")
    config = root / "odoo.conf"
    addons = [p for p in args.addons_path.split(",") if p] + [str(REPO)]
    write_config(config, cluster, addons, root / "data", free_port(), log_level="info", max_cron_threads=0)
    out = Path(args.out) if args.out else root / f"{MODULE}.pot"
    languages = sorted(p.stem for p in I18N.glob("*.po"))
    status = 0
    try:
        cluster.start()
        print(f"update_i18n: installing {MODULE} without demo data (log: {root / 'install.log'})", flush=True)
        odoo(config, "-i", MODULE, "--without-demo=all", "--workers=0", log=root / "install.log")

        print(f"update_i18n: exporting the template to {out}", flush=True)
        odoo(config, f"--i18n-export={out}", f"--modules={MODULE}", log=root / "export.log")
        count = (
            sum(1 for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("msgid ")) - 1
        )
        print(f"update_i18n: {count} strings in the new template")
        if args.write:
            shutil.copyfile(out, I18N / f"{MODULE}.pot")
            print(f"update_i18n: wrote {I18N / f'{MODULE}.pot'}")

        if args.merge:
            for lang in languages:
                po = I18N / f"{lang}.po"
                text, untranslated, dropped = merge_po(
                    out.read_text(encoding="utf-8"), po.read_text(encoding="utf-8")
                )
                po.write_text(text, encoding="utf-8")
                print(f"update_i18n: i18n/{lang}.po: {len(untranslated)} new string(s) to translate, "
                      f"{len(dropped)} dropped")  # fmt: skip
                for msgid in untranslated:
                    print(f"    + {msgid[:100]}")
                for msgid in dropped:
                    print(f"    - {msgid[:100]}")

        for lang in languages:
            log = root / f"load-{lang}.log"
            lines = odoo(config, f"--load-language={lang}", "--workers=0", log=log)
            found = problems(lines)
            print(f"update_i18n: loading i18n/{lang}.po: {len(found)} warning(s) or error(s) (log: {log})")
            for line in found:
                print("   ", line)
            status = status or bool(found)
    finally:
        cluster.stop()
        if args.keep or (not args.write and not args.out):
            print(f"update_i18n: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
