"""Imported first by every rule script: this checkout's src/ goes first on sys.path, so a job
runs the dlndyn of this repository, installed or not (e.g. in a --sdm conda environment)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
