"""`python -m worker` is the same as the `mentoring` command."""

from worker.cli.main import main

raise SystemExit(main())
