"""A TCP proxy on 127.0.0.1 that adds a fixed delay each way: a WAN without netem.

Every chunk read is stamped and written out *delay* seconds later, so latency is added
without capping bandwidth (a chunk waiting does not stop the next read). Each direction
buffers at most MAX_BUFFERED bytes in flight; past that the reader waits, so memory stays
bounded. The proxy runs an asyncio loop in a daemon thread and stops with the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque

MAX_BUFFERED = 16 * 1024 * 1024
CHUNK = 256 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: deque[tuple[float, bytes]] = deque()
    buffered = 0
    wake = asyncio.Event()
    room = asyncio.Event()
    room.set()
    done = False

    async def pump_out() -> None:
        nonlocal buffered
        while True:
            while not queue:
                if done:
                    return
                wake.clear()
                await wake.wait()
            due, data = queue[0]
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            queue.popleft()
            writer.write(data)
            await writer.drain()
            buffered -= len(data)
            if buffered < MAX_BUFFERED:
                room.set()

    out = asyncio.create_task(pump_out())
    try:
        while True:
            await room.wait()
            data = await reader.read(CHUNK)
            if not data:
                break
            queue.append((time.monotonic() + delay, data))
            buffered += len(data)
            if buffered >= MAX_BUFFERED:
                room.clear()
            wake.set()
    except (ConnectionError, OSError):
        pass
    finally:
        done = True
        wake.set()
        with contextlib.suppress(ConnectionError, OSError):
            await out
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


class DelayProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream> with *rtt* seconds of round trip."""

    def __init__(self, upstream_port: int, rtt: float) -> None:
        self.upstream_port = upstream_port
        self.delay = rtt / 2
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pipe(reader, up_writer, self.delay), _pipe(up_reader, writer, self.delay)
        )

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, limit=CHUNK)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
