"""`aws SERVICE OPERATION --param value ... [--query Q] [--output text|json]` through boto3, for the README
check on a machine without the AWS CLI: parameter names as the CLI spells them (kebab case of the API's
member names), `file://` values read, `--query` by JMESPath, as the CLI does for these simple commands;
`lambda invoke` takes its outfile as the last argument and writes the payload there, as the CLI does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import jmespath  # type: ignore[import-untyped]
from botocore import xform_name


def _value(text: str, shape) -> object:
    if text.startswith("file://"):
        text = Path(text[7:]).read_text()
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text.lower() == "true"
    if shape.type_name in ("structure", "list", "map"):
        return json.loads(text)
    if shape.type_name == "blob":
        return text.encode()
    return text


def main(argv: list[str]) -> int:
    service, operation, *rest = argv
    client = boto3.client(service)
    model = client.meta.service_model.operation_model(
        next(op for op in client.meta.service_model.operation_names if xform_name(op, "-") == operation)
    )
    members = {xform_name(name, "-"): (name, shape) for name, shape in model.input_shape.members.items()}
    params, query, output = {}, None, "json"
    outfile = rest.pop() if (service, operation) == ("lambda", "invoke") else None
    pairs = iter(rest)
    for flag in pairs:
        value = next(pairs)
        if flag == "--cli-binary-format":
            continue  # the CLI v2 flag: the payload is given as it is, as here
        if flag == "--query":
            query = value
        elif flag == "--output":
            output = value
        else:
            name, shape = members[flag[2:]]
            params[name] = _value(value, shape)
    result = getattr(client, xform_name(model.name))(**params)
    result.pop("ResponseMetadata", None)
    if outfile is not None:
        Path(outfile).write_bytes(result.pop("Payload").read())
    found = jmespath.search(query, result) if query else result
    if output == "text" and not isinstance(found, (dict, list)):
        print(found)
    else:
        print(json.dumps(found, default=str, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
