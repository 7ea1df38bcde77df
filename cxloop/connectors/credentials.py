"""A source's credentials, from the environment variables or Prefect Secret blocks it names.

The library does not import Prefect: a flow passes `load_secret` (Secret.load) for the
`secret:<block>` names. Values are returned to the caller only; no message holds one.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cxloop.api_config import SECRET_BLOCK_PREFIX, ApiConfig
from cxloop.errors import ConfigError

SecretLoader = Callable[[str], str]


def resolve_credentials(
    source: str,
    api: ApiConfig,
    required: tuple[str, ...],
    load_secret: SecretLoader | None = None,
) -> dict[str, str]:
    """Each required credential's value; a ConfigError naming the key and variable if unset."""
    key = f"sources.{source}.api.credentials"
    values: dict[str, str] = {}
    for role in required:
        name = api.credentials.get(role)
        if not name:
            raise ConfigError(
                f"key '{key}': no '{role}' (expected the name of the environment variable or "
                f"{SECRET_BLOCK_PREFIX}<Prefect Secret block> holding it; needs "
                f"{', '.join(required)})"
            )
        if name.startswith(SECRET_BLOCK_PREFIX):
            block = name.removeprefix(SECRET_BLOCK_PREFIX)
            if load_secret is None:
                raise ConfigError(
                    f"key '{key}.{role}': Prefect Secret block {block!r} cannot be read here "
                    "(run the pull flow, or name an environment variable)"
                )
            try:
                value = load_secret(block)
            except Exception as exc:  # noqa: BLE001 (Prefect raises several kinds)
                raise ConfigError(
                    f"key '{key}.{role}': cannot load Prefect Secret block {block!r} "
                    f"({type(exc).__name__})"
                ) from None
        else:
            value = os.environ.get(name, "")
            if not value:
                raise ConfigError(
                    f"key '{key}.{role}': environment variable {name} is not set "
                    f"(expected the {role} for this source's API)"
                )
        values[role] = value
    return values
