"""What the simulated handset says, per language: the USSD menu's screens and the M-PESA SMS.

One table per language, keyed by message id (``MENU`` for the USSD menu, ``SMS`` for the
confirmations), with ``{placeholders}``. What a sentence says differently per market (the unit of
money, the name of the till payment, the help line) is in ``WORDS``, per market and language; the
currency (``{money}``, ``{currency}``) and the till menu's maximum (``{max}``) come from the market.
Amounts keep one format in every language ("USD 1,000.00", "MZN 125.50"): the money format of
the market, not of the language.

Languages: English everywhere the menus were English; Kiswahili beside it in Kenya and Tanzania
(chosen under 4 My Account > 1 Language); French in DR Congo and Portuguese (European and
Mozambican usage: "Introduza", "saldo", "carteira") in Mozambique. Whether the real *1222# and
*150# menus offer a language choice, and in which languages, is not publicly documented: the
simulator gives DR Congo and Mozambique their official language alone (no Lingala, Swahili or
English menu there), and still lists it under My Account > Language as Ethiopia lists English.
All the wording is the simulator's; the real menus are not public. A handset screen is folded
to plain ASCII (``ussd.screen``), as USSD gateways send 7-bit text: "Entrez le numero marchand".
The SMS are written in the market's first language (English in Kenya and Tanzania, whatever the
wallet's menu language, as before).
"""

from __future__ import annotations

from mpesa_sim import markets

