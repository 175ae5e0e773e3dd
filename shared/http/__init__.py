"""The HTTP edge every function shares: app factory, middleware, errors, OpenAPI."""
