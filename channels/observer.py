"""The observer page: the live process tree of a node, in the browser (opt-in).

Example::

    import channels.observer

    endpoint = channels.Endpoint(name="MyApp.Endpoint", port=4000, sockets=[...])
    channels.observer.enable(endpoint)   # http://127.0.0.1:4000/_observer/
    channels.serve(endpoint)

``otp-channels serve MODULE:ENDPOINT --observer`` does the same. See ``channels.ops._observer``.
"""

from __future__ import annotations

from .ops._observer import (
    STATIC_DIR as STATIC_DIR,
    TOPIC as TOPIC,
    ObserverChannel as ObserverChannel,
    ObserverSocket as ObserverSocket,
    enable as enable,
    mounted_path as mounted_path,
    tree_view as tree_view,
)

__all__ = ["STATIC_DIR", "TOPIC", "ObserverChannel", "ObserverSocket", "enable", "mounted_path", "tree_view"]
