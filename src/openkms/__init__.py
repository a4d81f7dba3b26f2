"""openkms: a self-hostable KMS that speaks the Alibaba Cloud KMS API (2016-01-20)."""

__version__ = "0.1.0"
API_VERSION = "2016-01-20"

__all__ = ["API_VERSION", "__version__"]
