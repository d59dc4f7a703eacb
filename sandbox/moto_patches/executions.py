"""Step Functions: StartExecution names an execution as AWS does.

moto 5.2.5's executing backend takes the name as given: without one the ARN ends in `:None`, the run fails
on `$$.Execution.Name` being null, and a second unnamed start is `ExecutionAlreadyExists`. AWS names it with
a UUID, and refuses a name with whitespace, wildcards or control characters, or longer than 80, with
`InvalidName`; `install_execution_names()` does both and returns the undo.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["install_execution_names"]


def install_execution_names() -> Callable[[], None]:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        if name:
            self._validate_name(name)
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]

    def undo() -> None:
        StepFunctionsParserBackend.start_execution = original  # type: ignore[method-assign]

    return undo
