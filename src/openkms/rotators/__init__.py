"""Secret rotators that reach outside openkms (adapters of domain/secret_rotation.py's port)."""
