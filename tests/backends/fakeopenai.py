"""A fake OpenAI-compatible server, named as such: a few lines of HTTP/1.1 on a free 127.0.0.1 port
that answers ``GET /v1/models`` with one model and each ``POST /v1/chat/completions`` with the
next scripted reply, recording the requests. It lets the tests script what a real server does
only under load (503 + Retry-After) without faking the client or the backend's retry logic."""

from __future__ import annotations

import asyncio
import json

MODEL = "fake-model"


def reply(status: int, body: dict, **headers: str) -> tuple:
    return status, {"content-type": "application/json", **headers}, json.dumps(body).encode()


def error(status: int, message: str, code: str | None = None, **headers: str) -> tuple:
    return reply(status, {"error": {"message": message, "type": "server_error", "param": None, "code": code}},
                 **headers)


def stream(*texts: str, finish: str = "stop") -> tuple:
    """A streamed answer of ``texts`` with a usage chunk and [DONE]."""
    def chunk(delta: dict, finish_reason=None, usage=None, choices=True) -> str:
        body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if choices else [],
                "usage": usage}
        return f"data: {json.dumps(body)}\n\n"

    frames = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": t}) for t in texts]
    frames += [chunk({}, finish), chunk({}, usage={"prompt_tokens": 5, "completion_tokens": len(texts),
                                                   "total_tokens": 5 + len(texts)}, choices=False), "data: [DONE]\n\n"]
    return 200, {"content-type": "text/event-stream"}, "".join(frames).encode()


class FakeOpenAI:
    """``async with FakeOpenAI([reply, ...]) as fake``: ``fake.url`` is its base URL (…/v1),
    ``fake.chats`` the JSON bodies of the chat requests it got, in order."""

    def __init__(self, script: list[tuple]):
        self.script, self.chats = list(script), []

    async def __aenter__(self) -> FakeOpenAI:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET" and path.endswith("/models"):
                status, out_headers, out = reply(200, {"object": "list", "data": [
                    {"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}]})
            else:
                self.chats.append(json.loads(body))
                status, out_headers, out = self.script.pop(0)
            lines = [f"HTTP/1.1 {status} X", "connection: close", f"content-length: {len(out)}",
                     *(f"{k}: {v}" for k, v in out_headers.items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + out)
            await writer.drain()
        finally:
            writer.close()
