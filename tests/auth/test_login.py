"""Login and landing pages of every demo user, through the real forms."""

from __future__ import annotations

import re

import pytest

from tests.helpers import csrf_token, login

HOMES = [
    ("admin@sinergi.test", "Konfigurasi dan pengguna Sinergi."),
    ("supervisor@sinergi.test", "Yang menunggu keputusan Anda."),
    ("worker@sinergi.test", "Ringkasan kasus Anda hari ini."),
    ("worker2@sinergi.test", "Ringkasan kasus Anda hari ini."),
    ("dokter@sinergi.test", "Antrean intervensi Dinas Kesehatan Kota Kediri."),
    ("rumah@sinergi.test", "Antrean intervensi Dinas Perumahan dan Kawasan Permukiman Kota Kediri."),
    ("viewer@sinergi.test", "Angka agregat Kota Kediri."),
]


@pytest.mark.parametrize(("email", "lead"), HOMES, ids=[e for e, _ in HOMES])
def test_every_demo_user_lands_on_their_role_home(client, email, lead):
    response = login(client, email)
    assert response.status_code == 302, response.text
    home = client.get(response.headers["Location"])
    assert home.status_code == 200
    assert lead in home.text


def test_wrong_password_is_refused_with_a_clear_message(client):
    response = login(client, "worker@sinergi.test", "wrong-password-123")
    assert response.status_code == 200
    assert "E-mail atau kata sandi salah." in response.text
    assert client.get("/").status_code == 302


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_form_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"email": "worker@sinergi.test", "password": "sinergi-demo-2025"})
    assert response.status_code == 400
    assert "Muat ulang halaman" in response.text
    assert client.get("/").status_code == 302


def test_logout_ends_the_session_and_an_old_cookie_is_refused(client):
    login(client, "worker@sinergi.test")
    old_cookie = client.get_cookie("sinergi_session").value
    page = client.get("/")
    assert client.post("/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    client.set_cookie("sinergi_session", old_cookie)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("email", ["supervisor@sinergi.test", "worker@sinergi.test", "dokter@sinergi.test",
                                   "viewer@sinergi.test"])
def test_every_link_on_the_home_page_opens(client, email):
    login(client, email)
    home = client.get("/")
    links = set(re.findall(r'href="(/[^"]*)"', home.text)) - {"/"}
    assert links
    for link in links:
        if link.startswith("/static/"):
            continue
        assert client.get(link.replace("&amp;", "&")).status_code == 200, link
