"""Register the DRS simulator as a moto 5.2.5 service called ``drs``.

After :func:`register_with_moto`:

* ``mock_aws()`` intercepts ``https://drs.<region>.amazonaws.com`` like any moto service;
* moto server (``ThreadedMotoServer`` / ``moto_server``) routes SigV4 requests whose credential scope
  service is ``drs`` to the simulator, so one ``AWS_ENDPOINT_URL`` serves STS, IAM, EC2, DynamoDB and DRS;
* the account of a request is moto's own ``current_account`` (``MOTO_ACCOUNT_ID``, the
  ``x-moto-account-id`` header, or the account moto keyed the access key to, e.g. STS AssumeRole
  credentials), the region is moto's (URL or credential scope) - exactly as for moto's EC2;
* recovery instances the simulator launches are real moto EC2 instances (``MotoEc2Bridge``);
* a moto reset (``mock_aws`` start/stop, ``POST /moto-api/reset``) also resets the simulator.

This relies on moto internals (``backend_index.backend_url_patterns``, ``backends.get_backend`` importing
``moto.<service>``, ``BaseResponse.setup_class``, ``BackendDict.reset``): moto is pinned to 5.2.5 for that.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.responses import BaseResponse

from .engine import DrsEngine
from .specs import InstanceInfo, InstanceSpec

__all__ = ["ENGINE", "MotoEc2Bridge", "register_with_moto", "seeded_moto_random"]

URL_PATTERN = r"https?://drs\.(.+)\.amazonaws\.com"
FALLBACK_IMAGE_ID = "ami-0a1b2c3d4e5f60718"

ENGINE = DrsEngine()
"""The process-wide engine every ``mock_aws()`` session and the moto server share."""

_register_lock = threading.Lock()
_random_lock = threading.RLock()
_registered = False


# ------------------------------------------------------------------------------------ EC2 bridge
@contextlib.contextmanager
def seeded_moto_random(seed: int | None) -> Iterator[None]:
    """Make moto's ids deterministic inside the block (``seed=None``: leave moto's random alone).

    moto draws every id from one ``MotoRandom``; its state is saved and restored around the block so
    code outside is not affected.
    """
    if seed is None:
        yield
        return
    from moto.moto_api._internal import mock_random

    with _random_lock:
        saved = mock_random.getstate()
        mock_random.seed(seed)
        try:
            yield
        finally:
            mock_random.setstate(saved)


@contextlib.contextmanager
def _fast_image_lookup(backend: Any) -> Iterator[None]:
    """moto's Instance() looks its AMI up with ``describe_images(filters={"image-id": id})``, a linear filter
    over ~1,300 default AMIs (~8 ms per instance). Answer that exact query from the dict instead."""
    original = backend.describe_images

    def describe_images(ami_ids: Any = None, filters: Any = None, exec_users: Any = None, owners: Any = None) -> Any:
        if not ami_ids and not exec_users and not owners and filters and set(filters) == {"image-id"}:
            wanted = filters["image-id"]
            if isinstance(wanted, str):
                ami = backend.amis.get(wanted)
                return [ami] if ami is not None else []
        return original(ami_ids=ami_ids, filters=filters, exec_users=exec_users, owners=owners)

    with _random_lock:
        backend.describe_images = describe_images
        try:
            yield
        finally:
            del backend.describe_images  # back to the class method


class MotoEc2Bridge:
    """Creates and terminates the moto EC2 instances behind DRS resources (backend calls, no HTTP)."""

    def run_instances(
        self, account: str, region: str, specs: list[InstanceSpec], *, seed: int | None = None
    ) -> list[InstanceInfo]:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account][region]  # created outside the seeded block: stable ids
        image_id = min(backend.amis) if getattr(backend, "amis", None) else FALLBACK_IMAGE_ID
        out: list[InstanceInfo | None] = [None] * len(specs)
        by_type: dict[str, list[int]] = {}
        for i, spec in enumerate(specs):
            by_type.setdefault(spec.instance_type, []).append(i)
        with seeded_moto_random(seed), _fast_image_lookup(backend):
            for instance_type, positions in by_type.items():
                reservation = backend.run_instances(
                    image_id,
                    len(positions),
                    None,
                    [],
                    instance_type=instance_type,
                    is_instance_type_default=False,
                    region_name=region,
                    tags={},
                )
                for pos, instance in zip(positions, reservation.instances, strict=True):
                    instance.add_tags(specs[pos].tags)
                    nic = instance.nics.get(0)
                    out[pos] = InstanceInfo(
                        instance_id=instance.id,
                        availability_zone=instance.placement.zone or f"{region}a",
                        private_ip=instance.private_ip,
                        mac_address=getattr(nic, "mac_address", None),
                    )
        return [info for info in out if info is not None]

    def terminate_instances(self, account: str, region: str, instance_ids: list[str]) -> None:
        from moto.ec2.exceptions import InvalidInstanceIdError
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account][region]
        for iid in instance_ids:
            with contextlib.suppress(InvalidInstanceIdError):
                backend.terminate_instances([iid])


# ---------------------------------------------------------------------------------- moto service
class DRSResponse(BaseResponse):
    """Hands each request to :data:`ENGINE` with moto's account and region."""

    def __init__(self) -> None:
        super().__init__(service_name="drs")

    def _dispatch(self, request: Any, full_url: str | None = None, headers: Any = None) -> Any:
        self.setup_class(request, full_url, headers, use_raw_body=True)
        raw_path = getattr(request, "raw_path", None) or urlsplit(full_url or "").path or "/"
        query = parse_qs(urlsplit(full_url or "").query, keep_blank_values=True)
        body = self.raw_body
        if isinstance(body, str):
            body = body.encode()
        return ENGINE.handle(
            self.method, raw_path, query, body or b"", account=self.current_account, region=self.region
        )


