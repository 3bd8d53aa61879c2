"""The addon speaks Kiswahili: every string of the .pot has a translation with the same placeholders."""

import re
from pathlib import Path

I18N = Path(__file__).resolve().parents[1] / "g2p_payment_mpesa" / "i18n"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%s|\{[a-z_]+\}")


def entries(path):
    text = path.read_text(encoding="utf-8")
    found = {}
    for block in text.split("\n\n"):
        match = re.search(r'(?ms)^msgid ((?:"(?:[^"\\]|\\.)*"\n?)+)msgstr ((?:"(?:[^"\\]|\\.)*"\n?)+)', block)
        if match:
            join = lambda raw: "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', raw))  # noqa: E731
            found[join(match.group(1))] = join(match.group(2))
    return found


def test_every_string_is_translated_into_kiswahili():
    template, swahili = entries(I18N / "g2p_payment_mpesa.pot"), entries(I18N / "sw.po")
    msgids = {m for m in template if m}
    assert len(msgids) > 250
    assert msgids == {m for m in swahili if m}, "sw.po and the .pot list different strings"
    untranslated = [m for m in msgids if not swahili[m].strip()]
    assert not untranslated, untranslated[:10]


def test_placeholders_and_markup_survive_translation():
    swahili = entries(I18N / "sw.po")
    for msgid, msgstr in swahili.items():
        if not msgid:
            continue
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid
        assert re.findall(r"</?[a-z]+", msgid) == re.findall(r"</?[a-z]+", msgstr), msgid


def test_it_is_kiswahili():
    swahili = entries(I18N / "sw.po")
    assert swahili["Check M-Pesa payees"] == "Kagua walipwaji wa M-Pesa"
    assert swahili["Approve anyway"] == "Idhinisha hata hivyo"
