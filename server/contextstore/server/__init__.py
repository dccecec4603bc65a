"""The contextstore server: configuration, storage backends and the gRPC service."""

__version__ = "0.1.0"
