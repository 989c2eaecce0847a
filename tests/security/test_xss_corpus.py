"""Stored XSS: a payload corpus in every free-text field, then every page as every user who can see it.

The payloads reach the database the way users put them there where that is practical (the case
workflow operations the forms and API call: referral reason, verification findings, plan notes,
approval comments, delivery notes, attachment names) and by direct writes for the rest (household
address and DTSEN release, member names, user names and phones, programme, agency, kelurahan and
referral-source names). Then every GET page of the permission matrix is rendered for each user and
parsed with ``html.parser``: an element, attribute or script text that a payload put there counts as
unescaped. Figure printed and asserted: 0 unescaped; and the payloads must be visible (escaped) on
many pages, so the test cannot pass by rendering nothing.
"""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

from sqlalchemy import select

from caseapp.agencies.models import Agency, Programme, ReferralSource, Region
from caseapp.auth.models import User
from caseapp.cases import operations as ops
from caseapp.cases.models import Intervention
from caseapp.extensions import db
from caseapp.households.models import Sex
from tests.factories import HouseholdFactory, PersonFactory
from tests.test_permission_matrix import MATRIX, USERS, Visitor

MARK = "xss"
# Each payload carries the marker; a field holds one payload (with its own number, to name it).
CORPUS = [
    '<script>xss{n}()</script>',
    '"><img src=x onerror=xss{n}()>',
    "'><svg onload=xss{n}()>",
    '" onmouseover="xss{n}()" x="',
    "javascript:xss{n}()",
    '<a href="javascript:xss{n}()">t</a>',
    "{{{{7*7}}}}xss{n}T ${{7*7}}",
    '</textarea><iframe src="javascript:xss{n}()">',
    '<style>@import "//xss{n}";</style>',
    "<details open ontoggle=xss{n}()>",
]
PAYLOAD_CALL = re.compile(r"xss\d+")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href"}


def payload(index: int) -> str:
    return CORPUS[index % len(CORPUS)].format(n=index)


def _dangerous(tag: str, name: str, value: str) -> bool:
    """An event handler with the marker, a javascript: URL, or a payload inside an active element."""
    handler = name.startswith("on") and MARK in value
    script_url = name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:")
    active = tag in ("script", "svg", "img", "iframe", "style", "details") and bool(PAYLOAD_CALL.search(value))
    return handler or script_url or active


