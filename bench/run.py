"""Entry point: `uv run python bench/run.py [--quick]` (see `bench/suite.py`)."""

import sys
from pathlib import Path

# Run as a script, this file's directory is on sys.path, not the repository root that
# holds the `bench` package (child processes start with `python -m bench.<module>`).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.suite import main

if __name__ == "__main__":
    sys.exit(main())