MENU = {
    "en": {
        "nav": "\n0 Back 00 Home",
        "home": "M-PESA\n1. Check balance\n2. {pay_till}\n3. Mini statement\n4. My Account",
        "pin": "Enter M-PESA PIN:",
        "till": "Enter till number:",
        "amount": "Enter amount ({money}):",
        "confirm": "Pay {money}{amount} to {name} till {till}?\n1. Confirm\n2. Cancel",
        "account": "My Account\n1. Language",
        "language": "Choose language",
        "language_set": "Your M-PESA language is now English.",
        "invalid": "Invalid choice.",
        "pin_digits": "A PIN is 4 digits.",
        "unknown_till": "Unknown till number {till}.",
        "invalid_amount": "Invalid amount. Enter whole {unit}, 1 to {max}.",
        "not_registered": "This number is not registered for M-PESA.",
        "frozen": "Your M-PESA account is frozen. {help_frozen}.",
        "locked": "Your M-PESA PIN is locked after {attempts} wrong attempts. {help} to reset it.",
        "wrong_pin_locked": (
            "Wrong PIN. Your M-PESA PIN is now locked after {attempts} wrong attempts. {help}."
        ),
        "wrong_pin": "Wrong PIN. {left} attempts left.",
        "wrong_pin_one": "Wrong PIN. 1 attempt left.",
        "balance": "Your M-PESA balance is {money}{balance}.",
        "cancelled": "Cancelled. No money was sent.",
        "no_money": (
            "Failed. You do not have enough money to pay {money}{amount}."
            " Your M-PESA balance is {money}{balance}."
        ),
        "paid": "{receipt} Confirmed. {money}{amount} paid to {name}. New balance {money}{balance}.",
        "statement": "M-PESA mini statement",
        "no_transactions": "No transactions yet.",
    },
    "sw": {
        "nav": "\n0 Rudi 00 Mwanzo",
        "home": "M-PESA\n1. Angalia salio\n2. {pay_till}\n3. Taarifa fupi\n4. Akaunti Yangu",
        "pin": "Weka PIN ya M-PESA:",
        "till": "Weka nambari ya till:",
        "amount": "Weka kiasi ({money}):",
        "confirm": "Lipa {money}{amount} kwa {name} till {till}?\n1. Thibitisha\n2. Ghairi",
        "account": "Akaunti Yangu\n1. Lugha",
        "language": "Chagua lugha",
        "language_set": "Lugha yako ya M-PESA sasa ni Kiswahili.",
        "invalid": "Chaguo si sahihi.",
        "pin_digits": "PIN ni tarakimu 4.",
        "unknown_till": "Nambari ya till {till} haijulikani.",
        "invalid_amount": "Kiasi si sahihi. Weka {unit} kamili, 1 hadi {max}.",
        "not_registered": "Nambari hii haijasajiliwa kwa M-PESA.",
        "frozen": "Akaunti yako ya M-PESA imesimamishwa. {help_frozen}.",
        "locked": "PIN yako ya M-PESA imefungwa baada ya majaribio {attempts} yasiyo sahihi. {help}.",
        "wrong_pin_locked": (
            "PIN si sahihi. PIN yako ya M-PESA sasa imefungwa baada ya majaribio {attempts}. {help}."
        ),
        "wrong_pin": "PIN si sahihi. Umebakiza majaribio {left}.",
        "wrong_pin_one": "PIN si sahihi. Umebakiza jaribio 1.",
        "balance": "Salio lako la M-PESA ni {money}{balance}.",
        "cancelled": "Umeghairi. Hakuna pesa iliyotumwa.",
        "no_money": (
            "Imeshindikana. Huna pesa za kutosha kulipa {money}{amount}."
            " Salio lako la M-PESA ni {money}{balance}."
        ),
        "paid": (
            "{receipt} Imethibitishwa. {money}{amount} imelipwa kwa {name}. Salio jipya {money}{balance}."
        ),
        "statement": "Taarifa fupi ya M-PESA",
        "no_transactions": "Hakuna miamala bado.",
    },
    "fr": {
        "nav": "\n0 Retour 00 Accueil",
        "home": "M-PESA\n1. Consulter le solde\n2. {pay_till}\n3. Mini-relevé\n4. Mon compte",
        "pin": "Entrez votre PIN M-PESA :",
        "till": "Entrez le numéro marchand :",
        "amount": "Entrez le montant ({currency}) :",
        "confirm": "Payer {money}{amount} à {name}, marchand {till} ?\n1. Confirmer\n2. Annuler",
        "account": "Mon compte\n1. Langue",
        "language": "Choisissez la langue",
        "language_set": "Votre langue M-PESA est maintenant le français.",
        "invalid": "Choix invalide.",
        "pin_digits": "Le PIN compte 4 chiffres.",
        "unknown_till": "Numéro marchand {till} inconnu.",
        "invalid_amount": "Montant invalide. Entrez un nombre entier de {unit}, de 1 à {max}.",
        "not_registered": "Ce numéro n'est pas inscrit à M-PESA.",
        "frozen": "Votre compte M-PESA est bloqué. {help_frozen}.",
        "locked": "Votre PIN M-PESA est bloqué après {attempts} essais erronés. {help} pour le débloquer.",
        "wrong_pin_locked": (
            "PIN erroné. Votre PIN M-PESA est maintenant bloqué après {attempts} essais erronés. {help}."
        ),
        "wrong_pin": "PIN erroné. Il vous reste {left} essais.",
        "wrong_pin_one": "PIN erroné. Il vous reste 1 essai.",
        "balance": "Votre solde M-PESA est de {money}{balance}.",
        "cancelled": "Annulé. Aucun argent n'a été envoyé.",
        "no_money": (
            "Échec. Votre solde ne suffit pas pour payer {money}{amount}."
            " Votre solde M-PESA est de {money}{balance}."
        ),
        "paid": "{receipt} Confirmé. {money}{amount} payé à {name}. Nouveau solde {money}{balance}.",
        "statement": "Mini-relevé M-PESA",
        "no_transactions": "Aucune transaction pour le moment.",
    },
    "pt": {
        "nav": "\n0 Voltar 00 Início",
        "home": "M-PESA\n1. Consultar saldo\n2. {pay_till}\n3. Mini-extracto\n4. A minha conta",
        "pin": "Introduza o PIN M-PESA:",
        "till": "Introduza o número do comerciante:",
        "amount": "Introduza o valor ({currency}):",
        "confirm": "Pagar {money}{amount} a {name}, comerciante {till}?\n1. Confirmar\n2. Cancelar",
        "account": "A minha conta\n1. Idioma",
        "language": "Escolha o idioma",
        "language_set": "O idioma do seu M-PESA é agora o português.",
        "invalid": "Opção inválida.",
        "pin_digits": "O PIN tem 4 dígitos.",
        "unknown_till": "Número de comerciante {till} desconhecido.",
        "invalid_amount": "Valor inválido. Introduza {unit} inteiros, de 1 a {max}.",
        "not_registered": "Este número não está registado no M-PESA.",
        "frozen": "A sua carteira M-PESA está bloqueada. {help_frozen}.",
        "locked": (
            "O seu PIN M-PESA está bloqueado após {attempts} tentativas erradas. {help} para o desbloquear."
        ),
        "wrong_pin_locked": (
            "PIN errado. O seu PIN M-PESA está agora bloqueado após {attempts} tentativas erradas. {help}."
        ),
        "wrong_pin": "PIN errado. Restam {left} tentativas.",
        "wrong_pin_one": "PIN errado. Resta 1 tentativa.",
        "balance": "O saldo da sua carteira M-PESA é {money}{balance}.",
        "cancelled": "Cancelado. Não foi enviado dinheiro.",
        "no_money": (
            "Falhou. Não tem saldo suficiente para pagar {money}{amount}."
            " O saldo da sua carteira M-PESA é {money}{balance}."
        ),
        "paid": "{receipt} Confirmado. {money}{amount} pagos a {name}. Novo saldo {money}{balance}.",
        "statement": "Mini-extracto M-PESA",
        "no_transactions": "Ainda não há movimentos.",
    },
}

