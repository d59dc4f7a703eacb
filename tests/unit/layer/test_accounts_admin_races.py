"""Two admins at once never leave a target listing a staging account whose row was deleted."""

from fleet_sync.api.accounts_admin import add_staging, add_target, list_staging, remove_staging, remove_target
from fleet_sync.run.accounts import AccountsStore

T1, T2, S = "111111111111", "222222222222", "333333333333"


class RacedStore(AccountsStore):
    """An accounts store whose first transaction lets another admin's change land just before it."""

    def __init__(self, table, meanwhile):
        super().__init__(table)
        self.meanwhile = meanwhile

    def transact(self, changes):
        if self.meanwhile is not None:
            run, self.meanwhile = self.meanwhile, None
            run()
        super().transact(changes)


def estate(table):
    store = AccountsStore(table)
    add_target(store, {"accountId": T1})
    add_target(store, {"accountId": T2})
    add_staging(store, T1, {"accountId": S, "name": "shared staging"})
    return store


def test_removing_a_target_while_its_staging_account_is_added_to_another_keeps_the_row(tables):
    (table,) = tables("AccountsTable")
    store = estate(table)
    external_id = store.get(S).externalId
    # T1 is the only target listing S when the removal reads; T2 adds S before the removal commits
    raced = RacedStore(table, lambda: add_staging(store, T2, {"accountId": S}))
    removed = remove_target(raced, T1)
    assert removed["removed"] and removed["stagingAccountsRemoved"] == []  # decided again, inside the race
    [row] = list_staging(store, T2)
    assert row["registered"] and row["name"] == "shared staging"
    assert store.get(S).externalId == external_id  # the row was reused, its ExternalId kept
    assert store.get(T1) is None


def test_removing_a_staging_account_while_another_target_adds_it_keeps_the_row(tables):
    (table,) = tables("AccountsTable")
    store = estate(table)
    raced = RacedStore(table, lambda: add_staging(store, T2, {"accountId": S}))
    removed = remove_staging(raced, T1, S)
    assert removed["removed"] and not removed["stagingRowRemoved"]
    assert [r["registered"] for r in list_staging(store, T2)] == [True]
    assert list_staging(store, T1) == []


def test_without_a_race_the_last_target_still_takes_its_staging_row_along(tables):
    (table,) = tables("AccountsTable")
    store = estate(table)
    assert remove_target(store, T1)["stagingAccountsRemoved"] == [S]
    assert store.get(S) is None
