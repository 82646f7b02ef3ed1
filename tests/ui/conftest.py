"""Fixtures for browser tests: Debian's Chromium, one JupyterLab per session, a fresh page per test.

Without Chromium (``/usr/bin/chromium``, or ``RECNB_CHROMIUM``) the ui tests skip, except
with ``CI=true``, where a missing browser fails them. Playwright drives that binary; it never
downloads its own (no ``playwright install``).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _lab  # noqa: E402  (tests/ui/_lab.py: helpers shared by every browser test)

ROOT = Path(__file__).resolve().parents[2]


def _unavailable(reason: str):
    if _lab.in_ci():
        pytest.fail(f"{reason} (CI=true: browser tests must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    path = _lab.chromium_executable()
    if path is None:
        _unavailable(
            f"Chromium not found at {_lab.chromium_candidate()} (set $RECNB_CHROMIUM to use another): "
            "install Debian's package with `apt-get install -y chromium` to run the browser tests"
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium_path), args=_lab.CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def lab(browser, tmp_path_factory):
    """A real ``jupyter lab`` rooted at the repository, on loopback, stopped after the session."""
    server = _lab.start_lab(ROOT, tmp_path_factory.mktemp("jupyter-home"))
    try:
        yield server
    finally:
        _lab.stop_lab(server)


@pytest.fixture
def page(browser, lab, request):
    """A fresh browser page (own context) for one test; dumps the server log tail on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    console = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = Path(tempfile.gettempdir()) / f"recnb-ui-{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot: {shot}")
        except Exception:  # the page may be gone; the log below is what matters
            pass
        print("\nbrowser console errors:\n" + "\n".join(console[-30:]))
        print("\njupyter lab log (tail):\n" + lab.log_tail())
    context.close()
    _lab.shutdown_kernels(lab)  # each test starts its own kernel; idle ones would hold ~1 GB each


@pytest.fixture
def scratch_dir(lab):
    """A temporary folder under the server root (git-ignored .cache/), removed after the test.

    Returns (absolute path, path relative to the server root) for :func:`_lab.open_notebook`.
    """
    base = ROOT / ".cache" / "ui-tests"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="nb-", dir=base))
    try:
        yield path, path.relative_to(ROOT)
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
