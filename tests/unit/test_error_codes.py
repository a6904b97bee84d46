"""Errors travel as their code (ingest reports, HTTP error bodies) and are typed again from it."""

from __future__ import annotations

import pytest

import lookalike.errors
from lookalike.errors import BadInput, LookalikeError, error_class

CLASSES = sorted(
    (
        obj
        for obj in vars(lookalike.errors).values()
        if isinstance(obj, type) and issubclass(obj, LookalikeError)
    ),
    key=lambda cls: cls.__name__,
)


def test_codes_name_one_class_each() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(set(codes)) == len(codes), codes


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_each_code_gives_its_class_back(cls: type[LookalikeError]) -> None:
    assert error_class(cls.code) is cls
    again = error_class(cls.code)("m")
    assert (again.status, again.exit_code) == (cls.status, cls.exit_code)


@pytest.mark.parametrize("code", ["validation_error", "", None])
def test_a_code_not_ours_gives_the_default(code: str | None) -> None:
    assert error_class(code) is LookalikeError
    assert error_class(code, default=BadInput) is BadInput


def test_a_subclass_keeping_its_parents_code_does_not_take_it() -> None:
    class Narrower(BadInput):
        pass

    assert error_class(BadInput.code) is BadInput
