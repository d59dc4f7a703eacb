"""What every sync shares: the task models and the summary, the plan, the orchestration tasks, the worker
frame, the run records and lock, region status, accounts, and the registry of syncs."""
