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


class AccountWithoutExternalId(AccountNotRegistered):
    """The account's row has no ExternalId: the hub gives every account one at registration, so the row was
    not written by the API. Its role is never assumed without one; rotating the ExternalId gives it one."""


class SyncBusy(FleetSyncError):
    """Another run of the sync holds its lock: a scoped run does not start beside it (it would race that
    run's writes). Nothing was started; try again when that run has finished."""


class ServerNotInExecution(FleetSyncError):
    """A scoped recovery-instance run named servers whose recovery instances no job of its execution launched
    (by the DRS job's tags or the execution-history table); nothing was written."""


class PairHoldsRows(FleetSyncError):
    """DRS answers that a pair is empty (not initialized, region not enabled) while the product holds rows of
    it: an anomaly, reported as the item's error. The rows are kept."""

    def __init__(self, code: str, message: str, rows: int) -> None:
        super().__init__(f"{code}: {message} ({rows} rows of this pair are held and kept)")
        self.code = code
        self.rows = rows


class OriginNotTrusted(FleetSyncError):
    """A server names an origin account whose EC2 its DRS account may not read: not registered, disabled, or
    not listing that DRS account in its `allowedDrsAccounts`. Its EC2 is never read for that server."""
