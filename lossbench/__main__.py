"""``python -m lossbench`` is the same as the ``lossbench`` command."""

from lossbench.cli import main

raise SystemExit(main())
