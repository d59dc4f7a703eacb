"""DRS events from the fleet accounts: what each means, and the task that turns them into scoped syncs."""
