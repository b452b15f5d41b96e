"""Presence layer: the tracker (a CRDT of who is on which topic) and its ``Presence`` API.

Built on pub/sub; it takes anything with a ``channel_pid`` and a ``topic`` (a joined socket)
and does not import the channel layer.
"""

from __future__ import annotations

from ._presence import JoinedSocket as JoinedSocket, Presence as Presence, PresenceError as PresenceError
