"""Admin pages: the landing page listing the tools, and failed notification deliveries with retry.

Thin: reads through ``caseapp.notifications.queries``, writes through its operations.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from caseapp.auth.permissions import Permission, has_permission, requires
from caseapp.extensions import db
from caseapp.notifications.forms import ActionForm
from caseapp.notifications.operations import retry_deliveries
from caseapp.notifications.queries import failed_deliveries, failed_delivery_count

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

PER_PAGE = 100


@dataclass(frozen=True)
class AdminTool:
    endpoint: str
    label: object
    description: object
    permission: Permission


# The admin landing page lists these.
TOOLS: list[AdminTool] = [
    AdminTool("admin_users.index", _l("Pengguna"),
              _l("Buat, ubah, nonaktifkan pengguna; atur ulang kata sandi dan faktor kedua; undangan."),
              Permission.ADMIN_USERS),
    AdminTool("admin_config.agencies_index", _l("Dinas dan meja kelurahan"),
              _l("Daftar dinas, meja kelurahan, dan bagian data yang boleh dibaca tiap jenis dinas."),
              Permission.ADMIN_CONFIG),
    AdminTool("admin_config.programmes_index", _l("Katalog program"),
              _l("Program intervensi: dinas pelaksana, strategi, sasaran, batas waktu, tonggak, penandaan anggaran."),
              Permission.ADMIN_CONFIG),
    AdminTool("admin_config.sla", _l("Batas waktu (SLA)"),
              _l("Hari per tahap dan per program, pengingat dan eskalasi."), Permission.ADMIN_CONFIG),
    AdminTool("admin_handover.index", _l("Serah terima kasus"),
              _l("Pindahkan kasus seorang pekerja sosial ke pekerja sosial lain sekaligus."), Permission.CASE_ASSIGN),
    AdminTool("admin_audit.index", _l("Log audit"),
              _l("Siapa mengubah apa dan kapan, dengan nilai sebelum dan sesudah; ekspor CSV."),
              Permission.ADMIN_AUDIT),
    AdminTool("admin.deliveries", _l("Pengiriman notifikasi gagal"),
              _l("E-mail dan SMS yang gagal terkirim setelah semua percobaan, dengan galat dan tombol kirim ulang."),
              Permission.ADMIN_DELIVERIES),
]


@bp.route("/")
@requires(Permission.ADMIN_USERS)
def index():
    tools = [tool for tool in TOOLS if has_permission(current_user.role, tool.permission)]
    return render_template("admin/index.html", tools=tools, failed=failed_delivery_count(db.session))


@bp.route("/deliveries")
@requires(Permission.ADMIN_DELIVERIES)
def deliveries():
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    rows = db.session.execute(failed_deliveries().limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    return render_template("admin/deliveries.html", rows=rows[:PER_PAGE], page=page,
                           has_more=len(rows) > PER_PAGE, total=failed_delivery_count(db.session), form=ActionForm())


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@requires(Permission.ADMIN_DELIVERIES)
def retry_delivery(delivery_id: int):
    retried = retry_deliveries(db.session, actor=current_user, ids=[delivery_id])
    if not retried:
        abort(404)
    db.session.commit()
    flash(_("Pengiriman #%(id)d dijadwalkan ulang.", id=delivery_id), "success")
    return redirect(url_for(".deliveries"))


@bp.route("/deliveries/retry-all", methods=["POST"])
@requires(Permission.ADMIN_DELIVERIES)
def retry_all():
    retried = retry_deliveries(db.session, actor=current_user, all_failed=True)
    db.session.commit()
    flash(_("%(count)d pengiriman dijadwalkan ulang.", count=len(retried)), "success")
    return redirect(url_for(".deliveries"))
