"""``openkms import``: bring your own key material without writing code.

openkms import run KEY_ID --material key.bin        # all three steps against a server
openkms import parameters KEY_ID --out DIR          # 1. wrapping public key + token into DIR
openkms import wrap --public-key DIR/public.der --material key.bin --algorithm ALG --out wrapped.bin
                                                    # 2. local, can run on an offline machine
openkms import upload KEY_ID --token DIR/token.txt --wrapped wrapped.bin   # 3.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

from openkms.cli.remote import RemoteClient, RemoteError, client_from
from openkms.crypto import pem
from openkms.crypto.algorithms import CIPHERS, KEY_TYPES
from openkms.domain.algorithms import Purpose, named, wrapping_spec
from openkms.domain.specs import SPECS

ALGORITHMS = named(Purpose.IMPORT)


def wrap(public_key_der: bytes, material: bytes, algorithm: str) -> bytes:
    """Encrypt key material under an import wrapping key, as GetParametersForImport asked."""
    spec = wrapping_spec(algorithm)
    key_type = KEY_TYPES[spec]
    key = key_type.load_public(public_key_der)
    if not key_type.of_kind(key):
        raise ValueError(f"the wrapping public key is not an {SPECS[spec].family} key")
    return CIPHERS[algorithm].encrypt(key, material)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p_import = sub.add_parser("import", help="import your own key material into an EXTERNAL key")
    isub = p_import.add_subparsers(dest="import_command", required=True)

    def remote_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--endpoint", default="127.0.0.1:8080", help="server host:port or URL")
        p.add_argument("--region", help="RegionId to send (default: the server's default region)")
        p.add_argument("--access-key-id", help="or OPENKMS_ACCESS_KEY_ID")
        p.add_argument(
            "--credentials",
            type=Path,
            help="JSON file with AccessKeyId and AccessKeySecret (or set OPENKMS_ACCESS_KEY_SECRET)",
        )

    def wrapping_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wrapping-algorithm", default="RSAES_OAEP_SHA_256", choices=ALGORITHMS)
        p.add_argument("--wrapping-key-spec", default=None, help="RSA_2048 (default) or EC_SM2 (with SM2PKE)")

    p_run = isub.add_parser("run", help="fetch parameters, wrap the material locally, import it")
    p_run.add_argument("key_id")
    p_run.add_argument("--material", type=Path, required=True, help="file holding the raw key material")
    p_run.add_argument("--expire-unix", type=int, default=0, help="material expiry (Unix seconds), 0 = never")
    remote_args(p_run)
    wrapping_args(p_run)
    p_run.set_defaults(func=run)

    p_params = isub.add_parser("parameters", help="fetch a wrapping public key and import token")
    p_params.add_argument("key_id")
    p_params.add_argument("--out", type=Path, required=True, help="directory for public.der, public.pem, token.txt")
    remote_args(p_params)
    wrapping_args(p_params)
    p_params.set_defaults(func=parameters)

    p_wrap = isub.add_parser("wrap", help="wrap key material locally with a wrapping public key")
    p_wrap.add_argument("--public-key", type=Path, required=True, help="public.der (or public.pem)")
    p_wrap.add_argument("--material", type=Path, required=True)
    p_wrap.add_argument("--algorithm", default="RSAES_OAEP_SHA_256", choices=ALGORITHMS)
    p_wrap.add_argument("--out", type=Path, required=True, help="file for the wrapped material (raw bytes)")
    p_wrap.set_defaults(func=wrap_command)

    p_upload = isub.add_parser("upload", help="import wrapped key material")
    p_upload.add_argument("key_id")
    p_upload.add_argument("--token", type=Path, required=True, help="token.txt from 'parameters'")
    p_upload.add_argument("--wrapped", type=Path, required=True, help="the output of 'wrap'")
    p_upload.add_argument("--expire-unix", type=int, default=0)
    remote_args(p_upload)
    p_upload.set_defaults(func=upload)


def _client(args: argparse.Namespace) -> RemoteClient:
    return client_from(args.endpoint, args.access_key_id, None, args.credentials, args.region)


def _spec(args: argparse.Namespace) -> str:
    return str(args.wrapping_key_spec or wrapping_spec(args.wrapping_algorithm))


def _fail(message: str) -> int:
    sys.stderr.write(f"openkms import: {message}\n")
    return 1


def run(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
        params = client.call(
            "GetParametersForImport",
            KeyId=args.key_id,
            WrappingAlgorithm=args.wrapping_algorithm,
            WrappingKeySpec=_spec(args),
        )
        wrapped = wrap(base64.b64decode(params["PublicKey"]), args.material.read_bytes(), args.wrapping_algorithm)
        client.call(
            "ImportKeyMaterial",
            KeyId=args.key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=base64.b64encode(wrapped).decode(),
            KeyMaterialExpireUnix=str(args.expire_unix),
        )
        state = client.call("DescribeKey", KeyId=args.key_id)["KeyMetadata"]["KeyState"]
    except (RemoteError, OSError, ValueError) as exc:
        return _fail(str(exc))
    sys.stdout.write(f"{args.key_id}: key material imported; the key is {state}\n")
    return 0


def parameters(args: argparse.Namespace) -> int:
    try:
        params = _client(args).call(
            "GetParametersForImport",
            KeyId=args.key_id,
            WrappingAlgorithm=args.wrapping_algorithm,
            WrappingKeySpec=_spec(args),
        )
        args.out.mkdir(parents=True, exist_ok=True)
        der = base64.b64decode(params["PublicKey"])
        (args.out / "public.der").write_bytes(der)
        (args.out / "public.pem").write_text(pem.encode(der))
        (args.out / "token.txt").write_text(params["ImportToken"] + "\n")
    except (RemoteError, OSError, ValueError) as exc:
        return _fail(str(exc))
    sys.stdout.write(
        f"wrote public.der, public.pem and token.txt to {args.out} (valid until {params['TokenExpireTime']})\n"
    )
    return 0


def wrap_command(args: argparse.Namespace) -> int:
    try:
        wrapped = wrap(pem.to_der(args.public_key.read_bytes()), args.material.read_bytes(), args.algorithm)
        args.out.write_bytes(wrapped)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    sys.stdout.write(f"wrote {len(wrapped)} bytes of wrapped key material to {args.out}\n")
    return 0


def upload(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
        client.call(
            "ImportKeyMaterial",
            KeyId=args.key_id,
            ImportToken=args.token.read_text().strip(),
            EncryptedKeyMaterial=base64.b64encode(args.wrapped.read_bytes()).decode(),
            KeyMaterialExpireUnix=str(args.expire_unix),
        )
    except (RemoteError, OSError, ValueError) as exc:
        return _fail(str(exc))
    sys.stdout.write(f"{args.key_id}: key material imported\n")
    return 0
