"""Alibaba's caching Secrets Manager client (alibabacloud-secretsmanager-client-v2, as installed
from PyPI) against openkms, changing only its endpoint: over HTTP with ``add_config``, and over
HTTPS with the generated CA; a rotated value is seen after ``refresh_now``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_secretsmanager_client_v2.secret_manager_cache_client import SecretManagerCacheClient
from alibabacloud_secretsmanager_client_v2.secret_manager_cache_client_builder import (
    SecretManagerCacheClientBuilder,
)
from alibabacloud_secretsmanager_client_v2.service.default_secret_manager_client_builder import (
    DefaultSecretManagerClientBuilder,
)
from alibabacloud_tea_openapi.models import Config

from tests.e2e.clients import Kms
from tests.servers import InProcessServer, inprocess_server


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("sm-tls")) / "data", tls=True) as srv:
        yield srv


def _cache_client(
    endpoint: str, ak: str, secret: str, protocol: str, ca: str | None = None
) -> SecretManagerCacheClient:
    config = Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol=protocol,
                    region_id="cn-hangzhou", ca=ca)  # fmt: skip
    inner = DefaultSecretManagerClientBuilder.standard().add_config(config).build()
    client: SecretManagerCacheClient = SecretManagerCacheClientBuilder.new_cache_client_builder(inner).build()
    return client


def _seed(kms: Kms, name: str) -> None:
    kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretData='{"password":"one"}')
    kms.call("CreateSecret", SecretName=f"{name}-bin", VersionId="v1", SecretDataType="binary",
             SecretData=base64.b64encode(b"\x00\x01binary").decode())  # fmt: skip


def test_the_cache_client_reads_over_http_and_sees_a_rotation(server: InProcessServer) -> None:
    ak, secret, _ = server.new_account()
    kms = Kms("new-v3", server.endpoint, ak, secret)
    name = f"app-{os.urandom(4).hex()}"
    _seed(kms, name)
    client = _cache_client(server.endpoint, ak, secret, "http")
    try:
        info = client.get_secret_info(name)
        assert (info.secret_value, info.secret_data_type, info.version_id) == ('{"password":"one"}', "text", "v1")
        assert client.get_secret_value(name) == '{"password":"one"}'
        # get_binary_value itself fails inside the client (bytebuffer refuses bytes, a bug of the
        # client with every bytebuffer release): what it would decode is checked instead.
        binary = client.get_secret_info(f"{name}-bin")
        assert binary.secret_data_type == "binary"
        assert base64.b64decode(binary.secret_value) == b"\x00\x01binary"
        kms.call("PutSecretValue", SecretName=name, VersionId="v2", SecretData='{"password":"two"}')
        assert client.get_secret_value(name) == '{"password":"one"}'  # cached until refreshed
        assert client.refresh_now(name)
        assert client.get_secret_value(name) == '{"password":"two"}'
    finally:
        client.close()


def test_an_unknown_secret_is_raised_with_its_code(server: InProcessServer) -> None:
    ak, secret, _ = server.new_account()
    client = _cache_client(server.endpoint, ak, secret, "http")
    try:
        with pytest.raises(Exception, match=r"Forbidden\.ResourceNotFound"):
            client.get_secret_value("no-such-secret")
    finally:
        client.close()


def test_the_cache_client_reads_over_https_with_the_generated_ca(tls_server: InProcessServer) -> None:
    ak, secret, _ = tls_server.new_account()
    kms = Kms("new-v3", tls_server.endpoint, ak, secret)
    name = f"app-{os.urandom(4).hex()}"
    _seed(kms, name)
    client = _cache_client(tls_server.tls_endpoint, ak, secret, "https", str(tls_server.ca_file))
    try:
        assert client.get_secret_value(name) == '{"password":"one"}'
    finally:
        client.close()


# --- aliyun-secret-manager-client: its own virtual environment ------------------------------------

# The older client pins cryptography<=38.0.3, protobuf<=3.20.2 and typing-extensions<=4.1.1, which
# would downgrade what openkms itself runs on; it is installed from PyPI into a venv of its own,
# kept between runs, and driven through a small script there.
SM1 = "aliyun-secret-manager-client==0.1.5"
SM1_VENV = Path(os.environ.get("OPENKMS_TEST_SM1_VENV", Path.home() / ".cache" / "openkms-tests" / "sm1-0.1.5"))
SM1_SCRIPT = """
import json, sys
from alibaba_cloud_secretsmanager_client.model.region_info import RegionInfo
from alibaba_cloud_secretsmanager_client.secret_manager_cache_client_builder import SecretManagerCacheClientBuilder
from alibaba_cloud_secretsmanager_client.service.default_secret_manager_client_builder import (
    DefaultSecretManagerClientBuilder,
)
endpoint, ak, secret, name = sys.argv[1:5]
inner = (DefaultSecretManagerClientBuilder.standard().with_access_key(ak, secret)
         .add_region_info(RegionInfo("cn-hangzhou", endpoint=endpoint)).build())
