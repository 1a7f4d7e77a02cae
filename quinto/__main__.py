"""`python -m quinto ...` is the `quinto` command."""

from quinto.cli import main

main(prog_name="quinto")
