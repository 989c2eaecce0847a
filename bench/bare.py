"""The bare Flask endpoint the page benchmark compares case detail with (same gunicorn settings)."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "ok"
