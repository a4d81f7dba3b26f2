"""The SQL stores' shared part: statements and their execution (``db.py``), row mapping
(``mapping.py``), scope locks (``scopes.py``), one module per repository (``keys.py``,
``versions.py``, ``aliases.py``, ``tags.py``, ``tokens.py``, ``identity.py``) and the unit of work
and Store over an engine (``store.py``). The engines are ``storage/sqlite.py`` and
``storage/postgres.py``; ``storage/factory.py`` picks one by the URL's scheme."""

from openkms.storage.sql.store import SqlStore, SqlUnitOfWork

__all__ = ["SqlStore", "SqlUnitOfWork"]
