"""The Socket value: copies carry every field, and assigns never leak between copies."""

from __future__ import annotations

from typing import Any

import channels


class _UserSocket(channels.Socket):
    pass


def _filled(cls: type[channels.Socket]) -> channels.Socket:
    socket = cls()
    for i, name in enumerate(n for n in channels.Socket.__slots__ if n != "__dict__"):
        setattr(socket, name, ("value", i))
    return socket


def test_a_socket_copy_carries_every_slot() -> None:
    original = _filled(channels.Socket)
    copy = original._clone()
    assert copy is not original
    for name in channels.Socket.__slots__:
        if name != "__dict__":
            assert getattr(copy, name) == getattr(original, name), name


def test_a_subclass_copy_keeps_its_type_and_its_own_attributes() -> None:
    original: Any = _filled(_UserSocket)
    original.extra = "mine"
    copy = original._evolve(ref="7")
    assert type(copy) is _UserSocket
    assert copy.extra == "mine"
    assert copy.ref == "7"
    assert original.ref != "7"


def test_assign_makes_a_new_socket_and_leaves_the_old_assigns_alone() -> None:
    socket = channels.Socket().assign(a=1)
    other = socket.assign({"b": 2}, c=3)
    assert dict(socket.assigns) == {"a": 1}
    assert dict(other.assigns) == {"a": 1, "b": 2, "c": 3}
