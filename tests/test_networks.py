from __future__ import annotations

import pandas as pd
import pytest

from workbench.errors import InputError, MissingColumnsError
from workbench.networks import explain_link, link_sellers, normalise


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("phone", "+86 138 0013 8000", "+8613800138000"),
        ("phone", "0086-13800138000", "+8613800138000"),
        ("phone", "13800138000", "+8613800138000"),
        ("email", " Li.Wei@Example.COM ", "li.wei@example.com"),
        ("bank_card", "6222 0212-3456 7890", "6222021234567890"),
        ("id_document", "35030219900101123x", "35030219900101123X"),
    ],
)
def test_normalise(kind: str, raw: str, expected: str) -> None:
    assert normalise(pd.Series([kind]), pd.Series([raw])).iloc[0] == expected


def _groups(nets) -> set[frozenset[str]]:
    member = nets.membership.dropna(subset=["network_id"])
    return {frozenset(g["seller_id"]) for _, g in member.groupby("network_id")}


def test_networks_from_shared_identifiers(toy_sellers, toy_identifiers) -> None:
    nets = link_sellers(toy_sellers, toy_identifiers, max_accounts=5)
    # the hotline is on 8 accounts > 5, so it links nothing; the address link is weak
    assert _groups(nets) == {frozenset({"S1", "S2", "S3"}), frozenset({"S4", "S5"})}
    assert nets.infrastructure["value_norm"].tolist() == ["+4008208820"]
    assert nets.infrastructure["n_accounts"].tolist() == [8]
    assert nets.summary.iloc[0]["kinds"] == ["bank_card", "phone"]


def test_without_threshold_the_hotline_merges_everyone(toy_sellers, toy_identifiers) -> None:
    # the reason infrastructure exists: with a high threshold all 8 accounts become one
    nets = link_sellers(toy_sellers, toy_identifiers, max_accounts=100)
    assert _groups(nets) == {frozenset(f"S{i}" for i in range(1, 9))}


def test_allow_list_keeps_a_hotline_out(toy_sellers, toy_identifiers) -> None:
    nets = link_sellers(toy_sellers, toy_identifiers, max_accounts=100, allow_list=["400-820-8820"])
    assert frozenset({"S1", "S2", "S3"}) in _groups(nets)
    assert len(_groups(nets)) == 2


def test_weak_links_only_when_asked(toy_sellers, toy_identifiers) -> None:
    nets = link_sellers(toy_sellers, toy_identifiers, max_accounts=5, include_weak=True)
    assert frozenset({"S6", "S7"}) in _groups(nets)


def test_explain_link_gives_the_chain(toy_sellers, toy_identifiers) -> None:
    nets = link_sellers(toy_sellers, toy_identifiers, max_accounts=5)
    assert explain_link(nets, "S1", "S3") == (
        "S1 -phone +8613800138000-> S2 -bank_card 6222021234567890-> S3"
    )
    assert "share no identifier chain" in explain_link(nets, "S1", "S4")


def test_hotline_on_300_accounts_does_not_merge_a_ring() -> None:
    sellers = pd.DataFrame({"seller_id": [f"A{i}" for i in range(300)] + ["R1", "R2"]})
    ids = pd.DataFrame(
        [(s, "phone", "400-100-1000") for s in sellers["seller_id"]]
        + [
            ("R1", "id_document", "350302199001011234"),
            ("R2", "id_document", "350302199001011234"),
        ],
        columns=["seller_id", "kind", "value"],
    )
    nets = link_sellers(sellers, ids)
    assert _groups(nets) == {frozenset({"R1", "R2"})}
    assert nets.infrastructure.iloc[0]["n_accounts"] == 302


def test_bad_arguments(toy_sellers, toy_identifiers) -> None:
    with pytest.raises(MissingColumnsError, match="identifiers: required field"):
        link_sellers(toy_sellers, toy_identifiers.drop(columns="kind"))
    with pytest.raises(InputError, match="max_accounts must be at least 2, got 1"):
        link_sellers(toy_sellers, toy_identifiers, max_accounts=1)


def test_allow_list_entries_are_normalised_for_every_kind() -> None:
    # a marketplace's own payment e-mail, written in another case on the allow-list,
    # and a card number written with spaces: neither may link the two accounts
    sellers = pd.DataFrame({"seller_id": ["A", "B"]})
    ids = pd.DataFrame(
        [
            ("A", "email", "pay@market.example"),
            ("B", "email", "Pay@Market.example"),
            ("A", "bank_card", "6222021234567890"),
            ("B", "bank_card", "6222021234567890"),
        ],
        columns=["seller_id", "kind", "value"],
    )
    nets = link_sellers(sellers, ids, allow_list=["PAY@MARKET.EXAMPLE", "6222 0212 3456 7890"])
    assert _groups(nets) == set()
    assert sorted(nets.infrastructure["kind"]) == ["bank_card", "email"]


def test_identifiers_of_unknown_accounts_are_reported_not_dropped(toy_sellers, toy_identifiers):
    stray = pd.DataFrame([("S99", "phone", "13900000000")], columns=["seller_id", "kind", "value"])
    nets = link_sellers(toy_sellers, pd.concat([toy_identifiers, stray]), max_accounts=5)
    assert nets.unknown_sellers["seller_id"].tolist() == ["S99"]
    assert "S99" not in set(nets.membership["seller_id"])
