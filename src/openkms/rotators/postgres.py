"""The PostgreSQL account rotator, for Rds and PolarDB secrets whose database is PostgreSQL.

The secret's value is ``{"AccountName": ..., "AccountPassword": ...}``; its ExtendedConfig names
the server (``DBInstanceId`` as ``host:port``, or ``Host`` and ``Port`` in ``CustomData``), the
database to log on to (``Database``, default ``postgres``) and the secret holding an administrator
credential of the same shape (``AdminSecretName``). The administrator sets the new password with
``ALTER ROLE``; a log-on with it is the check before ACSCurrent moves.

Only servers listed in ``[secrets] rotation_hosts`` are contacted: whoever may create a secret
must not be able to make openkms open connections to any address. The password is sent as a
SCRAM-SHA-256 verifier computed here, so it never appears in the server's statement log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from openkms.domain import errors
from openkms.domain import secret_rotation as r
from openkms.domain.secret_rotation import RotationJob

DEFAULT_PORT = 5432
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    database: str
    admin_secret: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677); ALTER ROLE accepts it
    as is. Our passwords are ASCII, which SASLprep leaves unchanged."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def _account(value: dict[str, Any], what: str) -> tuple[str, str]:
    name, password = value.get("AccountName"), value.get("AccountPassword")
    if not isinstance(name, str) or not name or not isinstance(password, str):
        raise errors.SecretRotationFailed(f"The {what} value needs AccountName and AccountPassword.")
    return name, password


def _failure(target: Target, step: str, exc: psycopg.Error) -> errors.SecretRotationFailed:
    # The driver's first line names the server and the reason (refused, no such role, bad
    # password); it never carries the password we sent.
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return errors.SecretRotationFailed(f"PostgreSQL at {target.where}, {step}: {reason}")


class PostgresRotator:
    def __init__(self, hosts: Collection[str], connect_timeout: int = 5) -> None:
        self._hosts = frozenset(h.strip() for h in hosts if h.strip())
        self._timeout = connect_timeout

    @property
    def grace(self) -> int:
        return 0  # one account, one password: the old one stops working at ALTER ROLE

    def target(self, job: RotationJob) -> Target:
        cfg = r.config(job.secret)
        host, _, port = str(cfg.get("Host") or cfg.get("DBInstanceId") or "").partition(":")
        port = str(cfg.get("Port") or port or DEFAULT_PORT)
        admin = cfg.get("AdminSecretName")
        if not host or not port.isdigit():
            raise errors.SecretRotationFailed("ExtendedConfig names no PostgreSQL server (DBInstanceId host:port).")
        if not isinstance(admin, str) or not admin:
            raise errors.SecretRotationFailed("ExtendedConfig names no AdminSecretName.")
        target = Target(host, int(port), str(cfg.get("Database") or "postgres"), admin)
        if target.where not in self._hosts:
            raise errors.SecretRotationFailed(f"{target.where} is not in [secrets] rotation_hosts.")
        return target

    def new_value(self, job: RotationJob) -> str:
        self.target(job)
        current = r.credential(job.current)
        _account(current, "secret's")
        return json.dumps({**current, "AccountPassword": r.new_password()})

    def _connect(self, target: Target, user: str, password: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=target.host, port=target.port, dbname=target.database, user=user, password=password,
            connect_timeout=self._timeout, autocommit=True,
        )  # fmt: skip

    def apply(self, job: RotationJob, pending: str) -> None:
        target = self.target(job)
        admin_name, admin_password = _account(r.credential(job.read_secret(target.admin_secret)), "administrator")
        account, password = _account(r.credential(pending), "new")
        statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(account), sql.Literal(scram_verifier(password))
        )
        try:
            with self._connect(target, admin_name, admin_password) as conn:
                conn.execute(statement)
        except psycopg.Error as exc:
            raise _failure(target, "setting the password", exc) from None
        try:
            with self._connect(target, account, password) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise _failure(target, "logging on with the new password", exc) from None

    def retire(self, job: RotationJob, previous: str) -> None:
        """Nothing to retire: ALTER ROLE replaced the previous password."""
