"""fleet_sync: the shared layer of DRS Fleet Sync.

Domain code is plain Python that takes its tables and clients as arguments; handlers in
functions/<task>/app.py only parse their input, call in here and return a small result.
"""
