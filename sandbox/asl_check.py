"""Semantic checks of an ASL definition that neither moto's parser nor cfn-lint make.

moto checks the grammar on CreateStateMachine but accepts a `Next` to a missing state; cfn-lint does
not read DefinitionUri files. `check()` returns a list of problems (empty = fine):
* StartAt, every Next, Default, Choice and Catch target names a state of the same (sub)machine;
* every state is reachable from StartAt; every non-terminal state has Next or End;
* recursive into Map ItemProcessor/Iterator and Parallel branches;
* no JSONata, `Assign`, `ItemBatcher` or EXPRESS child executions: moto 5.2.5 cannot run them.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")

# Fields moto's interpreter cannot run (JSONata and variables are JSONata-era additions).
_UNSUPPORTED_FIELDS = {
    "Assign": "variables (Assign) do not run on moto",
    "ItemBatcher": "ItemBatcher is rejected by moto's parser",
    "Arguments": "Arguments is JSONata-only",
    "Output": "Output is JSONata-only",
}
_TERMINAL_TYPES = {"Succeed", "Fail", "Choice"}


def placeholders(text: str) -> set[str]:
    """The `${Name}` DefinitionSubstitutions placeholders a definition text uses."""
    return set(PLACEHOLDER.findall(text))


def _choice_targets(rule: dict[str, Any]) -> list[str]:
    return [rule["Next"]] if isinstance(rule.get("Next"), str) else []


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [t for t in (state.get("Next"), state.get("Default")) if isinstance(t, str)]
    for rule in state.get("Choices") or []:
        targets += _choice_targets(rule)
    for catcher in state.get("Catch") or []:
        if isinstance(catcher.get("Next"), str):
            targets.append(catcher["Next"])
    return targets


def check(definition: dict[str, Any], where: str = "") -> list[str]:
    """Problems with one (sub)machine, each prefixed with its path, e.g. `Scan/Process item: ...`."""
    errors: list[str] = []
    if definition.get("QueryLanguage") == "JSONata":
        errors.append(f"{where}QueryLanguage JSONata does not run on moto; use JSONPath")
    states = definition.get("States")
    if not isinstance(states, dict) or not states:
        return [*errors, f"{where}no States"]
    start = definition.get("StartAt")
    if start not in states:
        errors.append(f"{where}StartAt {start!r} is not a state")
    for name, state in states.items():
        if isinstance(state, dict):
            errors += _state_problems(f"{where}{name}", state, states)
        else:
            errors.append(f"{where}{name}: not an object")
    reachable = _reachable(states, start)
    return errors + [f"{where}{name}: unreachable from StartAt" for name in states if name not in reachable]


def _state_problems(here: str, state: dict[str, Any], states: dict[str, Any]) -> list[str]:
    """One state's problems: fields moto cannot run, transitions, Next/End, and its sub-machines."""
    stype = state.get("Type")
    errors = [f"{here}: {why}" for key, why in _UNSUPPORTED_FIELDS.items() if key in state]
    if state.get("QueryLanguage") == "JSONata":
        errors.append(f"{here}: QueryLanguage JSONata does not run on moto")
    errors += [f"{here}: transition to unknown state {t!r}" for t in _targets(state) if t not in states]
    has_next, has_end = "Next" in state, bool(state.get("End"))
    if stype in _TERMINAL_TYPES:
        if has_next or has_end:
            errors.append(f"{here}: a {stype} state takes neither Next nor End")
    elif has_next == has_end:
        errors.append(f"{here}: needs exactly one of Next and End")
    if stype == "Choice" and not state.get("Choices"):
        errors.append(f"{here}: Choice without Choices")
    if stype == "Map":
        errors += _map_problems(here, state)
    if stype == "Parallel":
        branches = state.get("Branches") or []
        if not branches:
            errors.append(f"{here}: Parallel without Branches")
        for i, branch in enumerate(branches):
            errors += check(branch, f"{here}[{i}]/")
    return errors


def _map_problems(here: str, state: dict[str, Any]) -> list[str]:
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if not isinstance(processor, dict):
        return [f"{here}: Map without ItemProcessor"]
    errors = []
    config = processor.get("ProcessorConfig") or {}
    if config.get("Mode") == "DISTRIBUTED" and config.get("ExecutionType", "STANDARD") != "STANDARD":
        errors.append(f"{here}: moto runs only STANDARD child executions of a Distributed Map")
    return errors + check(processor, f"{here}/")


def _reachable(states: dict[str, Any], start: Any) -> set[str]:
    reachable: set[str] = set()
    todo = [start] if start in states else []
    while todo:
        name = todo.pop()
        if name in reachable or name not in states:
            continue
        reachable.add(name)
        if isinstance(states[name], dict):
            todo += _targets(states[name])
    return reachable
