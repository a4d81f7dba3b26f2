"""The tamper-evident audit trail: an adapter behind the ``AuditSink`` port.

``trail.py`` (the port: modes, group commit, the checkpoint timer), ``writer.py`` (one chain:
segments, lines, checkpoints, rotation), ``files.py`` (the layout and the line format),
``checkpoints.py`` (the signed checkpoint document), ``merkle.py`` (RFC 6962 hashing),
``keys.py`` (the signing and hashing keys, sealed in the store), ``retention.py``, ``verify.py``.
"""
