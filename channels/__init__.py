"""channels: Phoenix Channels on Trio, built as supervised actors on ``otp``.

Note: the import name ``channels`` is also Django Channels' import name. The two are
alternatives and cannot be installed in the same environment.
"""

from __future__ import annotations

import logging as _logging

from otp import NoReply as NoReply, Reply as Reply, Stop as Stop

from ._channel import Channel as Channel
from ._control import serve as serve
from ._endpoint import DrainerOptions as DrainerOptions, Endpoint as Endpoint, SocketMount as SocketMount
from ._fastlane import broadcast as broadcast
from ._longpoll import LongPollOptions as LongPollOptions
from ._presence import Presence as Presence, PresenceError as PresenceError
from ._pubsub import (
    Adapter as Adapter,
    BroadcastError as BroadcastError,
    LocalAdapter as LocalAdapter,
    PubSub as PubSub,
    register_dispatcher as register_dispatcher,
)
from ._redis_adapter import RedisAdapter as RedisAdapter
from ._socket import Error as Error, Ok as Ok, Socket as Socket, SocketRef as SocketRef, reply as reply
from ._transport import Transport as Transport
from ._websocket import WebSocketOptions as WebSocketOptions
from ._writer import WriterStatistics as WriterStatistics
from .protocol import Broadcast as Broadcast, Message as Message

_logging.getLogger("channels").addHandler(_logging.NullHandler())
