"""Bringing users' data in: files loaded into datasets, scans imported as issues.

``loader`` upserts CSV, Parquet and JSON Lines files (read by ``sources``,
converted and checked by ``staging``) into any dataset; ``snyk_json`` and
``sarif`` read scan results into ``findings``; ``scans`` applies a scan to the
issues of a project (``projects``) with Snyk's lifecycle; ``targets`` writes
the checked rows to the backend's engine, DuckDB or PostgreSQL; ``command`` is
the ``load`` and ``import`` commands. Files are read and checked by DuckDB
whichever engine stores the analytics.
"""
