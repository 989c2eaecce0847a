"""One household from referral to graduated closure through the HTML screens, as the demo users.

Each user has their own browser (test client) and logs in once through the real forms; versions
and CSRF tokens are read from the pages, as a browser would send them.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.cases.models import Case
from caseapp.extensions import db, limiter
from caseapp.households.identity import build_kk, build_nik
from caseapp.households.models import Sex
from tests.factories import HouseholdFactory, PersonFactory
from tests.helpers import csrf_token, login

IDENTITY_NUMBER = re.compile(r"\d{16}")
# Our own NIK/KK serials (other dates than the factories' defaults): the factories' shared serial
# counter has 999 numbers for the whole run, and these tests need many households.
_serials = itertools.count(1)


def family(name: str, *, kelurahan: str = "35.71.01.1001", members: int = 1, **head_fields):
    """A household with its head (and a spouse when members > 1), with numbers from our own range."""
    kecamatan = kelurahan.split(".")[2]
    household = HouseholdFactory(kelurahan_code=kelurahan,
                                 kk=build_kk("35", "71", kecamatan, date(2019, 6, 3), next(_serials)))
    head_fields.setdefault("nik", build_nik("35", "71", kecamatan, date(1976, 3, 9), "L", next(_serials)))
    head = PersonFactory(household=household, name=name, birth_date=date(1976, 3, 9), **head_fields)
    if members > 1:
        PersonFactory(household=household, name="Sulastri", relation="spouse", sex=Sex.FEMALE,
                      birth_date=date(1979, 2, 1), monthly_income=750000,
                      nik=build_nik("35", "71", kecamatan, date(1979, 2, 1), "P", next(_serials)))
    return head


@pytest.fixture(autouse=True)
def fresh_login_limits(app):
    """Every user logs in through the form; start each test with fresh per-address counters."""
    with app.app_context():
        limiter.reset()


class _Forms(HTMLParser):
    """Collects each <form>: its action URL and the values of its inputs (enough for hidden fields)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {"url": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(),
                             "fields": {}}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._current["fields"][attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def forms_in(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def find_form(html: str, action: str, url_part: str = "") -> dict:
    """The POST form on the page whose hidden ``action`` is *action* (and whose URL contains *url_part*)."""
    for form in forms_in(html):
        if form["method"] == "post" and form["fields"].get("action") == action and url_part in form["url"]:
            return form
    raise AssertionError(f"no form for action {action!r} {url_part!r} on the page")


class Browser:
    """A logged-in user with their own cookie jar; checks that no NIK/KK ever appears in a URL."""

    def __init__(self, app, email: str):
        self.client = app.test_client()
        self.email = email
        response = login(self.client, email)
        assert response.status_code == 302, f"login failed for {email}"
        self.urls: list[str] = []

    def _seen(self, url: str) -> None:
        self.urls.append(url)
        assert not IDENTITY_NUMBER.search(url), f"identity number in a URL: {url}"

    def get(self, path: str, expect: int = 200):
        self._seen(path)
        response = self.client.get(path)
        assert response.status_code == expect, (self.email, path, response.status_code, response.text[:2000])
        return response

    def post(self, path: str, data: dict, expect: int = 303):
        self._seen(path)
        response = self.client.post(path, data=data)
        assert response.status_code == expect, (self.email, path, response.status_code, response.text[:3000])
        if "Location" in response.headers:
            self._seen(response.headers["Location"])
        return response

    def act(self, case_id: int, action: str, expect: int = 303, **data):
        """Send the action's form from the case page, with the version and token the page carries."""
        page = self.get(f"/cases/{case_id}").text
        form = find_form(page, action, f"/cases/{case_id}/actions")
        return self.post(form["url"], {**form["fields"], **data}, expect=expect)

    def work(self, case_id: int, intervention_id: int, action: str, expect: int = 303, **data):
        page = self.get(f"/cases/{case_id}").text
        form = find_form(page, action, f"/interventions/{intervention_id}/actions")
        return self.post(form["url"], {**form["fields"], **data}, expect=expect)


def intervention_ids(html: str, action: str) -> list[int]:
    return [int(m) for form in forms_in(html) if form["fields"].get("action") == action
            for m in re.findall(r"/interventions/(\d+)/actions", form["url"])]


def make_household(app, *, chronic: bool = False) -> int:
    with app.app_context():
        head = family("Slamet Riyadi", members=2, chronic_illness=chronic)
        db.session.commit()
        return head.household.id


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def case_state(app, case_id: int) -> tuple[str, str, int]:
    with app.app_context():
        case = db.session.get(Case, case_id)
        return str(case.stage), str(case.status), case.version


def test_referral_to_graduation_through_the_html_screens(app, session):
    household_id = make_household(app, chronic=True)
    worker_id = user_id(app, "worker@sinergi.test")
    worker = Browser(app, "worker@sinergi.test")
    supervisor = Browser(app, "supervisor@sinergi.test")
    dokter = Browser(app, "dokter@sinergi.test")
    rumah = Browser(app, "rumah@sinergi.test")

    # The worker refers the household.
    page = worker.get(f"/cases/new?household_id={household_id}")
    assert "Slamet Riyadi" in page.text
    response = worker.post(f"/cases/new?household_id={household_id}", {
        "csrf_token": csrf_token(page.text), "source": "OUTREACH",
        "reason": "Atap bocor, kepala keluarga sakit-sakitan"})
    case_id = int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))
    assert "Rujukan" in worker.get(f"/cases/{case_id}").text
    assert case_state(app, case_id)[:2] == ("referral", "new")

    # The supervisor sees it waiting, accepts it and assigns the worker.
    approvals = supervisor.get("/cases/approvals").text
    assert "Slamet Riyadi" in approvals
    supervisor.act(case_id, "accept_referral", assignee_id=str(worker_id))
    assert case_state(app, case_id)[:2] == ("verification", "assigned")

    # The worker finds it in My work, visits and submits the findings.
    assert "Slamet Riyadi" in worker.get("/cases/my-work").text
    worker.act(case_id, "submit_verification", findings="Kunjungan 3 Maret: atap bocor, dinding retak.")
    assert "Kunjungan 3 Maret" in supervisor.get(f"/cases/{case_id}").text   # shown for the decision
    supervisor.act(case_id, "approve_verification")
    assert case_state(app, case_id)[:2] == ("intervention", "planning")

    # The plan editor is pre-filled from the suggestions, with their reasons.
    page = worker.get(f"/cases/{case_id}").text
    assert "Saran sistem" in page and "Disarankan karena" in page and "DOKTER_KELUARGA" in page
    worker.act(case_id, "submit_plan", **{
        "rows-0-program": "RTLH", "rows-0-person_id": "", "rows-0-note": "Atap dan dinding",
        "rows-0-amount": "Rp 20.000.000",
        "rows-1-program": "DOKTER_KELUARGA", "rows-1-person_id": "", "rows-1-note": "Kontrol rutin",
        "rows-1-amount": "",
        "rows-2-program": "", "rows-3-program": "", "rows-4-program": ""})
    assert "Rencana intervensi yang diajukan" in supervisor.get(f"/cases/{case_id}").text
    supervisor.act(case_id, "approve_plan")
    assert case_state(app, case_id)[:2] == ("intervention", "active")

    # The family-doctor team claims from its queue, then works from the case page.
    queue = dokter.get("/interventions/queue").text
    assert "Slamet Riyadi" in queue and "Menunggu diambil" in queue
    (doctor_iv,) = intervention_ids(queue, "claim")
    claim = find_form(queue, "claim", f"/interventions/{doctor_iv}/")
    response = dokter.post(claim["url"], claim["fields"])
    assert response.headers["Location"].endswith("/interventions/queue")
    dokter.work(case_id, doctor_iv, "start")
    dokter.work(case_id, doctor_iv, "deliver", delivered_on=date.today().isoformat(),
                note="Kunjungan dokter keluarga pertama", amount="")

    # The housing team: claim, start, tick every milestone in order, deliver.
    queue = rumah.get("/interventions/queue").text
    (house_iv,) = intervention_ids(queue, "claim")
    rumah.post(find_form(queue, "claim", f"/interventions/{house_iv}/")["url"],
               find_form(queue, "claim", f"/interventions/{house_iv}/")["fields"])
    rumah.work(case_id, house_iv, "start")
    for _milestone in ("survey", "decree", "transfer", "works_50", "works_100", "handover"):
        rumah.work(case_id, house_iv, "milestone")
    page = rumah.get(f"/cases/{case_id}").text
    assert page.count("ms-date") == 6
    rumah.work(case_id, house_iv, "deliver", delivered_on=date.today().isoformat(), amount="20.000.000",
               note="Serah terima rumah")
    assert case_state(app, case_id)[:2] == ("evaluation", "assigned")

    # Evaluation: graduated, approved, closed.
    worker.act(case_id, "submit_evaluation", outcome="graduated", findings="Rumah layak, kontrol rutin jalan.")
    supervisor.act(case_id, "approve_evaluation")
    assert case_state(app, case_id)[:2] == ("closed", "closed")
    page = supervisor.get(f"/cases/{case_id}").text
    assert "Lulus (graduasi)" in page
    for words in ("Merujuk rumah tangga", "Menyetujui rencana intervensi", "Menyerahkan intervensi",
                  "Semua intervensi selesai", "Menyetujui evaluasi"):
        assert words in page, words
