"""Run every benchmark under bench/ once, in order, printing each one's report.

    .venv/bin/python bench/run_all.py      (what `make bench` runs)

Each script is also runnable alone; see its docstring for options and goals.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = [
    ["core_inprocess.py"],
    ["core_http.py"],
    ["audit_merkle.py", "--events", "1000000"],
    ["audit_integrate.py"],
    ["policy_decision.py"],
    ["numbers_bind.py"],
    ["numbers_route_http.py"],
    ["watch_overhead.py"],
    ["redact_eval.py", "--notes", "2000"],
]


def main() -> None:
    here = Path(__file__).parent
    for script, *args in SCRIPTS:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(here / script), *args], check=False)


if __name__ == "__main__":
    main()
