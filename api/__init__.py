"""HTTP routes: fixed paths, bodies parsed into models, errors as JSON with a stable code."""
