"""Named errors. Step Functions Retry/Catch match them by class name, the API maps them to status codes."""


class FleetSyncError(Exception):
    """Base class of the product's named errors."""


class InvalidSyncInput(FleetSyncError):
    """A sync's execution input (or a task's event) is not what the sync accepts; nothing was written."""


class RegionScanThrottled(FleetSyncError):
    """DRS kept throttling one (account, region) after the SDK's own retries; Step Functions retries the item."""


class AccountNotRegistered(FleetSyncError):
    """A work item names an account the accounts table does not hold."""


class AccountDisabled(AccountNotRegistered):
    """The account is registered but disabled: nothing assumes its role until it is enabled again."""


class ServerNotInExecution(FleetSyncError):
    """A scoped recovery-instance run named servers whose recovery instances no job of its execution launched
    (by the DRS job's tags or the execution-history table); nothing was written."""
