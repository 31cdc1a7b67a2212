"""Worked examples (see docs/custom_environments.md)."""