client = SecretManagerCacheClientBuilder.new_cache_client_builder(inner).build()
info = client.get_secret_info(name)
print(json.dumps({"value": info.secret_value, "type": info.secret_data_type, "version": info.version_id}))
client.close()
"""


@pytest.fixture(scope="module")
def sm1_python() -> Path:
    return _venv(SM1_VENV, SM1)


def test_the_older_client_reads_over_the_https_listener(tls_server: InProcessServer, sm1_python: Path) -> None:
    """It always speaks HTTPS and does not verify the certificate (verify=False in its source)."""
    ak, secret, _ = tls_server.new_account()
    kms = Kms("new-v3", tls_server.endpoint, ak, secret)
    name = f"app-{os.urandom(4).hex()}"
    _seed(kms, name)
    run = subprocess.run(
        [str(sm1_python), "-c", SM1_SCRIPT, tls_server.tls_endpoint, ak, secret, name],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"value": '{"password":"one"}', "type": "text",
                                                               "version": "v1"}  # fmt: skip


# --- alibabacloud-kms-python-sdk: TransferClient and Client, also a venv of its own -------------

# It pins alibabacloud-kms20160120<3 and protobuf<3.20, older than the 3.3.1 the tests use.
KC = "alibabacloud-kms-python-sdk==1.1.3"
KC_VENV = Path(os.environ.get("OPENKMS_TEST_KC_VENV", Path.home() / ".cache" / "openkms-tests" / "kc-1.1.3"))
KC_SCRIPT = """
import json, sys
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms_kms20160120.client import Client
from alibabacloud_kms_kms20160120.transfer_client import TransferClient
from alibabacloud_tea_openapi.models import Config
endpoint, ak, secret, name = sys.argv[1:5]
def config():
    return Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol="http",
                  region_id="cn-hangzhou")
client = Client(open_api_config=config())
client.create_secret(m.CreateSecretRequest(secret_name=name, version_id="v1", secret_data="one"))
client.put_secret_value(m.PutSecretValueRequest(secret_name=name, version_id="v2", secret_data="two"))
described = client.describe_secret(m.DescribeSecretRequest(secret_name=name)).body
shared = client.get_secret_value_by_shared_endpoint(m.GetSecretValueRequest(secret_name=name)).body
transfer = TransferClient(config=config()).get_secret_value(
    m.GetSecretValueRequest(secret_name=name, version_stage="ACSPrevious")).body
print(json.dumps({"arn": described.arn, "shared": [shared.version_id, shared.secret_data],
                  "transfer": [transfer.version_id, transfer.secret_data]}))
"""


def _venv(path: Path, requirement: str) -> Path:
    python = path / "bin" / "python"
    marker = path / f".installed-{requirement}"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True, timeout=600)
        marker.touch()
    return python


def test_the_kms_python_sdk_reads_and_manages_secrets(server: InProcessServer) -> None:
    """TransferClient.get_secret_value, Client.get_secret_value_by_shared_endpoint and Client's
    typed management wrappers, pointed at openkms by their endpoint only."""
    python = _venv(KC_VENV, KC)
    ak, secret, uid = server.new_account()
    name = f"kc-{os.urandom(4).hex()}"
    run = subprocess.run([str(python), "-c", KC_SCRIPT, server.endpoint, ak, secret, name],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {
        "arn": f"acs:kms:cn-hangzhou:{uid}:secret/{name}",
        "shared": ["v2", "two"],
        "transfer": ["v1", "one"],
    }
