"""What access control costs an Encrypt: the same key, signed by the account's own AccessKey (no
policy is evaluated) and by a RAM user with 20 attached policies of 10 statements each (every
statement evaluated: the one that allows Encrypt is the last of the last policy).

One ``openkms serve`` (``--workers``), driven by wrk with pre-signed V1 requests at concurrency 16;
the two callers take turns within each round, so machine load hurts both alike. Reports server
CPU per request, and the ratio user / account (the target: within 1.10).

    python benchmarks/authorization_cost.py [--workers 1] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
from functools import partial

import harness

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()
RAM = "2015-05-01"
POLICIES, STATEMENTS = 20, 10
CONFIG = "[ram]\ncustom_policies_per_user = 20\n"


def statements(policy_no: int, key_arn: str) -> list[dict[str, object]]:
    """Nine statements that do not match an Encrypt of this key, and, in the last policy, one that does."""
    out: list[dict[str, object]] = [
        {"Effect": "Allow", "Action": [f"kms:Describe{n}*", "kms:List*"], "Resource": f"acs:kms:*:*:key/other-{n}*"}
        for n in range(STATEMENTS - 1)
    ]
    last = policy_no == POLICIES - 1
    out.append(
        {
            "Effect": "Allow",
            "Action": "kms:Encrypt" if last else "kms:Decrypt",
            "Resource": key_arn if last else "*",
            "Condition": {"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}, "Bool": {"acs:SecureTransport": "false"}},
        }
    )
    return out


def provision(url: str, key_arn: str) -> tuple[str, str]:
    """A RAM user with POLICIES custom policies attached; its AccessKey pair."""
    harness.call(url, "CreateUser", RAM, UserName="bench")
    for n in range(POLICIES):
        document = json.dumps({"Version": "1", "Statement": statements(n, key_arn)})
        harness.call(url, "CreatePolicy", RAM, PolicyName=f"bench-{n}", PolicyDocument=document)
        harness.call(url, "AttachPolicyToUser", RAM, PolicyType="Custom", PolicyName=f"bench-{n}", UserName="bench")
    pair = harness.call(url, "CreateAccessKey", RAM, UserName="bench")["AccessKey"]
    return pair["AccessKeyId"], pair["AccessKeySecret"]  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    cpu: dict[str, list[float]] = {"account": [], "RAM user": []}
    with harness.openkms(args.workers, config=CONFIG) as server:
        meta = harness.call(server.url, "CreateKey")["KeyMetadata"]
        key_id, key_arn = str(meta["KeyId"]), str(meta["Arn"])  # type: ignore[index]
        user = provision(server.url, key_arn)
        params = {"KeyId": key_id, "Plaintext": PLAINTEXT}
        lines = {
            "account": partial(harness.v1_line, "Encrypt", params),
            "RAM user": partial(harness.v1_line, "Encrypt", params, user),
        }
        harness.drive(server, "warm-up", lines["RAM user"], 16, 3, 14000)
        for round_no in range(1, args.rounds + 1):
            order = list(lines) if round_no % 2 else list(lines)[::-1]
            for who in order:
                r = harness.drive(server, who, lines[who], 16, args.seconds, 14000)
                if r.failed:
                    raise SystemExit(f"{who}: {r.failed} requests failed")
                cpu[who].append(r.cpu_us)
                print(f"  round {round_no} {who:9} {r.rps:8.0f} req/s  {r.cpu_us:5.0f} us CPU/req", flush=True)
    account, user_cpu = statistics.median(cpu["account"]), statistics.median(cpu["RAM user"])
    print(f"\nEncrypt, {args.workers} worker(s), median of {args.rounds} rounds")
    print(f"{'caller':44} {'CPU us/req':>10}")
    print(f"{'account AccessKey (no policy evaluated)':44} {account:>10.0f}")
    print(f"{f'RAM user, {POLICIES} policies x {STATEMENTS} statements':44} {user_cpu:>10.0f}")
    per_round = [u / a for u, a in zip(cpu["RAM user"], cpu["account"], strict=True)]
    print(f"ratio user/account: {user_cpu / account:.2f} (per round: {', '.join(f'{x:.2f}' for x in per_round)})")


if __name__ == "__main__":
    main()
