"""Interchangeable backends for metadata and analytics (DuckDB, PostgreSQL)."""
