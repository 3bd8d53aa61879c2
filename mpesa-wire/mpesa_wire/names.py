"""Does the name M-Pesa gives for a receiver belong to the registrant we meant to pay?

A B2C result names the wallet's holder (``ReceiverPartyPublicName``: "254722000001 - PETER
OTIENO"). A recycled or mistyped number pays somebody else, and the money has moved: the payment
is then flagged for a person to review (DESIGN.md invariant 6). The rule, meant to flag real
mismatches and not spellings of one person:

1. Both names are normalised: accents removed (NFKD), letters only (apostrophes and hyphens join:
   "O'Brien" = "OBRIEN", "Wa-Njeri" = "WANJERI"), upper case, split into words.
2. Order does not matter ("KAMAU JOHN" = "John Kamau").
3. A one-letter word is an initial: it matches any word starting with that letter ("J KAMAU",
   "J. Kamau"). M-Pesa abbreviates names this way on some answers.
4. The names match when every word of the shorter one matches a different word of the longer one
   (extra middle names on either side are fine) and at least one matching word is a full word
   (two initials prove nothing).
5. A missing name on either side is not a mismatch: nothing can be said (no flag).
"""

import re
import unicodedata

_NOT_LETTER = re.compile(r"[^A-Z\s]")


def name_words(name: str | None) -> list[str]:
    if not name:
        return []
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    text = re.sub(r"['’`-]", "", text)  # joins O'Brien, Wa-Njeri
    return _NOT_LETTER.sub(" ", text).split()


def _word_matches(a: str, b: str) -> bool:
    if len(a) == 1 or len(b) == 1:
        return a[0] == b[0]
    return a == b


def _assign(short: list[str], long: list[str], full: bool = False) -> bool:
    """Every word of `short` matched to a distinct word of `long`, at least one pair of full
    words among them (small lists: backtracking)."""
    if not short:
        return full
    first, rest = short[0], short[1:]
    for index, candidate in enumerate(long):
        if _word_matches(first, candidate):
            both_full = full or (len(first) > 1 and len(candidate) > 1)
            if _assign(rest, long[:index] + long[index + 1 :], both_full):
                return True
    return False


def names_match(expected: str | None, received: str | None) -> bool | None:
    """True: same person by the rule above; False: a mismatch to flag; None: nothing to compare."""
    a, b = name_words(expected), name_words(received)
    if not a or not b:
        return None
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    # Full words first: they must find their partners before initials take any.
    return _assign(sorted(short, key=len, reverse=True), long)
