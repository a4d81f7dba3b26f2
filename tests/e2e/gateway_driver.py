"""Runs inside the virtual environment of alibabacloud-kms-python-sdk (which brings
alibabacloud-dkms-gcs): calls Alibaba's own clients against openkms's instance gateway and prints
what they answered, as JSON. Not a test module: tests/e2e/test_gateway.py runs it with a script of
calls on standard input.

Input: {"endpoint", "key_file" (clientKey_*.json text), "password", "calls": [[client, method,
{argument: value}]]} with bytes as {"b64": "..."}; client is "dkms" (the dkms-gcs Client), "transfer"
(TransferClient in instance mode), "kc" (kms-python-sdk's Client: its crypto methods go to the
instance). Output: one result per call: {"ok": {...}} or {"error": {"code", "message", "status"}}.
"""

import base64
import json
import sys

from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms_kms20160120.client import Client as KcClient
from alibabacloud_kms_kms20160120.models import KmsConfig
from alibabacloud_kms_kms20160120.transfer_client import TransferClient
from alibabacloud_tea_openapi.models import Config as OpenApiConfig
from alibabacloud_tea_util.models import RuntimeOptions as TeaRuntime
from openapi.models import Config
from openapi_util.models import RuntimeOptions
from sdk import models
from sdk.client import Client


def decoded(value):
    if isinstance(value, dict):
        if set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        return {k: decoded(v) for k, v in value.items()}
    return value


def encoded(value):
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: encoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encoded(v) for v in value]
    return value


def dkms_call(client, method, args):
    request_class = getattr(models, "".join(p.capitalize() for p in method.split("_")) + "Request")
    runtime = RuntimeOptions(response_headers=["x-kms-migrationkeyversionid"])
    response = getattr(client, method + "_with_options")(request_class(**decoded(args)), runtime)
    return response.to_map()


def kms_call(client, method, args):
    request_class = getattr(kms_models, "".join(p.capitalize() for p in method.split("_")) + "Request")
    response = getattr(client, method + "_with_options")(request_class(**decoded(args)), TeaRuntime())
    return {"body": response.body.to_map(), "headers": dict(response.headers or {})}


def main():
    job = json.load(sys.stdin)
    config = Config(
        protocol="http", endpoint=job["endpoint"], client_key_content=job["key_file"], password=job["password"]
    )
    kms_config = KmsConfig(
        protocol="http", endpoint=job["endpoint"], client_key_content=job["key_file"], password=job["password"]
    )
    shared = OpenApiConfig(
        access_key_id="unused",
        access_key_secret="unused",
        endpoint=job["endpoint"],
        protocol="http",
        region_id="cn-hangzhou",
    )
    clients = {
        "dkms": lambda: Client(config),
        "transfer": lambda: TransferClient(kms_config=kms_config),
        "kc": lambda: KcClient(config, shared),
    }
    made = {}
    results = []
    for kind, method, args in job["calls"]:
        client = made.get(kind) or made.setdefault(kind, clients[kind]())
        try:
            out = kms_call(client, method, args) if kind == "transfer" else dkms_call(client, method, args)
            results.append({"ok": encoded(out)})
        except Exception as exc:
            data = getattr(exc, "data", None) or {}
            results.append(
                {
                    "error": {
                        "code": getattr(exc, "code", type(exc).__name__),
                        "message": getattr(exc, "message", str(exc)),
                        "status": data.get("httpCode") if isinstance(data, dict) else None,
                    }
                }
            )
    json.dump(results, sys.stdout)


main()
