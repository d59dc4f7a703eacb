"""Run SAM CLI's own AWS::LanguageExtensions expander (samcli.lib.cfn_language_extensions) on templates.

Runs in SAM CLI's venv (.venv-sam: SAM CLI pins another boto3 than the dev venv), called by
test_stack_language_extensions.py:  .venv-sam/bin/python sam_language_extensions.py IN... > OUT.json
Each IN is a YAML or JSON template; the output is a JSON list of the expanded templates, in order.
"""

import json
import sys

# samcli is installed in .venv-sam only, not in the venv mypy runs in
from samcli.lib.cfn_language_extensions.sam_integration import (  # type: ignore[import-not-found]
    process_template_for_sam_cli,
)
from samcli.yamlhelper import yaml_parse  # type: ignore[import-not-found]


def main(paths):
    out = []
    for path in paths:
        with open(path) as f:
            template = yaml_parse(f.read())
        out.append(process_template_for_sam_cli(template))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
