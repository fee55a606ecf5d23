"""Thin adapters that call :func:`ctxcarry.inject` on enqueue and :func:`ctxcarry.extract` on run.

Each adapter is a leaf: it imports the ctxcarry core and its own framework,
never another adapter. Importing :mod:`ctxcarry` imports none of them.
"""
