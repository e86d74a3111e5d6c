"""Code shared by the HTTP routes, the orchestrator and the activities."""
