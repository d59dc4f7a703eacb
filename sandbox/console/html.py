"""Small HTML helpers for the console's pages: escaping, the page frame, tables, times."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import quote

BASE = "/console"


def e(value: Any) -> str:
    return "" if value is None else escape(str(value))


def execution_url(arn: str) -> str:
    return f"{BASE}/executions/{quote(arn, safe='')}"


def map_run_url(arn: str) -> str:
    return f"{BASE}/map-runs/{quote(arn, safe='')}"


def when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    return e(value)


def duration(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms / 1000:.2f} s" if ms < 120_000 else f"{ms / 60_000:.1f} min"


def badge(status: str | None) -> str:
    return f"<span class='badge {e(status)}' data-testid='status'>{e(status)}</span>"


def pretty(value: Any) -> str:
    return f"<pre>{e(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"


def table(headers: Iterable[str], rows: Iterable[str], *, testid: str = "", css: str = "") -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(rows)
    return (
        f"<table data-testid='{e(testid)}' class='{e(css)}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def cells(*values: str) -> str:
    """One table row from already-escaped cell HTML."""
    return "<tr>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>"


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    return "<dl class='facts'>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def page(title: str, main: str, *, main_attrs: str = "") -> str:
    nav = "".join(
        f"<a href='{BASE}/{path}'>{label}</a>"
        for path, label in (("", "State machines"), ("regions", "Regions"), ("inventory", "Inventory"))
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)} - DRS Fleet Sync console</title>"
        f"<link rel='stylesheet' href='{BASE}/static/console.css'>"
        f"<script src='{BASE}/static/console.js'></script></head><body>"
        f"<header><span class='brand'>DRS Fleet Sync (sandbox)</span>{nav}</header>"
        f"<main {main_attrs}>{main}</main></body></html>"
    )


def error_page(message: str) -> str:
    return page("Error", f"<h1>Not found</h1><p class='error' data-testid='error'>{e(message)}</p>")
