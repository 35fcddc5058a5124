"""dbmigrator: run Supabase-style PostgreSQL migrations safely (engine, CLI, Kubernetes operator)."""

__version__ = "0.1.0"
