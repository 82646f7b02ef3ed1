"""Run the benchmarks and write benchmarks/results.json and BENCHMARKS.md.

Each ``benchmarks/bench_<section>.py`` defines ``run(tiny: bool) -> dict``. Sections are
merged into results.json, so one section can be re-run alone:

    python -m benchmarks.run                   # everything
    python -m benchmarks.run --only retrieval  # one section, others kept
    python -m benchmarks.run --tiny            # quick smoke run (marked tiny in the file)
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
REPORT = HERE.parent / "BENCHMARKS.md"


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


# Outputs, not code: a section re-run after another in the same `make bench` still counts as clean.
_OUTPUTS = ("benchmarks/results.json", "BENCHMARKS.md", "notebooks/results")


def code_version() -> dict | None:
    """The commit a section measured and whether tracked code differed from it; None outside a git
    checkout (e.g. the copy of the tree a GPU machine runs): readers can then tell which numbers
    predate a change."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        if head.returncode or not (HERE.parent / ".git").exists():
            return None
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":!{p}" for p in _OUTPUTS))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "uncommitted_changes": bool(changed.stdout.strip())}


def sections() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def _finite(value):
    """NaN / inf -> None: results.json stays strict JSON that any reader can parse (numpy scalars -> numbers)."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def save(results: dict) -> None:
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(results), indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(tmp, RESULTS)
    REPORT.write_text(render_markdown(results))


def record(section: str, data: dict, tiny: bool = False, wall_seconds: float | None = None,
           code: dict | None = None) -> dict:
    """Merge one section into results.json (used by run() and by gpu checks).

    ``code``: :func:`code_version` taken when the section started (an edit made while it ran does not
    change what it measured); taken now when not given."""
    results = load()
    results[section] = {
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code if code is not None else code_version(),
        "tiny": tiny,
        "results": data,
    }
    if wall_seconds is not None:
        results[section]["wall_seconds"] = round(wall_seconds, 1)
    save(results)
    return results


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _render_value(lines, key, value, depth):
    pad = "  " * depth
    if isinstance(value, dict):
        lines.append(f"{pad}- **{key}**")
        for k, v in value.items():
            _render_value(lines, k, v, depth + 1)
    elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        cols = list(dict.fromkeys(c for r in value for c in r))
        lines.append(f"{pad}- **{key}**\n")
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * len(cols))
        for r in value:
            lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |")
        lines.append("")
    else:
        lines.append(f"{pad}- {key}: {_fmt(value)}")


def _code_note(code) -> str:
    if not code:
        return "code version not recorded"
    return f"commit {code['commit']}" + (" with uncommitted changes" if code.get("uncommitted_changes") else "")


def render_markdown(results: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks.run`) from `benchmarks/results.json`; "
        "do not edit by hand. Each section says when and where it was measured.",
        "",
    ]
    for name in sorted(results):
        sec = results[name]
        m = sec.get("machine", {})
        lines += [
            f"## {name}",
            "",
            f"Measured {sec.get('measured_at')} on {m.get('cpu_count')} CPU cores"
            + (f", GPU {m['cuda']}" if m.get("cuda") else "")
            + f", torch {m.get('torch')}" + (" (tiny mode)" if sec.get("tiny") else "")
            + f", {_code_note(sec.get('code'))}"
            + (f"; the section took {sec['wall_seconds']:.0f} s" if sec.get("wall_seconds") is not None else "") + ".",
            "",
        ]
        for k, v in sec.get("results", {}).items():
            _render_value(lines, k, v, 0)
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help=f"sections to run (default all: {', '.join(sections())})")
    ap.add_argument("--tiny", action="store_true", help="quick smoke run")
    args = ap.parse_args(argv)
    todo = args.only or sections()
    for name in todo:
        if name not in sections():
            print(f"unknown section {name!r}; known: {', '.join(sections())}", file=sys.stderr)
            return 2
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        t0 = time.perf_counter()
        code = code_version()  # what is measured is the code as the section starts
        print(f"[bench] {name} ...", flush=True)
        data = mod.run(tiny=args.tiny)
        record(name, data, tiny=args.tiny, wall_seconds=time.perf_counter() - t0, code=code)
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
