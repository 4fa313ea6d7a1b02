"""`python -m ceremony`."""

from ceremony.cli import main

main()
