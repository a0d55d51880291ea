"""``veil numbers`` and ``veil principals create … --phone``, in-process against temporary files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import Result

from tests.cli.conftest import Veil
from veil.config import Settings
from veil.numbers import RouteRequest
from veil.vault import Caller, open_vault, order_bindings, route_telephony


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_import_status_and_a_rider_with_a_phone(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    pool = home / "pool.csv"
    pool.write_text("number,city\n+86 170 0000 0001,北京市\n17000000002,北京市\n", "utf-8")
    output = _ok(veil("numbers", "import", str(pool)))
    assert "added 2 number(s); 0 already in the pool" in output
    assert "北京市: +2" in output
    assert "added 0 number(s); 2 already" in _ok(veil("numbers", "import", str(pool)))
    created = _ok(veil("principals", "create", "rider", "rider-7", "--phone", "13900139007"))
    assert "phone registered" in created
    status = _ok(veil("numbers", "status"))
    assert re.search(r"北京市\s+│\s+2\s+│\s+0\s+│\s+0\s+│\s+400\s+│\s+0\.0%", status), status
    assert "leak signals today (UTC): 0" in status
    assert "provider: simulator" in status


def test_bad_input_is_one_clear_line(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    bad = home / "bad.csv"
    bad.write_text("17000000001\n", "utf-8")
    result = veil("numbers", "import", str(bad))
    assert result.exit_code == 2
    assert "line 1: a city" in result.output
    assert _ok(veil("numbers", "import", str(bad), "--city", "上海市"))
    wrong_role = veil("principals", "create", "agent", "agent-9", "--phone", "13900139009")
    assert wrong_role.exit_code == 2
    assert "--phone is for riders and merchants" in wrong_role.output
    bad_phone = veil("principals", "create", "rider", "rider-9", "--phone", "12")
    assert bad_phone.exit_code == 2
    assert "phone number" in bad_phone.output
    assert "rider-9" not in _ok(veil("principals", "list"))  # nothing was created


def test_the_demo_binds_numbers_and_a_call_connects(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    keys_file = home / "demo-keys.json"
    _ok(veil("demo", "seed", "--keys-file", str(keys_file)))
    exports = _ok(veil("demo", "env", "--keys-file", str(keys_file)))
    assert "export RIDER_1_PHONE=+8613900139001" in exports
    document = json.loads(keys_file.read_text("utf-8"))
    settings = Settings(
        database_url=f"sqlite:///{home / 'var' / 'veil.db'}", key_file=home / "var" / "veil.key"
    )
    vault = open_vault(settings)
    rider_id, _, _ = document["keys"]["rider-1"]
    view = vault.view_order(Caller(rider_id, "rider"), document["orders"]["picked_up"])
    x = view["contact"]["virtual_number"].replace(" ", "")
    service_id, _, _ = document["keys"]["platform-backend"]
    service = Caller(service_id, "service")
    answer = route_telephony(
        vault, service, RouteRequest(document["phones"]["rider-1"], x, "call", "demo-1")
    )
    assert answer["action"] == "connect"
    # rider-2's order was delivered an hour ago: its number no longer connects.
    closed = document["orders"]["delivered_window_closed"]
    [binding] = order_bindings(vault, service, closed)
    assert binding["status"] == "expired"
    late = route_telephony(
        vault,
        service,
        RouteRequest(
            document["phones"]["rider-2"],
            binding["virtual_number"].replace(" ", ""),
            "call",
            "demo-2",
        ),
    )
    assert late["action"] == "reject"
    status = _ok(veil("numbers", "status"))
    assert "leak signals today (UTC): 1" in status
    vault.engine.dispose()
