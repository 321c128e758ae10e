"""The ICC dispatch service: from an incident to the right units, fast and never twice."""
