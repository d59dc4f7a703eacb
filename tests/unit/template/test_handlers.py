"""Every function's CodeUri holds the module and handler function its Handler names."""

import ast

from template_helpers import SERVERLESS_FUNCTION, function_property, resources_of


def test_every_function_has_its_handler(template_path, template):
    problems = []
    for lid, props in resources_of(template, SERVERLESS_FUNCTION).items():
        if "InlineCode" in props:
            continue
        code_uri = function_property(template, props, "CodeUri")
        handler = function_property(template, props, "Handler", "")
        module, _, func = handler.rpartition(".")
        file = template_path.parent / str(code_uri) / (module.replace(".", "/") + ".py")
        if not module or not file.is_file():
            problems.append(f"{lid}: Handler {handler!r} needs {file.relative_to(template_path.parent)}")
            continue
        tree = ast.parse(file.read_text())
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        if func not in defined:
            problems.append(f"{lid}: {file.name} defines no top-level {func!r}")
    assert problems == []
