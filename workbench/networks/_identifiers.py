"""Normalising identifiers before they are matched: phones, e-mails, numbers, addresses.

Vectorised over the frame; phonenumbers is only consulted for the distinct phone values
that the fast path (Chinese mobiles in their usual spellings) does not settle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
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


def _arrow(series: pd.Series) -> Any:
    """A string column as one pyarrow array (zero-copy when pandas already holds Arrow)."""
    import pyarrow as pa

    try:
        array = pa.array(series.array)
    except (TypeError, pa.ArrowInvalid):
        array = pa.array(series.astype(str).to_numpy(dtype=object), type=pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.string())


def _placeholder_mask(raw: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    folded = pc.utf8_lower(pc.utf8_trim_whitespace(raw))
    listed = pc.is_in(folded, value_set=pa.array(sorted(PLACEHOLDERS)))
    # all zeros, dashes, dots or blanks: no character outside that set
    filler = pc.invert(pc.match_substring_regex(raw, r"[^\s0\-_.]"))
    mask: np.ndarray = pc.or_(listed, filler).to_numpy(zero_copy_only=False)
    return mask


def _phones(raw: Any, region: str) -> np.ndarray:
    """E.164 phones; Chinese mobiles in the usual spellings settled in pyarrow (RE2, in C)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.replace_substring_regex(raw, pattern=r"\D+", replacement="")
    international = pc.match_substring_regex(pc.utf8_trim_whitespace(raw), r"^(\+|00)")
    digits = pc.if_else(
        pc.and_(international, pc.starts_with(digits, "00")),
        pc.utf8_slice_codeunits(digits, 2),
        digits,
    )
    # written internationally, a Chinese mobile follows the country code 86; written
    # nationally, it is exactly 11 digits. "+1 415 555 0100" is American, not Chinese.
    mobile = pc.if_else(
        international,
        pc.match_substring_regex(digits, r"^861[3-9]\d{9}$"),
        pc.match_substring_regex(digits, r"^1[3-9]\d{9}$"),
    )
    e164 = pc.binary_join_element_wise("+86", pc.utf8_slice_codeunits(digits, -11), "")
    out: np.ndarray = (
        pc.if_else(mobile, e164, pa.nulls(len(raw), pa.string()))
        .to_numpy(zero_copy_only=False)
        .astype(object)
    )
    rest = ~mobile.to_numpy(zero_copy_only=False)
    if rest.any():  # landlines, hotlines, other countries: phonenumbers, once per value
        others = pc.filter(raw, pa.array(rest)).to_numpy(zero_copy_only=False)
        lookup = _phone_lookup(list(dict.fromkeys(others)), region)
        out[rest] = [lookup[v] for v in others]
    return out


def _phone_lookup(values: list[str], region: str) -> dict[str, str]:
    """E.164 for the values the fast path left (landlines, hotlines, other countries).

    A value that is not a valid number ("保密", "ext. 1", a short code) becomes "", like a
    placeholder: it is kept as written but never links accounts.
    """
    import phonenumbers

    result = {}
    for value in values:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            result[value] = ""
            continue
        valid = phonenumbers.is_valid_number(number)
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        result[value] = formatted if valid else ""
    return result


def _emails_arrow(part: Any, rules: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    """Case-folded e-mails (in pyarrow); provider rules on the rows they concern."""
    import pyarrow.compute as pc

    folded = pc.utf8_lower(pc.utf8_trim_whitespace(part))
    out: np.ndarray = folded.to_numpy(zero_copy_only=False).astype(object)
    ruled = np.zeros(len(out), dtype=bool)
    for domain in rules:
        ruled |= pc.ends_with(folded, "@" + domain).to_numpy(zero_copy_only=False)
    if ruled.any():
        out[ruled] = _apply_email_rules(pd.Series(out[ruled], dtype=object), rules).to_numpy()
    return out


def _apply_email_rules(folded: pd.Series, rules: Mapping[str, tuple[str, ...]]) -> pd.Series:
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
    """Normalised identifier values by kind; "" where the value is missing, a placeholder or
    not a valid phone number (such values never link accounts).

    Phones to E.164 (national numbers read in ``region``), e-mails case-folded with the
    provider rules (``DEFAULT_EMAIL_RULES`` unless ``email_rules`` is given), card, document,
    device and payment numbers stripped of spaces and dashes and upper-cased, addresses with
    white space removed and case-folded; unknown kinds only stripped, so they match exactly.
    Runs on Arrow arrays kind by kind (C code), scattering into one result.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, names = pd.factorize(kind.astype(str).reset_index(drop=True))
    raw = _arrow(value.reset_index(drop=True))
    out = pc.utf8_trim_whitespace(raw).to_numpy(zero_copy_only=False).astype(object)
    rules = DEFAULT_EMAIL_RULES if email_rules is None else email_rules
    for code, name in enumerate(names):
        if name not in {"phone", "email", "address", *_DIGIT_KINDS}:
            continue  # unknown kinds: stripped only, matched exactly
        rows = np.flatnonzero(codes == code)
        part = pc.take(raw, pa.array(rows))
        if name == "phone":
            done = _phones(part, region)
        elif name == "email":
            done = _emails_arrow(part, rules)
        elif name == "address":
            done = pc.utf8_lower(pc.replace_substring_regex(part, r"\s+", "")).to_numpy(
                zero_copy_only=False
            )
        else:
            done = pc.utf8_upper(pc.replace_substring_regex(part, r"[\s\-_.]+", "")).to_numpy(
                zero_copy_only=False
            )
        out[rows] = done
    out[_placeholder_mask(raw)] = ""
    return pd.Series(out, index=value.index, dtype="str")


def strength_of(kinds: pd.Series) -> pd.Series:
    """weak / medium / strong for each identifier kind."""
    return kinds.map(STRENGTH).fillna(UNKNOWN_KIND_STRENGTH)
