"""``workers.fetch``: a Worker's outgoing request, to the local gateway only.

dotui runs a project on one machine, offline: ``await fetch(url_or_request, method=, headers=, body=)``
reaches ``http://127.0.0.1``/``localhost`` (the gateway of ``dotui serve``, and its objects'
``/fetch/...`` routes) and answers a ``Response``; any other host is refused with a ``ValueError``
saying so, before anything is sent. At most ``MAX_BODY`` bytes of answer are read, within
``TIMEOUT`` seconds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .http import Request, Response, outgoing, received

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 32 << 20
TIMEOUT = 30.0


async def fetch(resource: Request | str, **options: Any) -> Response:
    import aiohttp

    request = Request(resource, **options) if options or not isinstance(resource, Request) else resource
    host = urlsplit(request.url).hostname
    if host not in LOCAL_HOSTS:
        raise ValueError(
            f"fetch({request.url!r}): dotui runs the project offline, so fetch() reaches the local "
            f"gateway only ({', '.join(LOCAL_HOSTS)}); call other services from the deployed Worker"
        )
    method, body = outgoing(request)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.request(
            method, request.url, headers=request.headers.plain(), data=body, allow_redirects=False
        ) as r:
            data = await r.content.read(MAX_BODY + 1)
            if len(data) > MAX_BODY:
                raise ValueError(f"fetch({request.url!r}): the answer is larger than {MAX_BODY:,} bytes")
            headers = [
                (k, v)
                for k, v in r.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")
            ]
            return received(r.status, headers, data, request.url)
