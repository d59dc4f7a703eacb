"""The console's fleet pages over the product's query API: the region picture and the inventory."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .html import BASE, cells, e, facts, table

INVENTORY_FILTERS = ("regions", "accountId", "sourceAccountId", "stagingAccountId", "replicationState", "hostname")
REGION_STATUSES = ("servers", "empty", "UNINITIALIZED", "NOT_ENABLED", "ACCESS_DENIED", "THROTTLED", "ERROR")


def cell_status(row: dict[str, Any] | None) -> str:
    """A region status row as the picture colours it: AVAILABLE splits into servers and empty."""
    if row is None:
        return "none"
    status = str(row.get("status"))
    if status == "AVAILABLE":
        return "servers" if (row.get("serverCount") or 0) > 0 else "empty"
    return status if status in REGION_STATUSES else "ERROR"


def _cell(account: str, region: str, row: dict[str, Any] | None, next_scan: bool) -> str:
    status = cell_status(row)
    css = f"rs-{status}" + (" next-scan" if next_scan else "")
    count = "" if row is None or row.get("serverCount") is None else f"{row['serverCount']} servers"
    checked = "" if row is None else str(row.get("lastChecked") or "never")
    title = f"{account} {region}: {status}" + (f" ({row.get('errorCode')})" if row and row.get("errorCode") else "")
    return (
        f"<td class='{css}' title='{e(title)}' data-testid='region-cell' data-account='{e(account)}' "
        f"data-region='{e(region)}' data-status='{e(status)}' data-next-scan='{str(next_scan).lower()}'>"
        f"<b>{e(status)}</b> {e(count)} <span class='muted'>{e(checked[5:16].replace('T', ' '))}</span></td>"
    )


def regions_main(body: dict[str, Any]) -> str:
    rows = {(r["accountId"], r["region"]): r for r in body.get("statuses", [])}
    accounts = sorted({a for a, _ in rows})
    regions = list(body.get("regions", []))
    next_scan = {tuple(p) for p in body.get("nextScan", [])}
    head = "<tr><th>region</th>" + "".join(f"<th>{e(a)}</th>" for a in accounts) + "</tr>"
    lines = [
        f"<tr><th>{e(r)}</th>" + "".join(_cell(a, r, rows.get((a, r)), (a, r) in next_scan) for a in accounts) + "</tr>"
        for r in regions
    ]
    legend = "".join(f"<span><i class='rs-{s}'></i>{s}</span>" for s in REGION_STATUSES)
    return (
        "<h1>Regions</h1>"
        + facts(
            [
                ("decision", e(body.get("decision"))),
                ("active regions", e(", ".join(body.get("activeRegions", [])))),
                ("regions skipped", e(body.get("regionsSkipped"))),
                ("next filtered plan", f"{len(next_scan)} of {len(accounts) * len(regions)} pairs (outlined)"),
            ]
        )
        + f"<p class='legend'>{legend}<span><i class='next-scan'></i>next filtered plan scans it</span></p>"
        + f"<table class='region-grid' data-testid='regions'><thead>{head}</thead>"
        + f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _filter_form(params: dict[str, str]) -> str:
    fields = "".join(
        f"<label>{name}<input name='{name}' value='{e(params.get(name, ''))}' data-testid='filter-{name}'></label>"
        for name in (*INVENTORY_FILTERS, "limit")
    )
    return f"<form class='filters' method='get'>{fields}<button type='submit' data-testid='apply'>apply</button></form>"


def _server_row(server: dict[str, Any]) -> str:
    sid = str(server.get("sourceServerID", ""))
    topology = f"{BASE}/inventory?{urlencode({'topology': sid})}"
    return cells(
        f"<code>{e(sid)}</code>",
        e(server.get("hostname")),
        e(server.get("accountId")),
        e(server.get("region")),
        e(server.get("replicationState")),
        e(server.get("sourceAccountId")),
        e(server.get("stagingAccountId")),
        f"<a href='{e(topology)}' data-testid='topology-link'>failback topology</a>",
    ).replace("<tr>", "<tr data-testid='server'>", 1)


def inventory_main(body: dict[str, Any], params: dict[str, str], topology: dict[str, Any] | None = None) -> str:
    servers = body.get("servers", [])
    fresh = body.get("freshness") or {}
    parts = ["<h1>Inventory</h1>", _filter_form(params)]
    if topology is not None:
        parts.append("<h2>Failback topology</h2>" + facts((k, e(v)) for k, v in sorted(topology.items())))
    parts.append(
        facts(
            [
                ("regions", e(", ".join(body.get("regions", [])))),
                ("region decision", e(body.get("regionDecision"))),
                ("fresh", e(fresh.get("fresh"))),
                ("stale pairs", e(len(fresh.get("stalePairs", [])))),
                ("servers on this page", e(body.get("count"))),
            ]
        )
    )
    headers = ("source server", "hostname", "account", "region", "replication", "source account", "staging", "")
    parts.append(table(headers, [_server_row(s) for s in servers], testid="servers"))
    if body.get("nextToken"):
        query = {k: v for k, v in params.items() if k in (*INVENTORY_FILTERS, "limit") and v}
        query["nextToken"] = body["nextToken"]
        parts.append(f"<p><a data-testid='next-page' href='{BASE}/inventory?{e(urlencode(query))}'>next page</a></p>")
    return "".join(parts)
