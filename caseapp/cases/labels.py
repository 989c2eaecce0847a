"""The words the case screens show for codes: stages, statuses, actions, reasons, milestones.

One place for every label so the lists, the case page, the queue and the timeline say the same thing
(DESIGN.md §4a word list). msgids are Indonesian; English comes from the catalogue.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from caseapp.cases.models import CaseStatus, InterventionStatus, Stage
from caseapp.cases.workflow import Action

STAGES = {
    Stage.REFERRAL: _l("Rujukan"),
    Stage.VERIFICATION: _l("Verifikasi"),
    Stage.INTERVENTION: _l("Intervensi"),
    Stage.EVALUATION: _l("Evaluasi"),
    Stage.CLOSED: _l("Selesai"),
}

# The stepper's order (a closed case shows its last stage as reached).
STAGE_ORDER = (Stage.REFERRAL, Stage.VERIFICATION, Stage.INTERVENTION, Stage.EVALUATION, Stage.CLOSED)

STATUSES = {
    CaseStatus.NEW: _l("Baru"),
    CaseStatus.ASSIGNED: _l("Ditugaskan"),
    CaseStatus.SUBMITTED: _l("Menunggu persetujuan"),
    CaseStatus.PLANNING: _l("Menyusun rencana"),
    CaseStatus.PLAN_SUBMITTED: _l("Rencana menunggu persetujuan"),
    CaseStatus.ACTIVE: _l("Intervensi berjalan"),
    CaseStatus.CLOSED: _l("Ditutup"),
}

# What the case is waiting for, in one phrase, per (stage, status): the list's "Tahap" column.
SITUATIONS = {
    (Stage.REFERRAL, CaseStatus.NEW): _l("Rujukan baru, menunggu ditelaah"),
    (Stage.VERIFICATION, CaseStatus.ASSIGNED): _l("Menunggu kunjungan rumah"),
    (Stage.VERIFICATION, CaseStatus.SUBMITTED): _l("Verifikasi menunggu persetujuan"),
    (Stage.INTERVENTION, CaseStatus.PLANNING): _l("Menyusun rencana intervensi"),
    (Stage.INTERVENTION, CaseStatus.PLAN_SUBMITTED): _l("Rencana menunggu persetujuan"),
    (Stage.INTERVENTION, CaseStatus.ACTIVE): _l("Intervensi berjalan di dinas"),
    (Stage.EVALUATION, CaseStatus.ASSIGNED): _l("Menunggu evaluasi"),
    (Stage.EVALUATION, CaseStatus.SUBMITTED): _l("Evaluasi menunggu persetujuan"),
    (Stage.CLOSED, CaseStatus.CLOSED): _l("Ditutup"),
}

# Button words (the same as Transition.label, here so they are extracted and translated).
BUTTONS = {
    Action.ACCEPT_REFERRAL: _l("Terima rujukan"),
    Action.REJECT_REFERRAL: _l("Tolak rujukan"),
    Action.SUBMIT_VERIFICATION: _l("Kirim hasil verifikasi"),
    Action.APPROVE_VERIFICATION: _l("Setujui verifikasi"),
    Action.RETURN_VERIFICATION: _l("Kembalikan verifikasi"),
    Action.SUBMIT_PLAN: _l("Kirim rencana intervensi"),
    Action.APPROVE_PLAN: _l("Setujui rencana"),
    Action.RETURN_PLAN: _l("Kembalikan rencana"),
    Action.SUBMIT_EVALUATION: _l("Kirim evaluasi"),
    Action.APPROVE_EVALUATION: _l("Setujui evaluasi"),
    Action.RETURN_EVALUATION: _l("Kembalikan evaluasi"),
    Action.CLOSE_CASE: _l("Tutup kasus"),
    Action.REOPEN_CASE: _l("Buka kembali kasus"),
    Action.REASSIGN: _l("Alihkan ke pekerja sosial lain"),
}

# What happened, for the timeline (past tense).
EVENTS = {
    "create_referral": _l("Merujuk rumah tangga"),
    "accept_referral": _l("Menerima rujukan dan menugaskan pekerja sosial"),
    "reject_referral": _l("Menolak rujukan"),
    "submit_verification": _l("Mengirim hasil verifikasi"),
    "approve_verification": _l("Menyetujui verifikasi"),
    "return_verification": _l("Mengembalikan verifikasi"),
    "submit_plan": _l("Mengirim rencana intervensi"),
    "approve_plan": _l("Menyetujui rencana intervensi"),
    "return_plan": _l("Mengembalikan rencana intervensi"),
    "complete_interventions": _l("Semua intervensi selesai; evaluasi dibuka"),
    "submit_evaluation": _l("Mengirim evaluasi"),
    "approve_evaluation": _l("Menyetujui evaluasi"),
    "return_evaluation": _l("Mengembalikan evaluasi"),
    "close_case": _l("Menutup kasus"),
    "reopen_case": _l("Membuka kembali kasus"),
    "reassign": _l("Mengalihkan kasus ke pekerja sosial lain"),
    "intervention_claim": _l("Mengambil intervensi"),
    "intervention_start": _l("Mulai mengerjakan intervensi"),
    "intervention_milestone": _l("Mencentang tonggak"),
    "intervention_deliver": _l("Menyerahkan intervensi"),
    "intervention_cancel": _l("Membatalkan intervensi"),
    "add_attachment": _l("Mengunggah berkas"),
}

REJECT_REASONS = {
    "duplicate": _l("Duplikat: sudah ada rujukan/kasus lain"),
    "out_of_area": _l("Di luar wilayah Kota Kediri"),
    "not_eligible": _l("Tidak memenuhi kriteria"),
    "insufficient_info": _l("Informasi rujukan kurang"),
}

CLOSE_REASONS = {
    "moved": _l("Pindah domisili"),
    "deceased": _l("Meninggal dunia"),
    "duplicate": _l("Duplikat"),
    "refused": _l("Menolak didampingi"),
    "not_eligible": _l("Tidak memenuhi kriteria"),
}

OUTCOMES = {
    "graduated": _l("Lulus (graduasi): keluarga sudah mandiri"),
    "continue": _l("Lanjut: perlu rencana intervensi baru"),
    "refer_out": _l("Dirujuk ke layanan lain"),
}

# Short words for a closed case's reason or outcome (header and list).
CLOSURES = {
    "graduated": _l("Lulus (graduasi)"),
    "refer_out": _l("Dirujuk ke layanan lain"),
    **CLOSE_REASONS,
    **{k: v for k, v in REJECT_REASONS.items() if k not in CLOSE_REASONS},
}

INTERVENTION_STATUSES = {
    InterventionStatus.PENDING: _l("Menunggu diambil"),
    InterventionStatus.CLAIMED: _l("Sudah diambil"),
    InterventionStatus.IN_PROGRESS: _l("Sedang dikerjakan"),
    InterventionStatus.DELIVERED: _l("Sudah diserahkan"),
    InterventionStatus.CANCELLED: _l("Dibatalkan"),
}

INTERVENTION_BUTTONS = {
    "claim": _l("Ambil"),
    "start": _l("Mulai kerjakan"),
    "milestone": _l("Centang tonggak"),
    "deliver": _l("Tandai sudah diserahkan"),
    "cancel": _l("Batalkan intervensi"),
}

MILESTONES = {
    "survey": _l("Survei lokasi"),
    "decree": _l("SK penerima bantuan"),
    "transfer": _l("Dana ditransfer"),
    "works_50": _l("Pekerjaan 50%"),
    "works_100": _l("Pekerjaan 100%"),
    "handover": _l("Serah terima"),
}

STEP_KINDS = {
    "triage": _l("Telaah rujukan"),
    "verification": _l("Verifikasi (kunjungan rumah)"),
    "plan": _l("Rencana intervensi"),
    "evaluation": _l("Evaluasi"),
    "approval": _l("Persetujuan"),
}

RELATIONS = {
    "head": _l("Kepala keluarga"),
    "spouse": _l("Istri/suami"),
    "child": _l("Anak"),
    "child_in_law": _l("Menantu"),
    "grandchild": _l("Cucu"),
    "parent": _l("Orang tua"),
    "parent_in_law": _l("Mertua"),
    "other_relative": _l("Famili lain"),
    "household_help": _l("Pembantu"),
    "other": _l("Lainnya"),
}

SEXES = {"L": _l("Laki-laki"), "P": _l("Perempuan")}


NOTHING = "\u2013"   # an en dash: what an empty cell shows


def label(mapping: dict, code: object) -> str:
    """The word for *code* in *mapping*, else the code itself (never a blank cell)."""
    if code is None:
        return NOTHING
    return str(mapping.get(code, mapping.get(str(code), code)))

MEMBER_LABELS = {
    "education_level": _l("Pendidikan"),
    "marital_status": _l("Status kawin"),
    "school_participation": _l("Sekolah"),
    "work_status": _l("Pekerjaan"),
    "work_sector": _l("Sektor kerja"),
    "monthly_income": _l("Penghasilan per bulan"),
    "disability_types": _l("Disabilitas"),
    "chronic_illness": _l("Penyakit kronis"),
    "pregnant": _l("Hamil"),
}

SURVEY_LABELS = {
    "tenure": _l("Status rumah"),
    "floor_area_m2": _l("Luas lantai (m²)"),
    "occupants": _l("Penghuni"),
    "roof_material": _l("Atap"),
    "roof_condition": _l("Kondisi atap"),
    "wall_material": _l("Dinding"),
    "wall_condition": _l("Kondisi dinding"),
    "floor_material": _l("Lantai"),
    "floor_condition": _l("Kondisi lantai"),
    "toilet": _l("Jamban"),
    "sewage": _l("Pembuangan tinja"),
    "water_source": _l("Sumber air minum"),
    "lighting": _l("Penerangan"),
    "power_va": _l("Daya listrik (VA)"),
    "cooking_fuel": _l("Bahan bakar memasak"),
    "land_proof": _l("Bukti kepemilikan tanah"),
    "assets": _l("Aset"),
}

# Referral sources in Indonesian (the reference table's names are English descriptions).
REFERRAL_SOURCES = {
    "HALO_WARGA": _l("Halo Warga (layanan aduan)"),
    "KELURAHAN": _l("Loket All In Kelurahan"),
    "MOBIL_PELAYANAN": _l("Mobil Pelayanan Masyarakat"),
    "DOKTER_KELUARGA": _l("Tim dokter keluarga / home care"),
    "SEKOLAH": _l("Sekolah"),
    "DTSEN": _l("Daftar DTSEN (desil 1-2)"),
    "OUTREACH": _l("Penjangkauan pekerja sosial"),
    "MANDIRI": _l("Datang sendiri"),
}

# The flash message after an action went through.
DONE = {
    Action.ACCEPT_REFERRAL: _l("Rujukan diterima dan pekerja sosial ditugaskan."),
    Action.REJECT_REFERRAL: _l("Rujukan ditolak; kasus ditutup."),
    Action.SUBMIT_VERIFICATION: _l("Hasil verifikasi terkirim ke penyelia."),
    Action.APPROVE_VERIFICATION: _l("Verifikasi disetujui. Pekerja sosial sekarang menyusun rencana."),
    Action.RETURN_VERIFICATION: _l("Verifikasi dikembalikan ke pekerja sosial."),
    Action.SUBMIT_PLAN: _l("Rencana intervensi terkirim ke penyelia."),
    Action.APPROVE_PLAN: _l("Rencana disetujui. Intervensi masuk ke antrean dinas."),
    Action.RETURN_PLAN: _l("Rencana dikembalikan ke pekerja sosial."),
    Action.SUBMIT_EVALUATION: _l("Evaluasi terkirim ke penyelia."),
    Action.APPROVE_EVALUATION: _l("Evaluasi disetujui."),
    Action.RETURN_EVALUATION: _l("Evaluasi dikembalikan ke pekerja sosial."),
    Action.CLOSE_CASE: _l("Kasus ditutup."),
    Action.REOPEN_CASE: _l("Kasus dibuka kembali dan masuk tahap verifikasi."),
    Action.REASSIGN: _l("Kasus dialihkan."),
}

INTERVENTION_DONE = {
    "claim": _l("Intervensi diambil. Anda penanggung jawabnya sekarang."),
    "start": _l("Intervensi mulai dikerjakan."),
    "milestone": _l("Tonggak dicentang."),
    "deliver": _l("Intervensi tercatat sudah diserahkan."),
    "cancel": _l("Intervensi dibatalkan."),
}

# Register codes that read better as acronyms than with their underscores replaced.
CODE_WORDS = {
    "sd": "SD", "smp": "SMP", "sma": "SMA", "d3_s1": "D3/S1", "shm": "SHM",
    "pln_meter": "PLN (meteran)", "pln_tanpa_meter": "PLN tanpa meteran", "non_pln": "non-PLN",
    "lpg_3kg": "LPG 3 kg", "tabung_gas_3kg": "tabung gas 3 kg",
}


def code_words(value: object) -> str:
    """A register code in words: ``tidak_bekerja`` → "tidak bekerja", ``sma`` → "SMA"."""
    text = str(value)
    return CODE_WORDS.get(text, text.replace("_", " "))
