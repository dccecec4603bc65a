"""``contextstore serve``: parse the configuration, log, serve."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from contextstore.server import config as config_module
from contextstore.server.app import ServicerFactory, serve
from contextstore.server.service import ContextStoreServicer


def main(argv: Sequence[str], *, servicer: ServicerFactory = ContextStoreServicer) -> int:
    """Serve until a signal; returns the exit status. ``servicer`` replaces
    ours (the benchmark suite's no-op baseline), all else staying the same."""
    try:
        config = config_module.parse(argv, os.environ)
    except ValueError as error:
        print(f"contextstore serve: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        return serve(config, servicer=servicer)
    except OSError as error:
        logging.getLogger("contextstore.server").error("event=failed error=%r", str(error))
        return 1
