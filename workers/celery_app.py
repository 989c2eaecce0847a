"""Celery entry point: ``celery -A workers.celery_app worker`` / ``beat``.

The Flask app is built here (as in wsgi.py) so every task runs inside its app context; the Celery
object is the one ``caseapp.extensions.init_celery`` bound to it.
"""

from caseapp import create_app
from workers import tasks

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.include = [tasks.__name__]
app = celery_app
