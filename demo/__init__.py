"""`make demo`: one ticker through the real path, on this machine, with offline providers."""
