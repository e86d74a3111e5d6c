"""Command-line client for the research-memo API (`python -m stockmemo analyze TICKER`)."""
