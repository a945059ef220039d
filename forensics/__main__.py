"""``python -m forensics`` is the ``forensics`` command."""

from forensics.cli import main

main()
