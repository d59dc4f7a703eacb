"""moto, made fast and quiet for the sandbox without changing what it answers. Each function returns its undo."""

from __future__ import annotations

import logging
import threading
from typing import Any

_loaders: dict[str | None, Any] = {}  # data path -> botocore Loader, kept across sandboxes
_loaders_lock = threading.Lock()


def speed_up_moto() -> Any:
    """Two moto 5.2.5 hot spots that make fan-out runs CPU-bound, fixed without changing behaviour:
    * every backend lookup takes a global lock and scans a list of ~150 BackendDicts with a Python
      __eq__; once an account's backend exists (the common case) a dict lookup answers;
    * UpdateExpression validators re-check every sub-expression (192 of 296 nodes for a 46-action SET),
      O(n^2); the root's check covers its sub-expressions, so only the root is checked. A product
      update_item of ~45 attributes drops from ~30 ms to ~18 ms.

    Also: moto loads its public AMIs (about 1,300 in us-east-1) into every account's and region's EC2
    backend; nothing reads them, so they are not loaded (MOTO_EC2_LOAD_DEFAULT_AMIS, set by
    runtime.isolate_aws_environment)."""
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import UpdateExpression  # type: ignore[attr-defined]

    undo: list[Any] = []
    create = BackendDict._create_account_specific_backend

    def _create_account_specific_backend(self_: Any, account_id: str) -> None:
        if dict.__contains__(self_, account_id):  # reset() clears the dict and the registry together
            return
        create(self_, account_id)

    setattr(BackendDict, "_create_account_specific_backend", _create_account_specific_backend)  # noqa: B010
    undo.append(lambda: setattr(BackendDict, "_create_account_specific_backend", create))

    def root_only(cls: Any, check: str) -> None:
        original = cls.traverse

        def traverse(self_: Any, node: Any) -> Any:
            if isinstance(node, UpdateExpression):
                getattr(self_, check)(node)
                return node
            return original(self_, node)

        cls.traverse = traverse
        undo.append(lambda: setattr(cls, "traverse", original))

    root_only(validators.OverlappingPathsValidator, "check_for_overlapping_paths")
    root_only(validators.ActionCountValidator, "verify_action_counts")

    def undo_all() -> None:
        while undo:
            undo.pop()()

    return undo_all


def share_botocore_loaders() -> Any:
    """Every boto3 Session (each sandbox's, each cold handler's) reads the service models from disk again:
    JSON decoding was an eighth of a workflow test's CPU. Sessions made while the sandbox is open share one
    loader per data path, as every client of boto3's default session does; what they load is the same."""
    import botocore.loaders
    import botocore.session

    new_loader = botocore.session.create_loader

    def shared_loader(search_path_string: str | None = None) -> Any:
        with _loaders_lock:
            if search_path_string not in _loaders:
                _loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
            return _loaders[search_path_string]

    botocore.session.create_loader = shared_loader
    return lambda: setattr(botocore.session, "create_loader", new_loader)


def quiet_interpreter_log() -> Any:
    """moto's interpreter logs every error a state raises at ERROR, including the ones Retry and Catch
    handle; they are control flow here, so keep them out of the output unless someone asked for them."""
    logger = logging.getLogger("moto.stepfunctions.parser")
    if logger.level != logging.NOTSET:
        return lambda: None
    logger.setLevel(logging.CRITICAL)
    return lambda: logger.setLevel(logging.NOTSET)
