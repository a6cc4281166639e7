"""A self-hostable server for the Snyk Analytics Export API."""

__version__ = "0.1.0"
