"""The CRM export folder and its column mapping as a Dagster resource (resource key `crm_export`).

CRM_EXPORT_DIR is the folder of CSV exports; CRM_EXPORT_MAPPING the YAML mapping their columns to the
canonical fields (see assets/ingest/export/mapping.py). The mapping may also be given by the name of
a shipped one (`maven_crm`, `superstore`, `olist`: assets/ingest/export/mappings/<name>.yaml).
Read at run time; unset -> the export source is not part of the graph (assets/ingest/__init__.py).
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from resources.settings import PROJECT_ROOT, load_settings

SHIPPED_MAPPINGS = PROJECT_ROOT / "assets" / "ingest" / "export" / "mappings"


class ExportNotConfigured(RuntimeError):
    """CRM_EXPORT_DIR or CRM_EXPORT_MAPPING is missing or points nowhere."""


def resolve_mapping(value: str | Path) -> Path:
    """A path to a YAML file, or the name of a shipped mapping."""
    path = Path(value)
    if path.is_file():
        return path
    shipped = SHIPPED_MAPPINGS / f"{path.stem if path.suffix in ('.yaml', '.yml') else path.name}.yaml"
    if shipped.is_file() and path.parent == Path("."):
        return shipped
    raise ExportNotConfigured(
        f"CRM_EXPORT_MAPPING={value}: no such file (shipped mappings: "
        f"{', '.join(sorted(p.stem for p in SHIPPED_MAPPINGS.glob('*.yaml')))})"
    )


class CrmExport(ConfigurableResource):
    """Explicit fields win, then CRM_EXPORT_DIR / CRM_EXPORT_MAPPING."""

    export_dir: str | None = None
    mapping: str | None = None

    @property
    def is_configured(self) -> bool:
        settings = load_settings()
        return bool(self.export_dir or settings.crm_export_dir)

    def paths(self) -> tuple[Path, Path]:
        """(export folder, mapping file), checked to exist."""
        settings = load_settings()
        export_dir = Path(self.export_dir) if self.export_dir else settings.crm_export_dir
        mapping = self.mapping or settings.crm_export_mapping
        if export_dir is None:
            raise ExportNotConfigured("CRM_EXPORT_DIR is not set: the folder of CRM export files")
        if not export_dir.is_dir():
            raise ExportNotConfigured(f"CRM_EXPORT_DIR={export_dir}: no such folder")
        if mapping is None:
            raise ExportNotConfigured("CRM_EXPORT_MAPPING is not set: the YAML mapping the export's columns")
        return export_dir.resolve(), resolve_mapping(mapping).resolve()
