"""A key spec the build cannot generate is refused with Unsupported.KeySpec, not a 500."""

from __future__ import annotations

import pytest

from openkms.crypto.asymmetric import unavailable_specs
from tests.e2e.clients import ApiError, Kms


@pytest.mark.skipif("EC_SM2" not in unavailable_specs(), reason="this build has the SM2 module")
def test_ec_sm2_without_the_sm2_module_is_unsupported_not_internal(kms: Kms) -> None:
    with pytest.raises(ApiError) as err:
        kms.call("CreateKey", KeySpec="EC_SM2", KeyUsage="SIGN/VERIFY")
    assert (err.value.status, err.value.code) == (400, "Unsupported.KeySpec")
    assert "SM2 module" in err.value.message
    assert kms.call("ListKeys")["TotalCount"] == 0
