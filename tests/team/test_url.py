"""Team-case URLs: the database and the case; bad ones say what is wrong."""

from __future__ import annotations

import pytest

from workbench.errors import InputError
from workbench.team import parse_url


def test_the_case_is_taken_out_of_the_database_url() -> None:
    url = parse_url("postgresql://li:secret@localhost:5433/team?sslmode=disable&case=putian-26")
    assert url.case == "putian-26"
    assert url.conninfo == "postgresql://li:secret@localhost:5433/team?sslmode=disable"
    assert str(url) == "postgresql://li@localhost:5433/team?case=putian-26"  # no password


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://li@localhost/team?case=x", "not a PostgreSQL URL"),
        ("putian.gpkg", "not a PostgreSQL URL"),
        ("postgresql://li@localhost/team", r"names no case; add \?case=NAME"),
        ("postgresql://li@localhost/team?case=../etc", "case='../etc' in the URL"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_url(url)


def test_a_password_never_shows_in_the_message() -> None:
    with pytest.raises(InputError) as caught:
        parse_url("mysql://li:hunter2@localhost/team")
    assert "hunter2" not in str(caught.value)
