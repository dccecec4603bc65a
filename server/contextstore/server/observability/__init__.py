"""What an operator sees of a running server: Prometheus metrics, logs, the access log, traces.

Every part is off unless configured, and costs nothing then: no interceptor,
no store decorator, no HTTP port. ``contextstore.server.wiring`` assembles them.
"""
