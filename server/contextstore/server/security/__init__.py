"""Transport security, identities and the checks every call passes."""
