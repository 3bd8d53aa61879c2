"""Markets are data: each one's number plan, currency, limits and API settings, and Kenya's as
before."""

import dataclasses

import pytest

from wire import InvalidMsisdn, markets, normalise_msisdn
from wire.daraja import DarajaConfig
from wire.numbers import KENYA, msisdn_matches

ET = markets.ETHIOPIA.number_plan


def test_kenya_is_the_default_and_its_plan_is_the_wire_codes():
    assert markets.market(None) is markets.KENYA
    assert markets.KENYA.number_plan is KENYA
    assert normalise_msisdn("0712 345-678", markets.KENYA.number_plan) == "254712345678"
    with pytest.raises(KeyError, match="known: KE, ET"):
        markets.market("XX")


@pytest.mark.parametrize(
    "raw, expected",
    [("0712345678", "251712345678"), ("+251 700 404 709", "251700404709"), ("712345678", "251712345678")],
)
def test_ethiopian_m_pesa_numbers_are_safaricom_ethiopias(raw, expected):
    assert normalise_msisdn(raw, ET) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("0911234567", "not_mpesa"),  # Ethio telecom
        ("0111234567", "not_mobile"),  # Addis Ababa landline
        ("+254712345678", "not_ethiopian"),
        ("07123456", "too_short"),
    ],
)
def test_numbers_ethiopian_m_pesa_cannot_pay_are_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidMsisdn) as info:
        normalise_msisdn(raw, ET)
    assert info.value.code == reason


def test_masked_numbers_are_read_in_the_markets_plan():
    assert msisdn_matches("0712***678", "251712345678", ET)
    assert not msisdn_matches("0712***678", "254712345678", ET)


@pytest.mark.parametrize("market", list(markets.MARKETS.values()), ids=list(markets.MARKETS))
def test_each_market_configures_its_api_family_and_says_where_its_facts_come_from(market):
    assert market.api_family == "daraja"
    known = {f.name for f in dataclasses.fields(DarajaConfig)}
    assert set(market.api_paths) <= known
    config = DarajaConfig(
        base_url=market.base_urls["sandbox"], consumer_key="k", consumer_secret="s", shortcode="600000",
        initiator_name="i", initiator_password="p", certificate=b"pem", min_amount=market.min_amount,
        max_amount=market.max_amount, number_plan=market.number_plan, **market.api_paths,
    )  # fmt: skip
    assert config.base_url.startswith("https://")
    assert 0 < market.min_amount <= market.max_amount
    assert market.currency and market.ussd.startswith("*") and market.sources


def test_ethiopia_is_daraja_with_its_own_routes():
    paths = markets.ETHIOPIA.api_paths
    assert paths["token_path"] == "/v1/token/generate"
    assert paths["b2c_path"] == "/mpesa/b2c/v2/paymentrequest"
    assert markets.ETHIOPIA.base_urls["production"] == "https://api.safaricom.et"
