"""Packaging stays consistent: pyproject.toml is the single source; the other files agree."""
from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.version import Version


def _pyproject(repo_root):
    return tomllib.loads((repo_root / "pyproject.toml").read_text())


def test_environment_yml_agrees_with_pyproject(repo_root):
    py = _pyproject(repo_root)
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    spec = Requirement("python" + py["project"]["requires-python"]).specifier
    assert Version(python.split("=")[-1]) in spec, f"{python} outside requires-python {spec}"
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-c constraints.txt" in pip, "conda users must get the CPU torch pin too"
    assert any(re.fullmatch(r"-e \.\[(.+)\]", p) for p in pip), "environment.yml must install the package itself"
    extras = re.fullmatch(r"-e \.\[(.+)\]", next(p for p in pip if p.startswith("-e"))).group(1).split(",")
    assert set(extras) <= set(py["project"]["optional-dependencies"]), extras
    for req in py["tool"]["recnb"]["no-deps-requirements"]:
        assert f"--no-deps {req}" in pip, f"environment.yml lacks the --no-deps install of {req}"


def test_constraints_pin_cpu_torch(repo_root):
    lines = [l.strip() for l in (repo_root / "constraints.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert "torch==2.13.0" in lines
    torch_req = next(Requirement(d) for d in _pyproject(repo_root)["project"]["dependencies"] if d.startswith("torch"))
    assert Version("2.13.0") in torch_req.specifier


def test_makefile_bootstraps_with_constraints(repo_root):
    mk = (repo_root / "Makefile").read_text()
    assert "-c constraints.txt" in mk and "--no-deps" in mk
    for target in ("lab:", "test:", "bench:", "gpu-check:"):
        assert target in mk
    assert "make test" in (repo_root / ".ci" / "run").read_text()
