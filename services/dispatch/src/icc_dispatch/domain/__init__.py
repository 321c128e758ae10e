"""Pure dispatch rules: plans, travel times, the fleet index, ranking, assignment states."""
