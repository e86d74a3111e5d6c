"""The bench's function app: the real app (`function_app.app`, every blueprint it registers)
plus the bench-only sequential orchestrator and its starter route.

The bench-only blueprints are registered onto the real app object in the bench's own process
(and in the host subprocess that imports this module), so the bench always serves exactly the
routes, orchestrators and activities that `function_app.py` registers.
"""

from bench import sequential, sequential_route
from function_app import app

app.register_functions(sequential.bp)
app.register_functions(sequential_route.bp)

__all__ = ["app"]
