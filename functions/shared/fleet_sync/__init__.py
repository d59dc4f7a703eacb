"""fleet_sync: the shared layer of DRS Fleet Sync.

Packages by layer: `core` (settings, clients, tables, clock), `run` (what every sync shares), `syncs/<sync>`
(each sync's spec, work, store and queries) and `api`. Handlers in functions/<task>/app.py parse their input,
call in here and return a small result. Imports go one way: api -> run / syncs -> core.
"""
