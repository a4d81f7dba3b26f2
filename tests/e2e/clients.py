"""One calling convention over both official SDK generations, so each scenario runs three ways:
the new SDK in its default V3 mode, the new SDK with ``signature_algorithm='v2'``, the old SDK."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Any

from alibabacloud_kms20160120 import models as new_models
from alibabacloud_kms20160120.client import Client as NewClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils_models import GlobalParameters
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

MODES = ("new-v3", "new-v2", "old")


class ApiError(Exception):
    def __init__(self, code: str, status: int, request_id: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.status = status
        self.request_id = request_id
        self.message = message


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Old-SDK setter names that differ from the wire name (RepeatList parameters).
_OLD_SETTERS = {"ResourceId": "set_ResourceIds", "Tag": "set_Tags", "TagKey": "set_TagKeys"}


@dataclass
class Kms:
    """A client for one SDK mode. ``call`` returns the response body as a dict."""

    mode: str
    endpoint: str
    access_key_id: str
    secret: str
    region: str = "cn-hangzhou"
    ca: str | None = None  # the CA certificate to verify the server with: HTTPS, as README says

    @property
    def protocol(self) -> str:
        return "http" if self.ca is None else "https"

    def __post_init__(self) -> None:
        if self.mode.startswith("new"):
            cfg = Config(
                access_key_id=self.access_key_id,
                access_key_secret=self.secret,
                endpoint=self.endpoint,
                protocol=self.protocol,
                region_id=self.region,
                ca=self.ca,
            )
            if self.mode == "new-v2":
                cfg.signature_algorithm = "v2"
            if self.region != "cn-hangzhou":
                # The new SDK names no region on the wire; the server's default is cn-hangzhou.
                cfg.global_parameters = GlobalParameters(queries={"RegionId": self.region})
            self._new = NewClient(cfg)
        else:
            self._old = AcsClient(self.access_key_id, self.secret, self.region, verify=self.ca)

    @property
    def sends_region(self) -> bool:
        """Only the old SDK sends RegionId on every call; the new one relies on the endpoint."""
        return self.mode == "old"

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if v is not None}
        if self.mode.startswith("new"):
            return self._call_new(action, params)
        return self._call_old(action, params)

    def _call_new(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if not self.sends_region and action in ("TagResources", "UntagResources", "ListTagResources"):
            params.setdefault("RegionId", self.region)
        method = getattr(self._new, f"{_snake(action)}_with_options")
        model = getattr(new_models, f"{action}Request", None)
        # Actions without parameters (DescribeRegions, DescribeAccountKmsStatus, OpenKmsService)
        # have no request model: their method takes only the runtime options.
        args = () if model is None else (model().from_map(params),)
        try:
            response = method(*args, RuntimeOptions())
        except AlibabaCloudException as exc:
            data = exc.data or {}
            raise ApiError(
                str(exc.code), int(exc.status_code or 0), str(data.get("RequestId", "")), str(exc.message)
            ) from None
        body: dict[str, Any] = response.body.to_map()
        return body

    def _call_old(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            module = importlib.import_module(f"aliyunsdkkms.request.v20160120.{action}Request")
        except ModuleNotFoundError:  # an action newer than the old SDK (BatchGetSecretValue): its CommonRequest
            request: Any = CommonRequest(domain=self.endpoint, version="2016-01-20", action_name=action)
            request.set_method("POST")
            request.set_protocol_type(self.protocol)
            for name, value in params.items():
                request.add_query_param(name, value if isinstance(value, str) else json.dumps(value))
        else:
            request = getattr(module, f"{action}Request")()
            request.set_endpoint(self.endpoint)
            request.set_protocol_type(self.protocol)
            for name, value in params.items():
                setter = getattr(request, _OLD_SETTERS.get(name, f"set_{name}"))
                if isinstance(value, dict):
                    setter(json.dumps(value))
                elif isinstance(value, bool):
                    setter(str(value))
                else:
                    setter(value)
        try:
            raw = self._old.do_action_with_exception(request)
        except ServerException as exc:
            raise ApiError(
                exc.get_error_code(), exc.get_http_status(), exc.get_request_id() or "", exc.get_error_msg()
            ) from None
        body: dict[str, Any] = json.loads(raw)
        return body
