"""The bench's memo app: the repository's app (`function_app.py`, every blueprint it
registers), exactly as deployed.

It runs in the host's language workers (`bench.apps.memo.function_app:app`), from a folder of
its own, so the bench's hosts can keep their host.json and task hub apart from the repository's.
"""

from tests.real_app import real_app

app = real_app()
