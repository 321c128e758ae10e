"""ICC incidents service: intake, narrative, chronology and lifecycle of incidents."""
