"""The bottom layer: settings, observability, named errors, AWS clients and credentials, table declarations,
the clock, DRS's regions and status vocabulary. Imports nothing else of the layer."""
