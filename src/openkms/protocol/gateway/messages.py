"""The gateway's protobuf messages (``package protobuf``, proto3, Alibaba's ``api.proto``), declared
as a table of (field, number, type) and built into message classes once, at import.

The numbers are the wire: they were read from alibabacloud-dkms-gcs 1.0.2's ``api_pb2`` and must
never change. Only the messages openkms answers are declared.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_KEY_PAIR_OUT = (("KeyId", 1, "string"), ("Iv", 2, "bytes"), ("KeyPairSpec", 3, "string"))
MESSAGES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "Error": (("StatusCode", 1, "int32"), ("ErrorCode", 2, "string"), ("ErrorMessage", 3, "string"),
              ("RequestId", 4, "string")),
    "AdvanceEncryptRequest": (("KeyId", 1, "string"), ("Plaintext", 2, "bytes"), ("Algorithm", 3, "string"),
                              ("Aad", 4, "bytes"), ("Iv", 5, "bytes"), ("PaddingMode", 6, "string")),
    "AdvanceEncryptResponse": (("KeyId", 1, "string"), ("CiphertextBlob", 2, "bytes"), ("Iv", 3, "bytes"),
                               ("RequestId", 4, "string"), ("Algorithm", 5, "string"), ("PaddingMode", 6, "string"),
                               ("KeyVersionId", 7, "string")),
    "AdvanceDecryptRequest": (("CiphertextBlob", 1, "bytes"), ("KeyId", 2, "string"), ("Algorithm", 3, "string"),
                              ("Aad", 4, "bytes"), ("Iv", 5, "bytes"), ("PaddingMode", 6, "string")),
    "AdvanceDecryptResponse": (("KeyId", 1, "string"), ("Plaintext", 2, "bytes"), ("RequestId", 3, "string"),
                               ("Algorithm", 4, "string"), ("PaddingMode", 5, "string"), ("KeyVersionId", 6, "string")),
    "EncryptRequest": (("KeyId", 1, "string"), ("Plaintext", 2, "bytes"), ("Algorithm", 3, "string"),
                       ("Aad", 4, "bytes"), ("Iv", 5, "bytes"), ("PaddingMode", 6, "string")),
    "EncryptResponse": (("KeyId", 1, "string"), ("CiphertextBlob", 2, "bytes"), ("Iv", 3, "bytes"),
                        ("RequestId", 4, "string"), ("Algorithm", 5, "string"), ("PaddingMode", 6, "string")),
    "DecryptRequest": (("CiphertextBlob", 1, "bytes"), ("KeyId", 2, "string"), ("Algorithm", 3, "string"),
                       ("Aad", 4, "bytes"), ("Iv", 5, "bytes"), ("PaddingMode", 6, "string")),
    "DecryptResponse": (("KeyId", 1, "string"), ("Plaintext", 2, "bytes"), ("RequestId", 3, "string"),
                        ("Algorithm", 4, "string"), ("PaddingMode", 5, "string")),
    "GenerateDataKeyRequest": (("KeyId", 1, "string"), ("Algorithm", 2, "string"), ("NumberOfBytes", 3, "int32"),
                               ("Aad", 4, "bytes")),
    "GenerateDataKeyResponse": (("KeyId", 1, "string"), ("Iv", 2, "bytes"), ("Plaintext", 3, "bytes"),
                                ("CiphertextBlob", 4, "bytes"), ("RequestId", 5, "string"), ("Algorithm", 6, "string")),
    "AdvanceGenerateDataKeyRequest": (("KeyId", 1, "string"), ("NumberOfBytes", 2, "int32"), ("Aad", 3, "bytes")),
    "AdvanceGenerateDataKeyResponse": (("KeyId", 1, "string"), ("Iv", 2, "bytes"), ("Plaintext", 3, "bytes"),
                                       ("CiphertextBlob", 4, "bytes"), ("RequestId", 5, "string"),
                                       ("Algorithm", 6, "string"), ("KeyVersionId", 7, "string")),
    "SignRequest": (("KeyId", 1, "string"), ("Digest", 2, "bytes"), ("Algorithm", 3, "string"),
                    ("Message", 4, "bytes"), ("MessageType", 5, "string")),
    "SignResponse": (("KeyId", 1, "string"), ("Signature", 2, "bytes"), ("RequestId", 3, "string"),
                     ("Algorithm", 4, "string"), ("MessageType", 5, "string")),
    "VerifyRequest": (("KeyId", 1, "string"), ("Digest", 2, "bytes"), ("Signature", 3, "bytes"),
                      ("Algorithm", 4, "string"), ("Message", 5, "bytes"), ("MessageType", 6, "string")),
    "VerifyResponse": (("KeyId", 1, "string"), ("Value", 2, "bool"), ("RequestId", 3, "string"),
                       ("Algorithm", 4, "string"), ("MessageType", 5, "string")),
    "GetPublicKeyRequest": (("KeyId", 1, "string"),),
    "GetPublicKeyResponse": (("KeyId", 1, "string"), ("PublicKey", 2, "string"), ("RequestId", 3, "string")),
    "GenerateRandomRequest": (("Length", 1, "int32"),),
    "GenerateRandomResponse": (("Random", 1, "bytes"), ("RequestId", 2, "string")),
    "GetSecretValueRequest": (("SecretName", 1, "string"), ("VersionStage", 2, "string"),
                              ("VersionId", 3, "string"), ("FetchExtendedConfig", 4, "bool")),
    "GetSecretValueResponse": (("SecretName", 1, "string"), ("SecretType", 2, "string"),
                               ("SecretData", 3, "string"), ("SecretDataType", 4, "string"),
                               ("VersionStages", 5, "string[]"), ("VersionId", 6, "string"),
                               ("CreateTime", 7, "string"), ("RequestId", 8, "string"),
                               ("LastRotationDate", 9, "string"), ("NextRotationDate", 10, "string"),
                               ("ExtendedConfig", 11, "string"), ("AutomaticRotation", 12, "string"),
                               ("RotationInterval", 13, "string")),
    "GenerateDataKeyPairRequest": (("KeyId", 1, "string"), ("Algorithm", 2, "string"),
                                   ("KeyPairSpec", 3, "string"), ("KeyFormat", 4, "string"), ("Aad", 5, "bytes")),
    "GenerateDataKeyPairResponse": (*_KEY_PAIR_OUT, ("PrivateKeyPlaintext", 4, "bytes"),
                                    ("PrivateKeyCiphertextBlob", 5, "bytes"), ("PublicKey", 6, "bytes"),
                                    ("RequestId", 7, "string"), ("Algorithm", 8, "string")),
    "GenerateDataKeyPairWithoutPlaintextRequest": (("KeyId", 1, "string"), ("Algorithm", 2, "string"),
                                                   ("KeyPairSpec", 3, "string"), ("KeyFormat", 4, "string"),
                                                   ("Aad", 5, "bytes")),
    "GenerateDataKeyPairWithoutPlaintextResponse": (*_KEY_PAIR_OUT, ("PrivateKeyCiphertextBlob", 4, "bytes"),
                                                    ("PublicKey", 5, "bytes"), ("RequestId", 6, "string"),
                                                    ("Algorithm", 7, "string")),
    "AdvanceGenerateDataKeyPairRequest": (("KeyId", 1, "string"), ("KeyPairSpec", 2, "string"),
                                          ("KeyFormat", 3, "string"), ("Aad", 4, "bytes")),
    "AdvanceGenerateDataKeyPairResponse": (*_KEY_PAIR_OUT, ("PrivateKeyPlaintext", 4, "bytes"),
                                           ("PrivateKeyCiphertextBlob", 5, "bytes"), ("PublicKey", 6, "bytes"),
                                           ("RequestId", 7, "string"), ("Algorithm", 8, "string"),
                                           ("KeyVersionId", 9, "string")),
    "AdvanceGenerateDataKeyPairWithoutPlaintextRequest": (("KeyId", 1, "string"), ("KeyPairSpec", 2, "string"),
                                                          ("KeyFormat", 3, "string"), ("Aad", 4, "bytes")),
    "AdvanceGenerateDataKeyPairWithoutPlaintextResponse": (*_KEY_PAIR_OUT, ("PrivateKeyCiphertextBlob", 4, "bytes"),
                                                           ("PublicKey", 5, "bytes"), ("RequestId", 6, "string"),
                                                           ("Algorithm", 7, "string"), ("KeyVersionId", 8, "string")),
}  # fmt: skip

_TYPES = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
}


def _build() -> dict[str, Any]:
    proto = descriptor_pb2.FileDescriptorProto(name="openkms/gateway/api.proto", package="protobuf", syntax="proto3")
    for name, fields in MESSAGES.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind in fields:
            repeated = kind.endswith("[]")
            message.field.add(
                name=field_name,
                number=number,
                type=_TYPES[kind.removesuffix("[]")],
                label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            )
    pool = descriptor_pool.DescriptorPool()
    file = pool.Add(proto)
    return {name: message_factory.GetMessageClass(file.message_types_by_name[name]) for name in MESSAGES}


CLASSES = _build()


def new(name: str, **fields: Any) -> Any:
    """A message of type ``name`` (a protobuf Message; fields set by keyword)."""
    return CLASSES[name](**fields)


def parse(name: str, body: bytes) -> Any:
    """``body`` read as a message of type ``name``; raises ``google.protobuf.message.DecodeError``."""
    message = CLASSES[name]()
    message.ParseFromString(body)
    return message
