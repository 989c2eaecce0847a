"""Forms of the notification centre (CSRF through Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField

from caseapp.notifications.models import Channel, Kind
from caseapp.notifications.preferences import CHOOSABLE


class ActionForm(FlaskForm):
    """A button that changes state: the form only carries the CSRF token."""


def field_name(channel: Channel, kind: str) -> str:
    return f"{channel.value}__{kind}"


def preferences_form(current: dict[str, dict[Channel, bool]]) -> FlaskForm:
    """One checkbox per (kind, channel), pre-ticked with the user's current choice."""

    class PreferencesForm(FlaskForm):
        submit = SubmitField(_l("Simpan pengaturan"))

    for kind in Kind:
        for channel in CHOOSABLE:
            setattr(PreferencesForm, field_name(channel, kind.value),
                    BooleanField(default=current[kind.value][channel]))
    return PreferencesForm()


def chosen_channels(form: FlaskForm) -> dict[str, list[Channel]]:
    return {kind.value: [c for c in CHOOSABLE if form[field_name(c, kind.value)].data] for kind in Kind}
