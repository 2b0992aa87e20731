"""The room's public face: everything other rooms need is importable from ``dispatcher.ioapi``."""

from __future__ import annotations

import enum
import inspect

import dispatcher.ioapi as ioapi
import dispatcher.pacing as pacing
from dispatcher.ioapi import models, outcomes


def test_every_exported_name_exists_once() -> None:
    assert len(ioapi.__all__) == len(set(ioapi.__all__))
    for module in (ioapi, pacing):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing


def test_every_exception_answer_and_kind_is_exported() -> None:
    public = set(ioapi.__all__)
    for module in (outcomes, models):
        for name, obj in vars(module).items():
            if not inspect.isclass(obj) or obj.__module__ != module.__name__:
                continue
            if issubclass(obj, outcomes.IOApiError | models.Answer | enum.Enum):
                assert name in public, f"{module.__name__}.{name} is not exported"


def test_the_names_the_pipeline_uses_are_there() -> None:
    from dispatcher.ioapi import Client, ErrorRateExceeded  # noqa: F401
    from dispatcher.pacing import Pacer, PacerStatistics  # noqa: F401
    from dispatcher.vocabulary import ProfileKind, SubmitKind  # noqa: F401


def test_answer_kinds_come_from_the_vocabulary_not_a_copy() -> None:
    import dispatcher.vocabulary as vocabulary

    for name in ("ProfileKind", "SubmitKind"):
        assert getattr(models, name) is getattr(vocabulary, name)