class InjectionFinder(HTMLParser):
    """Elements, attributes or script/style text that carry the marker: what escaping should prevent."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.injected: list[str] = []
        self.visible = 0
        self._raw: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            # A JSON data block (``|tojson``) is data, not code: there the check is that no "<" is raw.
            self._raw = "json" if dict(attrs).get("type") == "application/json" else tag
        for name, value in attrs:
            value = value or ""
            if MARK in name:
                self.injected.append(f"<{tag}> attribute named {name!r}")
            elif _dangerous(tag, name, value):
                self.injected.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._raw = None

    def handle_data(self, data):
        if self._raw == "json":
            if "<" in data:
                self.injected.append(f"raw '<' in a JSON data block: {data[:80]!r}")
        elif self._raw and MARK in data:
            self.injected.append(f"<{self._raw}> text {data[:80]!r}")
        elif MARK in data:
            self.visible += data.count(MARK)


def findings(html: str) -> tuple[list[str], int]:
    finder = InjectionFinder()
    finder.feed(html)
    finder.close()
    problems = list(finder.injected)
    if re.search(r"49xss\d+T", html):
        problems.append("template expression evaluated ({{7*7}} rendered as 49)")
    return problems, finder.visible


def plant(app) -> dict[str, int]:
    """The matrix's world, with a payload in every free-text field a user can write."""
    counter = iter(range(1000))

    def p() -> str:
        return payload(next(counter))

    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        household = HouseholdFactory(kelurahan_code="35.71.01.1001")
        PersonFactory(household=household, name=p())
        PersonFactory(household=household, name=p(), relation="spouse", sex=Sex.FEMALE, birth_date=date(1980, 1, 1))
        household.address, household.desil_release = p(), p()[:32]
        case = ops.create_referral(db.session, actor=users["worker"], household=household, source="OUTREACH",
                                   reason=p())
        steps = [("accept_referral", "supervisor", {"assignee_id": users["worker"].id, "comment": p()}),
                 ("submit_verification", "worker", {"findings": p()}),
                 ("approve_verification", "supervisor", {"comment": p()}),
                 ("submit_plan", "worker", {"interventions": [{"program": "DOKTER_KELUARGA", "note": p()},
                                                              {"program": "RTLH", "note": p()}]}),
                 ("approve_plan", "supervisor", {"comment": p()})]
        for action, actor, data in steps:
            ops.transition_case(db.session, case, action, users[actor], version=case.version, **data)
        interventions = list(db.session.scalars(select(Intervention).where(Intervention.case_id == case.id)
                                                .order_by(Intervention.id)))
        doctor = interventions[0]
        for action, data in (("claim", {}), ("start", {}),
                             ("deliver", {"delivered_on": date.today().isoformat(), "note": p()})):
            ops.act_on_intervention(db.session, doctor, action, users["dokter"], version=doctor.version, **data)
        attachment = ops.add_attachment(db.session, actor=users["worker"], case=case, intervention=doctor,
                                        filename=p()[:60] + ".pdf", data=b"%PDF-1.4 xss corpus")
        for intervention in interventions:
            intervention.outcome = p()
        interventions[1].cancel_reason = p()
        for user in users.values():
            user.full_name, user.phone = p(), "0812" + str(next(counter))
        for model in (Programme, Agency, ReferralSource):
            for row in db.session.scalars(select(model)):
                row.name = p()
        for region in db.session.scalars(select(Region).where(Region.code.in_(["35.71.01.1001", "35.71.01"]))):
            region.name = p()
        db.session.commit()
        return {"H": household.id, "P": household.members[0].id, "C": case.id, "I": doctor.id, "A": attachment.id,
                "N": 0,
                "version": case.version, "iv_version": doctor.version, "J": 0, "planted": next(counter)}


def test_stored_payloads_are_escaped_on_every_page(app, session):
    world = plant(app)
    pages = [(endpoint, path) for endpoint, (method, path, _) in MATRIX.items()
             if method == "GET" and not path.startswith("/api/") and endpoint not in ("attachments.download",)]
    extra = ["/cases/?q=xss", "/households/?q=xss", "/interventions/queue", "/cases/my-work", "/cases/approvals",
             "/notifications/", "/admin/", "/account"]
    rendered, visible, unescaped = 0, 0, []
    for user in USERS:
        visitor = Visitor(app, user)
        for _endpoint, path in [*pages, *((None, e) for e in extra)]:
            response = visitor.client.get(path.format(**world))
            if response.status_code != 200 or not response.mimetype.startswith("text/html"):
                response.close()
                continue
            problems, seen = findings(response.text)
            response.close()
            rendered += 1
            visible += seen
            unescaped += [f"{user} {path}: {problem}" for problem in problems]
    print(f"\nXSS corpus: {world['planted']} payloads stored in free-text fields, {rendered} pages rendered, "
          f"payload text shown escaped {visible} times; unescaped: {len(unescaped)}")
    assert rendered >= 100
    assert visible >= 200, "the payloads should be on the pages (escaped)"
    assert unescaped == [], "\n".join(unescaped[:30])


def test_the_finder_finds_what_it_looks_for():
    for raw in ('<script>xss1()</script>', '<img src=x onerror=xss2()>', "<svg onload=xss3()>",
                '<input value="" onmouseover="xss4()">', '<a href="javascript:xss5()">t</a>', "49xss6T"):
        assert findings(f"<p>{raw}</p>")[0], raw
    assert findings("<p>&lt;script&gt;xss1()&lt;/script&gt; {{7*7}}xss6T</p>") == ([], 2)


def test_json_answers_are_never_served_as_html(app, session):
    world = plant(app)
    visitor = Visitor(app, "worker")
    for path in (f"/api/v1/cases/{world['C']}", f"/api/v1/households/{world['H']}", "/api/v1/cases"):
        response = visitor.client.get(path, headers=visitor.headers)
        assert response.status_code == 200 and response.mimetype == "application/json", path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
