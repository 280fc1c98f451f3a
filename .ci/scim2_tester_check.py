"""Runs the scim2-tester conformance checks against a live idbridge.

Usage: python scim2_tester_check.py <base url ending in /scim/v2> <bearer token>
Exits 1 when any check reports an error.
"""
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client, resource_types=["User", "Group"])
    failed = 0
    for r in results:
        status = r.status.name if hasattr(r.status, "name") else str(r.status)
        print(f"[{status}] {r.title}: {r.reason or ''}".rstrip())
        if r.status == Status.ERROR:
            failed += 1
    print(f"{len(results)} checks, {failed} errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
