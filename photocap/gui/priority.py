"""Long-running background threads yield the CPU to the GUI thread.

On a laptop with two cores, the caption worker (with its decoding and torch threads) and the
thumbnail makers would otherwise take turns with the GUI thread, and scrolling would stutter while
a batch is captioned. At a lower priority they still get every cycle the window does not need.
The lanes keep the normal priority: someone is waiting for their answers.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from PySide6.QtCore import QThread

log = logging.getLogger(__name__)

NICENESS = 10               # Linux nice value of background threads (threads they start inherit it)
_lowered = threading.local()


def lower_this_thread() -> None:
    """Lower the calling thread's priority, once per thread (cheap to call for every job)."""
    if getattr(_lowered, "done", False):
        return
    _lowered.done = True
    try:
        if sys.platform.startswith("linux"):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)   # this thread only
        else:
            QThread.currentThread().setPriority(QThread.Priority.LowPriority)
    except OSError:
        log.debug("cannot lower a background thread's priority", exc_info=True)
