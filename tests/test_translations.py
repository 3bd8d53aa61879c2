"""The addon speaks Kiswahili, French and Portuguese: every string of the .pot has a translation with the same
placeholders and markup."""

import re
from pathlib import Path

import pytest

I18N = Path(__file__).resolve().parents[1] / "g2p_payment_mpesa" / "i18n"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%s|\{[a-z_]+\}")
# Kenya and Tanzania (Kiswahili), the DR Congo (French), Mozambique (Portuguese).
LANGUAGES = ["sw", "fr", "pt"]
PLURAL_FORMS = {
    "sw": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "pt": "nplurals=2; plural=(n != 1);",
}


def entries(path):
    text = path.read_text(encoding="utf-8")
    found = {}
    for block in text.split("\n\n"):
        match = re.search(r'(?ms)^msgid ((?:"(?:[^"\\]|\\.)*"\n?)+)msgstr ((?:"(?:[^"\\]|\\.)*"\n?)+)', block)
        if match:
            join = lambda raw: "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', raw))  # noqa: E731
            found[join(match.group(1))] = join(match.group(2))
    return found


def header(path):
    return entries(path)[""].replace("\\n", "\n")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_translated(lang):
    template, translated = entries(I18N / "g2p_payment_mpesa.pot"), entries(I18N / f"{lang}.po")
    msgids = {m for m in template if m}
    assert len(msgids) > 250
    assert msgids == {m for m in translated if m}, f"{lang}.po and the .pot list different strings"
    untranslated = [m for m in msgids if not translated[m].strip()]
    assert not untranslated, untranslated[:10]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_there_once(lang):
    text = (I18N / f"{lang}.po").read_text(encoding="utf-8")
    blocks = [block for block in text.split("\n\n") if re.search(r"(?m)^msgid ", block)]
    assert len(blocks) == len(entries(I18N / f"{lang}.po"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_and_markup_survive_translation(lang):
    translated = entries(I18N / f"{lang}.po")
    for msgid, msgstr in translated.items():
        if not msgid:
            continue
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid
        assert re.findall(r"</?[a-z]+", msgid) == re.findall(r"</?[a-z]+", msgstr), msgid
        assert msgid.count("\\n") == msgstr.count("\\n"), msgid


@pytest.mark.parametrize("lang", LANGUAGES)
def test_header_names_the_language(lang):
    text = header(I18N / f"{lang}.po")
    assert f"Language: {lang}\n" in text
    assert f"Plural-Forms: {PLURAL_FORMS[lang]}\n" in text
    assert "Content-Type: text/plain; charset=UTF-8\n" in text


def test_it_is_kiswahili():
    swahili = entries(I18N / "sw.po")
    assert swahili["Check M-Pesa payees"] == "Kagua walipwaji wa M-Pesa"
    assert swahili["Approve anyway"] == "Idhinisha hata hivyo"


def test_it_is_french():
    french = entries(I18N / "fr.po")
    assert french["Check M-Pesa payees"] == "Vérifier les bénéficiaires M-Pesa"
    assert french["Approve anyway"] == "Approuver quand même"
    assert french["M-Pesa statement"] == "Relevé M-Pesa"


def test_it_is_portuguese():
    portuguese = entries(I18N / "pt.po")
    assert portuguese["Check M-Pesa payees"] == "Verificar os beneficiários M-Pesa"
    assert portuguese["Approve anyway"] == "Aprovar mesmo assim"
    assert portuguese["M-Pesa statement"] == "Extrato M-Pesa"
