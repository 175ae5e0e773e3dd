"""Database access: the pool, migrations, the embedded server and one module per aggregate.

Data functions take a connection first and keyword-only arguments after it.
"""
