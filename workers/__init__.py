"""Celery workers. Tasks are thin: they load ids, call caseapp operations and commit."""
