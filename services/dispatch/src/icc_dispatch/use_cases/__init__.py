"""Dispatch's use cases, one module a concern, behind the facade `icc_dispatch.service`.

- `intake`: incident and unit news from the bus;
- `commands`: a dispatcher's assign, acknowledge and release;
- `queries`: status and recommendation;
- `queue`: the priority loop that chooses units, most urgent first;
- `reservations`: propose, reserve at the resources service, confirm;
- `releases`: record a release, then free the units at the resources service;
- `escalation`: an assignment not acknowledged in time makes way for the next best;
- `recovery`: finishes what a crash or an outage interrupted.

They talk to the world through `ports` (dispatch's records, the resources service) and
share `underway` (what this process has in flight). No protobuf and no SQL here: an
import-linter contract holds it.
"""
