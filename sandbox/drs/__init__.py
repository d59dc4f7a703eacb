"""DRS simulator: AWS Elastic Disaster Recovery served from memory, per account and region.

* :class:`DrsEngine` holds the state and answers restJson1 requests (botocore's ``drs`` model);
* :func:`register_with_moto` plugs it into moto so ``mock_aws()`` and the moto server serve DRS too;
* :mod:`sandbox.drs.server` is a standalone HTTP front-end (``AWS_ENDPOINT_URL_DRS``);
* :mod:`sandbox.fleet` seeds a whole estate from a fleet file.
"""

from .engine import DrsEngine, DrsError
from .faults import FaultError
from .moto_plugin import register_with_moto

__all__ = ["DrsEngine", "DrsError", "FaultError", "register_with_moto"]
