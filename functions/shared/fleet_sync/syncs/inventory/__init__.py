"""The inventory sync: DRS source servers with EC2 details and their original replication topology."""
