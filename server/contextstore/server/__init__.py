"""The contextstore server: configuration, storage backends and the gRPC service.

Installed with the ``[server]`` extra, whose libraries it checks for first, so
that a missing one is named with the way to install it.
"""

__version__ = "0.2.0"

try:
    import grpc_health.v1.health  # noqa: F401
    import grpc_reflection.v1alpha.reflection  # noqa: F401
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        f"the contextstore server needs the [server] extra ({error.name} is missing): "
        "pip install 'contextstore-grpc[server]'",
        name=error.name,
    ) from error
