"""The amoCRM account as a Dagster resource (resource key `amocrm`): base URL + long-lived access token.

AMOCRM_BASE_URL is the account URL (`https://<subdomain>.amocrm.ru`); AMOCRM_ACCESS_TOKEN the
long-lived token (a secret: read at run time, never in the UI, never logged; the source
only ever names endpoints in its messages). The demo amoCRM portal (`python -m demo.amocrm_portal`)
prints a URL and a token to point these at. Unset -> the amoCRM source is not part of the graph.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from resources.settings import load_settings


class AmoCRMNotConfigured(RuntimeError):
    """AMOCRM_BASE_URL or AMOCRM_ACCESS_TOKEN is missing."""


class AmoCRMAccount(ConfigurableResource):
    """Explicit fields win, then AMOCRM_BASE_URL / AMOCRM_ACCESS_TOKEN (read at run time)."""

    base_url: str | None = None
    access_token: str | None = None

    def credentials(self) -> tuple[str, str]:
        """(base URL without a trailing slash, token)."""
        settings = load_settings()
        base_url = self.base_url or settings.amocrm_base_url
        token = self.access_token or (
            settings.amocrm_access_token.get_secret_value() if settings.amocrm_access_token else None
        )
        if not base_url:
            raise AmoCRMNotConfigured("AMOCRM_BASE_URL is not set: the account URL, https://<subdomain>.amocrm.ru")
        if not token:
            raise AmoCRMNotConfigured("AMOCRM_ACCESS_TOKEN is not set: the account's long-lived token")
        return base_url.rstrip("/"), token
