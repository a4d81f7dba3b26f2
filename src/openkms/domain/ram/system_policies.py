"""Alibaba's KMS system policies, as published on the RAM developer-reference pages (version and
dates as published), plus a RAM full-access policy for openkms's own RAM actions.

Sources are listed in docs/reference/ram-2015-05-01.md section 7. Actions of other services
(ecs:, rds:, ram:CreateServiceLinkedRole) are kept as published: they match nothing here.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SystemPolicy:
    name: str
    description: str
    default_version: str
    created_at: int
    updated_at: int
    document: str


def _at(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


_KMS_FULL_ACCESS = """\
{
  "Version": "1",
  "Statement": [
    {
      "Action": "kms:*",
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": "ram:CreateServiceLinkedRole",
      "Condition": {
        "StringEquals": {
          "ram:ServiceName": [
            "secretsmanager-rds.kms.aliyuncs.com",
            "keystore.kms.aliyuncs.com"
          ]
        }
      },
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}
"""

_KMS_READ_ONLY_ACCESS = """\
{
  "Version": "1",
  "Statement": [
    {
      "Action": [
        "kms:List*",
        "kms:Describe*",
        "kms:GetPublicKey",
        "kms:GetUploadBackupDataInfo",
        "kms:GetKmsInstanceSharedAccounts",
        "kms:GetKmsInstanceQuotaInfos",
        "kms:GetCheckAssociateResourceTaskResults",
        "kms:GetKeyPolicy",
        "kms:GetKeyDefaultPolicy",
        "kms:GetSecretPolicy",
        "kms:GetSecretDefaultPolicy",
        "kms:GetKmsInstance",
        "kms:GetDefaultKmsInstance"
      ],
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}
"""

_KMS_CRYPTO_ADMIN_ACCESS = """\
{
  "Version": "1",
  "Statement": [
    {
      "Action": [
        "kms:*"
      ],
      "Resource": [
        "acs:kms:*:*:key*",
        "acs:kms:*:*:alias*"
      ],
      "Effect": "Allow"
    },
    {
      "Action": [
        "ecs:TagResources",
        "ecs:UntagResources",
        "ecs:ListTagResources"
      ],
      "Resource": [
        "acs:kms:*:*:key/*",
        "acs:kms:*:*:secret/*"
      ],
      "Effect": "Allow"
    }
  ]
}
"""

_KMS_CRYPTO_USER_ACCESS = """\
{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:AsymmetricDecrypt",
        "kms:AsymmetricEncrypt",
        "kms:AsymmetricSign",
        "kms:AsymmetricVerify",
        "kms:GetPublicKey",
        "kms:GenerateMac",
        "kms:VerifyMac"
      ],
      "Resource": "*"
    }
  ]
}
"""

_KMS_SECRETS_ADMIN = """\
{
  "Version": "1",
  "Statement": [
    {
      "Action": "kms:*",
      "Resource": "acs:kms:*:*:secret*",
      "Effect": "Allow"
    },
    {
      "Action": "kms:GetRandomPassword",
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": [
        "rds:DescribeDBInstances",
        "rds:DescribeDBInstanceAttribute",
        "rds:DescribeDatabases",
        "rds:DescribeAccounts",
        "rds:DescribeDBInstanceNetInfo",
        "rds:CreateAccount",
        "rds:GrantAccountPrivilege"
      ],
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": "ecs:DescribeInstances",
      "Resource": "acs:ecs:*:*:instance/*",
      "Effect": "Allow"
    },
    {
      "Action": [
        "ecs:TagResources",
        "ecs:UntagResources",
        "ecs:ListTagResources"
      ],
      "Resource": [
        "acs:kms:*:*:key/*",
        "acs:kms:*:*:secret/*"
      ],
      "Effect": "Allow"
    },
    {
      "Action": "ram:CreateServiceLinkedRole",
      "Condition": {
        "StringEquals": {
          "ram:ServiceName": [
            "secretsmanager-rds.kms.aliyuncs.com",
            "secretsmanager-ecs.kms.aliyuncs.com"
          ]
        }
      },
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}
"""

_KMS_SECRETS_USER = """\
{
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "kms:GetSecretValue"
      ],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": [
        "kms:DescribeSecret",
        "kms:ListSecretVersionIds"
      ],
      "Resource": "*"
    }
  ],
  "Version": "1"
}
"""

_RAM_FULL_ACCESS = """\
{
  "Version": "1",
  "Statement": [
    {
      "Action": "ram:*",
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}
"""

SYSTEM_POLICIES: dict[str, SystemPolicy] = {
    p.name: p
    for p in (
        SystemPolicy(
            "AliyunKMSFullAccess",
            "Provides full access to Key Management Service (KMS) via Management Console.",
            "v3",
            _at("2018-03-09 07:41:38"),
            _at("2021-03-02 07:23:38"),
            _KMS_FULL_ACCESS,
        ),
        SystemPolicy(
            "AliyunKMSReadOnlyAccess",
            "Provides read-only access to Key Management Service via Management Console.",
            "v3",
            _at("2018-03-09 07:41:41"),
            _at("2025-09-23 07:48:22"),
            _KMS_READ_ONLY_ACCESS,
        ),
        SystemPolicy(
            "AliyunKMSCryptoAdminAccess",
            "Provides administrative access to cryptographic keys in KMS via Management Console.",
            "v2",
            _at("2020-03-04 14:42:11"),
            _at("2023-06-26 13:51:02"),
            _KMS_CRYPTO_ADMIN_ACCESS,
        ),
        SystemPolicy(
            "AliyunKMSCryptoUserAccess",
            "Provides access to the cryptographic APIs of KMS.",
            "v2",
            _at("2020-03-04 14:42:20"),
            _at("2026-07-09 10:01:22"),
            _KMS_CRYPTO_USER_ACCESS,
        ),
        SystemPolicy(
            "AliyunKMSSecretAdminAccess",
            "Provides administrative access to secrets in KMS.",
            "v5",
            _at("2020-03-04 14:44:44"),
            _at("2023-06-26 13:51:26"),
            _KMS_SECRETS_ADMIN,
        ),
        SystemPolicy(
            "AliyunKMSSecretUserAccess",
            "Provides access to retrieve the secrets in KMS.",
            "v1",
            _at("2020-03-04 14:41:59"),
            _at("2020-03-04 14:41:59"),
            _KMS_SECRETS_USER,
        ),
        # Not found published (docs/reference/ram-2015-05-01.md): the obvious document.
        SystemPolicy(
            "AliyunRAMFullAccess",
            "Provides full access to RAM.",
            "v1",
            _at("2015-01-01 00:00:00"),
            _at("2015-01-01 00:00:00"),
            _RAM_FULL_ACCESS,
        ),
    )
}
