"""The staging sync's DRS reads, each taking the active regions it may touch (the plan resolved them): the
staging account's extensible servers and the target's extended servers.

ListExtensibleSourceServers is called in the target account for each staging account it trusts: it already
leaves out servers extended into this target, so nothing is compared by hand and no staging-account role is
needed (role assumptions == work items).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...core.reads import PAGE_SIZE, chunks

EXTENSIBLE_PAGE_SIZE = 300  # the model's maximum for ListExtensibleSourceServers
STAGING_FILTER_BATCH = 200  # DescribeSourceServers filters.stagingAccountIDs holds at most 200 ids

DrsFor = Callable[[str], Any]  # region -> a DRS client in the target account


def get_staging_account_servers(
    drs_for: DrsFor, staging_account_id: str, active_regions: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per active region: the staging account's servers not yet extended into the target the clients act in.

    ListExtensibleSourceServers, 300 per page, every page. Called in the target account: it needs the
    target's trust in the staging account, not a role in the staging account.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for region in active_regions:
        items: list[dict[str, Any]] = []
        drs = drs_for(region)
        for page in drs.get_paginator("list_extensible_source_servers").paginate(
            stagingAccountID=staging_account_id, PaginationConfig={"PageSize": EXTENSIBLE_PAGE_SIZE}
        ):
            items.extend(page.get("items", []))
        out[region] = items
    return out


def get_extended_source_servers(
    drs_for: DrsFor, staging_account_ids: list[str], active_regions: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per active region: the target's source servers extended from the given staging accounts.

    DescribeSourceServers filtered by stagingAccountIDs (200 ids per filter), 1,000 per page. Read-only;
    the auto-extend itself does not need it (ListExtensibleSourceServers already leaves these out).
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for region in active_regions:
        drs = drs_for(region)
        servers: list[dict[str, Any]] = []
        for batch in chunks(sorted(set(staging_account_ids)), STAGING_FILTER_BATCH):
            for page in drs.get_paginator("describe_source_servers").paginate(
                filters={"stagingAccountIDs": batch}, PaginationConfig={"PageSize": PAGE_SIZE}
            ):
                servers.extend(
                    s for s in page.get("items", []) if (s.get("stagingArea") or {}).get("status") == "EXTENDED"
                )
        out[region] = servers
    return out
