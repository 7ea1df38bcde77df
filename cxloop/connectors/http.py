"""The HTTP layer every connector uses: httpx with rate limits, bounded retries, clear errors.

- 429: wait what `Retry-After` says (seconds or an HTTP date), else the vendor's reset header,
  else the backoff; 429s do not use up the retry budget (up to `max_rate_limited` in a row).
- 5xx, timeouts and dropped connections: retried `max_retries` times with exponential backoff
  (1, 2, 4, ... seconds, capped at 30, with jitter).
- 401, 403, 404: `ApiAuthError`, one line naming the endpoint, the status, the vendor's error
  code when the body has one (Salesforce `REQUEST_LIMIT_EXCEEDED`, HubSpot `MISSING_SCOPES`,
  ...; the code only, never the message) and what to check.
- Other 4xx: `ApiRequestError` with the start of the vendor's message (a connector may catch
  it, e.g. an expired cursor).
Credentials travel only in headers set on the client; URLs, errors and logs never hold them.
A URL the API hands back (a next page) must be on the configured host, so credentials are
never sent elsewhere.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from cxloop.errors import CxloopError

log = logging.getLogger(__name__)

BACKOFF_CAP_SECONDS = 30.0
RATE_LIMIT_CAP_SECONDS = 900.0
RESET_HEADERS = ("X-Rate-Limit-Reset", "X-RateLimit-Reset", "RateLimit-Reset")
AUTH_HINTS = {
    401: "check the credentials named in sources.{source}.api.credentials",
    403: "check that the credentials' user or token has the scopes and permissions "
    "docs/connectors.md lists",
    404: "check sources.{source}.api.base_url / subdomain and the ids in cxloop.yaml",
}
# a vendor's error code that says more than its status
CODE_HINTS = {
    "REQUEST_LIMIT_EXCEEDED": "the org's API request limit is used up: wait for it to reset "
    "(Setup > Company Information shows the limit and usage)",
}
# where each vendor puts its error code: Salesforce [{"errorCode"}], HubSpot {"category",
# "subCategory"}, Typeform {"code"}, Qualtrics {"meta": {"error": {"errorCode"}}}, Zendesk and
# OAuth {"error": "..."}
CODE_KEYS = ("errorCode", "category", "subCategory", "code", "error")
CODE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{1,63}")


class ApiError(CxloopError):
    """An API call failed for good; the message names the endpoint and the status."""

    def __init__(self, endpoint: str, problem: str, status: int | None = None) -> None:
        self.endpoint, self.status = endpoint, status
        super().__init__(f"{endpoint}: {problem}")


class ApiAuthError(ApiError):
    """401, 403 or 404: retrying cannot help; the user must fix a credential, scope or id."""


class ApiRequestError(ApiError):
    """Another 4xx: the request was refused (a bad or expired cursor, a bad parameter)."""

    def __init__(self, endpoint: str, status: int, detail: str) -> None:
        self.detail = detail
        super().__init__(endpoint, f"HTTP {status}: {detail}", status)


@dataclass
class CallStats:
    """What the client did: requests, retries, waits (for the progress display and tests)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    server_seconds: float = 0.0  # time from sending a request to its last byte


