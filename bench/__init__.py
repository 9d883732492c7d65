"""FlowDesk benchmark (see README.md); run with `.venv/bin/python bench/run.py`."""
