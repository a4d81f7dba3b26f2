"""moto's KMS (the nearest Python peer): the WSGI application ``moto_server`` runs, served by
uvicorn like the others.

moto keeps keys in process memory, so with several workers each one would hold different keys:
every worker creates its own key at start under the same alias, which the load addresses.
"""

from __future__ import annotations

import json

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

ALIAS = "alias/openkms-bench"
app = DomainDispatcherApplication(create_backend_app)

_client = create_backend_app("kms").test_client()  # the same in-memory backends
_headers = {"Content-Type": "application/x-amz-json-1.1"}
_key = _client.post("/", headers={**_headers, "X-Amz-Target": "TrentService.CreateKey"}, data="{}")
_key_id = json.loads(_key.data)["KeyMetadata"]["KeyId"]
_client.post(
    "/",
    headers={**_headers, "X-Amz-Target": "TrentService.CreateAlias"},
    data=json.dumps({"AliasName": ALIAS, "TargetKeyId": _key_id}),
)
