"""Fetch: the only module that speaks HTTP. Conditional GET for feeds,
bounded page downloads, and a guard against links into private networks."""

from __future__ import annotations

import calendar
import ipaddress
import logging
import re
import socket
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx

from .config import Settings
from .extract import looks_like_html
from .records import Feed, FeedEntry, FeedResult, Page

log = logging.getLogger(__name__)

REDIRECT_CODES = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A URL could not be fetched; the message says why in one line."""


def make_client(settings: Settings, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The one HTTP client of a run: explicit timeouts, limits and User-Agent."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout, read=settings.read_timeout,
        write=settings.read_timeout, pool=settings.connect_timeout,
    )
    return httpx.Client(
        timeout=timeout,
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
        headers={"User-Agent": settings.user_agent},
        follow_redirects=False,  # followed by hand so every hop passes the address guard
        transport=transport,
        trust_env=False,
    )


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def check_address(url: str, trusted_host: str | None = None) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a private,
    loopback or otherwise non-public address, unless it is the trusted host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url}")
    host = parts.hostname
    if trusted_host is not None and host == trusted_host:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host}: {exc}") from None
    private = sorted(a for a in addresses if not _is_public(a))
    if private:
        raise FetchError(f"refused {url}: host {host} resolves to non-public address {private[0]}")


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response of {declared} bytes is over the {max_bytes}-byte cap")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"response is over the {max_bytes}-byte cap")
        if time.monotonic() > deadline:
            raise FetchError("response took longer than the overall deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def http_get(
    client: httpx.Client,
    url: str,
    settings: Settings,
    headers: dict[str, str] | None = None,
    trusted_host: str | None = None,
) -> tuple[httpx.Response, bytes, str]:
    """GET a URL, following redirects by hand, with a size cap and an overall
    deadline. Every hop passes the address guard, which lets through private
    addresses only on trusted_host. Returns (response, body, final URL)."""
    deadline = time.monotonic() + settings.connect_timeout + 2 * settings.read_timeout
    current = url
    for _hop in range(settings.max_redirects + 1):
        check_address(current, trusted_host)
        try:
            with client.stream("GET", current, headers=headers) as response:
                if response.status_code in REDIRECT_CODES and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                body = b"" if response.status_code == 304 else _read_capped(
                    response, settings.max_response_bytes, deadline
                )
                return response, body, current
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out fetching {current} ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch {current}: {exc}") from None
    raise FetchError(f"more than {settings.max_redirects} redirects from {url}")


def _iso_from_struct(value) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), timezone.utc).isoformat()
    except (OverflowError, ValueError, TypeError):
        return None


def _entry_from_parsed(item, base_url: str) -> FeedEntry | None:
    link = item.get("link")
    # feedparser falls back to the guid for a missing link; a bare id is no address
    if not link or ("/" not in link and ":" not in link):
        return None
    content = item.get("content") or []
    return FeedEntry(
        link=urljoin(base_url, link),
        guid=item.get("id"),
        title=item.get("title"),
        published_at=_iso_from_struct(item.get("published_parsed") or item.get("updated_parsed")),
        author=item.get("author"),
        summary=item.get("summary"),
        content=content[0].get("value") if content else None,
    )


def parse_feed(body: bytes, url: str, max_entries: int) -> tuple[FeedEntry, ...]:
    """Parse feed bytes; raise FetchError when they are not a feed at all."""
    parsed = feedparser.parse(body)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom content"
        raise FetchError(f"not a readable feed: {reason}")
    if parsed.get("bozo"):
        log.warning("feed %s has problems but was read: %s", url, parsed.get("bozo_exception"))
    if len(parsed.entries) > max_entries:
        log.warning("feed %s has %d entries; reading the first %d (max_entries_per_feed)", url, len(parsed.entries), max_entries)
    entries = [_entry_from_parsed(item, url) for item in parsed.entries[:max_entries]]
    return tuple(entry for entry in entries if entry is not None)


def fetch_feed(client: httpx.Client, feed: Feed, settings: Settings) -> FeedResult:
    """Poll one feed with a conditional GET. Never raises for a bad feed."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    response = None
    try:
        response, body, final_url = http_get(
            client, feed.url, settings, headers=headers, trusted_host=urlsplit(feed.url).hostname
        )
        if response.status_code == 304:
            return FeedResult(feed, "not_modified", etag=feed.etag, last_modified=feed.last_modified,
                              wait_seconds=server_wait(response.headers))
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code}")
        entries = parse_feed(body, final_url, settings.max_entries_per_feed)
    except FetchError as exc:
        log.warning("feed %s failed: %s", feed.url, exc)
        return FeedResult(feed, "failed", error=str(exc),
                          wait_seconds=server_wait(response.headers) if response is not None else None)
    return FeedResult(
        feed, "ok", entries=entries,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        wait_seconds=server_wait(response.headers),
    )


MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


def server_wait(headers: httpx.Headers) -> float | None:
    """How long the server asks us to wait before polling again: Retry-After
    (seconds or an HTTP date), else Cache-Control max-age."""
    retry_after = headers.get("retry-after")
    if retry_after:
        value = retry_after.strip()
        if value.isdigit():
            return float(value)
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
    match = MAX_AGE.search(headers.get("cache-control", ""))
    return float(match.group(1)) if match else None


def fetch_page(client: httpx.Client, url: str, settings: Settings, trusted_host: str | None = None) -> Page:
    """Download an article page; raise FetchError on refusal, HTTP error or limits."""
    response, body, final_url = http_get(
        client, url, settings, headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"},
        trusted_host=trusted_host,
    )
    if response.status_code >= 400:
        raise FetchError(f"HTTP {response.status_code} for {url}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    declared_other = content_type and not content_type.startswith("text/") and "html" not in content_type and "xml" not in content_type
    if (declared_other and not looks_like_html(body)) or b"\x00" in body[:1024]:
        raise FetchError(f"{url} is not an HTML page ({content_type or 'no content type'}, {body[:8]!r}...)")
    return Page(
        url=url, final_url=final_url, status=response.status_code,
        content_type=response.headers.get("content-type", ""), body=body,
        encoding=response.charset_encoding,
    )
