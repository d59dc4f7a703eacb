"""Patterns of the ids the product accepts (account ids, DRS and EC2 resource ids, regions)."""

ACCOUNT_ID = r"^\d{12}$"
SOURCE_SERVER_ID = r"^s-[0-9a-zA-Z]{17}$"
RECOVERY_INSTANCE_ID = r"^i-[0-9a-fA-F]{8,17}$"
REGION = r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$"
