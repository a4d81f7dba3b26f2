"""[quotas] in the configuration file: the profile, and [[quotas.account]] overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from openkms.domain.quotas import QuotaClass, QuotaPlan, Rate
from openkms.settings import Settings, SettingsError


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "openkms.toml"
    path.write_text(text)
    return Settings.load(env={}, config_file=path)


def test_unlimited_is_the_default_also_in_dev_mode(tmp_path: Path) -> None:
    assert Settings.load(env={}).quota_plan() == QuotaPlan()
    assert Settings.load(env={}, dev=True, data_dir=tmp_path).quota_plan().unlimited


def test_a_profile_and_account_overrides(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[quotas]
profile = "alibaba-shared"

[[quotas.account]]
id = "1234567890123456"
crypto_sym = 5000
rotate_secret = 200

[[quotas.account]]
id = "6543210987654321"
create_key = 0.5
""",
    )
    plan = settings.quota_plan()
    assert plan.profile == "alibaba-shared"
    assert plan.overrides == (
        ("1234567890123456", QuotaClass.CRYPTO_SYM, Rate(5000.0)),
        ("1234567890123456", QuotaClass.ROTATE_SECRET, Rate(200.0, 3600.0)),
        ("6543210987654321", QuotaClass.CREATE_KEY, Rate(0.5)),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[quotas]\nprofile = "alibaba-dedicated"', "[quotas] profile must be one of unlimited, alibaba-shared"),
        ('[[quotas.account]]\nid = "1"\ncrypto_symmetric = 5', "'crypto_symmetric' is not a quota class"),
        ('[[quotas.account]]\nid = "1"\ncrypto_sym = 0', "[quotas.account] crypto_sym must be positive"),
        ('[[quotas.account]]\nid = "1"\ncrypto_sym = "fast"', "[quotas.account] crypto_sym must be a number"),
        ("[[quotas.account]]\ncrypto_sym = 5", "[[quotas.account]] entries need an id"),
        (
            '[[quotas.account]]\nid = "1"\n[[quotas.account]]\nid = "1"',
            "two [[quotas.account]] entries have the id '1'",
        ),
        ('[metrics]\naccess = "everyone"', "[metrics] access must be one of loopback, open, token"),
    ],
)
def test_mistakes_are_told(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load(tmp_path, text)
    assert message in str(refused.value)


def test_the_metrics_token_is_never_read_from_the_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OPENKMS_METRICS_TOKEN"):
        load(tmp_path, '[metrics]\naccess = "token"\ntoken = "in-the-file"')
