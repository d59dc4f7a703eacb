"""AWS managed policies, from the copy moto ships: names to ARNs for the translator, documents for IAM."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any


@cache
def _aws_managed_policies_text() -> str:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # 4 MB: only when a template needs it

    return aws_managed_policies_data


@cache
def aws_managed_policy_arns() -> dict[str, str]:
    """name -> ARN of every AWS managed policy moto knows (without parsing the 4 MB document).
    The translator asks for this map (it would call iam:ListPolicies) when Policies name one."""
    text = _aws_managed_policies_text()
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'^ "([^"]+)":\{$', text, re.MULTILINE)]
    out: dict[str, str] = {}
    for (start, name), (end, _) in zip(starts, [*starts[1:], (len(text), "")], strict=True):
        path = re.search(r'^  "Path":"([^"]*)"', text[start:end], re.MULTILINE)
        out[name] = f"arn:aws:iam::aws:policy{path.group(1) if path else '/'}{name}"
    return out


def aws_managed_policy_document(name: str) -> dict[str, Any] | None:
    """The data moto holds for one AWS managed policy, parsed on its own."""
    text = _aws_managed_policies_text()
    start = text.find(f'\n "{name}":{{')
    if start < 0:
        return None
    brace = text.index("{", start + len(name) + 4)
    data, _ = json.JSONDecoder().raw_decode(text, brace)
    return data
