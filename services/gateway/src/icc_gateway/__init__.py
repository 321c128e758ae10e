"""ICC gateway: the dispatcher screen, its HTTP API and the live common operating picture."""
