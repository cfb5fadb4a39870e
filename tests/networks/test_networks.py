from __future__ import annotations

import pandas as pd
import pytest

from workbench.errors import InputError, MissingColumnsError
from workbench.networks._link import explain_link, link_sellers, normalise


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
    assert nets.infrastructure["value_norm"].tolist() == ["+864008208820"]  # E.164
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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138 0013 8000", "+8613800138000"),
        ("0086-13800138000", "+8613800138000"),
        ("(+86) 138-0013-8000", "+8613800138000"),
        ("0591-2345 6789", "+8659123456789"),  # a Fuzhou landline, national format
        ("+44 20 7946 0958", "+442079460958"),  # a London number stays British
        ("400-820-8820", "+864008208820"),
    ],
)
def test_phones_become_e164(raw: str, expected: str) -> None:
    assert normalise(pd.Series(["phone"]), pd.Series([raw])).iloc[0] == expected


# foreign numbers keep their country, whatever the international prefix; the Chinese-mobile
# fast path must not claim an 11-digit number that starts with another country's code
FOREIGN = [
    "+1 415 555 0100",
    "001 415 555 0100",
    "+44 20 7946 0958",
    "0044 20 7946 0958",
    "+49 30 901820",
    "+81 3-1234-5678",
    "+33 1 42 68 53 00",
    "+7 495 123-45-67",
    "+1 (212) 555-0147",
]


@pytest.mark.parametrize("raw", FOREIGN)
def test_foreign_numbers_keep_their_country(raw: str) -> None:
    import phonenumbers

    expected = phonenumbers.format_number(
        phonenumbers.parse(raw, "CN"), phonenumbers.PhoneNumberFormat.E164
    )
    assert not expected.startswith("+86")
    assert normalise(pd.Series(["phone"]), pd.Series([raw])).iloc[0] == expected


# none of these is a phone number; each used to become "+" or "+1" and link accounts
GARBAGE = ["保密", "private", "ext. 1", "see row 1", "+1 (US) n/a", "call me", "+", "1"]


@pytest.mark.parametrize("raw", GARBAGE)
def test_values_that_are_not_phone_numbers_normalise_to_nothing(raw: str) -> None:
    assert normalise(pd.Series(["phone"]), pd.Series([raw])).iloc[0] == ""


def test_garbage_phones_never_link_unrelated_sellers() -> None:
    sellers = pd.DataFrame({"seller_id": [f"G{i}" for i in range(len(GARBAGE) + 2)]})
    rows = [(f"G{i}", "phone", raw) for i, raw in enumerate(GARBAGE)]
    # the same garbage on two more accounts: still no link
    rows += [(f"G{len(GARBAGE)}", "phone", "保密"), (f"G{len(GARBAGE) + 1}", "phone", "ext. 1")]
    ids = pd.DataFrame(rows, columns=["seller_id", "kind", "value"])
    nets = link_sellers(sellers, ids)
    assert _groups(nets) == set()


def test_a_us_number_and_a_chinese_mobile_with_the_same_digits_do_not_link() -> None:
    sellers = pd.DataFrame({"seller_id": ["US", "CN"]})
    ids = pd.DataFrame(
        [("US", "phone", "+1 415 555 0100"), ("CN", "phone", "+86 141 5555 0100")],
        columns=["seller_id", "kind", "value"],
    )
    assert _groups(link_sellers(sellers, ids)) == set()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Li.Wei+shop2@GMail.com", "liwei@gmail.com"),  # Gmail ignores dots and plus-tags
        ("li.wei@googlemail.com", "liwei@gmail.com"),
        ("li.wei+x@outlook.com", "li.wei@outlook.com"),  # Outlook ignores only plus-tags
        ("Li.Wei+x@163.com", "li.wei+x@163.com"),  # unknown provider: case only
    ],
)
def test_email_provider_rules(raw: str, expected: str) -> None:
    assert normalise(pd.Series(["email"]), pd.Series([raw])).iloc[0] == expected


