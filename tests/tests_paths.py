"""Where the repository is, for tests that start subprocesses in it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
