"""Who may talk to the server: transport security (tls), identities and their rights (auth)."""
