"""Run one async call per item with a bounded number in flight, stoppable by any call.

The status follow-up and the dry run's profile checks both need exactly this: a list known
up front, ``concurrency`` workers sharing it (the client's Pacer sets the actual pace), and
a way for one answer (an API key refused, the error-rate breaker) to stop the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

T = TypeVar("T")


async def fan_out(
    items: Sequence[T], work: Callable[[T], Awaitable[bool]], *, concurrency: int
) -> bool:
    """Call ``work(item)`` for each item; a call returning False stops taking new items.

    Returns True when every item was worked, False when a call stopped the fan-out.
    """
    stopped = anyio.Event()
    send, receive = anyio.create_memory_object_stream[T](len(items) or 1)
    for item in items:
        send.send_nowait(item)
    send.close()

    async def worker(inbox: MemoryObjectReceiveStream[T]) -> None:
        async with inbox:
            async for item in inbox:
                if stopped.is_set():
                    return
                if not await work(item):
                    stopped.set()
                    return

    async with anyio.create_task_group() as tg:
        with receive:
            for _ in range(max(1, min(concurrency, len(items)))):
                tg.start_soon(worker, receive.clone())
    return not stopped.is_set()
