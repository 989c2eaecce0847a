"""Login, second-factor and account forms (CSRF through Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class LoginForm(FlaskForm):
    # No format check here: a malformed address simply fails to log in, with the same message.
    email = EmailField(_l("E-mail"), validators=[DataRequired(_l("Isi alamat e-mail.")), Length(max=254)])
    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(_l("Isi kata sandi.")), Length(max=1024)])
    submit = SubmitField(_l("Masuk"))


class TotpForm(FlaskForm):
    code = StringField(
        _l("Kode 6 angka dari aplikasi autentikator"),
        validators=[
            DataRequired(_l("Isi kode 6 angka.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Kode terdiri dari 6 angka.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )
    submit = SubmitField(_l("Periksa kode"))


class TotpEnrolForm(TotpForm):
    secret = HiddenField()
    submit = SubmitField(_l("Aktifkan verifikasi dua langkah"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Kata sandi sekarang"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("Kata sandi baru"),
        validators=[DataRequired(), Length(min=12, max=128, message=_l("Kata sandi 12 sampai 128 karakter."))],
    )
    confirm = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("Kedua kata sandi baru tidak sama."))],
    )
    submit = SubmitField(_l("Ganti kata sandi"))


class LanguageForm(FlaskForm):
    locale = SelectField(choices=[SelectChoice("id", "Bahasa Indonesia"), SelectChoice("en", "English")])
    next = HiddenField()
    submit = SubmitField(_l("Ganti bahasa"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Keluar"))


class ReauthForm(FlaskForm):
    """Re-enter the password (and the second factor when enrolled) before a sensitive change."""

    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(_l("Isi kata sandi.")), Length(max=1024)])
    code = StringField(
        _l("Kode 6 angka dari aplikasi autentikator"),
        validators=[Regexp(r"^\s*(\d{3}\s?\d{3})?\s*$", message=_l("Kode terdiri dari 6 angka."))],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )
    submit = SubmitField(_l("Konfirmasi"))


class ChangeEmailForm(FlaskForm):
    email = EmailField(_l("E-mail baru"), validators=[DataRequired(_l("Isi alamat e-mail.")), Length(max=254)])
    submit = SubmitField(_l("Ganti e-mail"))
