"""The export folders (1C, telephony) as Dagster resources: a configured folder, the demo world's, or skipped.

`OneCExport` (key `onec`): ONEC_EXPORT_DIR, else in demo mode `<demo world>/extras/onec`.
`TelephonyExport` (key `telephony`): TELEPHONY_EXPORT_DIR and PHONE_HASH_SALT, else in demo mode
`<demo world>/extras/telephony` with a fixed demo salt. Outside demo mode an unset folder means the
company does not use the source: `.folder()` returns None and the asset skips with one log line.
The salt is a secret (PHONE_HASH_SALT, read at run time, never in the UI): never logged.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from resources.settings import load_settings
from resources.source_files import ensure_demo_world

DEMO_PHONE_SALT = "demo-phone-salt"


class _DemoFolder(ConfigurableResource):
    demo_dir: str | None = None
    demo_size: str | None = None
    demo_today: str | None = None
    demo_seed: int | None = None

    def _demo_extras(self) -> Path:
        from demo.extras import ensure_extras  # demo mode only

        return ensure_extras(ensure_demo_world(self.demo_dir, self.demo_size, self.demo_today, self.demo_seed))


class OneCExport(_DemoFolder):
    """Resource key `onec`."""

    export_dir: str | None = None

    def folder(self) -> Path | None:
        settings = load_settings()
        configured = self.export_dir or settings.onec_export_dir
        if configured:
            return Path(configured)
        return self._demo_extras() / "onec" if settings.demo_mode else None


class TelephonyExport(_DemoFolder):
    """Resource key `telephony`."""

    export_dir: str | None = None
    phone_hash_salt: str | None = None

    def folder(self) -> Path | None:
        settings = load_settings()
        configured = self.export_dir or settings.telephony_export_dir
        if configured:
            return Path(configured)
        return self._demo_extras() / "telephony" if settings.demo_mode else None

    def salt(self) -> str:
        """PHONE_HASH_SALT; the demo salt only in demo mode with no folder configured."""
        settings = load_settings()
        salt = self.phone_hash_salt or (
            settings.phone_hash_salt.get_secret_value() if settings.phone_hash_salt else None
        )
        if salt:
            return salt
        if settings.demo_mode and not (self.export_dir or settings.telephony_export_dir):
            return DEMO_PHONE_SALT
        raise ValueError(
            "PHONE_HASH_SALT is not set: client phone numbers are hashed with a secret salt on "
            "arrival, and an unsalted hash of a phone number is trivially reversible"
        )
