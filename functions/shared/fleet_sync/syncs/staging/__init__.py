"""The staging sync: staging-account source servers extended into the target accounts that trust them."""
