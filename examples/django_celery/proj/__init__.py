"""The example project; importing it loads the Celery app (Celery's Django recipe)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
