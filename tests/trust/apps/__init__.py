"""Wrapper apps for the trust tests: the real function app, with a capture or a stand-in
installed at import time in the host's language-worker processes."""
