"""The actors that play the city against ICC through its public API: the call-taker, the
crews and their AVL devices, the dispatcher, the hospitals; gRPC stubs and the NATS feed."""
