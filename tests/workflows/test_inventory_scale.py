"""What lets one execution hold 10,000 work items: the parent's history and payload do not grow per item.

Items run as Distributed Map child executions (their events are not the parent's), read their work from
the plan in S3, and hand back `{}`; results travel through DynamoDB. So the parent execution's history has
the same length for 34 and for 136 items, far from the 25,000-event limit, and its output stays small.
"""

import json

from sandbox import Sandbox


def accounts(n):
    return {"seed": 1, "accounts": [{"accountId": f"{i}" * 12, "kind": "target"} for i in range(1, n + 1)]}


def parent_history(n_accounts):
    with Sandbox(fleet=accounts(n_accounts), parameters={"LogLevel": "WARNING"}) as sb:
        summary = sb.run_sync("inventory")
        events = sb.history(summary["executionArn"])
        size = len(json.dumps(summary))
        return summary["workItemCount"], len(events), size


def test_the_parent_history_does_not_grow_with_the_work_items():
    small_items, small_events, _ = parent_history(1)
    large_items, large_events, large_size = parent_history(4)
    assert (small_items, large_items) == (34, 136)
    assert large_events == small_events < 100
    # The summary lists work items up to a cap; beyond that only the count grows
    assert large_size < 256 * 1024
