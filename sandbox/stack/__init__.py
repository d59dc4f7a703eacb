"""Deploy a SAM template into moto: the template is the one list of resources.

    translated = stack.translate("template.yaml", parameters)   # SAM -> CloudFormation, offline
    deployment = stack.deploy(translated, clients)               # every resource, through the service APIs

- `template`: reading a template and validating its parameters as CloudFormation does;
- `language_extensions`: the AWS::LanguageExtensions transform (Fn::ForEach, ...), before the SAM transform;
- `translate`: aws-sam-translator, offline, with local paths as placeholder S3 locations;
- `intrinsics`: Ref, GetAtt, Sub, If, FindInMap, ... and conditions, against the created resources;
- `deployer`: creation in dependency order; `resources`: one creator per resource type.
"""

from __future__ import annotations

from .deployer import Deployment, dependency_order, deploy
from .intrinsics import Resolver, references
from .language_extensions import expand, uses_language_extensions
from .managed_policies import aws_managed_policy_arns, aws_managed_policy_document
from .model import (
    ARTIFACT_BUCKET,
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    NO_VALUE,
    ClientFactory,
    DeployError,
    Resource,
    generated_name,
)
from .resources import SUPPORTED_TYPES, substitute
from .template import load_template, read_template, resolve_parameters
from .translate import Translated, translate

__all__ = [
    "ARTIFACT_BUCKET",
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "DEFAULT_STACK_NAME",
    "NO_VALUE",
    "SUPPORTED_TYPES",
    "ClientFactory",
    "DeployError",
    "Deployment",
    "Resolver",
    "Resource",
    "Translated",
    "aws_managed_policy_arns",
    "aws_managed_policy_document",
    "dependency_order",
    "deploy",
    "expand",
    "generated_name",
    "load_template",
    "read_template",
    "references",
    "resolve_parameters",
    "substitute",
    "translate",
    "uses_language_extensions",
]
