"""The living city: synthetic calls and units for ICC, driven through its public API."""
