"""`python -m sandbox.stack expand TEMPLATE OUT.json`: write the template with AWS::LanguageExtensions
expanded, for tools that cannot read Fn::ForEach (checkov: `make template-checks`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .language_extensions import expand
from .model import DeployError
from .template import read_template


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "expand":
        print("usage: python -m sandbox.stack expand TEMPLATE OUT.json", file=sys.stderr)
        return 2
    source, target = Path(args[1]), Path(args[2])
    try:
        expanded = expand(read_template(source))
    except DeployError as exc:
        print(f"sandbox.stack: {exc}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(expanded, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
