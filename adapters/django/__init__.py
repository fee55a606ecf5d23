"""Django request middleware (see docs/adapters/django.md)."""