SMS = {
    "en": {
        "when": "{date} at {clock12}",
        "b2c_received": (
            "{receipt} Confirmed. You have received {money}{amount} from {org} on {when}."
            " New M-PESA balance is {money}{balance}.{promo}"
        ),
        "till_paid": (
            "{receipt} Confirmed. {money}{amount} paid to {till}. on {when}."
            "New M-PESA balance is {money}{balance}. Transaction cost, {money}0.00."
        ),
        "till_received": "{receipt} Confirmed. {money}{amount} received from {payer} on {when}.",
        "deposit_received": (
            "{receipt} Confirmed. On {when} Give {money}{amount} cash to {agent}"
            " New M-PESA balance is {money}{balance}."
        ),
        "transfer_sent": (
            "{receipt} Confirmed. {money}{amount} sent to {to} on {when}."
            " New M-PESA balance is {money}{balance}. Transaction cost, {money}0.00."
        ),
        "transfer_received": (
            "{receipt} Confirmed. You have received {money}{amount} from {sender} on {when}."
            " New M-PESA balance is {money}{balance}."
        ),
        "withdrawn": (
            "{receipt} Confirmed. On {when} Withdraw {money}{amount} from {agent}"
            " New M-PESA balance is {money}{balance}. Transaction cost, {money}0.00."
        ),
        "reversal_debited": (
            "{receipt} Confirmed. Transaction {original} of {money}{amount} from {org}"
            " has been reversed on {when}. {money}{amount} has been debited from your"
            " M-PESA account. New M-PESA balance is {money}{balance}."
        ),
    },
    "fr": {
        "when": "{date} à {clock24}",
        "b2c_received": (
            "{receipt} Confirmé. Vous avez reçu {money}{amount} de {org} le {when}."
            " Nouveau solde M-PESA : {money}{balance}.{promo}"
        ),
        "till_paid": (
            "{receipt} Confirmé. {money}{amount} payé à {till} le {when}."
            " Nouveau solde M-PESA : {money}{balance}. Frais de transaction : {money}0.00."
        ),
        "till_received": "{receipt} Confirmé. {money}{amount} reçu de {payer} le {when}.",
        "deposit_received": (
            "{receipt} Confirmé. Le {when}, remettez {money}{amount} en espèces à {agent}."
            " Nouveau solde M-PESA : {money}{balance}."
        ),
        "transfer_sent": (
            "{receipt} Confirmé. {money}{amount} envoyé à {to} le {when}."
            " Nouveau solde M-PESA : {money}{balance}. Frais de transaction : {money}0.00."
        ),
        "transfer_received": (
            "{receipt} Confirmé. Vous avez reçu {money}{amount} de {sender} le {when}."
            " Nouveau solde M-PESA : {money}{balance}."
        ),
        "withdrawn": (
            "{receipt} Confirmé. Le {when}, retrait de {money}{amount} chez {agent}."
            " Nouveau solde M-PESA : {money}{balance}. Frais de transaction : {money}0.00."
        ),
        "reversal_debited": (
            "{receipt} Confirmé. La transaction {original} de {money}{amount} de {org}"
            " a été annulée le {when}. {money}{amount} ont été débités de votre"
            " compte M-PESA. Nouveau solde M-PESA : {money}{balance}."
        ),
    },
    "pt": {
        "when": "{date} às {clock24}",
        "b2c_received": (
            "{receipt} Confirmado. Recebeu {money}{amount} de {org} em {when}."
            " Novo saldo M-PESA: {money}{balance}.{promo}"
        ),
        "till_paid": (
            "{receipt} Confirmado. Pagou {money}{amount} a {till} em {when}."
            " Novo saldo M-PESA: {money}{balance}. Taxa: {money}0.00."
        ),
        "till_received": "{receipt} Confirmado. Recebeu {money}{amount} de {payer} em {when}.",
        "deposit_received": (
            "{receipt} Confirmado. Em {when}, entregue {money}{amount} em numerário a {agent}."
            " Novo saldo M-PESA: {money}{balance}."
        ),
        "transfer_sent": (
            "{receipt} Confirmado. Transferiu {money}{amount} para {to} em {when}."
            " Novo saldo M-PESA: {money}{balance}. Taxa: {money}0.00."
        ),
        "transfer_received": (
            "{receipt} Confirmado. Recebeu {money}{amount} de {sender} em {when}."
            " Novo saldo M-PESA: {money}{balance}."
        ),
        "withdrawn": (
            "{receipt} Confirmado. Em {when}, levantou {money}{amount} no agente {agent}."
            " Novo saldo M-PESA: {money}{balance}. Taxa: {money}0.00."
        ),
        "reversal_debited": (
            "{receipt} Confirmado. A transacção {original} de {money}{amount} de {org}"
            " foi revertida em {when}. Foram debitados {money}{amount} da sua carteira"
            " M-PESA. Novo saldo M-PESA: {money}{balance}."
        ),
    },
}

