"""API tests: every route end to end on the sandbox (API Gateway events -> the routed function -> real
state machines and tables), through `Sandbox.api`."""

from __future__ import annotations

import pytest
from api_support import denied_calls, recorded_calls


@pytest.fixture()
def iam_checked(request):
    """Records the AWS calls the API functions make during the test and fails it when the function's role (as
    the template defines it) would deny one. Needs the module's `sb` fixture."""
    sb = request.getfixturevalue("sb")
    with recorded_calls() as calls:
        yield calls
    problems = {
        fn: denied
        for fn in ("QueryApiFunction", "ManageApiFunction", "DataManagementFunction")
        if (denied := denied_calls(sb, calls, fn))
    }
    assert problems == {}, f"calls the template's policies do not allow: {problems}"
