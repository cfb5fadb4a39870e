"""Normalising identifiers before they are matched: phones, e-mails, numbers, addresses.

Vectorised over the frame; phonenumbers is only consulted for the distinct phone values
that the fast path (Chinese mobiles in their usual spellings) does not settle.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

STRENGTH = {
    "id_document": "strong",
    "bank_card": "strong",
    "payment_account": "strong",
    "device": "medium",
    "phone": "medium",
    "email": "medium",
    "address": "weak",
}
UNKNOWN_KIND_STRENGTH = "medium"  # unknown kinds are kept and matched exactly
STRENGTH_ORDER = {"weak": 1, "medium": 2, "strong": 3}

# providers that ignore dots and/or plus-tags in the local part; "alias" maps a domain
DEFAULT_EMAIL_RULES: dict[str, tuple[str, ...]] = {
    "gmail.com": ("dots", "plus"),
    "googlemail.com": ("dots", "plus", "alias:gmail.com"),
    "outlook.com": ("plus",),
    "hotmail.com": ("plus",),
    "live.com": ("plus",),
}
PLACEHOLDERS = frozenset(
    {
        "null",
        "none",
        "nan",
        "n/a",
        "na",
        "nil",
        "unknown",
        "-",
        "--",
        "?",
        "无",
        "空",
        "暂无",
        "未知",
    }
)
_DIGIT_KINDS = ("bank_card", "id_document", "device", "payment_account")


def is_placeholder(text: pd.Series) -> pd.Series:
    """True where a value only stands for "missing": empty, "null", "N/A", "000000", ..."""
    folded = text.str.strip().str.casefold()
    return folded.isin(PLACEHOLDERS) | folded.str.fullmatch(r"[\s0\-_.]*").fillna(True)


def _phones(text: pd.Series, region: str) -> pd.Series:
    digits = text.str.replace(r"\D+", "", regex=True)
    international = text.str.strip().str.match(r"^(\+|00)").fillna(False).astype(bool)
    digits = digits.where(~(international & digits.str.startswith("00")), digits.str[2:])
    mobile = digits.str.fullmatch(r"(86)?1[3-9]\d{9}").fillna(False).astype(bool)
    mobile &= international | (digits.str.len() == 11)
    out = pd.Series("+86" + digits.str[-11:], index=text.index).where(mobile)
    rest = ~mobile
    if rest.any():
        out[rest] = text[rest].map(_phone_lookup(text[rest].unique().tolist(), region))
    return out


def _phone_lookup(values: list[str], region: str) -> dict[str, str]:
    """E.164 for the values the fast path left (landlines, hotlines, other countries)."""
    import phonenumbers

    result = {}
    for value in values:
        try:
            number = phonenumbers.parse(value, region)
            formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            formatted = "+" + "".join(ch for ch in value if ch.isdigit())
        result[value] = formatted
    return result


def _emails(text: pd.Series, rules: Mapping[str, tuple[str, ...]]) -> pd.Series:
    folded = text.str.strip().str.casefold()
    parts = folded.str.rsplit("@", n=1, expand=True)
    if parts.shape[1] < 2:
        return folded
    local, domain = parts[0], parts[1]
    for provider, actions in rules.items():
        hit = domain == provider
        if not hit.any():
            continue
        if "plus" in actions:
            local = local.where(~hit, local.str.replace(r"\+.*$", "", regex=True))
        if "dots" in actions:
            local = local.where(~hit, local.str.replace(".", "", regex=False))
        for action in actions:
            if action.startswith("alias:"):
                domain = domain.where(~hit, action.removeprefix("alias:"))
    joined = local + "@" + domain
    return joined.where(domain.notna(), folded)


def normalise(
    kind: pd.Series,
    value: pd.Series,
    *,
    region: str = "CN",
    email_rules: Mapping[str, tuple[str, ...]] | None = None,
) -> pd.Series:
    """Normalised identifier values by kind; "" where the value is missing or a placeholder.

    Phones to E.164 (national numbers read in ``region``), e-mails case-folded with the
    provider rules (``DEFAULT_EMAIL_RULES`` unless ``email_rules`` is given), card, document,
    device and payment numbers stripped of spaces and dashes and upper-cased, addresses with
    white space removed and case-folded; unknown kinds only stripped, so they match exactly.
    """
    kind = kind.astype(str).reset_index(drop=True)
    text = value.astype(str).reset_index(drop=True)
    out = text.str.strip()
    phone = kind == "phone"
    if phone.any():
        out[phone] = _phones(text[phone], region)
    email = kind == "email"
    if email.any():
        rules = DEFAULT_EMAIL_RULES if email_rules is None else email_rules
        out[email] = _emails(text[email], rules)
    digits = kind.isin(_DIGIT_KINDS)
    out[digits] = text[digits].str.replace(r"[\s\-_.]+", "", regex=True).str.upper()
    address = kind == "address"
    out[address] = text[address].str.replace(r"\s+", "", regex=True).str.casefold()
    out[is_placeholder(text).to_numpy()] = ""
    return out.set_axis(value.index)


def strength_of(kinds: pd.Series) -> pd.Series:
    """weak / medium / strong for each identifier kind."""
    return kinds.map(STRENGTH).fillna(UNKNOWN_KIND_STRENGTH)
