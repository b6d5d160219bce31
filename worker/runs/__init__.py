"""The bridge between Celery tasks and the engine: run rows in, engine calls, result rows out."""