class DRSBackend(BaseBackend):
    """moto needs a backend per account and region; the state lives in :data:`ENGINE`."""

    @property
    def _url_module(self) -> Any:
        return sys.modules[__name__]


url_bases = [URL_PATTERN]
url_paths = {"{0}/.*$": DRSResponse.dispatch}
drs_backends = BackendDict(DRSBackend, "drs")


# ---------------------------------------------------------------------------------- registration
def register_with_moto() -> DrsEngine:
    """Register DRS into moto (idempotent) and return the process-wide :class:`DrsEngine`.

    Call it before ``mock_aws()`` starts (``requests``-based interception is set up at start; botocore
    interception reads the patterns on every request) or before starting a moto server.
    """
    global _registered
    with _register_lock:
        if _registered:
            return ENGINE
        import moto.backend_index as backend_index

        shim = ModuleType("moto.drs")
        shim.drs_backends = drs_backends  # type: ignore[attr-defined]
        shim.__doc__ = "DRS simulator (sandbox.drs.moto_plugin) registered as a moto service."
        sys.modules["moto.drs"] = shim
        if not any(name == "drs" for name, _ in backend_index.backend_url_patterns):
            backend_index.backend_url_patterns.append(("drs", re.compile(URL_PATTERN)))
        _patch_backend_reset()
        ENGINE.ec2 = MotoEc2Bridge()
        _registered = True
        return ENGINE


def _patch_backend_reset() -> None:
    """Make every moto reset (mock start/stop, /moto-api/reset) reset the simulator too."""
    original = BackendDict.__dict__["reset"].__func__

    def reset(cls: type[BackendDict[Any]]) -> None:
        original(cls)
        ENGINE.reset()  # after moto released its backend lock: the engine may call into moto EC2

    reset.__wrapped__ = original  # type: ignore[attr-defined]
    BackendDict.reset = classmethod(reset)  # type: ignore[assignment,method-assign]
