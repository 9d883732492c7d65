"""Automated work: RQ job functions, the operations behind service tasks, and dispatch."""
