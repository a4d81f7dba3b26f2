"""The ceiling of the stack: a Starlette endpoint that reads the request and answers a fixed
Encrypt-shaped JSON body, with no signature, no key and no storage."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_BODY = {
    "KeyId": "00000000-0000-0000-0000-000000000000",
    "KeyVersionId": "00000000-0000-0000-0000-000000000000",
    "CiphertextBlob": "A" * 160,
    "RequestId": "00000000-0000-0000-0000-000000000000",
}


async def endpoint(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(_BODY)


app = Starlette(routes=[Route("/", endpoint, methods=["GET", "POST"])])
