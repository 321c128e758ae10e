"""Pure rules of units, stations and hospitals: no gRPC, NATS or SQL here."""
