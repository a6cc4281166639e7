"""Where result files live: the data directory, or S3-compatible storage."""
