"""Local processes for development, tests and benchmarks: Redis nodes, `make cluster`.

Not part of the distribution (pyproject's packages do not list it); importable as
``devtools`` from the repository root, where pytest and ``make`` run.
"""
