"""``workbench run DATA --out OUT --case URL``: the one pipeline on a team case (ingest, link,
find sites, the first-look files) as the analyst, the same run a case file gets."""

from __future__ import annotations

import json
import shlex

from click.testing import CliRunner

from workbench.cli._main import cli
from workbench.opening import open_case


def test_run_on_a_team_case_stores_the_run_a_case_file_gets(
    store, demo_exports, tmp_path, monkeypatch
) -> None:
    from conftest import PASSWORD

    runner = CliRunner()
    here = runner.invoke(
        cli, ["--quiet", "run", str(demo_exports.folder), "--out", str(tmp_path / "file")]
    )
    assert here.exit_code == 0, here.output
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # the password never in the URL printed
    url = store.url("amira", "yiwu").replace(f":{PASSWORD}@", "@")
    done = runner.invoke(
        cli, ["--quiet", "run", str(demo_exports.folder), "--out", str(tmp_path / "team"),
              "--case", url],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output
    assert f"Case: {url}" in done.output
    quoted = shlex.quote(url)  # as a shell takes it
    assert f"workbench review {quoted} S001 --status confirmed" in done.output
    assert f"workbench tipsheet {quoted} --site S001" in done.output
    with open_case(url, create=False) as team:
        log = team.audit()["action"].tolist()
        assert log == ["create case", "ingest", "link sellers", "find sites"]
        assert team.verify_audit().ok
        run = team.latest_run()
    with open_case(tmp_path / "file" / "investigation.case", create=False) as local:
        assert local.latest_run() == run  # the same waybills and parameters: the same run
    # the same first-look files, but for where they point
    for name in ("sites.geojson", "networks.csv", "quarantine.csv"):
        mine = (tmp_path / "file" / name).read_text(encoding="utf-8")
        theirs = (tmp_path / "team" / name).read_text(encoding="utf-8")
        if name == "sites.geojson":
            mine, theirs = json.loads(mine), json.loads(theirs)
        assert theirs == mine, name
    assert (tmp_path / "team" / "map.html").stat().st_size > 10_000
