"""Channel layer: user sockets (``Socket``), channels (``Channel``), the channel server
process of each join, and the per-connection session that routes client messages to them.

Built on transports, pub/sub and presence; only the endpoint and the operator tools import it.
"""

from __future__ import annotations

from ._channel import Channel as Channel
from ._session import SocketSession as SocketSession, session_opener as session_opener
from ._socket import Accept as Accept, Refuse as Refuse, Socket as Socket, SocketRef as SocketRef, reply as reply
