"""The handset's language per market, over HTTP: DR Congo's menu in French, Mozambique's in
Portuguese, Kenya's as it was (English, Kiswahili on request). Screens are plain ASCII (accents
dropped, as a USSD gateway's 7-bit text); the SMS keep them, the receipt and the amount."""

from __future__ import annotations

import itertools
import os
import re
import urllib.parse
import uuid

import pytest
from conftest import unique_msisdn

from mpesa_sim import i18n, markets
from mpesa_sim.testing import http_json, start_simulator

_numbers = itertools.count(int.from_bytes(os.urandom(2), "big") * 1000)
PREFIX = {"CD": "24381", "MZ": "25884"}


def dial(sim, msisdn: str, text: str) -> str:
    form = {
        "sessionId": "s-" + uuid.uuid4().hex[:8],
        "serviceCode": sim.market["ussd_code"],
        "phoneNumber": "+" + msisdn,
        "text": text,
    }
    status, body = http_json(
        "POST",
        sim.base_url + "/ussd",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert body.startswith(("CON ", "END ")) and len(body) <= 160 and body.isascii(), body
    return body


def wallet(sim, **fields) -> str:
    msisdn = PREFIX[sim.market_code] + "%07d" % (next(_numbers) % 10**7)
    spec = {"msisdn": msisdn, "first_name": "Test", "last_name": "Person", "balance": "1000", "pin": "4321"}
    sim.seed(wallets=[{**spec, **fields}], tills=[{"till_number": "555003", "name": "Boutique Centrale"}])
    return msisdn


def inbox(sim, msisdn: str) -> list[str]:
    return [m["body"] for m in sim.admin("GET", f"/sim/phones/{msisdn}/sms")[1]]


@pytest.fixture(scope="module")
def cd():
    with start_simulator(market="CD") as running:
        yield running


@pytest.fixture(scope="module")
def mz():
    with start_simulator(market="MZ") as running:
        yield running


# -- DR Congo: French ----------------------------------------------------------------------------
def test_dr_congo_menu_is_french(cd):
    phone = wallet(cd)
    assert dial(cd, phone, "") == (
        "CON M-PESA\n1. Consulter le solde\n2. Payer un marchand\n3. Mini-releve\n4. Mon compte"
    )
    assert dial(cd, phone, "1") == "CON Entrez votre PIN M-PESA :\n0 Retour 00 Accueil"
    assert dial(cd, phone, "1*4321") == "END Votre solde M-PESA est de USD 1,000.00."
    assert dial(cd, phone, "9").startswith("CON Choix invalide.\nM-PESA\n1. Consulter le solde")
    assert dial(cd, phone, "1*12").startswith("CON Le PIN compte 4 chiffres.\nEntrez votre PIN")
    assert dial(cd, phone, "4") == "CON Mon compte\n1. Langue\n0 Retour 00 Accueil"
    assert dial(cd, phone, "4*1") == "CON Choisissez la langue\n1. Francais\n0 Retour 00 Accueil"
    assert dial(cd, phone, "4*1*1") == "END Votre langue M-PESA est maintenant le francais."
    assert dial(cd, phone, "4*1*2").startswith("CON Choix invalide.")  # English is not offered here


def test_dr_congo_wrong_pin_in_french_then_locked(cd):
    phone = wallet(cd)
    assert dial(cd, phone, "1*0000") == "END PIN errone. Il vous reste 2 essais."
    assert dial(cd, phone, "1*0000") == "END PIN errone. Il vous reste 1 essai."
    assert dial(cd, phone, "1*0000") == (
        "END PIN errone. Votre PIN M-PESA est maintenant bloque apres 3 essais errones."
        " Contactez le service client."
    )
    assert dial(cd, phone, "") == (
        "END Votre PIN M-PESA est bloque apres 3 essais errones."
        " Contactez le service client pour le debloquer."
    )


def test_dr_congo_pays_a_till_in_french_and_the_sms_is_french(cd):
    phone = wallet(cd)
    assert dial(cd, phone, "2") == "CON Entrez le numero marchand :\n0 Retour 00 Accueil"
    assert dial(cd, phone, "2*999").startswith("CON Numero marchand 999 inconnu.\nEntrez le numero")
    assert dial(cd, phone, "2*555003") == "CON Entrez le montant (USD) :\n0 Retour 00 Accueil"
    assert "Montant invalide. Entrez un nombre entier de dollars, de 1 a 5,000." in dial(
        cd, phone, "2*555003*5001"
    )
    assert dial(cd, phone, "2*555003*200*4321") == (
        "CON Payer USD 200.00 a BOUTIQUE CENTRALE, marchand 555003 ?\n1. Confirmer\n2. Annuler"
        "\n0 Retour 00 Accueil"
    )
    assert dial(cd, phone, "2*555003*200*4321*2") == "END Annule. Aucun argent n'a ete envoye."
    paid = dial(cd, phone, "2*555003*200*4321*1")
    receipt = paid.split()[1]
    assert paid == f"END {receipt} Confirme. USD 200.00 paye a BOUTIQUE CENTRALE. Nouveau solde USD 800.00."
    [sms] = inbox(cd, phone)
    assert sms.startswith(f"{receipt} Confirmé. USD 200.00 payé à BOUTIQUE CENTRALE le ")
    assert sms.endswith(". Nouveau solde M-PESA : USD 800.00. Frais de transaction : USD 0.00.")
    statement = dial(cd, phone, "3*4321")
    assert statement.startswith(f"END Mini-releve M-PESA\n{receipt} ") and statement.endswith("-200.00")
    assert dial(cd, phone, "2*555003*5000*4321*1") == (
        "END Echec. Votre solde ne suffit pas pour payer USD 5,000.00. Votre solde M-PESA est de USD 800.00."
    )


def test_dr_congo_refusals_in_french(cd):
    frozen = wallet(cd, status="frozen")
    assert dial(cd, frozen, "") == "END Votre compte M-PESA est bloque. Contactez le service client."
    stranger = PREFIX["CD"] + "9999999"
    assert dial(cd, stranger, "") == "END Ce numero n'est pas inscrit a M-PESA."
    assert dial(cd, wallet(cd, balance="0"), "3*4321") == (
        "END Mini-releve M-PESA\nAucune transaction pour le moment."
    )


# -- Mozambique: Portuguese ----------------------------------------------------------------------
def test_mozambique_menu_is_portuguese(mz):
    phone = wallet(mz)
    assert dial(mz, phone, "") == (
        "CON M-PESA\n1. Consultar saldo\n2. Pagar comerciante\n3. Mini-extracto\n4. A minha conta"
    )
    assert dial(mz, phone, "1") == "CON Introduza o PIN M-PESA:\n0 Voltar 00 Inicio"
    assert dial(mz, phone, "1*4321") == "END O saldo da sua carteira M-PESA e MZN 1,000.00."
    assert dial(mz, phone, "9").startswith("CON Opcao invalida.\nM-PESA\n1. Consultar saldo")
    assert dial(mz, phone, "1*12").startswith("CON O PIN tem 4 digitos.\nIntroduza o PIN")
    assert dial(mz, phone, "4") == "CON A minha conta\n1. Idioma\n0 Voltar 00 Inicio"
    assert dial(mz, phone, "4*1") == "CON Escolha o idioma\n1. Portugues\n0 Voltar 00 Inicio"
    assert dial(mz, phone, "4*1*1") == "END O idioma do seu M-PESA e agora o portugues."


def test_mozambique_wrong_pin_in_portuguese_then_locked(mz):
    phone = wallet(mz)
    assert dial(mz, phone, "1*0000") == "END PIN errado. Restam 2 tentativas."
    assert (
        dial(mz, phone, "1*4321") == "END O saldo da sua carteira M-PESA e MZN 1,000.00."
    )  # resets the count
    assert dial(mz, phone, "1*0000") == "END PIN errado. Restam 2 tentativas."
    assert dial(mz, phone, "1*0000") == "END PIN errado. Resta 1 tentativa."
    assert dial(mz, phone, "1*0000") == (
        "END PIN errado. O seu PIN M-PESA esta agora bloqueado apos 3 tentativas erradas."
        " Contacte o apoio ao cliente."
    )
    assert dial(mz, phone, "1*4321").startswith("END O seu PIN M-PESA esta bloqueado apos 3 tentativas")


def test_mozambique_pays_a_till_in_portuguese_and_the_sms_is_portuguese(mz):
    phone = wallet(mz)
    assert dial(mz, phone, "2") == "CON Introduza o numero do comerciante:\n0 Voltar 00 Inicio"
    assert dial(mz, phone, "2*555003") == "CON Introduza o valor (MZN):\n0 Voltar 00 Inicio"
    assert "Valor invalido. Introduza meticais inteiros, de 1 a 125,000." in dial(mz, phone, "2*555003*abc")
    assert dial(mz, phone, "2*555003*abc*00").startswith("CON M-PESA\n1. Consultar saldo")
    assert dial(mz, phone, "2*555003*150*4321").startswith(
        "CON Pagar MZN 150.00 a BOUTIQUE CENTRALE, comerciante 555003?\n1. Confirmar\n2. Cancelar"
    )
    assert dial(mz, phone, "2*555003*150*4321*2") == "END Cancelado. Nao foi enviado dinheiro."
    paid = dial(mz, phone, "2*555003*150*4321*1")
    receipt = paid.split()[1]
    assert paid == f"END {receipt} Confirmado. MZN 150.00 pagos a BOUTIQUE CENTRALE. Novo saldo MZN 850.00."
    [sms] = inbox(mz, phone)
    assert sms.startswith(f"{receipt} Confirmado. Pagou MZN 150.00 a BOUTIQUE CENTRALE em ")
    assert re.search(
        r" em \d+/\d+/\d\d às \d\d:\d\d\. Novo saldo M-PESA: MZN 850\.00\. Taxa: MZN 0\.00\.$", sms
    )
    assert dial(mz, phone, "3*4321").startswith(f"END Mini-extracto M-PESA\n{receipt} ")


def test_mozambique_refusals_in_portuguese(mz):
    frozen = wallet(mz, status="frozen")
    assert dial(mz, frozen, "") == "END A sua carteira M-PESA esta bloqueada. Contacte o apoio ao cliente."
    assert dial(mz, PREFIX["MZ"] + "9999999", "") == "END Este numero nao esta registado no M-PESA."


def test_the_longest_screens_fit(cd, mz):
    for sim, amount in ((cd, 5000), (mz, 125000)):
        sim.seed(tills=[{"till_number": "555099", "name": "W" * 60}])
        phone = wallet(sim, balance="1")
        for text in ("", "1", "2", "3", "4", "4*1", f"2*555099*{amount}*4321", f"2*555099*{amount}*4321*1"):
            dial(sim, phone, text)  # <= 160 ASCII characters, CON or END


# -- Kenya: unchanged ----------------------------------------------------------------------------
def test_kenya_menu_is_unchanged(sim, new_wallet):
    phone = new_wallet(balance="1000", pin="4321")
    sim.seed(tills=[{"till_number": "555001", "name": "Duka La Mama"}])
    assert dial(sim, phone, "") == (
        "CON M-PESA\n1. Check balance\n2. Lipa na M-PESA (pay till)\n3. Mini statement\n4. My Account"
    )
    assert dial(sim, phone, "1") == "CON Enter M-PESA PIN:\n0 Back 00 Home"
    assert dial(sim, phone, "1*4321") == "END Your M-PESA balance is Ksh1,000.00."
    assert dial(sim, phone, "1*0000") == "END Wrong PIN. 2 attempts left."
    assert dial(sim, phone, "2*555001") == "CON Enter amount (Ksh):\n0 Back 00 Home"
    assert "Invalid amount. Enter whole shillings, 1 to 250,000." in dial(sim, phone, "2*555001*abc")
    assert dial(sim, phone, "4*1") == "CON Choose language\n1. English\n2. Kiswahili\n0 Back 00 Home"
    assert (
        dial(sim, new_wallet(status="frozen"), "") == "END Your M-PESA account is frozen. Call 100 for help."
    )
    assert dial(sim, unique_msisdn(), "") == "END This number is not registered for M-PESA."


# -- the tables ----------------------------------------------------------------------------------
VALUES = {
    "amount": "1.00",
    "name": "N",
    "till": "1",
    "attempts": 3,
    "left": 2,
    "balance": "2.00",
    "receipt": "R",
    "org": "O",
    "promo": "",
    "payer": "P",
    "agent": "A",
    "to": "T",
    "sender": "S",
    "original": "R0",
    "date": "1/2/26",
    "clock12": "9:05 AM",
    "clock24": "09:05",
    "when": "W",
}


@pytest.fixture
def each_market():
    before = markets.current()
    yield
    markets.activate(before)


def test_every_message_renders_in_every_market_and_language(each_market):
    for code, market in markets.MARKETS.items():
        markets.activate(market)
        for language, _name in i18n.languages(market):
            assert i18n.MENU[language].keys() == i18n.MENU["en"].keys(), (code, language)
            for key in i18n.MENU[language]:
                text = i18n.menu(language, key, **VALUES)
                assert "{" not in text and "}" not in text, (code, language, key)
        for key in i18n.SMS["en"]:
            text = i18n.sms(key, **VALUES)
            assert "{" not in text and "}" not in text, (code, key)
            assert key == "when" or ("R " in text and market.money + "1.00" in text), (code, key)
    assert [
        i18n.languages(markets.get(code))[0][0] for code in ("KE", "ET", "TZ", "CD", "LS", "GH", "MZ")
    ] == ["en", "en", "en", "fr", "en", "en", "pt"]
