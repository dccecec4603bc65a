"""``contextstore bench``: a load generator for contextstore servers.

Python API: ``contextstore.bench.runner`` (``BenchConfig``, ``Workload``, ``run``
returning a ``BenchReport``); command line: ``contextstore bench --help``.
Installed with the ``[bench]`` extra, whose libraries it checks for first.
"""

try:
    import hdrh.histogram  # noqa: F401
    import rich.console  # noqa: F401
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        f"contextstore bench needs the [bench] extra ({error.name} is missing): "
        "pip install 'contextstore-grpc[bench]'",
        name=error.name,
    ) from error
