"""What the API accepts: patterns, parameter types and request bodies (pydantic), shared by both resolvers.

Every field a caller sends is checked here before any handler runs: the Powertools resolver validates path,
query and body against these types and answers 400 naming the field and the reason. Checks that need the
stack's settings (a region the stack considers, the role name it may assume) run first thing in the handler,
still before any table or AWS call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..core.ids import ACCOUNT_ID, RECOVERY_INSTANCE_ID, REGION, SOURCE_SERVER_ID
from ..syncs.recovery_instances.spec import MAX_SCOPED_SERVERS

EXECUTION_NAME = r"^[0-9A-Za-z_-]{1,80}$"
# Lists in the query: repeated (`regions=us-east-1&regions=eu-west-1`), comma-separated in one value
# (`regions=us-east-1,eu-west-1`), or both.
REGION_LIST = r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}(,[a-z]{2,4}(-[a-z]+)+-\d{1,2})*$"
SOURCE_SERVER_LIST = r"^s-[0-9a-zA-Z]{17}(,s-[0-9a-zA-Z]{17})*$"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$"
PAGE_CURSOR = r"^[0-9A-Za-z_=-]{1,4096}$"  # our nextToken: base64url
SFN_CURSOR = r"^[!-~]{1,3096}$"  # Step Functions' own nextToken (printable ASCII), passed through

NO_ACCOUNT = "000000000000"  # matches the 12-digit pattern; no AWS account has it
MAX_REGIONS = 40  # more than the 34 commercial DRS regions
MAX_ACCOUNTS = 1000
MAX_CHECK_IDS = 200  # ids per GET /recovery-instances (they travel in the URL)
MAX_TERMINATE_IDS = 1000
MAX_PAGE = 500
DEFAULT_PAGE = 100

SyncName = Literal["inventory", "tags", "staging", "recovery-instances"]
ReplicationState = Literal[
    "STOPPED",
    "INITIATING",
    "INITIAL_SYNC",
    "BACKLOG",
    "CREATING_SNAPSHOT",
    "CONTINUOUS",
    "PAUSED",
    "RESCAN",
    "STALLED",
    "DISCONNECTED",
    "UNKNOWN",
]
RegionStatusName = Literal["AVAILABLE", "UNINITIALIZED", "NOT_ENABLED", "ACCESS_DENIED", "THROTTLED", "ERROR"]
ExecutionStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]

AccountId = Annotated[str, Field(pattern=ACCOUNT_ID, description="12-digit AWS account id")]
Region = Annotated[str, Field(pattern=REGION, max_length=32, description="an AWS region the stack considers")]
SourceServerId = Annotated[str, Field(pattern=SOURCE_SERVER_ID, description="DRS source server id")]
RecoveryInstanceId = Annotated[str, Field(pattern=RECOVERY_INSTANCE_ID, description="DRS recovery instance id")]
ExecutionName = Annotated[str, Field(pattern=EXECUTION_NAME, description="Step Functions execution name")]
AccountName = Annotated[str, Field(min_length=1, max_length=128, pattern=PRINTABLE)]
RoleArn = Annotated[str, Field(pattern=ROLE_ARN, max_length=2048, description="the role assumed in the account")]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ errors (responses)


class FieldError(BaseModel):
    field: str = Field(description="the parameter or body field, dotted for nested fields (e.g. accounts.0)")
    location: Literal["path", "query", "body", "header"] = Field(alias="in")
    reason: str

    model_config = ConfigDict(populate_by_name=True)


class ErrorResponse(BaseModel):
    """Every 4xx/5xx the functions answer."""

    error: str = Field(description="ValidationError, NotFound, Conflict, InternalError, or the layer's error name")
    message: str
    errors: list[FieldError] | None = Field(default=None, description="one entry per bad field (400 only)")
    requestId: str | None = None


# ------------------------------------------------------------------ syncs


class SyncStartRequest(Strict):
    """A sync's execution input (docs/design.md): every sync takes `accounts`, `regions`, `mode`;
    the staging sync also `targetAccounts` and `dryRun`; the recovery-instance sync, instead of those, a
    wave-completion scope `accountId` + `region` + `sourceServerIDs` + `executionId`. The sync's own input
    model then checks the combination."""

    accounts: list[AccountId] | None = Field(default=None, min_length=1, max_length=MAX_ACCOUNTS)
    regions: list[Region] | None = Field(default=None, min_length=1, max_length=MAX_REGIONS)
    mode: Literal["discovery"] | None = None
    targetAccounts: list[AccountId] | None = Field(default=None, min_length=1, max_length=MAX_ACCOUNTS)
    dryRun: StrictBool | None = None
    accountId: AccountId | None = None
    region: Region | None = None
    sourceServerIDs: list[SourceServerId] | None = Field(default=None, min_length=1, max_length=MAX_SCOPED_SERVERS)
    executionId: str | None = Field(default=None, min_length=1, max_length=256, pattern=PRINTABLE)


class InventoryRefreshRequest(Strict):
    """Read the stale (account, region) pairs of these regions from DRS and write them back."""

    regions: list[Region] | None = Field(default=None, min_length=1, max_length=MAX_REGIONS)
    accountId: AccountId | None = None


# ------------------------------------------------------------------ recovery instances


class PairRef(Strict):
    accountId: AccountId
    region: Region


class TerminateRequest(Strict):
    """Exactly one selector: the execution that launched them, their ids, or their source servers."""

    sourceExecutionId: str | None = Field(default=None, min_length=1, max_length=256, pattern=PRINTABLE)
    recoveryInstanceIDs: list[RecoveryInstanceId] | None = Field(
        default=None, min_length=1, max_length=MAX_TERMINATE_IDS
    )
    sourceServerIDs: list[SourceServerId] | None = Field(default=None, min_length=1, max_length=MAX_TERMINATE_IDS)
    pairs: list[PairRef] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ACCOUNTS,
        description="with recoveryInstanceIDs only: the (account, region) pairs to look in",
    )
    includeRecoveries: bool = Field(
        default=False,
        description="with sourceExecutionId: also terminate instances of real recoveries (not drills)",
    )

    @model_validator(mode="after")
    def _one_selector(self) -> TerminateRequest:
        given = [
            n for n in ("sourceExecutionId", "recoveryInstanceIDs", "sourceServerIDs") if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of sourceExecutionId, recoveryInstanceIDs or sourceServerIDs"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.pairs is not None and self.recoveryInstanceIDs is None:
            raise ValueError("pairs narrows recoveryInstanceIDs only")
        if self.includeRecoveries and self.sourceExecutionId is None:
            raise ValueError("includeRecoveries goes with sourceExecutionId only")
        return self


# ------------------------------------------------------------------ accounts


HUB_GENERATED = (
    "the hub generates each account's ExternalId at registration and returns it once; POST .../external-id rotates it"
)


class NoCallerExternalId(Strict):
    """A caller never chooses an ExternalId: one it picked could be one another party knows (the confused
    deputy the ExternalId exists to stop). Sent anyway, it is a 400 naming the field, not an unknown field."""

    externalId: SkipJsonSchema[object] = None

    @field_validator("externalId", mode="before")
    @classmethod
    def _refused(cls, value: object) -> object:
        raise ValueError(HUB_GENERATED)


ALLOWED_DRS_ACCOUNTS = (
    "the DRS accounts whose source servers may name this account as their EC2 origin, so that the hub reads "
    "this account's instances and tags for them: registered accounts other than this one; [] or null: none "
    "but itself (docs/security.md)"
)


def allowed_drs_accounts(value: list[str] | None) -> list[str] | None:
    """Sorted, without duplicates; an empty list is the default (none but the account itself)."""
    return (sorted(set(value)) or None) if value is not None else None


class AccountFields(NoCallerExternalId):
    name: AccountName | None = None
    roleArn: RoleArn | None = Field(
        default=None,
        description="default arn:aws:iam::{accountId}:role/{CrossAccountRoleName}; must name that account and role",
    )
    allowedDrsAccounts: list[AccountId] | None = Field(
        default=None, max_length=MAX_ACCOUNTS, description=ALLOWED_DRS_ACCOUNTS
    )

    _allowed = field_validator("allowedDrsAccounts")(allowed_drs_accounts)


class NewAccount(AccountFields):
    accountId: AccountId

    @field_validator("accountId")
    @classmethod
    def _real_account(cls, value: str) -> str:
        if value == NO_ACCOUNT:
            raise ValueError(f"{value} is not an AWS account: IAM has no account with that id")
        return value

    @model_validator(mode="after")
    def _role_in_account(self) -> NewAccount:
        check_role_account(self.roleArn, self.accountId)
        return self


class NewTargetAccount(NewAccount):
    enabled: StrictBool = True


class NewStagingAccount(NewAccount):
    pass


class AccountUpdate(NoCallerExternalId):
    """Fields to change; a field set to null is removed (name, roleArn, allowedDrsAccounts; so is an empty
    allowedDrsAccounts). The ExternalId is not among them: only rotation changes it, and nothing removes it."""

    name: AccountName | None = None
    roleArn: RoleArn | None = None
    enabled: StrictBool | None = None
    allowedDrsAccounts: list[AccountId] | None = Field(
        default=None, max_length=MAX_ACCOUNTS, description=ALLOWED_DRS_ACCOUNTS
    )

    _allowed = field_validator("allowedDrsAccounts")(allowed_drs_accounts)

    @model_validator(mode="after")
    def _something(self) -> AccountUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, roleArn, enabled, allowedDrsAccounts")
        if "enabled" in self.model_fields_set and self.enabled is None:
            raise ValueError("enabled must be true or false")
        return self


def check_role_account(role_arn: str | None, account_id: str) -> None:
    if role_arn is not None and role_arn.split(":")[4] != account_id:
        raise ValueError(f"roleArn must be a role in account {account_id}")


def role_name(role_arn: str) -> str:
    """The name of a role (its path dropped): what IAM policies with `role/NAME` match is the full path."""
    return role_arn.split(":", 5)[5].removeprefix("role/")
