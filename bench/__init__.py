"""`make bench`: memo latency against the critical path, LLM cost, host overhead, load, memory.

Everything runs locally: Azurite (npm), the local Durable host (`devhost`), and stand-ins on
127.0.0.1 whose latencies the benchmark sets. See `python -m bench --help`.
"""
