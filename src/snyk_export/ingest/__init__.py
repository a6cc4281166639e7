"""Bringing users' data in: files loaded into datasets, scans imported as issues.

``loader`` upserts CSV, Parquet and JSON Lines files (read by ``sources``,
converted and checked by ``staging``) into any dataset; ``snyk_json`` and
``sarif`` read scan results into ``findings``; ``scans`` applies a scan to the
issues of a project (``projects``) with Snyk's lifecycle; ``command`` is the
``load`` and ``import`` commands. The SQL here is DuckDB's: the embedded
backend is the engine that stores analytics.
"""