# Per market and language: {unit} of money, {pay_till} (the home menu's item 2), {help} (where
# to unlock a PIN) and {help_frozen} (the frozen account's advice). {help_line} is the market's.
WORDS = {
    ("KE", "en"): {
        "unit": "shillings",
        "pay_till": "Lipa na M-PESA (pay till)",
        "help": "{help_line}",
        "help_frozen": "{help_line} for help",
    },
    ("KE", "sw"): {
        "unit": "shilingi",
        "pay_till": "Lipa na M-PESA (till)",
        "help": "Piga 100",
        "help_frozen": "Piga 100 kwa msaada",
    },
    ("ET", "en"): {
        "unit": "birr",
        "pay_till": "Pay merchant (till)",
        "help": "{help_line}",
        "help_frozen": "{help_line}",
    },
    ("TZ", "en"): {
        "unit": "shillings",
        "pay_till": "Lipa kwa M-PESA (pay till)",
        "help": "{help_line}",
        "help_frozen": "{help_line} for help",
    },
    ("TZ", "sw"): {
        "unit": "shilingi",
        "pay_till": "Lipa kwa M-PESA (till)",
        "help": "Piga 100",
        "help_frozen": "Piga 100 kwa msaada",
    },
    ("CD", "fr"): {
        "unit": "dollars",
        "pay_till": "Payer un marchand",
        "help": "Contactez le service client",
        "help_frozen": "Contactez le service client",
    },
    ("LS", "en"): {
        "unit": "maloti",
        "pay_till": "Pay merchant (till)",
        "help": "{help_line}",
        "help_frozen": "{help_line} for help",
    },
    ("GH", "en"): {
        "unit": "cedis",
        "pay_till": "Pay merchant (till)",
        "help": "{help_line}",
        "help_frozen": "{help_line} for help",
    },
    ("MZ", "pt"): {
        "unit": "meticais",
        "pay_till": "Pagar comerciante",
        "help": "Contacte o apoio ao cliente",
        "help_frozen": "Contacte o apoio ao cliente",
    },
}


def languages(market: markets.Market | None = None) -> tuple[tuple[str, str], ...]:
    """(code, name) of the languages the market's menu offers, its default first."""
    market = market or markets.current()
    return market.languages


def _market_values(market: markets.Market, language: str) -> dict:
    words = WORDS[market.code, language]
    return {
        **{key: value.format(help_line=market.help_line) for key, value in words.items()},
        "money": market.money,
        "currency": market.currency,
        "max": f"{int(market.limits['max_amount']):,}",
    }


def menu(language: str, key: str, **values) -> str:
    """A USSD screen's text in ``language`` (the market's default when it does not speak it)."""
    market = markets.current()
    codes = [code for code, _name in languages(market)]
    language = language if language in codes else codes[0]
    return MENU[language][key].format(**_market_values(market, language), **values)


def sms(key: str, **values) -> str:
    """An SMS in the market's first language."""
    market = markets.current()
    language = languages(market)[0][0]
    return SMS[language][key].format(**_market_values(market, language), **values)
