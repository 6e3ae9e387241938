"""gnn.allocator: glibc's thresholds raised while a model trains, restored after; nested blocks leave it to the
outermost; a no-op where there is no glibc."""

from __future__ import annotations

import platform

import pytest

from gnn import allocator


class _RecordingLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad, 0))
        return 1


def test_the_outermost_block_sets_then_restores_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    with allocator.training_allocator() as outer:
        assert outer
        assert libc.calls == [("mallopt", p, v) for p, v in allocator.TRAINING_SETTINGS]
        with allocator.training_allocator() as inner:  # e.g. a tuning trial inside a training job
            assert inner
        assert len(libc.calls) == len(allocator.TRAINING_SETTINGS)  # the inner block changed nothing
    restored = [("mallopt", p, v) for p, v in allocator.RESTORED_SETTINGS] + [("malloc_trim", 0, 0)]
    assert libc.calls[len(allocator.TRAINING_SETTINGS):] == restored


def test_settings_are_restored_when_training_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    with pytest.raises(RuntimeError), allocator.training_allocator():
        raise RuntimeError("a failed epoch")
    assert libc.calls[-1] == ("malloc_trim", 0, 0)
    with allocator.training_allocator():  # the depth went back to 0: the next block sets again
        pass
    assert libc.calls.count(("mallopt", *allocator.TRAINING_SETTINGS[0])) == 2


def test_a_released_block_inside_training_gives_the_defaults_back_then_the_training_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    with allocator.released_allocator():  # outside training: nothing to give back
        pass
    assert libc.calls == []
    with allocator.training_allocator():
        start = len(libc.calls)
        with allocator.released_allocator():  # e.g. the calibration grids after the gradient steps
            released = libc.calls[start:]
        after = libc.calls[start + len(released):]
    assert released == [("mallopt", p, v) for p, v in allocator.RESTORED_SETTINGS] + [("malloc_trim", 0, 0)]
    assert after[:len(allocator.TRAINING_SETTINGS)] == [("mallopt", p, v) for p, v in allocator.TRAINING_SETTINGS]


def test_without_glibc_it_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    with allocator.training_allocator() as applied:
        assert applied is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_glibc_accepts_every_setting() -> None:
    libc = allocator._glibc()
    assert libc is not None
    for param, value in (*allocator.TRAINING_SETTINGS, *allocator.RESTORED_SETTINGS):
        assert libc.mallopt(param, value) == 1, (param, value)
