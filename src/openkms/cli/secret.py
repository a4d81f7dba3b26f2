"""``openkms secret``: read and write Secrets Manager values of a running server, for scripts.

DB_PASSWORD=$(openkms secret get orders-db)          # only the value on stdout
openkms secret put orders-db --value-file new.txt    # a new version, made ACSCurrent
openkms secret list --json

The endpoint, the AccessKey pair and the region come from flags or from the environment the
Alibaba Cloud SDKs read (ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, ALIBABA_CLOUD_REGION_ID), the
endpoint from OPENKMS_ENDPOINT; the secret is never a flag, so it stays out of the process list.
A refusal is one line on stderr with the server's Alibaba code, status 1.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from openkms.cli import output
from openkms.cli.remote import RemoteClient, RemoteError

_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 (a variable's name)
_PAGE = 100


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_secret = sub.add_parser("secret", help="get, put and list secrets' values on a running server")
    ssub = p_secret.add_subparsers(dest="secret_command", required=True)

    p_get = ssub.add_parser("get", help="print a secret's value (only the value: for $(...))")
    p_get.add_argument("name")
    p_get.add_argument("--version-stage", help="the stage to read (default ACSCurrent)")
    p_get.add_argument("--version-id", help="the version to read")
    p_get.add_argument("--json", action="store_true", help="print GetSecretValue's whole answer as JSON")
    _remote_args(p_get)
    p_get.set_defaults(func=get)

    p_put = ssub.add_parser("put", help="store a new value as the secret's ACSCurrent version")
    p_put.add_argument("name")
    value = p_put.add_mutually_exclusive_group(required=True)
    value.add_argument("--value", help="the value (visible in the process list: prefer --value-file)")
    value.add_argument("--value-file", type=Path, help="a file holding the value, or - for stdin")
    p_put.add_argument("--binary", action="store_true", help="store the file's bytes as a binary secret")
    p_put.add_argument("--version-id", help="the new version's id (default: a random UUID)")
    _remote_args(p_put)
    p_put.set_defaults(func=put)

    p_list = ssub.add_parser("list", help="list the secrets (never their values)")
    p_list.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    _remote_args(p_list)
    p_list.set_defaults(func=list_secrets)


def _remote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", help="server host:port or URL (or OPENKMS_ENDPOINT; default 127.0.0.1:8080)")
    p.add_argument("--region", help="RegionId (or ALIBABA_CLOUD_REGION_ID; default: the server's)")
    p.add_argument("--access-key-id", help=f"or {_KEY_ID}")
    p.add_argument("--ca-file", type=Path, help="CA certificate for an https endpoint (e.g. DATA_DIR/tls/ca.pem)")


def client(args: argparse.Namespace) -> RemoteClient:
    """The pair from the flag and the environment; its secret only from the environment."""
    key_id = args.access_key_id or os.environ.get(_KEY_ID) or os.environ.get("OPENKMS_ACCESS_KEY_ID")
    secret = os.environ.get(_KEY_SECRET) or os.environ.get("OPENKMS_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        raise RemoteError(0, "MissingCredentials", f"set {_KEY_ID} and {_KEY_SECRET}")
    endpoint = args.endpoint or os.environ.get("OPENKMS_ENDPOINT") or "127.0.0.1:8080"
    region = args.region or os.environ.get("ALIBABA_CLOUD_REGION_ID")
    return RemoteClient(endpoint, key_id, secret, region, args.ca_file)


def _refused(exc: RemoteError | OSError | ValueError) -> int:
    line = f"{exc.code}: {exc.message}" if isinstance(exc, RemoteError) else str(exc)
    sys.stderr.write("openkms: " + line.replace("\n", " ") + "\n")
    return 1


def get(args: argparse.Namespace) -> int:
    params = {"SecretName": args.name}
    if args.version_stage:
        params["VersionStage"] = args.version_stage
    if args.version_id:
        params["VersionId"] = args.version_id
    try:
        found = client(args).call("GetSecretValue", **params)
    except (RemoteError, OSError, ValueError) as exc:
        return _refused(exc)
    if args.json:
        output.write_json({k: v for k, v in found.items() if k != "RequestId"})
        return 0
    # Exactly the value: a newline only for a person at a terminal, so `> file` and $(...) get the
    # bytes that were stored. A binary value is printed as its base64 text, as the API returns it.
    sys.stdout.write(str(found["SecretData"]))
    if sys.stdout.isatty():
        sys.stdout.write("\n")
    return 0


def _data(args: argparse.Namespace) -> tuple[str, str]:
    if args.value is not None:
        return args.value, "text"
    raw = sys.stdin.buffer.read() if str(args.value_file) == "-" else args.value_file.read_bytes()
    if args.binary:
        return base64.b64encode(raw).decode(), "binary"
    return raw.decode(), "text"


def put(args: argparse.Namespace) -> int:
    try:
        data, data_type = _data(args)
        answer = client(args).call(
            "PutSecretValue",
            SecretName=args.name,
            VersionId=args.version_id or str(uuid.uuid4()),
            SecretData=data,
            SecretDataType=data_type,
        )
    except (RemoteError, OSError, ValueError) as exc:
        return _refused(exc)
    stages = ",".join(answer["VersionStages"]["VersionStage"])
    sys.stdout.write(f"{answer['SecretName']}: version {answer['VersionId']} ({stages})\n")
    return 0


def _all_secrets(remote: RemoteClient) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        found = remote.call("ListSecrets", PageNumber=str(page), PageSize=str(_PAGE))
        rows.extend(found["SecretList"]["Secret"])
        if len(rows) >= int(found["TotalCount"]) or not found["SecretList"]["Secret"]:
            return rows
        page += 1


def list_secrets(args: argparse.Namespace) -> int:
    try:
        rows = _all_secrets(client(args))
    except (RemoteError, OSError, ValueError) as exc:
        return _refused(exc)
    output.show(rows, ("SecretName", "SecretType", "CreateTime", "PlannedDeleteTime"), args.json)
    return 0