@dataclass
class ApiClient:
    """One source's API: a base URL, auth headers, and the retry rules above."""

    source: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout_seconds: float = 60.0
    max_retries: int = 5
    max_rate_limited: int = 50
    sleep: Callable[[float], None] = time.sleep
    stats: CallStats = field(default_factory=CallStats)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/") + "/"
        self._origin = urlsplit(self.base_url)[:2]
        self._http = httpx.Client(
            headers={"Accept": "application/json", **self.headers},
            timeout=self.timeout_seconds,
            follow_redirects=False,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the configured host (a next-page URL must stay on it)."""
        url = urljoin(
            self.base_url, path_or_url.lstrip("/") if "://" not in path_or_url else path_or_url
        )
        if urlsplit(url)[:2] != self._origin:
            raise ApiError(
                _endpoint(url),
                f"the API pointed at another host than {self.base_url} (credentials are only "
                "sent to the configured base_url)",
            )
        return url

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and parse JSON."""
        return self.json_of(self.request("GET", path_or_url, params=params))

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                _endpoint(str(response.request.url)),
                f"HTTP {response.status_code} but the body is not JSON "
                f"({response.headers.get('content-type', 'no content type')})",
                response.status_code,
            ) from None

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send with the retry rules; returns a 2xx response or raises an ApiError."""
        url = self.url(path_or_url)
        endpoint = f"{method} {_endpoint(url)}"
        failures = rate_limited = 0
        while True:
            started = time.perf_counter()
            self.stats.requests += 1
            try:
                response = self._http.request(method, url, params=params, json=json)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures += 1
                self._retry_or_raise(endpoint, failures, f"{type(exc).__name__}", None)
                continue
            self.stats.server_seconds += time.perf_counter() - started
            status = response.status_code
            if status < 300:
                return response
            if status == 429:
                rate_limited += 1
                if rate_limited > self.max_rate_limited:
                    raise ApiError(endpoint, f"HTTP 429 {rate_limited} times in a row", 429)
                wait = retry_after_seconds(response.headers)
                wait = _backoff(rate_limited) if wait is None else wait
                log.warning("%s: HTTP 429, waiting %.1f s as the API asks", endpoint, wait)
                self.stats.rate_limited += 1
                self._wait(min(wait, RATE_LIMIT_CAP_SECONDS))
                continue
            if status >= 500:
                failures += 1
                self._retry_or_raise(endpoint, failures, f"HTTP {status}", status)
                continue
            if status in AUTH_HINTS:
                code = self.vendor_error_code(response)
                hint = CODE_HINTS.get(code or "") or AUTH_HINTS[status].format(source=self.source)
                what = f"HTTP {status} {code}" if code else f"HTTP {status}"
                raise ApiAuthError(endpoint, f"{what} ({hint})", status)
            raise ApiRequestError(endpoint, status, _detail(response))

    def vendor_error_code(self, response: httpx.Response) -> str | None:
        """The vendor's error code in an error body (an identifier only, never the message,
        and never a value of our auth headers), or None."""
        try:
            body = response.json()
        except ValueError:
            return None
        code = _error_code(body)
        if code is None or any(code in value for value in self.headers.values()):
            return None
        return code

    def _retry_or_raise(self, endpoint: str, failures: int, what: str, status: int | None) -> None:
        if failures > self.max_retries:
            raise ApiError(
                endpoint, f"{what} after {failures} attempts (is the API up? retry later)", status
            )
        wait = _backoff(failures)
        log.warning("%s: %s, retry %d of %d in %.1f s", endpoint, what, failures,
                    self.max_retries, wait)  # fmt: skip
        self.stats.retries += 1
        self._wait(wait)

    def _wait(self, seconds: float) -> None:
        self.stats.waited_seconds += seconds
        self.sleep(seconds)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or a vendor reset header."""
    value = headers.get("Retry-After")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - (now or time.time()))
        except (TypeError, ValueError):
            pass
    for name in RESET_HEADERS:
        reset = headers.get(name)
        if reset and reset.strip().isdigit():
            seconds = float(reset)
            # an epoch time (a reset moment) rather than a number of seconds
            return max(0.0, seconds - (now or time.time())) if seconds > 1e9 else seconds
    return None


def _backoff(attempt: int) -> float:
    base = min(BACKOFF_CAP_SECONDS, 2.0 ** (attempt - 1))
    return base * (0.75 + random.random() / 2)  # noqa: S311 (jitter, not security)


def _endpoint(url: str) -> str:
    """host + path of a URL: what an error names (no query: it may hold cursors, not secrets)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _error_code(body: object, depth: int = 0) -> str | None:
    """The first identifier-like value under a known code key, looking into the first item of
    a list and into `meta` / `error` objects (two levels at most)."""
    if isinstance(body, list):
        return _error_code(body[0], depth) if body and depth < 3 else None
    if not isinstance(body, dict):
        return None
    for key in CODE_KEYS:
        value = body.get(key)
        if isinstance(value, str) and CODE_PATTERN.fullmatch(value):
            return value
    for key in ("meta", "error", "errors"):
        if isinstance(body.get(key), (dict, list)) and depth < 3:
            found = _error_code(body[key], depth + 1)
            if found:
                return found
    return None


def _detail(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "") if text else "(empty body)"
