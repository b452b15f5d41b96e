"""Pub/sub layer: the PubSub server and its adapters (local, Redis), and the fastlane.

Below the transports and the channel layer: nothing here imports them. The fastlane writes
a broadcast, encoded once, straight into each subscriber's transport ``Sink``.
"""

from __future__ import annotations

from ._fastlane import (
    FastlaneSub as FastlaneSub,
    OrderedSink as OrderedSink,
    PushFrame as PushFrame,
    Sink as Sink,
    broadcast as broadcast,
)
from ._pubsub import (
    Adapter as Adapter,
    AdapterFactory as AdapterFactory,
    BroadcastError as BroadcastError,
    LocalAdapter as LocalAdapter,
    PubSub as PubSub,
    register_dispatcher as register_dispatcher,
)
from ._redis_adapter import RedisAdapter as RedisAdapter
