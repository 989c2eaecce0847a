"""The main journey in a real browser: referral to graduation, then the same pages on a phone.

Debian's Chromium (Playwright for Python) against the app served over HTTP on 127.0.0.1
(``tests/e2e/conftest.py``). Each user has their own browser context (cookies) and logs in through
the real forms, the supervisor with a TOTP code. Every step asserts what that user sees on the page
after the click. ``tests/cases/test_journey_html.py`` does the same journey through the test client.

Screenshots of every page are written to ``tests/e2e/artifacts/`` (desktop and phone; CI keeps them).
"""

from __future__ import annotations

import re
import time
from datetime import date

import pyotp
import pytest
from sqlalchemy import select

from caseapp.auth.models import User
from caseapp.extensions import db
from caseapp.households.identity import build_kk, build_nik
from tests.e2e.conftest import ARTIFACTS
from tests.helpers import DEMO_PASSWORD, DEMO_TOTP_SECRET, MFA_USERS

pytestmark = pytest.mark.e2e

IDENTITY_NUMBER = re.compile(r"\d{16}")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
HEAD = "Sugeng Widodo"
SPOUSE = "Parmi Widodo"

# Elements wider than the phone's screen, or reaching past its right edge, outside the containers
# that scroll sideways on purpose (wide tables sit in .table-responsive).
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const scrollsOnPurpose = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      const page = p === document.documentElement || p === document.body;
      if (["auto", "scroll"].includes(style.overflowX) && !page) return true;
    }
    return false;
  };
  const offenders = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(el).position === "fixed") continue;
    if ((box.right > width + 1 || box.left < -1) && !scrollsOnPurpose(el)) {
      const classes = typeof el.className === "string" ? el.className.trim().split(/\\s+/).join(".") : "";
      offenders.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (classes ? "." + classes : "") +
                     " right=" + Math.round(box.right));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, offenders: offenders.slice(0, 10)};
}
"""


class User_:
    """One person at their own browser: a context with its cookies, one tab, the pages they saw."""

    def __init__(self, browser, base_url: str, email: str, shots: list):
        self.email = email
        self.name = email.split("@")[0]
        self.base_url = base_url
        self.context = browser.new_context(viewport=DESKTOP, locale="id-ID")
        self.page = self.context.new_page()
        self.visited: list[str] = []
        self.shots = shots

    def go(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, (self.email, path, response and response.status)
        self._seen()

    def _seen(self) -> None:
        url = self.page.url
        assert not IDENTITY_NUMBER.search(url), f"identity number in a URL: {url}"
        path = url[len(self.base_url):].split("#")[0]
        if path not in self.visited:
            self.visited.append(path)

    def shot(self, label: str) -> None:
        name = f"{len(self.shots) + 1:02d}-{self.name}-{label}.png"
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        self.shots.append(name)

    def submit(self, form_selector: str, button: str = "button[type=submit]") -> None:
        """Click the form's button and wait for the page the server answers with."""
        form = self.page.locator(form_selector)
        assert form.count() >= 1, f"{self.email}: no {form_selector} on {self.page.url}"
        with self.page.expect_navigation():
            form.first.locator(button).first.click()
        self._seen()

    def sees(self, *texts: str) -> None:
        body = self.page.locator("body").inner_text()
        for text in texts:
            assert text in body, f"{self.email} does not see {text!r} on {self.page.url}"

    def does_not_see(self, *texts: str) -> None:
        body = self.page.locator("body").inner_text()
        for text in texts:
            assert text not in body, f"{self.email} sees {text!r} on {self.page.url}"

    def login(self) -> None:
        self.go("/login")
        self.page.fill("input[name=email]", self.email)
        self.page.fill("input[name=password]", DEMO_PASSWORD)
        self.submit("form[method=post]")
        if self.email in MFA_USERS:
            assert "/login/totp" in self.page.url
            self.page.fill("input[name=code]", fresh_totp_code())
            self.submit("form[method=post]")
        assert "/login" not in self.page.url, f"{self.email} is still on {self.page.url}"


