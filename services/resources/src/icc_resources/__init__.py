"""ICC resources service: agencies, stations, units, hospitals and live positions."""
