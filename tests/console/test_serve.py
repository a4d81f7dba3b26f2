"""``openkms serve`` serves the console at /console, and every worker process accepts the sessions
any other worker issued: the cookie key is derived from the shared root key."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.servers import process_server

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_sessions_work_across_worker_processes(tmp_path: Path) -> None:
    with process_server(tmp_path / "data", workers=2) as srv:
        admin = srv.admin()
        with httpx.Client(base_url=srv.base_url, timeout=10) as client:
            page = client.get("/console/", follow_redirects=True)
            assert page.status_code == 200
            assert str(page.url).endswith("/console/login")
            token = TOKEN.search(page.text)
            assert token is not None
            logged = client.post(
                "/console/login",
                data={
                    "csrf_token": token.group(1),
                    "access_key_id": admin["AccessKeyId"],
                    "access_key_secret": admin["AccessKeySecret"],
                },
            )
            assert logged.status_code == 303
            # Fresh connections spread over both workers; each must accept the session and its token.
            for n in range(12):
                with httpx.Client(base_url=srv.base_url, cookies=client.cookies, timeout=10) as fresh:
                    keys = fresh.get("/console/cn-hangzhou/keys")
                    assert keys.status_code == 200, keys.text[:200]
                    token = TOKEN.search(keys.text)
                    assert token is not None
                    made = fresh.post(
                        "/console/cn-hangzhou/keys/create",
                        data={"csrf_token": token.group(1), "spec": "Aliyun_AES_256", "alias": f"worker-{n}"},
                    )
                    assert made.status_code == 303, made.text[:300]
        assert "openkms/console/" not in srv.log()  # no traceback through the console's code
