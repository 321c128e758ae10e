"""ICC ops: dead letters for a person, every action audited."""
