"""DRS simulator: AWS Elastic Disaster Recovery served from memory, per account and region.

* :class:`DrsEngine` holds the state and answers restJson1 requests (botocore's ``drs`` model);
* :func:`register_with_moto` plugs it into moto so ``mock_aws()`` and the moto server serve DRS too;
* :class:`ServerSpec` describes a source server to seed; :class:`InstanceSpec`, :class:`InstanceInfo` and
  :class:`Ec2Bridge` are the EC2 side of DRS resources;
* :mod:`sandbox.drs.server` is a standalone HTTP front-end (``AWS_ENDPOINT_URL_DRS``);
* :mod:`sandbox.fleet` seeds a whole estate from a fleet file.
"""

from .engine import DrsEngine
from .errors import DrsError
from .faults import FaultError
from .moto_plugin import register_with_moto
from .operations import IMPLEMENTED_OPERATIONS
from .specs import Ec2Bridge, InstanceInfo, InstanceSpec, ServerSpec

__all__ = [
    "IMPLEMENTED_OPERATIONS",
    "DrsEngine",
    "DrsError",
    "Ec2Bridge",
    "FaultError",
    "InstanceInfo",
    "InstanceSpec",
    "ServerSpec",
    "register_with_moto",
]
