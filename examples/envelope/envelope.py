"""An application's envelope encryption with Alibaba Cloud KMS: each message is encrypted locally
under a fresh data key (AES-256-GCM), and only the data key is encrypted by KMS (GenerateDataKey).
Decrypting asks KMS to decrypt the data key. Written against the official SDK, nothing of openkms."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from alibabacloud_kms20160120 import models
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def seal(client: Any, key_id: str, plaintext: bytes) -> str:
    data_key = client.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id, key_spec="AES_256")).body
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(data_key.plaintext)).encrypt(nonce, plaintext, None)
    envelope = {
        "key": data_key.ciphertext_blob,
        "nonce": base64.b64encode(nonce).decode(),
        "data": base64.b64encode(sealed).decode(),
    }
    return json.dumps(envelope)


def open_sealed(client: Any, envelope_text: str) -> bytes:
    envelope = json.loads(envelope_text)
    data_key = client.decrypt(models.DecryptRequest(ciphertext_blob=envelope["key"])).body.plaintext
    nonce, sealed = base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["data"])
    return AESGCM(base64.b64decode(data_key)).decrypt(nonce, sealed, None)
