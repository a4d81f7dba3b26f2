"""What the rows of HSM keys reference outside the database: token objects, for reconciling a
token with the database. (A module of its own: ``sql.py`` is at the size limit.)"""

from __future__ import annotations

from sqlalchemy import select, union_all

from openkms.domain.specs import ProtectionLevel
from openkms.storage import schema as t

_HSM = t.keys.c.protection_level == ProtectionLevel.HSM.value

# The versions' material and the import tokens' wrapping keys of every HSM key (joins on the
# foreign keys to ``keys``). Software keys' sealed material is never read.
HSM_REFERENCES = union_all(
    select(t.key_versions.c.material_ref).join_from(t.key_versions, t.keys).where(_HSM),
    select(t.import_tokens.c.sealed_private_key).join_from(t.import_tokens, t.keys).where(_HSM),
)
