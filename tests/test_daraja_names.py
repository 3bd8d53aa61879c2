"""The wrong-person rule (daraja.names): order, case, accents and initials tolerated."""

import pytest

from mpesa_wire.names import name_words, names_match


@pytest.mark.parametrize(
    ("registrant", "mpesa"),
    [
        ("Faith Njoroge", "FAITH NJOROGE"),
        ("Faith Njoroge", "NJOROGE FAITH"),  # order
        ("John Kamau", "J KAMAU"),  # initial
        ("J. Kamau", "JOHN KAMAU"),
        ("Amina Wanjiru", "AMINA W"),
        ("Grace Achieng Odhiambo", "GRACE ODHIAMBO"),  # a middle name on our side
        ("Grace Odhiambo", "GRACE ACHIENG ODHIAMBO"),  # ... or on M-Pesa's
        ("Chloé Müller", "CHLOE MULLER"),  # accents
        ("Mary O'Brien", "MARY OBRIEN"),
        ("Wa-Njeri Kamau", "WANJERI KAMAU"),
        ("  peter   otieno ", "Peter Otieno"),
    ],
)
def test_same_person(registrant, mpesa):
    assert names_match(registrant, mpesa) is True


@pytest.mark.parametrize(
    ("registrant", "mpesa"),
    [
        ("Faith Njoroge", "PETER OTIENO"),  # the recycled number of issue 13
        ("Faith Njoroge", "FAITH OTIENO"),  # one name in common is not the person
        ("John Kamau", "J K"),  # initials alone prove nothing
        ("John Kamau", "JANE KAMAU"),
        ("Amina Wanjiru", "A B"),
    ],
)
def test_someone_else(registrant, mpesa):
    assert names_match(registrant, mpesa) is False


@pytest.mark.parametrize(
    ("registrant", "mpesa"), [("Faith Njoroge", None), ("", "PETER OTIENO"), ("-", "X Y")]
)
def test_nothing_to_compare(registrant, mpesa):
    assert names_match(registrant, mpesa) is None


def test_an_initial_does_not_take_the_word_a_full_name_needs():
    # "J" could pair with JOHN, but JOHN is the only partner of "JOHN": full words go first.
    assert names_match("John J", "JOHN JAMES") is True
    assert names_match("John J", "JAMES KAMAU") is False


def test_name_words():
    assert name_words("  Chloé  O'Brien-Smith ") == ["CHLOE", "OBRIENSMITH"]
    assert name_words(None) == []


def test_initials_crossing_prove_nothing():
    # J~JOHN and K~KAMAU are both initial matches: no full word is shared.
    assert names_match("J Kamau", "JOHN K") is False
