"""Bulk demo data for load tests (issue #8): a million households with a case each, in minutes.

PostgreSQL only. The small loader (:mod:`caseapp.demo.households`, :mod:`caseapp.demo.cases`) walks
every case through the real workflow operations, which costs ~50 statements per case. This path
writes the same shapes set-based instead: rows are generated in one streaming pass and sent with
``COPY`` (a writer thread streams chunk *k* while the main thread builds chunk *k+1*), ids are
assigned here and the sequences moved past them at the end.

What is still real:

* households and members are :func:`caseapp.demo.synthetic.generate_households` (same families as
  the small loader: household *i* is the same in both), NIK/KK are real AES-GCM ciphertext under the
  configured key, with the HMAC blind index and the masked form (``core/crypto.py``);
* cases reach every stage with the weights of :data:`caseapp.demo.cases.TARGETS`; their steps,
  interventions (1-3 programmes, with claims, milestones, deliveries) and audit events are the
  ones the workflow writes for that stage (same step kinds, statuses, decisions, snapshots);
* the audit hash chain is computed in the same pass (``core.audit.chain_hash``, continuing from the
  last stored event), so ``flask audit verify`` passes.

Idempotent like the small loader: household indices whose KK is already stored are skipped (and get
no new case), so running again with the same N adds nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from caseapp.agencies.models import Agency, Programme, ProgrammeTarget, Region, RegionLevel
from caseapp.auth import operations as auth_ops
from caseapp.auth.models import Role, User
from caseapp.cases.models import CaseNumberCounter
from caseapp.cases.operations import scope_sync
from caseapp.cases.operations.transitions import CASE_NUMBER_PREFIX
from caseapp.cases.workflow import DEFAULT_SLA_DAYS
from caseapp.core.audit import GENESIS, AuditEvent
from caseapp.core.crypto import FORMAT_VERSION, _key_id, keyring
from caseapp.core.masking import mask_digits
from caseapp.demo.cases import FINDINGS, SOURCES, TARGETS
from caseapp.demo.synthetic import CODELIST_VERSION, DESIL_RELEASE, generate_households

CHUNK = 5_000
BULK_WORKER_DOMAIN = "sinergi.test"
SLA = {kind.value: days for kind, days in DEFAULT_SLA_DAYS.items()}
# Programme mixes of a plan (weights): what the suggestions usually pick for desil 1-4 households.
PROGRAMME_WEIGHTS = {"ATM_BERAS": 30, "JKN_PBI": 20, "RTLH": 10, "ADMINDUK": 10, "MBG": 8, "DOKTER_KELUARGA": 6,
                     "PELATIHAN_KERJA": 6, "MODAL_UMKM": 5, "SEKOLAH_RAKYAT": 2, "DISABILITAS": 2, "BEASISWA": 1}
RTLH_AMOUNT = 20_000_000

COLUMNS = {
    "households": ("id", "kk_ciphertext", "kk_hash", "kk_masked", "kelurahan_code", "rw", "rt", "address",
                   "latitude", "longitude", "desil", "desil_release", "status", "version", "created_at",
                   "updated_at"),
    "persons": ("id", "household_id", "kelurahan_code", "nik_ciphertext", "nik_hash", "nik_masked", "name", "sex",
                "birth_date", "relation", "marital_status", "codelist_version", "school_participation",
                "education_level", "work_status", "work_sector", "monthly_income", "disability_types",
                "chronic_illness", "pregnant", "active", "created_at", "updated_at"),
    "household_kk_history": ("household_id", "kk_ciphertext", "kk_hash", "kk_masked", "valid_from", "valid_to",
                             "reason"),
    "household_desil_history": ("household_id", "desil", "release", "recorded_at"),
    "housing_surveys": ("household_id", "surveyed_on", "codelist_version", "tenure", "floor_area_m2", "occupants",
                        "roof_material", "roof_condition", "wall_material", "wall_condition", "floor_material",
                        "floor_condition", "toilet", "sewage", "water_source", "lighting", "power_va",
                        "cooking_fuel", "land_proof", "assets", "created_at"),
    "cases": ("id", "number", "household_id", "stage", "status", "owner_id", "kelurahan_code", "kecamatan_code",
              "source_code", "referral_reason", "referred_by_id", "round", "version", "due_at", "opened_at",
              "closed_at", "closure_reason", "outcome", "created_at", "updated_at"),
    "steps": ("id", "case_id", "stage", "kind", "round", "agency_id", "assignee_id", "status", "due_at", "data",
              "opened_at", "submitted_by_id", "submitted_at", "decided_by_id", "decided_at", "decision", "comment"),
    "interventions": ("id", "case_id", "round", "programme_id", "target_person_id", "agency_id", "assignee_id",
                      "status", "due_at", "amount", "note", "milestones", "delivered_on", "outcome", "version",
                      "created_at", "updated_at"),
    "audit_events": ("id", "occurred_at", "actor_id", "action", "object_type", "object_id", "case_id", "before",
                     "after", "comment", "prev_hash", "row_hash"),
}
SEQUENCED = ("households", "persons", "household_kk_history", "household_desil_history", "housing_surveys",
             "cases", "steps", "interventions", "audit_events")
TABLE_ORDER = ("households", "persons", "household_kk_history", "household_desil_history", "housing_surveys",
               "cases", "steps", "interventions", "audit_events")
N = r"\N"


# --- COPY text format ----------------------------------------------------------------------------

def _text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _json(value) -> str:
    return _text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


_FORMAT = {
    str: _text, int: str, float: repr, type(None): lambda _: N, bool: lambda v: "t" if v else "f",
    bytes: lambda v: "\\\\x" + v.hex(), datetime: datetime.isoformat, date: date.isoformat, Decimal: str,
    dict: _json, list: _json, tuple: _json,
}


def _field(value) -> str:
    try:
        return _FORMAT[type(value)](value)
    except KeyError:
        return _text(str(value))


def _dumps(value) -> str:
    """JSON as ``core.audit.chain_hash`` canonicalises it (sorted keys, compact, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _line(values) -> str:
    return "\t".join(map(_field, values)) + "\n"


# --- sealing NIK/KK without the per-call lookups of core.crypto ------------------------------------

class _Sealer:
    """``seal_number`` at a fraction of the cost: one AESGCM and one HMAC object reused (same output
    format: ``core.crypto.Keyring.encrypt`` / ``blind_index``)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ring = keyring()
        key = ring.encryption_keys[0]
        self._aead = AESGCM(key)
        self._prefix = FORMAT_VERSION + _key_id(key)
        self._mac = hmac.new(ring.blind_index_key, digestmod=hashlib.sha256)

    def __call__(self, number: str, purpose: str) -> tuple[bytes, str, str]:
        nonce = os.urandom(12)
        token = self._prefix + nonce + self._aead.encrypt(nonce, number.encode(), purpose.encode())
        mac = self._mac.copy()
        mac.update(f"{purpose}\x00{number}".encode())
        return token, mac.hexdigest(), mask_digits(number)


# --- reference lookups ---------------------------------------------------------------------------

def _bulk_workers(session: Session, password: str, progress) -> dict[str, int]:
    """One social worker per kelurahan (the demo workers keep theirs); kelurahan code → user id."""
    kelurahan = list(session.scalars(select(Region.code).where(Region.level == RegionLevel.KELURAHAN)
                                     .order_by(Region.code)))
    owners: dict[str, int] = {}
    for user in session.scalars(select(User).where(User.role == Role.SOCIAL_WORKER, User.active.is_(True),
                                                   User.kelurahan_code.is_not(None)).order_by(User.id)):
        owners.setdefault(user.kelurahan_code, user.id)
    missing = [code for code in kelurahan if code not in owners]
    for code in missing:
        user = auth_ops.create_user(
            session, email=f"pekerja-{code.replace('.', '')}@{BULK_WORKER_DOMAIN}", full_name=f"Pekerja Sosial {code}",
            role=Role.SOCIAL_WORKER, password=password, enforce_policy=False, agency_code="DINSOS",
            kelurahan_code=code, kecamatan_code=code.rsplit(".", 1)[0])
        owners[code] = user.id
    if missing:
        session.commit()
        progress(f"bulk: {len(missing)} social workers added (one per kelurahan)")
    return owners


def _officers(session: Session) -> dict[int, int]:
    """Agency id → the first active officer of that agency."""
    found: dict[int, int] = {}
    for user in session.scalars(select(User).where(User.role == Role.AGENCY_OFFICER, User.active.is_(True))
                                .order_by(User.id)):
        found.setdefault(user.agency_id, user.id)
    return found


def _next_ids(session: Session) -> dict[str, int]:
    ids = {}
    for table in SEQUENCED:
        query = text(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608  # nosec B608 - fixed names
        ids[table] = session.execute(query).scalar_one() + 1
    return ids


# --- one case as the workflow would have written it ----------------------------------------------

class _CaseBuilder:
    def __init__(self, session: Session, owners: dict[str, int], next_ids: dict[str, int], last_hash: str,
                 year_counters: dict[int, int]) -> None:
        self.rng = random.Random("sinergi-bulk")
        self.now = datetime.now(UTC)
        self.ids = next_ids
        self.last_hash = last_hash
        self.owners = owners
        self.counters = year_counters
        users = {u.email.split("@")[0]: u for u in session.scalars(select(User))}
        self.supervisor = users["supervisor"].id
        self.officers = _officers(session)
        self.programmes = {p.code: p for p in session.scalars(select(Programme).where(Programme.active.is_(True)))}
        self.case_agency = session.scalar(select(Agency.id).where(Agency.code == "DINSOS"))
        codes = [c for c in PROGRAMME_WEIGHTS if c in self.programmes]
        self.programme_codes, self.programme_weights = codes, [PROGRAMME_WEIGHTS[c] for c in codes]
        self.target_names, self.target_weights = zip(*TARGETS, strict=True)

    def _id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _audit(self, out, when, actor, action, object_type, object_id, case_id, before, after, comment=None):
        """One audit event chained to the previous one.

        Same hash as ``core.audit.chain_hash`` (checked by tests/demo): the canonical body is written
        out directly instead of building the dict and sorting its keys per event.
        """
        before_json = _dumps(before)
        after_json = _dumps(after)
        comment_json = _dumps(comment)
        occurred = when.isoformat(timespec="microseconds")
        actor_json = "null" if actor is None else str(actor)
        body = (f'{{"action":"{action}","actor_id":{actor_json},"after":{after_json},"before":{before_json},'
                f'"case_id":{case_id},"comment":{comment_json},"endpoint":null,"ip_address":null,'
                f'"object_id":{object_id},"object_type":"{object_type}","occurred_at":"{occurred}",'
                f'"request_id":null}}')
        row_hash = hashlib.sha256((self.last_hash + body).encode()).hexdigest()
        out["audit_events"].append("\t".join((
            str(self._id("audit_events")), occurred, N if actor is None else actor_json, action, object_type,
            str(object_id), str(case_id), N if before is None else _text(before_json),
            N if after is None else _text(after_json), N if comment is None else _text(comment),
            self.last_hash, row_hash)) + "\n")
        self.last_hash = row_hash

    def build(self, out, household_id: int, head_id: int, kelurahan: str) -> None:
        rng = self.rng
        target = rng.choices(self.target_names, self.target_weights)[0]
        owner = self.owners.get(kelurahan)
        sup = self.supervisor
        case_id = self._id("cases")
        kecamatan = kelurahan.rsplit(".", 1)[0]
        # The last action happened 0-20 days ago; earlier ones 1-12 days apart before it.
        depth = self.target_names.index(target) + 2
        t = self.now - timedelta(days=rng.uniform(0, 20))
        times = [t]
        for _ in range(depth + 3):
            t -= timedelta(days=rng.uniform(1, 12), minutes=rng.randint(0, 600))
            times.append(t)
        times.reverse()  # times[0] = opened
        clock = iter(times)
        opened = next(clock)
        year = opened.year
        self.counters[year] = self.counters.get(year, 0) + 1
        number = f"{CASE_NUMBER_PREFIX}-{year}-{self.counters[year]:06d}"
        state = {"stage": "referral", "status": "new", "owner_id": None, "version": 1, "round": 1}
        referrer = owner or sup
        reason = "Rumah tangga desil rendah; perlu kunjungan rumah."
        self._audit(out, opened, referrer, "create_referral", "case", case_id, case_id, None, dict(state), reason)
        steps: list[list] = []

        def open_step(stage, kind, when, assignee=None, submitted_by=None):
            steps.append([self._id("steps"), case_id, stage, kind, 1, None, assignee, "open",
                          when + timedelta(days=SLA[kind]), None, when, submitted_by,
                          when if kind in ("approval", "triage") else None, None, None, None, None])

        def close_step(when, actor, action, data=None):
            step = steps[-1]
            step[7] = "done"
            if step[3] in ("approval", "triage"):
                step[13], step[14], step[15] = actor, when, action
            else:
                step[11], step[12], step[9] = actor, when, data

        def act(action, actor, when, stage=None, status=None, owner_id=None, comment=None):
            before = dict(state)
            state["version"] += 1
            if stage:
                state["stage"] = stage
            if status:
                state["status"] = status
            if owner_id:
                state["owner_id"] = owner_id
            self._audit(out, when, actor, action, "case", case_id, case_id, before, dict(state), comment)

        open_step("referral", "triage", opened, submitted_by=referrer)
        closed_at = closure = outcome = None
        interventions: list[list] = []
        done = target == "referral" or owner is None
        if not done and target == "rejected":
            when = next(clock)
            why = rng.choice(("duplicate", "not_eligible"))
            close_step(when, sup, "reject_referral")
            act("reject_referral", sup, when, "closed", "closed", comment=why)
            closed_at, closure, done = when, why, True
        for action, goal in (("accept", "verification"), ("submit_verification", "verification_submitted"),
                             ("approve_verification", "planning"), ("submit_plan", "plan_submitted"),
                             ("approve_plan", "active")):
            if done:
                break
            when = next(clock)
            if action == "accept":
                close_step(when, sup, "accept_referral")
                act("accept_referral", sup, when, "verification", "assigned", owner)
                open_step("verification", "verification", when, assignee=owner)
            elif action == "submit_verification":
                close_step(when, owner, action, {"findings": rng.choice(FINDINGS)})
                act(action, owner, when, status="submitted")
                open_step("verification", "approval", when, submitted_by=owner)
            elif action == "approve_verification":
                close_step(when, sup, action)
                act(action, sup, when, "intervention", "planning")
                open_step("intervention", "plan", when, assignee=owner)
            elif action == "submit_plan":
                close_step(when, owner, action)
                act(action, owner, when, status="plan_submitted")
                open_step("intervention", "approval", when, submitted_by=owner)
            else:
                close_step(when, sup, action)
                act(action, sup, when, status="active")
                codes = set(rng.choices(self.programme_codes, self.programme_weights, k=rng.choice((1, 2, 2, 3))))
                for code in sorted(codes):
                    p = self.programmes[code]
                    interventions.append([self._id("interventions"), case_id, 1, p.id,
                                          head_id if p.target == ProgrammeTarget.PERSON else None, p.agency_id,
                                          None, "pending", when + timedelta(days=p.sla_days),
                                          RTLH_AMOUNT if code == "RTLH" else None, None, {}, None, None, 1, when, when])
            done = target == goal
        if not done:  # active_in_progress or later: agencies work their interventions
            when = next(clock)
            finished = target != "active_in_progress"
            for iv in interventions:
                officer = self.officers.get(iv[5])
                milestones = self.programmes_milestones(iv[3])
                ticks = milestones if finished else milestones[:2]
                snap = lambda iv=iv: {"status": iv[7], "assignee_id": iv[6], "version": iv[14],  # noqa: E731
                                      "milestones": dict(iv[11])}
                before = snap()
                iv[6], iv[7], iv[14] = officer, "claimed", iv[14] + 1
                self._audit(out, when, officer, "intervention_claim", "intervention", iv[0], case_id, before, snap())
                before = snap()
                iv[7], iv[14] = "in_progress", iv[14] + 1
                self._audit(out, when, officer, "intervention_start", "intervention", iv[0], case_id, before, snap())
                iv[11] = {code: when.isoformat() for code in ticks}
                iv[14] += len(ticks)
                if finished:
                    before = snap()
                    iv[7], iv[14], iv[12] = "delivered", iv[14] + 1, when.date()
                    iv[13] = "Sudah diserahkan."
                    self._audit(out, when, officer, "intervention_deliver", "intervention", iv[0], case_id,
                                before, snap(), "Sudah diserahkan.")
                iv[16] = when
            if finished:
                act("complete_interventions", None, when, "evaluation", "assigned")
                open_step("evaluation", "evaluation", when, assignee=owner)
            done = not finished or target == "evaluation"
        if not done:
            when = next(clock)
            close_step(when, owner, "submit_evaluation", {"outcome": "graduated",
                                                          "findings": "Penghasilan stabil; rumah sudah layak."})
            act("submit_evaluation", owner, when, status="submitted")
            open_step("evaluation", "approval", when, submitted_by=owner)
            if target == "graduated":
                when = next(clock)
                close_step(when, sup, "approve_evaluation")
                act("approve_evaluation", sup, when, "closed", "closed")
                closed_at, outcome = when, "graduated"
        open_steps = [s for s in steps if s[7] == "open"]
        due = open_steps[-1][8] if open_steps and state["stage"] != "closed" else None
        if state["stage"] == "intervention" and state["status"] == "active":
            due = min((iv[8] for iv in interventions), default=None)
        updated = max(times[0], *(s[10] for s in steps))
        out["cases"].append(_line((case_id, number, household_id, state["stage"], state["status"], state["owner_id"],
                                   kelurahan, kecamatan, rng.choice(SOURCES), reason, referrer, 1, state["version"],
                                   due, opened, closed_at, closure, outcome, opened, updated)))
        out["steps"].extend(_line(s) for s in steps)
        out["interventions"].extend(_line(iv) for iv in interventions)

    def programmes_milestones(self, programme_id: int) -> list[str]:
        for p in self.programmes.values():
            if p.id == programme_id:
                return list(p.milestones or [])
        return []


def _copy_chunk(conn, chunk: dict[str, list[str]]) -> None:
    with conn.cursor() as cur:
        for table in TABLE_ORDER:
            lines = chunk.get(table)
            if lines:
                with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                    copy.write("".join(lines))
    conn.commit()


def _case_process(builder: _CaseBuilder, engine, url: str, inbox, outbox) -> None:
    """Child process: cases, steps, interventions and the audit chain for the households the parent
    has committed (it sends ``(household id, head person id, kelurahan)`` per committed chunk)."""
    import psycopg

    engine.dispose(close=False)  # the parent's pooled connections are not ours to use or close
    try:
        with psycopg.connect(url) as conn:
            while (households := inbox.get()) is not None:
                chunk: dict[str, list[str]] = {"cases": [], "steps": [], "interventions": [], "audit_events": []}
                for household_id, head_id, kelurahan in households:
                    builder.build(chunk, household_id, head_id, kelurahan)
                _copy_chunk(conn, chunk)
                outbox.put(("progress", len(households)))
        outbox.put(("done", builder.counters))
    except BaseException as exc:
        outbox.put(("error", repr(exc)))


def load_bulk(session: Session, n: int, *, case_share: float = 1.0,
              progress: Callable[[str], object] = print) -> dict[str, int]:
    """Households 0..n-1 (those not stored yet) and a case for *case_share* of them, through COPY.

    Two processes (the machine's two cores): this one generates households and members, seals NIK/KK
    and COPYs them; a forked child builds the cases, steps, interventions and audit chain of each
    chunk once its households are committed.
    """
    import multiprocessing

    from flask import current_app

    from caseapp.agencies.operations import load_reference_data
    from caseapp.demo.loader import load_demo_users

    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        raise RuntimeError("the bulk loader needs PostgreSQL (COPY); use the default loader on SQLite")
    started = time.perf_counter()
    summary = load_reference_data(session)
    summary["users"] = load_demo_users(session)
    session.commit()
    owners = _bulk_workers(session, current_app.config["DEMO_PASSWORD"], progress)
    codes = list(session.scalars(select(Region.code).where(Region.level == RegionLevel.KELURAHAN)))
    last_hash = session.scalar(select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    counters = dict(session.execute(select(CaseNumberCounter.year, CaseNumberCounter.last)).all())
    next_ids = _next_ids(session)
    builder = _CaseBuilder(session, owners, next_ids, last_hash, counters)
    seal = _Sealer()
    stored_households = session.scalar(select(func.count()).select_from(text("households"))) or 0
    session.commit()
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")
    inbox, outbox = context.Queue(maxsize=3), context.Queue()
    child = context.Process(target=_case_process, args=(builder, engine, url, inbox, outbox), daemon=True)
    child.start()
    raw = engine.raw_connection()
    added = cases = built = 0
    share_rng = random.Random("sinergi-bulk-share")
    pending: list = []
    now = builder.now
    ids = next_ids
    person_id, household_id = ids["persons"], ids["households"]
    try:
        conn = raw.driver_connection
        for h in generate_households(codes, n):
            pending.append(h)
            if len(pending) < CHUNK and h.index != n - 1:
                continue
            fresh = _unstored(session, pending, seal) if stored_households else [(h, seal(h.kk, "kk")) for h in pending]
            pending = []
            chunk: dict[str, list[str]] = {table: [] for table in TABLE_ORDER}
            with_case = []
            for h, kk in fresh:
                hid, household_id = household_id, household_id + 1
                chunk["households"].append(_line((
                    hid, kk[0], kk[1], kk[2], h.kelurahan_code, h.rw, h.rt, h.address, h.latitude, h.longitude,
                    h.desil, DESIL_RELEASE, "active", 1, now, now)))
                head_id = person_id
                for p in h.members:
                    nik = seal(p.nik, "nik")
                    chunk["persons"].append(_line((
                        person_id, hid, h.kelurahan_code, nik[0], nik[1], nik[2], p.name, p.sex.value, p.birth_date,
                        p.relation.value,
                        p.marital_status, CODELIST_VERSION, p.school_participation, p.education_level,
                        p.work_status, p.work_sector, p.monthly_income,
                        list(p.disability_types) if p.disability_types else None, p.chronic_illness, p.pregnant,
                        True, now, now)))
                    person_id += 1
                chunk["household_kk_history"].append(_line((hid, kk[0], kk[1], kk[2], h.kk_recorded_on, None,
                                                            "initial")))
                chunk["household_desil_history"].append(_line((hid, h.desil, DESIL_RELEASE, now)))
                s = h.housing
                chunk["housing_surveys"].append(_line((
                    hid, s["surveyed_on"], CODELIST_VERSION, s["tenure"], s["floor_area_m2"], s["occupants"],
                    s["roof_material"], s["roof_condition"], s["wall_material"], s["wall_condition"],
                    s["floor_material"], s["floor_condition"], s["toilet"], s["sewage"], s["water_source"],
                    s["lighting"], s["power_va"], s["cooking_fuel"], s["land_proof"], s["assets"], now)))
                added += 1
                if share_rng.random() < case_share:
                    with_case.append((hid, head_id, h.kelurahan_code))
            if fresh:
                _copy_chunk(conn, chunk)
            if with_case:
                inbox.put(with_case)
                cases += len(with_case)
            built += _drain(outbox)
            rate = (h.index + 1) / (time.perf_counter() - started)
            progress(f"bulk: {h.index + 1}/{n} households generated ({rate:,.0f}/s), {added} added; "
                     f"cases {built}/{cases} written")
    finally:
        inbox.put(None)
        raw.close()
    while True:
        kind, value = outbox.get()
        if kind == "progress":
            built += value
            continue
        if kind == "error":
            raise RuntimeError(f"bulk case builder failed: {value}")
        builder.counters = value
        break
    child.join()
    session.close()
    engine.dispose()  # fresh connections after the fork
    if added:
        progress(f"bulk: {built} cases written; sequences, counters, VACUUM ANALYZE…")
        _finish(session, builder)
    summary.update(households=added, cases=cases, seconds=round(time.perf_counter() - started))
    return summary


def _drain(outbox) -> int:
    done = 0
    while True:
        try:
            kind, value = outbox.get_nowait()
        except queue.Empty:
            return done
        if kind == "error":
            raise RuntimeError(f"bulk case builder failed: {value}")
        done += value if kind == "progress" else 0


def _unstored(session: Session, batch, seal) -> list:
    sealed = [(h, seal(h.kk, "kk")) for h in batch]
    from caseapp.households.models import Household

    stored = set(session.scalars(select(Household.kk_hash).where(Household.kk_hash.in_([s[1] for _, s in sealed]))))
    session.rollback()
    return [(h, s) for h, s in sealed if s[1] not in stored]


def _finish(session: Session, builder: _CaseBuilder) -> None:
    """Steps' copies of their case's scope and the case tallies, sequences past the ids used, case-number counters,
    statistics for the planner."""
    scope_sync.rebuild(session)
    for table in SEQUENCED:
        session.execute(text(  # fixed table names from SEQUENCED
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608  # nosec B608
            f"greatest((SELECT max(id) FROM {table}), 1))"))
    for year, last in builder.counters.items():
        session.execute(text(
            "INSERT INTO case_number_counters (year, last) VALUES (:y, :l) "
            "ON CONFLICT (year) DO UPDATE SET last = greatest(case_number_counters.last, excluded.last)"),
            {"y": year, "l": last})
    session.commit()
    import psycopg

    url = session.get_bind().url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLE_ORDER:
            conn.execute(f"VACUUM (ANALYZE) {table}")


# --- replicating a loaded data set (the 1,000,000-case benchmark) --------------------------------

# City/regency digits (Jawa Timur) given to the NIK/KK of each copy, so every number stays unique.
