"""`python -m seshat_trio` is the `seshat-trio` console script."""

from seshat_trio.cli import main

raise SystemExit(main())
