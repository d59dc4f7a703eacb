"""One package per sync: its spec (input model and hooks), its work on one (account, region), its store and
its queries."""
