#!/usr/bin/python3
"""Writes deterministic ActionTrail events for the CLI end-to-end tests.

usage: mkevents.py OUT N ACCOUNT START_EPOCH STEP_SECONDS [--format jsonl|array|gz] [--prefix P]

Event i (0-based) has eventTime START + i*STEP, eventId "<P>-<ACCOUNT>-<i>",
eventName NAMES[i % 4], user "user<i % 3>", errorCode "Forbidden" when
i % 7 == 3 (else ""), resourceName "i-<i % 5>", eventRW Write when i is even,
so a test can compute every expected count with arithmetic.
"""
import gzip
import json
import sys
import time

NAMES = ["DeleteInstance", "CreateUser", "DescribeRegions", "ConsoleSignin"]


def event(i, account, start, step, prefix):
    t = start + i * step
    name = NAMES[i % 4]
    return {
        "eventId": "%s-%s-%d" % (prefix, account, i),
        "eventVersion": "1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "eventType": "ConsoleSignin" if name == "ConsoleSignin" else "ApiCall",
        "eventRW": "Write" if i % 2 == 0 else "Read",
        "eventSource": "ecs.aliyuncs.com",
        "serviceName": "Ecs",
        "eventName": name,
        "acsRegion": "cn-hangzhou",
        "requestId": "req-%d" % i,
        "sourceIpAddress": "10.0.%d.%d" % (i % 3, i % 200),
        "userAgent": "tests",
        "userIdentity": {
            "type": "ram-user",
            "principalId": "2000%d" % (i % 3),
            "accountId": account,
            "userName": "user%d" % (i % 3),
            "accessKeyId": "LTAIkey%d" % (i % 3),
        },
        "requestParameters": {"InstanceId": "i-%d" % (i % 5)},
        "errorCode": "Forbidden" if i % 7 == 3 else "",
        "errorMessage": "denied" if i % 7 == 3 else "",
        "resourceType": "ACS::ECS::Instance",
        "resourceName": "i-%d" % (i % 5),
        "isGlobal": False,
        "recipientAccountId": account,
    }


def main():
    args = sys.argv[1:]
    fmt, prefix = "jsonl", "e"
    if "--format" in args:
        k = args.index("--format")
        fmt = args[k + 1]
        del args[k:k + 2]
    if "--prefix" in args:
        k = args.index("--prefix")
        prefix = args[k + 1]
        del args[k:k + 2]
    out, n, account, start, step = args[0], int(args[1]), args[2], int(args[3]), int(args[4])
    evs = [event(i, account, start, step, prefix) for i in range(n)]
    if fmt == "array":
        data = json.dumps(evs, indent=1).encode()
    else:
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in evs).encode()
    if fmt == "gz":
        data = gzip.compress(data)
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
