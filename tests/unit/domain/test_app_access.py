"""The rules of application access: parameters as the SDK sends them, and what an application's
policies grant (template, resource, instance, network)."""

from __future__ import annotations

import hashlib
import ipaddress

import pytest

from openkms.domain import app_access as a
from openkms.domain import errors
from openkms.domain.actions import action


def test_source_ips_are_normalized_and_checked() -> None:
    assert a.source_private_ip(" 10.0.0.7 ,192.168.1.0/24,10.0.0.7") == ("10.0.0.7/32", "192.168.1.0/24")
    assert a.source_private_ip("10.1.2.3/16") == ("10.1.0.0/16",)
    for bad in ("", " , ", "10.0.0.256", "host.example"):
        with pytest.raises(errors.InvalidParameter) as err:
            a.source_private_ip(bad)
        assert err.value.parameter == "SourcePrivateIp"


def test_lists_rules_and_resources() -> None:
    assert a.string_list('["a","b","a"]', "Policies") == ("a", "b")
    assert a.access_control_rules('{"NetworkRules":["r1"]}') == ("r1",)
    assert a.access_control_rules(None) == ()
    assert a.resources('["key/*","key/k-1","secret/db"]') == ("key/*", "key/k-1", "secret/db")
    for text, name, parse in (
        ('{"a":1}', "Policies", a.aap_policies),
        ('["p1","p2","p3","p4"]', "Policies", a.aap_policies),
        ('["alias/x"]', "Resources", a.resources),
        ('["key/ab*"]', "Resources", a.resources),
        ('["RbacPermission/Template/Admin"]', "Permissions", a.permissions),
        ('["r1"]', "AccessControlRules", a.access_control_rules),
    ):
        with pytest.raises(errors.InvalidParameter) as err:
            parse(text)
        assert err.value.parameter == name, text


def test_times_and_validity() -> None:
    assert a.parse_time("2026-01-01T00:00:00Z", "NotBefore") == 1767225600
    assert a.parse_time("2026-01-01T08:00:00+0800", "NotBefore") == 1767225600
    assert a.format_time(1767225600) == "2026-01-01T00:00:00Z"
    assert a.validity(None, None, 100) == (100, 100 + a.DEFAULT_VALIDITY)
    with pytest.raises(errors.InvalidParameter):
        a.validity(200, 100, 0)


def _grant(resources: tuple[str, ...], networks: tuple[str, ...] | None = None, store: str = "") -> a.Grant:
    nets = None if networks is None else tuple(ipaddress.ip_network(n) for n in networks)
    return a.Grant(frozenset({a.KEY_USER}), resources, store, nets)


def test_an_application_is_granted_its_templates_resources_instance_and_networks() -> None:
    app = a.Application("KAAP.x", "app", (_grant(("key/k-1",), ("10.0.0.0/8",)), _grant(("key/*",), store="kst-2")))
    assert app.allows(a.KEY_USER, "key/k-1", "", "10.1.2.3")
    assert not app.allows(a.KEY_USER, "key/k-1", "", "192.168.0.1")  # outside the first policy's network
    assert not app.allows(a.KEY_USER, "key/k-2", "", "10.1.2.3")  # neither policy names it in the default store
    assert app.allows(a.KEY_USER, "key/k-2", "kst-2", "192.168.0.1")  # the second: any key of kst-2, anywhere
    assert not app.allows(a.SECRET_USER, "secret/db", None, "10.1.2.3")
    assert a.permission_for(action("Encrypt")) == a.KEY_USER
    assert a.permission_for(action("GetSecretValue")) == a.SECRET_USER
    assert a.permission_for(action("CreateKey")) is None
    assert a.permission_for(action("DescribeKey")) is None


def test_a_blobs_binding_by_format_context_and_gateway_aad() -> None:
    """Format 2 binds TransferClient's Aad (hex SHA-256 of k=v&..., keys sorted) and the gateway's
    Aad as sent; format 1 keeps the canonical context, and no Aad is the empty context."""
    from openkms.domain import context
    from openkms.domain.ciphertext import FORMAT_V1, FORMAT_V2

    ctx = {"b": "2", "a": "1"}
    expected = hashlib.sha256(b"a=1&b=2").hexdigest().encode()
    assert context.transfer_aad(ctx) == expected
    assert context.binding(FORMAT_V2, ctx) == expected == context.binding(FORMAT_V2, None, expected)
    assert context.binding(FORMAT_V2, None) == b"" == context.binding(FORMAT_V2, {}, b"")
    assert context.binding(FORMAT_V1, ctx) == b'{"a":"1","b":"2"}'
    assert context.binding(FORMAT_V1, None, b"") == b"{}" == context.binding(FORMAT_V1, None)
    assert context.binding(FORMAT_V1, None, b"raw") == b"raw"


def test_only_the_addressed_instances_keys_are_served() -> None:
    assert a.addressed_instance("kst-hzz6.cryptoservice.kms.aliyuncs.com") == "kst-hzz6"
    assert a.addressed_instance("KST-A.cryptoservice.kms.aliyuncs.com:443") == "kst-a"
    assert a.addressed_instance("127.0.0.1:8080") is None
    assert a.addressed_instance("kms.example.com") is None
    app = a.Application("KAAP.x", "app", (_grant(("key/*",), store="kst-2"),), addressed_store="kst-2")
    assert app.allows(a.KEY_USER, "key/k", "kst-2", "10.0.0.1")
    default = a.Application("KAAP.x", "app", app.grants, addressed_store="")
    assert not default.allows(a.KEY_USER, "key/k", "kst-2", "10.0.0.1")  # granted, but not this instance's


def test_an_access_point_without_policies_reaches_the_authorizer() -> None:
    """No policy means no network rule either: the request reaches the authorizer, which refuses
    each action (Forbidden.RAM), rather than a network refusal that would point at the wrong cause."""
    empty = a.Application("KAAP.x", "app", ())
    assert empty.reachable("192.0.2.1")
    assert not empty.allows(a.KEY_USER, "key/k-1", "", "192.0.2.1")
