"""Screenshots of the case screens for docs/panduan.md, as the demo users, desktop and phone.

Needs a running Sinergi with demo data (``flask demo load``), Playwright and a Chromium:

    .venv/bin/python scripts/screenshots.py http://127.0.0.1:5088

Each user logs in once (a TOTP code is accepted only once, so the supervisor's session is reused
for both widths). Files go to docs/screenshots/<screen>-<desktop|phone>.png.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import pyotp
from PIL import Image
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASSWORD = os.environ.get("DEMO_PASSWORD", "sinergi-demo-2025")
TOTP_SECRET = os.environ.get("DEMO_TOTP_SECRET", "JBSWY3DPEHPK3PXPJBSWY3DP")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
MAX_HEIGHT = {"desktop": 2000, "phone": 2600}   # long lists are cut: the top is what a reader needs


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    if "/login/totp" in page.url:
        page.fill("input[name=code]", pyotp.TOTP(TOTP_SECRET).now())
        page.click("form button[type=submit]")
        page.wait_for_load_state()
    if "/login" in page.url:
        sys.exit(f"login failed for {email}: {page.url}")


def first_case_link(page: Page, base: str, list_path: str, within: str = "main") -> str:
    """The first case page linked from a list (the lists are sorted by due date)."""
    page.goto(f"{base}{list_path}")
    for href in page.eval_on_selector_all(f"{within} a[href]", "els => els.map(e => e.getAttribute('href'))"):
        if re.fullmatch(r"/cases/\d+(#.*)?", href or ""):
            return href.split("#")[0]
    sys.exit(f"no case linked from {list_path}")


def shrink(path: Path) -> None:
    """256 colours are plenty for a form-and-text screen and keep the repository small."""
    image = Image.open(path).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def shoot(page: Page, base: str, path: str, name: str, *, anchor: str | None = None) -> None:
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        if anchor:
            page.locator(anchor).first.scroll_into_view_if_needed()
        target = OUT / f"{name}-{size}.png"
        full = page.evaluate("document.documentElement.scrollHeight")
        clip = {"x": 0, "y": 0, "width": width, "height": min(full, MAX_HEIGHT[size])}
        page.screenshot(path=str(target), full_page=True, clip=clip)
        shrink(target)
        print(f"saved {target.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:5088")
    parser.add_argument("--admin-only", action="store_true", help="only the admin screens (docs/admin.md)")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"])

        def session(email: str) -> Page:
            page = browser.new_context(locale="id-ID", timezone_id="Asia/Jakarta").new_page()
            log_in(page, base, email)
            return page

        # Admin screens (docs/admin.md): users, programme catalogue, audit log.
        admin = session("admin@sinergi.test")
        shoot(admin, base, "/admin/users/", "admin-pengguna")
        shoot(admin, base, "/admin/programmes", "admin-program")
        shoot(admin, base, "/admin/audit/", "admin-audit")
        if args.admin_only:
            browser.close()
            return

        worker = session("worker@sinergi.test")
        shoot(worker, base, "/cases/my-work", "tugas-saya")
        shoot(worker, base, "/cases/", "kasus")
        planning = first_case_link(worker, base, "/cases/?status=planning")
        shoot(worker, base, planning, "kasus-rencana")

        supervisor = session("supervisor@sinergi.test")
        shoot(supervisor, base, "/cases/approvals", "persetujuan")
        submitted = first_case_link(supervisor, base, "/cases/?status=plan_submitted")
        shoot(supervisor, base, submitted, "kasus-persetujuan")

        officer = session("rumah@sinergi.test")
        shoot(officer, base, "/interventions/queue", "antrean-dinas")
        # A case whose house works are under way: milestones partly ticked.
        active = first_case_link(officer, base, "/interventions/queue", "section[aria-labelledby=h-working]")
        shoot(officer, base, active, "kasus-dinas")
        browser.close()


if __name__ == "__main__":
    main()
