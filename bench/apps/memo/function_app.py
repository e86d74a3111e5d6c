"""The bench's memo app: the real app (`function_app.py`, every blueprint it registers) plus the
bench-only sequential orchestrator and its starter route.

It runs in the host's language workers (`bench.apps.memo.function_app:app`). The bench-only
blueprints are registered onto the real app object there, so the bench always serves exactly
the routes, orchestrators and activities that `function_app.py` registers, and two more.
"""

from bench import sequential, sequential_route
from tests.real_app import real_app

app = real_app()
app.register_functions(sequential.bp)
app.register_functions(sequential_route.bp)