_used_steps: set[int] = set()


def fresh_totp_code() -> str:
    """A code of a time step not used yet in this run (codes are single-use)."""
    step = int(time.time() // 30)
    while step in _used_steps:
        time.sleep(1)
        step = int(time.time() // 30)
    _used_steps.add(step)
    return pyotp.TOTP(DEMO_TOTP_SECRET).at(step * 30)


def case_form(action: str) -> str:
    return f"form.action-form:has(input[name=action][value={action}])"


def iv_form(action: str, intervention_id: int | None = None) -> str:
    where = f"[action$='/interventions/{intervention_id}/actions']" if intervention_id else ""
    return f"form{where}:has(input[name=action][value={action}])"


def numbers() -> tuple[str, str, str]:
    return (build_kk("35", "71", "01", date(2018, 5, 14), 871),
            build_nik("35", "71", "01", date(1971, 8, 17), "L", 872),
            build_nik("35", "71", "01", date(1974, 1, 2), "P", 873))


@pytest.fixture(scope="module")
def people(browser, live_server):
    shots: list[str] = []
    users = {name: User_(browser, live_server, f"{name}@sinergi.test", shots)
             for name in ("worker", "supervisor", "dokter", "rumah")}
    for user in users.values():
        user.login()
    yield users
    for user in users.values():
        user.context.close()


def test_referral_to_graduation_in_the_browser(people, live_app):
    worker, supervisor, dokter, rumah = (people[n] for n in ("worker", "supervisor", "dokter", "rumah"))
    with live_app.app_context():
        worker_name = db.session.scalar(select(User.full_name).where(User.email == worker.email))
    kk, head_nik, spouse_nik = numbers()

    # The social worker registers the household: KK, address, the head and his wife (chronic illness).
    worker.go("/households/new")
    worker.sees("Daftarkan rumah tangga")
    page = worker.page
    page.locator("summary", has_text="Anggota ke-2").click()   # the second member's row
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")  # the optional parts
    page.fill("input[name=kk_number]", kk)
    page.select_option("select[name=kelurahan_code]", "35.71.01.1001")
    page.fill("input[name=rw]", "3")
    page.fill("input[name=rt]", "12")
    page.fill("input[name=address]", "Jl. Brawijaya Gg. 2 No. 5")
    page.fill("input[name='members-0-nik']", head_nik)
    page.fill("input[name='members-0-name']", HEAD)
    page.select_option("select[name='members-0-sex']", "L")
    page.fill("input[name='members-0-birth_date']", "1971-08-17")
    page.select_option("select[name='members-0-work_status']", "bekerja")
    page.fill("input[name='members-1-nik']", spouse_nik)
    page.fill("input[name='members-1-name']", SPOUSE)
    page.select_option("select[name='members-1-sex']", "P")
    page.fill("input[name='members-1-birth_date']", "1974-01-02")
    page.select_option("select[name='members-1-relation']", "spouse")
    page.select_option("select[name='members-1-chronic_illness']", "ya")
    worker.shot("register-filled")
    worker.submit("form:has(input[name=kk_number])", "[type=submit][name=submit]")
    assert re.search(r"/households/\d+$", page.url), page.url
    worker.sees("terdaftar", HEAD, SPOUSE)
    worker.does_not_see(kk, head_nik, spouse_nik)   # numbers are masked until revealed
    worker.shot("household")
    household_path = page.url[len(worker.base_url):]

    # ... and refers it.
    with page.expect_navigation():
        page.locator("a[href*='/cases/new?household_id=']").first.click()
    worker._seen()
    worker.sees(HEAD)
    page.select_option("select[name=source]", "OUTREACH")
    page.fill("textarea[name=reason]", "Atap bocor, istri sakit gula dan tidak kontrol.")
    worker.submit("form:has(textarea[name=reason])")
    match = re.search(r"/cases/(\d+)$", page.url)
    assert match, page.url
    case_path = f"/cases/{match.group(1)}"
    worker.sees("terkirim", "Rujukan")
    worker.shot("referred")

    # The supervisor (with TOTP) sees it waiting, accepts it and assigns the worker.
    supervisor.go("/cases/approvals")
    supervisor.sees(HEAD)
    supervisor.shot("approvals")
    supervisor.go(case_path)
    options = supervisor.page.locator(f"{case_form('accept_referral')} select[name=assignee_id] option")
    value = next(options.nth(i).get_attribute("value") for i in range(options.count())
                 if worker_name in options.nth(i).inner_text())
    supervisor.page.select_option(f"{case_form('accept_referral')} select[name=assignee_id]", value)
    supervisor.submit(case_form("accept_referral"))
    supervisor.sees("Rujukan diterima dan pekerja sosial ditugaskan.", worker_name)

    # The worker finds it in My work, visits and submits the findings.
    worker.go("/cases/my-work")
    worker.sees(HEAD)
    worker.shot("my-work")
    worker.go(case_path)
    worker.page.fill(f"{case_form('submit_verification')} textarea[name=findings]",
                     "Kunjungan: atap bocor di dapur, dinding retak, istri kontrol gula tidak rutin.")
    worker.submit(case_form("submit_verification"))
    worker.sees("Hasil verifikasi terkirim ke penyelia.")

    supervisor.go(case_path)
    supervisor.sees("atap bocor di dapur")
    supervisor.submit(case_form("approve_verification"))
    supervisor.sees("Verifikasi disetujui.")

    # The worker plans: family doctor and housing (RTLH); every other suggested row left unused.
    worker.go(case_path)
    worker.sees("Rencana intervensi", "Saran sistem")
    plan = case_form("submit_plan")
    rows = worker.page.locator(f"{plan} select.js-plan-program").count()
    worker.page.select_option(f"{plan} select[name='rows-0-program']", "RTLH")
    worker.page.fill(f"{plan} input[name='rows-0-note']", "Atap dan dinding")
    worker.page.fill(f"{plan} input[name='rows-0-amount']", "Rp 20.000.000")
    worker.page.select_option(f"{plan} select[name='rows-1-program']", "DOKTER_KELUARGA")
    worker.page.fill(f"{plan} input[name='rows-1-note']", "Kontrol gula rutin")
    for row in range(2, rows):
        worker.page.select_option(f"{plan} select[name='rows-{row}-program']", "")
    worker.shot("plan")
    worker.submit(plan)
    worker.sees("Rencana intervensi terkirim ke penyelia.")

    supervisor.go(case_path)
    supervisor.sees("Rencana intervensi yang diajukan")
    supervisor.submit(case_form("approve_plan"))
    supervisor.sees("Rencana disetujui.")
    supervisor.shot("plan-approved")

    # The family-doctor officer claims from the queue, starts and delivers.
    dokter.go("/interventions/queue")
    dokter.sees(HEAD, "Menunggu diambil")
    dokter.shot("queue")
    dokter.submit(iv_form("claim"))
    dokter.sees("Intervensi diambil.")
    dokter.go(case_path)
    dokter.submit(iv_form("start"))
    dokter.sees("Intervensi mulai dikerjakan.")
    deliver = dokter.page.locator(iv_form("deliver"))
    if not deliver.is_visible():
        dokter.page.locator("details.iv-deliver > summary").first.click()
    deliver.locator("input[name=delivered_on]").fill(date.today().isoformat())
    deliver.locator("[name=note]").fill("Kunjungan dokter keluarga pertama")
    dokter.submit(iv_form("deliver"))
    dokter.sees("Intervensi tercatat sudah diserahkan.")
    dokter.shot("delivered")

    # The housing officer: claim, start, tick every milestone in order, deliver.
    rumah.go("/interventions/queue")
    rumah.sees(HEAD)
    rumah.does_not_see("Kontrol gula rutin")   # the family doctor's row is not the housing team's
    rumah.submit(iv_form("claim"))
    rumah.go(case_path)
    rumah.does_not_see("Penyakit kronis", "sakit gula")
    rumah.submit(iv_form("start"))
    ticks = 0
    while rumah.page.locator(iv_form("milestone")).count():
        rumah.submit(iv_form("milestone"))
        rumah.sees("Tonggak dicentang.")
        ticks += 1
        assert ticks <= 10, "milestones never end"
    assert ticks == 6
    rumah.shot("milestones")
    deliver = rumah.page.locator(iv_form("deliver"))
    if not deliver.is_visible():
        rumah.page.locator("details.iv-deliver > summary").first.click()
    deliver.locator("input[name=delivered_on]").fill(date.today().isoformat())
    deliver.locator("input[name=amount]").fill("20.000.000")
    deliver.locator("[name=note]").fill("Serah terima rumah")
    rumah.submit(iv_form("deliver"))
    rumah.sees("Intervensi tercatat sudah diserahkan.")

    # The worker evaluates: graduated.
    worker.go(case_path)
    worker.sees("Evaluasi")
    worker.page.select_option(f"{case_form('submit_evaluation')} select[name=outcome]", "graduated")
    worker.page.fill(f"{case_form('submit_evaluation')} textarea[name=findings]", "Rumah layak, kontrol gula rutin.")
    worker.submit(case_form("submit_evaluation"))
    worker.sees("Evaluasi terkirim ke penyelia.")

    # The supervisor approves graduation: the case is closed and its history tells the story.
    supervisor.go(case_path)
    supervisor.submit(case_form("approve_evaluation"))
    supervisor.sees("Evaluasi disetujui.", "Lulus (graduasi)")
    supervisor.page.get_by_text(re.compile(r"Tampilkan \d+ kejadian sebelumnya")).click()  # the whole history
    for words in ("Merujuk rumah tangga", "Menyetujui rencana intervensi", "Menyerahkan intervensi",
                  "Semua intervensi selesai", "Menyetujui evaluasi"):
        supervisor.sees(words)
    supervisor.shot("graduated")
    worker.go(household_path)
    worker.sees(HEAD)


def test_the_same_pages_fit_a_phone(people, live_server):
    """Every page the journey visited, again at 390×844: nothing reaches past the screen's edge."""
    checked, overflowing = 0, []
    probe = people["worker"].context.new_page()
    probe.set_viewport_size(PHONE)
    probe.goto(live_server + "/")
    assert probe.evaluate(OVERFLOW_JS)["offenders"] == []
    # The check itself: a block wider than the screen is found.
    probe.evaluate("() => { const d = document.createElement('div'); d.style.width = '600px'; d.style.height = '5px';"
                   " document.querySelector('main, body').appendChild(d); }")
    assert probe.evaluate(OVERFLOW_JS)["offenders"], "the overflow check misses a 600px-wide block"
    probe.close()
    for user in people.values():
        assert user.visited, "run the journey first"
        page = user.context.new_page()
        page.set_viewport_size(PHONE)
        for path in user.visited:
            if "/login" in path:
                continue
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, (user.email, path)
            # Open every collapsible part so the forms in it are measured too.
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            result = page.evaluate(OVERFLOW_JS)
            checked += 1
            if result["scrollWidth"] > result["width"] + 1 or result["offenders"]:
                overflowing.append(f"{user.name} {path}: {result}")
            label = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
            page.screenshot(path=str(ARTIFACTS / f"phone-{user.name}-{label}.png"), full_page=True)
        page.close()
    print(f"\nphone viewport {PHONE['width']}x{PHONE['height']}: {checked} pages checked, "
          f"{len(overflowing)} overflowing horizontally")
    assert checked >= 15
    assert overflowing == [], "\n".join(overflowing)
