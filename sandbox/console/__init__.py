"""The sandbox's console: Step Functions runs (graph, Map Run, history), the region picture and the inventory,
read through the Step Functions API and the product's query API, served at `/console/` (docs/console.md)."""

from .data import ConsoleData, ConsoleError
from .server import Console, SandboxServer, mounted, serve_sandbox

__all__ = ["Console", "ConsoleData", "ConsoleError", "SandboxServer", "mounted", "serve_sandbox"]
