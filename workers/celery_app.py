"""Celery entry point: ``celery -A workers.celery_app worker`` / ``beat``.

The Flask app is built here (as in wsgi.py) so every task runs inside its app context; the Celery
object is the one ``caseapp.extensions.init_celery`` bound to it. Run exactly one beat per deployment.
"""

from pathlib import Path

from caseapp import create_app
from workers import imports, notifications, tasks
from workers.schedule import beat_schedule

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.include = [tasks.__name__, notifications.__name__, imports.__name__]
celery_app.conf.beat_schedule = beat_schedule(flask_app.config)
celery_app.conf.beat_schedule_filename = str(Path(flask_app.instance_path) / "celerybeat-schedule")
app = celery_app
