"""``python -m contextstore.cli``: the ``contextstore`` command."""

import sys

from contextstore.cli.main import main

sys.exit(main())
