"""otp: an Erlang/OTP-style actor runtime on Trio.

Processes with pids and unbounded mailboxes, selective receive, links and exit signals,
monitors, registered names, timers, GenServer, Supervisor, DynamicSupervisor, a
partitioned supervisor pool, Registry, process groups and introspection.
"""

from __future__ import annotations

import logging as _logging

from ._api import (
    cancel_timer as cancel_timer,
)
from ._api import (
    demonitor as demonitor,
)
from ._api import (
    exit as exit,
)
from ._api import (
    flush as flush,
)
from ._api import (
    is_alive as is_alive,
)
from ._api import (
    link as link,
)
from ._api import (
    make_ref as make_ref,
)
from ._api import (
    monitor as monitor,
)
from ._api import (
    open_mailbox as open_mailbox,
)
from ._api import (
    process_info as process_info,
)
from ._api import (
    processes as processes,
)
from ._api import (
    receive as receive,
)
from ._api import (
    receive_nowait as receive_nowait,
)
from ._api import (
    register as register,
)
from ._api import (
    registered as registered,
)
from ._api import (
    self as self,
)
from ._api import (
    send as send,
)
from ._api import (
    send_after as send_after,
)
from ._api import (
    spawn as spawn,
)
from ._api import (
    spawn_link as spawn_link,
)
from ._api import (
    spawn_monitor as spawn_monitor,
)
from ._api import (
    trap_exit as trap_exit,
)
from ._api import (
    unlink as unlink,
)
from ._api import (
    unregister as unregister,
)
from ._api import (
    whereis as whereis,
)
from ._gen_server import (
    TIMEOUT as TIMEOUT,
)
from ._gen_server import (
    BadReturnError as BadReturnError,
)
from ._gen_server import (
    Call as Call,
)
from ._gen_server import (
    CallError as CallError,
)
from ._gen_server import (
    CallTimeout as CallTimeout,
)
from ._gen_server import (
    Cast as Cast,
)
from ._gen_server import (
    From as From,
)
from ._gen_server import (
    GenServer as GenServer,
)
from ._gen_server import (
    Ignore as Ignore,
)
from ._gen_server import (
    Ignored as Ignored,
)
from ._gen_server import (
    NoReply as NoReply,
)
from ._gen_server import (
    Ok as Ok,
)
from ._gen_server import (
    Reply as Reply,
)
from ._gen_server import (
    StartError as StartError,
)
from ._gen_server import (
    Stop as Stop,
)
from ._gen_server import (
    call as call,
)
from ._gen_server import (
    cast as cast,
)
from ._gen_server import (
    reply as reply,
)
from ._gen_server import (
    stop as stop,
)
from ._node import (
    AlreadyRegisteredError as AlreadyRegisteredError,
)
from ._node import (
    Node as Node,
)
from ._node import (
    NoProcessError as NoProcessError,
)
from ._node import (
    NotInProcessError as NotInProcessError,
)
from ._node import (
    Process as Process,
)
from ._node import (
    ProcessExit as ProcessExit,
)
from ._node import (
    ProcessInfo as ProcessInfo,
)
from ._node import (
    ProcessStatistics as ProcessStatistics,
)
from ._node import (
    ReceiveTimeout as ReceiveTimeout,
)
from ._node import (
    TimerRef as TimerRef,
)
from ._node import (
    current_node as current_node,
)
from ._node import (
    current_process as current_process,
)
from ._node import (
    open_node as open_node,
)
from ._node import (
    run as run,
)
from ._supervisor import (
    BRUTAL_KILL as BRUTAL_KILL,
)
from ._supervisor import (
    INFINITY as INFINITY,
)
from ._supervisor import (
    ChildSpec as ChildSpec,
)
from ._supervisor import (
    ChildType as ChildType,
)
from ._supervisor import (
    Restart as Restart,
)
from ._supervisor import (
    ShutdownPolicy as ShutdownPolicy,
)
from ._supervisor import (
    Strategy as Strategy,
)
from ._supervisor import (
    Supervisor as Supervisor,
)
from ._supervisor import (
    SupervisorError as SupervisorError,
)
from ._supervisor import (
    shutdown_child as shutdown_child,
)
from ._types import (
    KILL as KILL,
)
from ._types import (
    KILLED as KILLED,
)
from ._types import (
    NOPROC as NOPROC,
)
from ._types import (
    NORMAL as NORMAL,
)
from ._types import (
    SHUTDOWN as SHUTDOWN,
)
from ._types import (
    Down as Down,
)
from ._types import (
    Exit as Exit,
)
from ._types import (
    ExitReason as ExitReason,
)
from ._types import (
    Pid as Pid,
)
from ._types import (
    Ref as Ref,
)
from ._types import (
    Shutdown as Shutdown,
)
from ._types import (
    is_normal_exit as is_normal_exit,
)
from ._types import (
    is_shutdown_exit as is_shutdown_exit,
)

_logging.getLogger("otp").addHandler(_logging.NullHandler())
