"""otp: an Erlang/OTP-style actor runtime on Trio.

Processes with pids and unbounded mailboxes, selective receive, links and exit signals,
monitors, registered names, timers, GenServer, Supervisor, DynamicSupervisor, a
partitioned supervisor pool, Registry, process groups and introspection.
"""

from __future__ import annotations

import logging as _logging

from ._api import (
    cancel_timer as cancel_timer,
    demonitor as demonitor,
    exit as exit,
    flush as flush,
    is_alive as is_alive,
    link as link,
    make_ref as make_ref,
    monitor as monitor,
    open_mailbox as open_mailbox,
    process_info as process_info,
    processes as processes,
    read_timer as read_timer,
    receive as receive,
    receive_nowait as receive_nowait,
    register as register,
    registered as registered,
    self as self,
    send as send,
    send_after as send_after,
    spawn as spawn,
    spawn_link as spawn_link,
    spawn_monitor as spawn_monitor,
    trap_exit as trap_exit,
    unlink as unlink,
    unregister as unregister,
    whereis as whereis,
)
from ._child_spec import (
    BRUTAL_KILL as BRUTAL_KILL,
    INFINITY as INFINITY,
    ChildSpec as ChildSpec,
    ChildStartError as ChildStartError,
    ChildType as ChildType,
    InvalidSpecError as InvalidSpecError,
    Restart as Restart,
    ShutdownPolicy as ShutdownPolicy,
    Strategy as Strategy,
    SupervisorError as SupervisorError,
)
from ._dynamic_supervisor import (
    DynamicSupervisor as DynamicSupervisor,
    MaxChildrenError as MaxChildrenError,
    PartitionSupervisor as PartitionSupervisor,
)
from ._fd import OwnedFd as OwnedFd
from ._gen_server import (
    CALLING_SELF as CALLING_SELF,
    TIMEOUT as TIMEOUT,
    BadReturnError as BadReturnError,
    Call as Call,
    CallError as CallError,
    CallTimeout as CallTimeout,
    Cast as Cast,
    From as From,
    GenServer as GenServer,
    Ignore as Ignore,
    Ignored as Ignored,
    NoReply as NoReply,
    Ok as Ok,
    Reply as Reply,
    StartError as StartError,
    Stop as Stop,
    call as call,
    cast as cast,
    reply as reply,
    stop as stop,
)
from ._introspect import (
    describe as describe,
    find_process as find_process,
    format_tree as format_tree,
    process_snapshot as process_snapshot,
    snapshot as snapshot,
)
from ._node import (
    AlreadyRegisteredError as AlreadyRegisteredError,
    ConcurrentReceiveError as ConcurrentReceiveError,
    Node as Node,
    NoProcessError as NoProcessError,
    NotInProcessError as NotInProcessError,
    Process as Process,
    ProcessExit as ProcessExit,
    ProcessInfo as ProcessInfo,
    ProcessStatistics as ProcessStatistics,
    ReceiveTimeout as ReceiveTimeout,
    Table as Table,
    TimerRef as TimerRef,
    current_node as current_node,
    current_process as current_process,
    open_node as open_node,
    run as run,
)
from ._ratelog import RateLimitedLog as RateLimitedLog
from ._registry import (
    PG as PG,
    Keys as Keys,
    Registry as Registry,
    RegistryError as RegistryError,
)
from ._supervisor import (
    AlreadyStartedError as AlreadyStartedError,
    Supervisor as Supervisor,
    shutdown_child as shutdown_child,
)
from ._types import (
    KILL as KILL,
    KILLED as KILLED,
    NOPROC as NOPROC,
    NORMAL as NORMAL,
    RESTARTING as RESTARTING,
    SHUTDOWN as SHUTDOWN,
    ChildPid as ChildPid,
    Down as Down,
    Exit as Exit,
    ExitReason as ExitReason,
    Pid as Pid,
    Ref as Ref,
    RegisteredName as RegisteredName,
    Shutdown as Shutdown,
    is_normal_exit as is_normal_exit,
    is_shutdown_exit as is_shutdown_exit,
)

_logging.getLogger("otp").addHandler(_logging.NullHandler())

__version__ = "0.1.0"
