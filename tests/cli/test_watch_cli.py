"""``veil alerts``, the watch's ``veil principals`` commands, ``veil sim run``, the demo scraper."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import Result

from tests.cli.conftest import Veil


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_scraper_is_caught_and_handled_from_the_command_line(
    veil: Veil, home: Path
) -> None:
    _ok(veil("init"))
    seeded = _ok(veil("demo", "seed", "--keys-file", str(home / "keys.json")))
    assert re.search(r"the watch suspended it after 10 requests", seeded)
    document = json.loads((home / "keys.json").read_text(encoding="utf-8"))
    scraper_id = document["keys"]["rider-scraper"][0]

    listed = _ok(veil("alerts", "list"))
    assert re.search(rf"enumeration .*high .*open .*{scraper_id} \(rider-scraper\)", listed)
    [line] = _ok(veil("alerts", "list", "--json")).splitlines()
    alert = json.loads(line)
    assert alert["kind"] == "enumeration"
    assert alert["response"] == "suspend"
    shown = _ok(veil("alerts", "show", alert["alert_id"]))
    assert "10 distinct orders answered 404/403" in shown
    assert '"distinct_refused": 10' in shown
    assert _ok(veil("alerts", "list", "--status", "closed")).strip().endswith("no alerts")

    assert re.search(
        rf"{scraper_id}\s.*rider-scraper\s.*suspended", _ok(veil("principals", "list"))
    )
    controls = _ok(veil("principals", "controls", scraper_id))
    assert re.search(rf"suspend .*{alert['alert_id']}", controls)
    reinstated = _ok(veil("principals", "reinstate", scraper_id, "--reason", "demo over"))
    assert f"reinstated {scraper_id} (suspend lifted); status active" in reinstated
    assert re.search(rf"{scraper_id}\s.*rider-scraper\s.*active", _ok(veil("principals", "list")))
    again = veil("principals", "reinstate", scraper_id, "--reason", "demo over")
    assert again.exit_code == 2
    assert "neither suspended" in again.output


def test_alerts_show_of_an_unknown_alert_fails_cleanly(veil: Veil) -> None:
    _ok(veil("init"))
    result = veil("alerts", "show", "alr_nothing")
    assert result.exit_code == 2
    assert "no such alert" in result.output


def test_sim_run_reports_who_was_caught(veil: Veil) -> None:
    output = _ok(
        veil(
            "sim",
            "run",
            "--scenario",
            "stolen-key-random",
            "--principals",
            "60",
            "--hours",
            "16",
            "--seed",
            "3",
        )
    )
    assert re.search(r"stolen-key-random\s+10 requests\s+enumeration\s+10 requests\s+0", output)
    assert "[met] stolen-key-random: alerted within 100 requests and suspended" in output
    assert re.search(r"false alerts: 0 on \d+ honest principals", output)


def test_sim_run_refuses_an_unknown_scenario(veil: Veil) -> None:
    result = veil("sim", "run", "--scenario", "stolen-car")
    assert result.exit_code == 2
    assert "unknown scenario stolen-car" in result.output
