"""Activities: one module per step, each a Blueprint with typed input and output."""
