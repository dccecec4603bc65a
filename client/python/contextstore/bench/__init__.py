"""``contextstore bench``: a load generator for contextstore servers, and the
benchmark suite (``python -m contextstore.bench.suite``, run by ``make bench``).

Python API: ``contextstore.bench.runner`` (``BenchConfig``, ``Workload``, ``run``
returning a ``BenchReport``); command line: ``contextstore bench --help``."""
