"""Paths only; each tier has its own fixtures."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCESSES_DIR = ROOT / "processes"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
