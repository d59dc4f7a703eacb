"""The tag sync: EC2 instance tags copied onto the DRS source servers replicating them."""
