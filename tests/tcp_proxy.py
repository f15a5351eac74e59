"""A TCP proxy for fault tests: the service under test talks to the real Postgres (or Redis) through
it, and the test cuts the line (`down()`: existing connections reset, new ones refused) and
restores it (`up()`). Nothing is mocked: the bytes are the real server's."""
from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.server: asyncio.AbstractServer | None = None
        self.port: int | None = None
        self.accepting = True
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> "TcpProxy":
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update((writer, up_writer))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()

    def down(self) -> None:
        """Reset every proxied connection and refuse new ones."""
        self.accepting = False
        for writer in tuple(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    def up(self) -> None:
        self.accepting = True

    async def close(self) -> None:
        self.down()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
