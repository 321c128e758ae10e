"""What a run produced and how it is told: KPIs from the event log, terminal tables, a
chart and JSON files. No gRPC, NATS or protobuf (an import-linter contract)."""
