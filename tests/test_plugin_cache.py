"""The note in the user cache that no distribution has an entry point in the group ``lrdsl``:
written only for settled ``sys.path`` folders, read instead of every distribution's metadata,
and invalid as soon as a distribution is installed into one of those folders."""

import importlib
import importlib.metadata
import os
import sys
import time

import pytest

from lrdsl import plugins, usercache

AN_HOUR_AGO = time.time() - 3600


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A settled site folder that is the whole ``sys.path``, and a cache folder of its own."""
    folder = tmp_path / "site"
    folder.mkdir()
    os.utime(folder, (AN_HOUR_AGO, AN_HOUR_AGO))
    monkeypatch.setenv("LRDSL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "path", [str(folder)])
    importlib.invalidate_caches()
    yield folder
    importlib.invalidate_caches()


def install(folder, dist: str, group: str = "lrdsl") -> None:
    """A distribution with an entry point in ``group``, as pip writes it."""
    info = folder / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\nnodes = some_module\n")
    importlib.invalidate_caches()


def settle(*paths, at: float = AN_HOUR_AGO) -> None:
    """Set the modification time of ``paths`` to ``at`` (by default the same instant for every call)."""
    for path in paths:
        os.utime(path, (at, at))


def scanning_fails(monkeypatch):
    """Reading the distributions' metadata from now on fails the test."""

    def scan(**selection):
        raise AssertionError("the distributions were read although the cache notes none")

    monkeypatch.setattr(importlib.metadata, "entry_points", scan)


def test_no_entry_point_is_noted_and_the_next_reading_is_skipped(site, monkeypatch):
    assert plugins._entry_points() == []
    assert usercache.read_text(plugins._note_name()) == plugins._path_folders()
    scanning_fails(monkeypatch)
    assert plugins._entry_points() == []


def test_installing_a_distribution_invalidates_the_note(site, monkeypatch):
    assert plugins._entry_points() == []
    monkeypatch.setattr(plugins, "SETTLED_SECONDS", 0.0)  # the folder just changed: settled at once here
    install(site, "late_dist")
    assert [ep.name for ep in plugins._entry_points()] == ["nodes"]


def test_a_folder_changed_just_now_is_not_noted(site):
    os.utime(site)  # modified now
    assert plugins._path_folders() is None
    assert plugins._entry_points() == []
    assert usercache.read_text(plugins._note_name()) is None


def test_a_distribution_finder_other_than_the_path_finder_is_not_vouched_for(site, monkeypatch):
    class Finder:
        def find_spec(self, *args):
            return None

        def find_distributions(self, *args, **kwargs):
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert plugins._path_folders() is None


def test_entry_points_found_are_never_noted(site):
    install(site, "some_dist")
    os.utime(site, (AN_HOUR_AGO, AN_HOUR_AGO))
    assert [ep.name for ep in plugins._entry_points()] == ["nodes"]
    assert usercache.read_text(plugins._note_name()) is None


def test_a_cache_folder_that_cannot_be_made_is_no_error(site, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("LRDSL_CACHE_DIR", str(blocked / "cache"))
    assert plugins._entry_points() == []
    assert usercache.read_text(plugins._note_name()) is None


def test_an_entry_point_added_in_place_to_a_distribution_invalidates_the_note(site):
    install(site, "console_dist", group="console_scripts")
    entry_points = site / "console_dist-1.0.dist-info" / "entry_points.txt"
    settle(site, entry_points.parent, entry_points)
    assert plugins._entry_points() == []  # noted
    entry_points.write_text("[lrdsl]\nnodes = some_module\n")  # rewritten in place: no folder changes
    settle(site, entry_points.parent)  # the folders' times as before
    settle(entry_points, at=AN_HOUR_AGO + 60)
    importlib.invalidate_caches()
    assert [ep.name for ep in plugins._entry_points()] == ["nodes"]


@pytest.mark.parametrize("layout", ["egg", "upper-case"])
def test_an_entry_point_added_to_any_metadata_folder_importlib_reads_invalidates_the_note(site, monkeypatch, layout):
    """importlib.metadata also reads an egg on sys.path (``name.egg/EGG-INFO``) and metadata folders
    whose suffix is not lower case; the note must stamp their entry_points.txt too, or a plugin
    added to one in place would be missed."""
    if layout == "egg":
        egg = site / "fake-1.0-py3.egg"
        info = egg / "EGG-INFO"
        monkeypatch.setattr(sys, "path", [str(site), str(egg)])
    else:
        egg, info = site, site / "fake-1.0.EGG-INFO"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: fake\nVersion: 1.0\n")
    entry_points = info / "entry_points.txt"
    entry_points.write_text("[console_scripts]\nfake = fake:main\n")
    settle(site, egg, info, entry_points)
    importlib.invalidate_caches()
    assert plugins._entry_points() == []  # noted
    entry_points.write_text("[lrdsl]\nnodes = fake\n")
    settle(site, egg, info)
    settle(entry_points, at=AN_HOUR_AGO + 60)
    importlib.invalidate_caches()
    assert [ep.name for ep in importlib.metadata.entry_points(group="lrdsl")] == ["nodes"]  # what importlib reads
    assert [ep.name for ep in plugins._entry_points()] == ["nodes"]
