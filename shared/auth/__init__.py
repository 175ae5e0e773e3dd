"""Who is calling: credentials, principals, roles and the access each endpoint requires."""
