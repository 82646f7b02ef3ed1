"""Profile persistence: schema-checked JSON, versions kept, atomic saves that survive SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recnb.profiles import store
from recnb.profiles.store import ProfileFileError, list_versions, load_profile, save_profile
from recnb.text.profile import Profile, Statement

ROOT = Path(__file__).resolve().parents[2]


def small(n=3, tag="a") -> Profile:
    return Profile([Statement(f"I like {tag} thing {i}", weight=1 + i, evidence=(i,), source="generated") for i in range(n)]
                   + [Statement("I dislike horror films", polarity="dislike")], user_id=7)


def texts(profile):
    return [(s.text, s.polarity) for s in profile]


def test_numpy_user_id_saves(tmp_path):
    import numpy as np

    save_profile(Profile([Statement("I like heists")], user_id=np.int64(5)), tmp_path / "n.json")
    assert load_profile(tmp_path / "n.json").user_id == 5


def test_round_trip_and_versions(tmp_path):
    path = tmp_path / "u7.json"
    a, b = small(tag="a"), small(tag="b")
    assert save_profile(a, path, note="first") == 1
    assert save_profile(b, path) == 2
    assert load_profile(path).to_dict() == b.to_dict()
    assert load_profile(path, version=1).to_dict() == a.to_dict()
    assert list_versions(path) == [1, 2]
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == store.SCHEMA_VERSION and doc["version"] == 2
    save_profile(a, path, keep=2)
    assert list_versions(path) == [2, 3]
    with pytest.raises(ProfileFileError, match="no version 1"):
        load_profile(path, version=1)


@pytest.mark.parametrize("keep", [0, -1, 1.5, "2"])
def test_keep_below_one_or_not_a_whole_number_is_refused_before_saving(tmp_path, keep):
    # keep=0 kept every version and keep=-1 deleted the oldest one on each save
    path = tmp_path / "u.json"
    save_profile(small(), path)
    with pytest.raises(ValueError, match="keep must be None .* or a whole number >= 1"):
        save_profile(small(tag="b"), path, keep=keep)
    assert list_versions(path) == [1] and texts(load_profile(path)) == texts(small())  # nothing written


def test_loading_a_folder_is_a_profile_file_error(tmp_path):
    with pytest.raises(ProfileFileError, match=f"cannot load profile {tmp_path}: cannot read it"):
        load_profile(tmp_path)


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_saving_to_a_folder_is_one_clear_error_and_writes_nothing(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    with pytest.raises(ProfileFileError, match=f"cannot save profile {folder}: it is a folder"):
        save_profile(small(), folder)
    assert tree(tmp_path) == ["alice"]  # no alice.versions/ either


def test_saving_under_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    with pytest.raises(ProfileFileError, match="cannot save profile .*notes.txt/u.json: cannot create its folder"):
        save_profile(small(), tmp_path / "notes.txt" / "u.json")


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), float("-inf"), -1.0])
def test_a_non_finite_or_negative_weight_is_refused_before_anything_is_written(tmp_path, weight):
    path = tmp_path / "u.json"
    save_profile(small(), path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    bad = small(tag="b")
    bad.statements[1].weight = weight  # json.dumps would write NaN / Infinity: not JSON
    with pytest.raises(ProfileFileError, match=r"cannot save profile .*statement '[0-9a-f]+' \('I like b thing 1'\): "
                                               r"weight must be a finite number >= 0"):
        save_profile(bad, path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    with pytest.raises(ProfileFileError, match="weight"):
        save_profile(bad, tmp_path / "new" / "v.json")
    assert not (tmp_path / "new").exists()


def test_a_weight_above_the_editor_maximum_still_saves(tmp_path):
    # The editor caps weights at 10; files have no cap (the schema's), so what loads can be saved back
    profile = Profile([Statement("I like heists", weight=12.5)])
    save_profile(profile, tmp_path / "w.json")
    assert load_profile(tmp_path / "w.json").statements[0].weight == 12.5


@pytest.mark.parametrize("user_id", [{7}, [7], {"id": 7}, float("nan"), 7.5, True, object()])
def test_a_user_id_that_is_no_id_is_one_clear_error(tmp_path, user_id):
    with pytest.raises(ProfileFileError, match=r"cannot save profile .*: user_id must be None, a string or a whole "
                                               r"number, not"):
        save_profile(Profile([Statement("I like heists")], user_id=user_id), tmp_path / "u.json")
    assert tree(tmp_path) == []


@pytest.mark.parametrize("facet", [{"kind": "genre", "value": {"Horror"}}, {"kind": "year", "value": float("nan")}])
def test_anything_else_json_cannot_hold_is_refused_before_writing(tmp_path, facet):
    profile = Profile([Statement("I like heists", facet=facet)])
    with pytest.raises(ProfileFileError, match="cannot save profile .*: it cannot be written as JSON"):
        save_profile(profile, tmp_path / "u.json")
    assert tree(tmp_path) == []


@pytest.mark.parametrize("user_id, saved", [(None, None), ("AEXAMPLEUSERMAYA01", "AEXAMPLEUSERMAYA01"),
                                            ("0439064872", "0439064872"), (5.0, 5)])
def test_user_ids_that_save(tmp_path, user_id, saved):
    save_profile(Profile([Statement("I like heists")], user_id=user_id), tmp_path / "u.json")
    assert json.loads((tmp_path / "u.json").read_text())["profile"]["user_id"] == saved
    assert load_profile(tmp_path / "u.json").user_id == saved


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (json.dumps({"profile": {"statements": []}}).encode(), "schema_version"),
        (json.dumps({"schema_version": 1, "profile": {"statements": [{"id": "x", "text": "t", "polarity": "love",
                                                                      "weight": 1}]}}).encode(), "polarity"),
        (json.dumps({"schema_version": 1, "profile": {"statements": [{"id": "x", "text": "t", "polarity": "like",
                                                                      "weight": -1}]}}).encode(), "weight"),
        (json.dumps({"schema_version": 99, "profile": {"statements": []}}).encode(), "newer"),
        # two statements under one id: an edit by id would hit the first
        (json.dumps({"schema_version": 1, "profile": {"statements": [
            {"id": "a1", "text": "I like heists", "polarity": "like", "weight": 1},
            {"id": "a1", "text": "I dislike musicals", "polarity": "dislike", "weight": 1}]}}).encode(), "repeated statement id 'a1'"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ProfileFileError, match=reason) as exc:
        load_profile(path)
    assert str(path) in str(exc.value)
    with pytest.raises(ProfileFileError, match="no such file"):
        load_profile(tmp_path / "missing.json")


def test_a_hand_edited_current_file_is_kept_as_a_version_before_a_save(tmp_path):
    # the file is meant to be readable and editable; a save from an open session must not discard it
    path = tmp_path / "alice.json"
    save_profile(small(tag="a"), path)
    doc = json.loads(path.read_text())
    doc["profile"]["statements"].append({"id": "hand1", "text": "I dislike musicals", "polarity": "dislike", "weight": 1})
    path.write_text(json.dumps(doc))
    assert save_profile(small(tag="b"), path) == 3
    assert list_versions(path) == [1, 2, 3]
    assert "I dislike musicals" in [s.text for s in load_profile(path, version=2)]
    assert texts(load_profile(path)) == texts(small(tag="b"))
    save_profile(small(tag="c"), path)  # unchanged since the last save: no extra version
    assert list_versions(path) == [1, 2, 3, 4]
    # a current file that came without its versions folder, and an unreadable one, are kept too
    other = tmp_path / "bob.json"
    other.write_bytes(path.read_bytes())
    assert save_profile(small(tag="d"), other) == 2 and texts(load_profile(other, version=1)) == texts(small(tag="c"))
    broken = tmp_path / "carol.json"
    broken.write_bytes(b"{half a file")
    save_profile(small(tag="e"), broken)
    kept = [p for p in store.versions_dir(broken).iterdir() if p.name.startswith("unreadable-")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"{half a file"


def test_repeated_statement_ids_are_not_saved(tmp_path):
    s = Statement("I like heists")
    with pytest.raises(ProfileFileError, match="repeated statement id"):
        save_profile(Profile([s, Statement("I like capers", id=s.id)]), tmp_path / "d.json")
    assert not (tmp_path / "d.json").exists()


def test_fault_between_write_and_rename_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_profile(small(tag="old"), path)

    def boom(stage):
        if stage == "before-replace":
            raise OSError("disk went away")

    monkeypatch.setattr(store, "_FAULT_HOOK", boom)
    with pytest.raises(OSError, match="disk went away"):
        save_profile(small(tag="new"), path)
    assert load_profile(path).statements[0].text == "I like old thing 0"
    monkeypatch.setattr(store, "_FAULT_HOOK", None)
    save_profile(small(tag="new"), path)  # the next save cleans up and works
    assert load_profile(path).statements[0].text == "I like new thing 0"
    assert not list(tmp_path.glob(".*.tmp")) and not list(store.versions_dir(path).glob(".*.tmp"))


KILLED_SAVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from recnb.profiles import store
    from recnb.text.profile import Profile, Statement
    path, marker, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    def hook(s):
        if s == stage:
            marker.write_text(s)
            time.sleep(120)  # the parent SIGKILLs us here
    store._FAULT_HOOK = hook
    big = Profile([Statement(f"I like big thing {i} " + "x" * 200) for i in range(5000)], user_id=1)
    store.save_profile(big, path)
    """
)


