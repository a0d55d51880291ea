"""``python -m veil.cli``: the ``veil`` command line (how `veil serve` starts its integrator)."""

from veil.cli import main

main()
