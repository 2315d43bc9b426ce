"""The atheris target's harness, run without atheris: every target takes bytes, and atheris is optional."""

from __future__ import annotations

import importlib
import os
import random
import sys

import pytest

from . import contract, harness


def test_every_target_runs_on_bytes_and_counts_its_inputs():
    """Each target (chosen by the first byte) runs on bytes, and the figures count it (hypothesis
    refuses some buffers as it would refuse a draw; of these, at least one is taken)."""
    generator = random.Random(11)
    for index, (name, _) in enumerate(harness.TARGETS):
        before = sum(contract.INPUTS.values())
        for data in [b"\x01" * 4096, bytes(range(256)) * 16, b"", *(generator.randbytes(4096) for _ in range(3))]:
            harness.one_input(bytes([index]) + data)
        assert sum(contract.INPUTS.values()) > before, f"target {name!r} tried nothing"
    harness.one_input(b"")


def test_raw_text_is_parsed_as_utf8_with_invalid_bytes_replaced():
    before = contract.INPUTS["text"]
    harness.one_input(b"\x00warmup(T=5) then cosine(T=95)")
    harness.one_input(b"\x00\xff\xfe cosine(")
    assert contract.INPUTS["text"] == before + 2


def test_a_violation_found_by_a_target_reaches_the_fuzzer(monkeypatch):
    def broken(data: bytes) -> None:
        contract.fail("harness", "a planted violation")

    monkeypatch.setattr(harness, "TARGETS", [("planted", broken)])
    with pytest.raises(contract.Violation, match="a planted violation"):
        harness.one_input(b"\x00abc")


def test_without_atheris_the_target_refuses_to_import_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "atheris", None)  # an import of atheris now fails
    monkeypatch.delitem(sys.modules, "tests.fuzz.atheris_target", raising=False)
    with pytest.raises(ImportError, match="pip install atheris"):
        importlib.import_module("tests.fuzz.atheris_target")


def test_libfuzzers_own_timeout_is_off_unless_given(monkeypatch):
    class FakeAtheris:  # enough of atheris to import the target
        pass

    monkeypatch.setitem(sys.modules, "atheris", FakeAtheris())
    monkeypatch.delitem(sys.modules, "tests.fuzz.atheris_target", raising=False)
    target = importlib.import_module("tests.fuzz.atheris_target")
    assert target.arguments(["prog", "corpus"]) == ["prog", "corpus", "-timeout=0"]
    assert target.arguments(["prog", "-timeout=5"]) == ["prog", "-timeout=5"]
    monkeypatch.setenv("LRDSL_FUZZ_STATS", os.devnull)
    target.report()
