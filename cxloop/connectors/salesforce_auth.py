"""Salesforce OAuth 2.0 for the connector: a connected app's token, as a Bearer header.

- Client credentials (`grant_type=client_credentials`, `client_id` + `client_secret`): the
  connected app runs as its configured "Run As" user.
- JWT bearer (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`): an RS256 assertion
  `{iss: client_id, sub: username, aud: login URL, exp}` signed with the private key whose
  certificate the connected app holds; chosen when `api.credentials` names a `private_key`.
Both POST a form to `<base_url>/services/oauth2/token` (the org's My Domain). The token is
asked once per pull; a token that expires mid-pull ends it with a 401, and the next pull
resumes from the saved job and locator. Secrets travel only in the form body; no error or
log line holds one (a refusal names Salesforce's `error` code and description).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cxloop.api_config import ApiConfig
from cxloop.connectors.base import Resolve
from cxloop.connectors.http import ApiAuthError, ApiError, retry_after_seconds
from cxloop.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts at most 3 minutes
# what every Salesforce call sends: JSON for job info, CSV for Bulk API 2.0 results
ACCEPT = "application/json, text/csv"


def authorize(source: str, base_url: str, api: ApiConfig, resolve: Resolve) -> dict[str, str]:
    """Exchange the connected app's credentials for an access token; the auth headers."""
    if "private_key" in api.credentials:
        creds = resolve(("client_id", "username", "private_key"))
        form = {
            "grant_type": JWT_GRANT,
            "assertion": jwt_assertion(
                source, creds["client_id"], creds["username"], creds["private_key"], base_url
            ),
        }
    else:
        creds = resolve(("client_id", "client_secret"))
        form = {
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
    answer = _token_request(source, base_url.rstrip("/") + TOKEN_PATH, form, api)
    token, instance = answer.get("access_token"), answer.get("instance_url")
    endpoint = f"POST {base_url.rstrip('/')}{TOKEN_PATH}"
    if not isinstance(token, str) or not token:
        raise ApiError(endpoint, "the answer has no access_token")
    if isinstance(instance, str) and urlsplit(instance)[:2] != urlsplit(base_url)[:2]:
        raise ConfigError(
            f"key 'sources.{source}.api.base_url': the org's instance is {instance} "
            f"(expected base_url to be it, the org's My Domain, not {base_url})"
        )
    return {"Authorization": f"Bearer {token}", "Accept": ACCEPT}


def audience(base_url: str) -> str:
    """The JWT `aud`: test.salesforce.com for a sandbox, else login.salesforce.com."""
    host = urlsplit(base_url).hostname or ""
    sandbox = ".sandbox.my.salesforce.com" in host or host.startswith("test.")
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


def jwt_assertion(
    source: str, client_id: str, username: str, private_key_pem: str, base_url: str
) -> str:
    """An RS256-signed JWT for the bearer flow (RFC 7523), valid for three minutes."""
    pem = private_key_pem.replace("\\n", "\n").encode()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            f"key 'sources.{source}.api.credentials.private_key': not an unencrypted PEM "
            "private key (expected the key whose certificate the connected app holds)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            f"key 'sources.{source}.api.credentials.private_key': not an RSA key "
            "(Salesforce signs JWT bearer assertions with RS256)"
        )
    claims = {
        "iss": client_id,
        "sub": username,
        "aud": audience(base_url),
        "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
    }
    signing_input = _b64(b'{"alg":"RS256"}') + "." + _b64(json.dumps(claims).encode())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _token_request(source: str, url: str, form: dict[str, str], api: ApiConfig) -> dict:
    endpoint = f"POST {url}"
    failures = 0
    with httpx.Client(timeout=api.timeout_seconds, follow_redirects=False) as http:
        while True:
            try:
                response = http.post(url, data=form, headers={"Accept": "application/json"})
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures += 1
                _wait_or_raise(endpoint, failures, api, type(exc).__name__, None)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                failures += 1
                _wait_or_raise(endpoint, failures, api, f"HTTP {status}", response.headers)
                continue
            if status < 300:
                try:
                    answer = response.json()
                except ValueError:
                    raise ApiError(endpoint, "the token answer is not JSON", status) from None
                return answer if isinstance(answer, dict) else {}
            raise ApiAuthError(endpoint, _refusal(source, response), status)


def _refusal(source: str, response: httpx.Response) -> str:
    """Salesforce's `error` and `error_description` (they never echo the secret)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or "refused")[:60]
    detail = str(body.get("error_description") or "").replace("\n", " ")[:120]
    return (
        f"HTTP {response.status_code} {error}" + (f" ({detail})" if detail else "") + ": check "
        f"the connected app and the credentials named in sources.{source}.api.credentials "
        "(docs/connectors.md, Salesforce)"
    )


def _wait_or_raise(
    endpoint: str, failures: int, api: ApiConfig, what: str, headers: httpx.Headers | None
) -> None:
    if failures > api.max_retries:
        raise ApiError(endpoint, f"{what} after {failures} attempts (is the API up? retry later)")
    wait = retry_after_seconds(headers) if headers is not None else None
    wait = min(30.0, 2.0 ** (failures - 1)) if wait is None else min(wait, 900.0)
    log.warning("%s: %s, retry %d of %d in %.1f s", endpoint, what, failures, api.max_retries,
                wait)  # fmt: skip
    time.sleep(wait)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
