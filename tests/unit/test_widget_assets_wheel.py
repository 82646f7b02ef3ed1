"""The widgets' front-end files ship in the wheel, and asset lookup works from an installed wheel."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["recnb/_widgets/ranked_list.js", "recnb/_widgets/ranked_list.css"]


def _quiet_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)]
    # hatchling (the build backend) in this environment: build without downloading it again.
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-build-isolation")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_quiet_env(), timeout=600)
    assert proc.returncode == 0, f"wheel build failed:\n{proc.stdout}\n{proc.stderr}"
    (whl,) = out.glob("recnb-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, env=_quiet_env(), timeout=600,
    )
    assert proc.returncode == 0, f"wheel install failed:\n{proc.stdout}\n{proc.stderr}"
    return target


def _run_from(target: Path, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with the installed wheel first on sys.path, away from the checkout."""
    env = _quiet_env()
    env["PYTHONPATH"] = str(target)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=target, capture_output=True, text=True,
        env=env, timeout=120,
    )


@pytest.mark.slow
def test_wheel_contains_widget_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in SHIPPED if n not in names]
    assert not missing, f"{wheel.name} lacks {missing}"


@pytest.mark.slow
def test_asset_lookup_from_installed_wheel(installed):
    proc = _run_from(
        installed,
        """
        import recnb
        from recnb.widgets import RankedList, asset
        print(recnb.__file__)
        print(asset("ranked_list.js"))
        w = RankedList([{"item_id": 1, "title": "x", "score": 1.0}])
        assert "export default" in w._esm and "recnb-ranked-list" in w._css
        """,
    )
    assert proc.returncode == 0, proc.stderr
    package_file, js = proc.stdout.split()
    assert Path(package_file).is_relative_to(installed), "imported the checkout, not the wheel"
    assert Path(js) == installed / "recnb" / "_widgets" / "ranked_list.js"


@pytest.mark.slow
def test_install_without_assets_fails_clearly(installed, tmp_path):
    broken = tmp_path / "site"
    shutil.copytree(installed, broken)
    shutil.rmtree(broken / "recnb" / "_widgets")
    proc = _run_from(broken, "import recnb.widgets")
    assert proc.returncode != 0
    assert "WidgetAssetsNotFound" in proc.stderr and "ranked_list.js" in proc.stderr
