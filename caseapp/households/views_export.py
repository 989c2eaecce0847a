"""Export of the filtered household list (CSV/XLSX): what the list shows the user, nothing more.

Scope and filters come from ``queries.filtered_households`` (the list page's own query). NIK/KK are
masked unless the user may reveal identity numbers *and* asks for ``identity=full``; the access log
records every export (and such an export as a reveal as well).
"""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from caseapp.agencies.models import Region
from caseapp.auth.permissions import Permission, requires
from caseapp.core.crypto import decrypt
from caseapp.extensions import db
from caseapp.households import exports
from caseapp.households.models import Household, Person, Relation
from caseapp.households.policy import can_reveal_identity
from caseapp.households.queries import filtered_households
from caseapp.households.views import _filters_from_request, bp

MAX_EXPORT_ROWS = 200_000


def wants_full_identity() -> bool:
    """``identity=full`` from a role that may reveal numbers; anyone else asking gets a 403."""
    if request.args.get("identity") != "full":
        return False
    if not can_reveal_identity(current_user):
        abort(403)
    return True


@bp.route("/export")
@requires(Permission.DATA_EXPORT)
def export():
    fmt = request.args.get("format", "csv")
    if fmt not in exports.FORMATS:
        abort(400)
    full = wants_full_identity()
    filters = _filters_from_request()
    head = aliased(Person, name="head")
    members = (select(func.count(Person.id)).where(Person.household_id == Household.id, Person.active.is_(True))
               .scalar_subquery())
    stmt = (
        filtered_households(current_user, kelurahan=filters.kelurahan, desil=filters.desil, q=filters.q)
        .with_only_columns(Household.id, Household.kk_masked, Household.kk_ciphertext, Region.name,
                           Household.kelurahan_code, Household.rw, Household.rt, Household.address, Household.desil,
                           Household.desil_release, head.name, head.nik_masked, head.nik_ciphertext,
                           members.label("members"))
        .join(Region, Region.code == Household.kelurahan_code)
        .outerjoin(head, (head.household_id == Household.id) & (head.relation == Relation.HEAD)
                   & head.active.is_(True))
        .order_by(Household.id).limit(MAX_EXPORT_ROWS)
    )
    rows = []
    for (hid, kk_masked, kk_ct, kel_name, kel_code, rw, rt, address, desil, release, head_name, nik_masked,
         nik_ct, count) in db.session.execute(stmt):
        kk = decrypt(kk_ct, "kk") if full and kk_ct else kk_masked
        nik = decrypt(nik_ct, "nik") if full and nik_ct else nik_masked
        rows.append((hid, kk, kel_name, kel_code, rw, rt, address, desil, release, head_name, nik, count))
    header = (_("ID"), _("Nomor KK"), _("Kelurahan"), _("Kode kelurahan"), "RW", "RT", _("Alamat"), _("Desil"),
              _("Rilis DTSEN"), _("Kepala keluarga"), _("NIK kepala keluarga"), _("Jumlah anggota"))
    exports.log_export(db.session, user_id=current_user.id, what="households",
                       filters={"kelurahan": filters.kelurahan, "desil": filters.desil, "q": filters.q},
                       row_count=len(rows), fmt=fmt, full_identity=full)
    db.session.commit()
    return exports.render(fmt, header, rows, "rumah-tangga")
