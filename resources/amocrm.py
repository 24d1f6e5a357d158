"""The amoCRM account as a Dagster resource (resource key `amocrm`): base URL + long-lived access token.

AMOCRM_BASE_URL is the account URL (`https://<subdomain>.amocrm.ru`); AMOCRM_ACCESS_TOKEN the
long-lived token (a secret: read at run time, never in the UI, never logged; the source
only ever names endpoints in its messages). The demo amoCRM portal (`python -m demo.amocrm_portal`)
prints a URL and a token to point these at. Unset -> the amoCRM source is not part of the graph.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from resources.http import RetryingSession, RetryPolicy
from resources.settings import load_settings


class AmoCRMNotConfigured(RuntimeError):
    """AMOCRM_BASE_URL or AMOCRM_ACCESS_TOKEN is missing."""


class AmoCRMWriteError(RuntimeError):
    """The account refused a write: its status, title and validation errors (never the token)."""


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

    @property
    def configured(self) -> bool:
        """Whether an account URL and a token are set (an action button may write to it)."""
        try:
            self.credentials()
        except AmoCRMNotConfigured:
            return False
        return True

    def reassign_lead(self, lead_id: str, user_id: str) -> None:
        """`PATCH /api/v4/leads` of one lead to `responsible_user_id` (an alert's action button).

        amoCRM takes a JSON array of leads with integer ids and validates the whole of it: a refusal
        (400 with `validation-errors`, 401, 403, 404) raises AmoCRMWriteError naming each error;
        network errors, 429 and 5xx are retried (resources/http.py). Logs name the path, never the token."""
        base_url, token = self.credentials()
        if not str(lead_id).isdigit() or not str(user_id).isdigit():
            raise AmoCRMWriteError(f"amoCRM ids are integers: lead {lead_id!r}, user {user_id!r}")
        session = RetryingSession(
            "amoCRM",
            policy=RetryPolicy(max_attempts=3),
            timeout=(10.0, 30.0),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/hal+json"},
        )
        with session:
            response = session.patch(
                f"{base_url}/api/v4/leads",
                json=[{"id": int(lead_id), "responsible_user_id": int(user_id), "request_id": str(lead_id)}],
            )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        done = (answer.get("_embedded") or {}).get("leads") or [] if isinstance(answer, dict) else []
        if response.status_code == 200 and any(str(lead.get("id")) == str(lead_id) for lead in done):
            return
        problems = [
            f"{error.get('path')}: {error.get('code')} {error.get('detail', '')}".strip()
            for item in (answer.get("validation-errors") or [] if isinstance(answer, dict) else [])
            for error in item.get("errors") or []
        ]
        title = answer.get("detail") or answer.get("title") if isinstance(answer, dict) else None
        raise AmoCRMWriteError(
            f"PATCH /api/v4/leads of lead {lead_id}: {response.status_code} {title or response.reason}"
            + (f" ({'; '.join(problems)})" if problems else "")
        )
