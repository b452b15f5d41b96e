"""channels: Phoenix Channels on Trio, built as supervised actors on ``otp``.

Note: the import name ``channels`` is also Django Channels' import name. The two are
alternatives and cannot be installed in the same environment.
"""

from __future__ import annotations

import logging as _logging

from otp import NoReply as NoReply, Reply as Reply, Stop as Stop

from .channel import (
    Accept as Accept,
    Channel as Channel,
    Refuse as Refuse,
    Socket as Socket,
    SocketRef as SocketRef,
    reply as reply,
)
from .endpoint import (
    DrainerOptions as DrainerOptions,
    Endpoint as Endpoint,
    HTTPHandler as HTTPHandler,
    Route as Route,
    SocketMount as SocketMount,
)
from .http import BodyReader as BodyReader, Request as Request, Response as Response
from .ops._control import serve as serve
from .presence import Presence as Presence, PresenceError as PresenceError
from .protocol import Broadcast as Broadcast, Message as Message
from .pubsub import (
    Adapter as Adapter,
    BroadcastError as BroadcastError,
    LocalAdapter as LocalAdapter,
    PubSub as PubSub,
    RedisAdapter as RedisAdapter,
    broadcast as broadcast,
    register_dispatcher as register_dispatcher,
)
from .transports import (
    ErrorHandler as ErrorHandler,
    LongPollOptions as LongPollOptions,
    Ping as Ping,
    Transport as Transport,
    WebSocketOptions as WebSocketOptions,
    WriterStatistics as WriterStatistics,
)

_logging.getLogger("channels").addHandler(_logging.NullHandler())

__version__ = "0.1.0"
