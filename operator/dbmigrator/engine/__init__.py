"""The migration engine: files, parsing and planning (pure) plus PostgreSQL, backup and checks (I/O)."""
