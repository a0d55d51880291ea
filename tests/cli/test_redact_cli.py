"""``veil redact FILE`` redacts line by line, offline, and reports counts, never values."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from veil.cli import app


def test_redact_file_to_output(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "到了打我电话138 1234 5678，3号楼2单元1203\n不要辣，多放醋\n", encoding="utf-8"
    )
    out = tmp_path / "out.txt"
    result = CliRunner().invoke(app, ["redact", str(notes), "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == ["到了打我电话[电话]，[地址]", "不要辣，多放醋"]
    assert "1234" not in result.output
    assert "phone: 1" in result.output


def test_redact_rejects_non_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    result = CliRunner().invoke(app, ["redact", str(bad)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.output
