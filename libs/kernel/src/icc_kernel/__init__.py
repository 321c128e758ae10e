"""ICC's shared vocabulary, defined once for every service and tool.

Pure Python (no protobuf, gRPC, NATS or SQL; an import-linter contract holds it so):
- `vocabulary`: the contract's enums, their numbers equal to the protos';
- `actors`: who did something (user, agency, role);
- `names`: resource names (`incidents/{id}`) made and parsed;
- `requests`: the request-id rule of every idempotent call;
- `etags`: weak etags counting versions;
- `errors`: what can go wrong, in the domain's words (`icc_rpc` maps each to a gRPC status);
- `reasons`: facts as stable codes with parameters (recommendations, chronology), and
  their English;
- `care`: what a patient of an incident type needs of a hospital;
- `stats`, `clock`: nearest-rank percentiles, the UTC clock.
"""
