"""A local OTLP/gRPC trace sink: spans kept in SQLite, read back as an incident's waterfall."""