def test_email_rules_are_configurable() -> None:
    rules = {"163.com": ("plus",)}
    value = normalise(pd.Series(["email"]), pd.Series(["a+b@163.com"]), email_rules=rules)
    assert value.iloc[0] == "a@163.com"


@pytest.mark.parametrize("placeholder", ["", " ", "null", "N/A", "none", "000000", "0", "-", "无"])
def test_placeholders_are_missing_not_shared(placeholder: str) -> None:
    # two unrelated accounts that both "have" a placeholder phone are not linked
    sellers = pd.DataFrame({"seller_id": ["A", "B"]})
    ids = pd.DataFrame({"seller_id": ["A", "B"], "kind": "phone", "value": placeholder})
    nets = link_sellers(sellers, ids)
    assert _groups(nets) == set()
    assert nets.parameters["n_placeholders"] == 2


def test_unknown_kinds_are_kept_and_matched_exactly() -> None:
    # a "wechat" id is not a known kind: "wx_Li" and "wx_li" differ, "wx_Li" twice links
    sellers = pd.DataFrame({"seller_id": ["A", "B", "C"]})
    ids = pd.DataFrame(
        {"seller_id": ["A", "B", "C"], "kind": "wechat", "value": ["wx_Li", "wx_Li ", "wx_li"]}
    )
    nets = link_sellers(sellers, ids)
    assert _groups(nets) == {frozenset({"A", "B"})}
    assert nets.summary.iloc[0]["kinds"] == ["wechat"]


def test_infrastructure_threshold_is_chosen_from_the_data() -> None:
    # 50 rings of 3 accounts sharing a phone (share count 3), and one hotline on 120 accounts:
    # the fence of the share counts lies far below 120, so the hotline is infrastructure
    rows = [(f"R{r}-{i}", "phone", f"1390000{r:04d}") for r in range(50) for i in range(3)]
    rows += [(f"H{i}", "phone", "400-100-2000") for i in range(120)]
    ids = pd.DataFrame(rows, columns=["seller_id", "kind", "value"])
    nets = link_sellers(pd.DataFrame({"seller_id": ids["seller_id"].unique()}), ids)
    assert len(_groups(nets)) == 50
    assert nets.infrastructure["n_accounts"].tolist() == [120]
    assert 3 < nets.parameters["max_accounts"] < 120


def test_networks_carry_their_strength(toy_sellers, toy_identifiers) -> None:
    nets = link_sellers(toy_sellers, toy_identifiers, max_accounts=5, include_weak=True)
    strength = nets.summary.set_index("network_id")["strength"]
    # N0001 is bound by a bank card (strong), N0002 by an e-mail (medium), S6-S7 by an
    # address (weak)
    assert sorted(strength) == ["medium", "strong", "weak"]


def test_summary_describes_volumes_brands_evidence_and_area(toy_sellers, toy_identifiers):
    ships = pd.DataFrame(
        {
            "seller_id": ["S1", "S2", "S3", "S4"],
            "lat": [25.4394, 25.4395, 25.4396, 29.3],
            "lon": [119.0103, 119.0104, 119.0105, 120.07],
            "shipped_at": pd.to_datetime(["2026-01-05", "2026-03-01", "2026-02-01", "2026-04-01"]),
            "brand": ["Nike", "Nike", "Adidas", "Chanel"],
        }
    )
    evidence = pd.DataFrame({"seller_id": ["S2", "S3"], "verdict": ["counterfeit", "genuine"]})
    nets = link_sellers(
        toy_sellers, toy_identifiers, max_accounts=5, shipments=ships, evidence=evidence
    )
    n1 = nets.summary.set_index("network_id").loc["N0001"]
    assert n1["n_shipments"] == 3 and n1["brands"] == ["Nike", "Adidas"]
    assert (n1["n_counterfeit"], n1["n_genuine"]) == (1, 1)
    assert str(n1["first_seen"].date()) == "2026-01-05"
    assert str(n1["last_seen"].date()) == "2026-03-01"
    assert n1["area"] == "Putian, Fujian"
