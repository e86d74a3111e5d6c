"""News providers: each returns a NewsResult that says which provider served it, or why none did."""