@pytest.mark.parametrize("stage", ["partial-write", "before-replace"])
def test_sigkill_in_the_middle_of_a_save_keeps_previous_version(tmp_path, stage):
    path, marker = tmp_path / "p.json", tmp_path / "marker"
    before = small(tag="kept")
    save_profile(before, path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path), str(marker), stage], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the saving process exited before reaching the fault point"
            assert time.monotonic() < deadline, "the saving process never reached the fault point"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert list(tmp_path.glob(".p.json.*.tmp")) or list(store.versions_dir(path).glob(".*.tmp")), "no half-written temp file: the kill was not mid-save"
    assert load_profile(path).to_dict() == before.to_dict()
    assert load_profile(path, version=1).to_dict() == before.to_dict()


RACE_SAVES = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from recnb.profiles.store import save_profile
    from recnb.text.profile import Profile, Statement
    path, marker = Path(sys.argv[1]), Path(sys.argv[2])
    profiles = [Profile([Statement(f"I like {tag} {i} " + "y" * 100) for i in range(3000)], user_id=tag) for tag in ("A", "B")]
    n = 0
    while True:
        save_profile(profiles[n % 2], path, keep=3)
        n += 1
        marker.write_text(str(n))
    """
)


def test_sigkill_at_arbitrary_moments_never_leaves_a_torn_file(tmp_path):
    """No fault hook: kill a process saving large profiles in a loop at several moments."""
    import random

    rng = random.Random(0)
    path, marker = tmp_path / "race.json", tmp_path / "n"
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", RACE_SAVES, str(path), str(marker)], cwd=ROOT)
        try:
            deadline = time.monotonic() + 120
            while not marker.exists():
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(rng.uniform(0.05, 0.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        loaded = load_profile(path)  # never a torn or half-written file
        assert loaded.user_id in ("A", "B") and len(loaded) == 3000
        assert loaded.statements[-1].text.startswith(f"I like {loaded.user_id} 2999")
        marker.unlink()
