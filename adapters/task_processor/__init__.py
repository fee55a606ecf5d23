"""Flagsmith task processor adapter (see docs/adapters/task-processor.md)."""
