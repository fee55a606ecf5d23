"""A Django app that defines QueueVars the way docs/adapters/django.md recommends."""
