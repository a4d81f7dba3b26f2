"""The catalogue of regions a server offers, and how a request's region is chosen."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openkms.domain import errors


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    mainland_china: bool
    local_name: str = ""


DEFAULT_REGIONS: tuple[Region, ...] = (
    Region("cn-hangzhou", True, "China (Hangzhou)"),
    Region("cn-shanghai", True, "China (Shanghai)"),
    Region("cn-beijing", True, "China (Beijing)"),
    Region("cn-shenzhen", True, "China (Shenzhen)"),
    Region("cn-qingdao", True, "China (Qingdao)"),
    Region("cn-zhangjiakou", True, "China (Zhangjiakou)"),
    Region("cn-hongkong", False, "China (Hong Kong)"),
    Region("ap-southeast-1", False, "Singapore"),
    Region("ap-northeast-1", False, "Japan (Tokyo)"),
    Region("us-west-1", False, "US (Silicon Valley)"),
    Region("us-east-1", False, "US (Virginia)"),
    Region("eu-central-1", False, "Germany (Frankfurt)"),
)
DEFAULT_REGION = "cn-hangzhou"

# kms.cn-hangzhou.aliyuncs.com, kms-vpc.cn-hangzhou.aliyuncs.com, kms.cn-hangzhou.example.internal
_HOST = re.compile(r"^kms(?:-vpc)?\.([a-z0-9-]+)\.")


@dataclass(frozen=True, slots=True)
class RegionCatalogue:
    regions: tuple[Region, ...]
    default: str

    def __post_init__(self) -> None:
        if self.default not in {r.id for r in self.regions}:
            raise ValueError(f"default region {self.default!r} is not in the catalogue")

    def get(self, region_id: str) -> Region:
        for region in self.regions:
            if region.id == region_id:
                return region
        raise errors.InvalidRegion(region_id)

    def resolve(self, region_param: str | None, host: str | None) -> Region:
        """RegionId parameter, else a ``kms[-vpc].<region>.`` Host, else the default region."""
        if region_param:
            return self.get(region_param)
        if host:
            match = _HOST.match(host.lower())
            if match and any(r.id == match.group(1) for r in self.regions):
                return self.get(match.group(1))
        return self.get(self.default)
