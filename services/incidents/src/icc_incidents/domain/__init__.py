"""Pure rules of incidents: no gRPC, NATS or SQL here."""
