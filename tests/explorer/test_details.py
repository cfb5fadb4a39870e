"""The site panel's score parts: bars for the figures, text for how the site was found."""

from __future__ import annotations

from workbench.explorer._details import score_parts_html


def test_found_by_and_split_are_notes_not_bars() -> None:
    html = score_parts_html(
        {"evidence": 0.5, "contrast": 0.25, "found_by": "evidence", "split_with": ["S004"]}
    )
    assert html.count('class="workbench-part"') == 2  # the two figures only
    assert "Found by the evidence pass" in html
    assert "Split from one dense cluster shared with S004" in html


def test_notes_are_escaped() -> None:
    html = score_parts_html({"found_by": "<img src=x>", "split_with": ["<b>S1</b>"]})
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x&gt;" in html and "&lt;b&gt;S1&lt;/b&gt;" in html
