"""The simulated city, pure: calls, scenarios, crews' and hospitals' behaviour, trips, the
run's event log and counters. No gRPC, NATS or protobuf (an import-linter contract)."""
