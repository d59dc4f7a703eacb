"""The recovery-instance sync: a cache of every recovery instance, with its EC2 details and source execution."""
