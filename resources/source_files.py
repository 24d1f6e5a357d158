"""Where the plan sheet comes from: PLAN_FILE, else (in demo mode only) the demo world's plan.csv.

Also home of `ensure_demo_world`, the one place the ingest resources turn the demo settings into a
generated world folder (the Bitrix24 resource serves the same folder through the demo portal).
Nothing here runs at import time: settings are read when a run asks for a path.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import ConfigurableResource

from resources.settings import load_settings


def ensure_demo_world(
    demo_dir: str | None = None,
    size: str | None = None,
    today: str | None = None,
    seed: int | None = None,
) -> Path:
    """Generate (or reuse) the demo world; unset arguments come from DEMO_SIZE/DEMO_TODAY/DEMO_SEED/DATA_DIR."""
    from demo.world import ensure_world  # the demo package is only needed in demo mode

    settings = load_settings()
    overrides = {
        "demo_size": size,
        "demo_today": date.fromisoformat(today) if today else None,
        "demo_seed": seed,
    }
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    world_dir = Path(demo_dir) if demo_dir else settings.demo_dir
    return Path(ensure_world(world_dir, settings.demo_size, settings.today, settings.demo_seed))


class PlanNotConfigured(RuntimeError):
    """The plan asset runs outside demo mode with no PLAN_FILE."""


class PlanSheet(ConfigurableResource):
    """Path of the plan sheet (resource key `plan_sheet`).

    An explicit field wins, then PLAN_FILE, then, in demo mode only, the demo world's plan.csv
    (generated on first use from the demo_* fields or DEMO_SIZE/DEMO_TODAY/DEMO_SEED).
    """

    plan_file: str | None = None
    demo_dir: str | None = None
    demo_size: str | None = None
    demo_today: str | None = None
    demo_seed: int | None = None

    def _demo_file(self, name: str) -> Path:
        return ensure_demo_world(self.demo_dir, self.demo_size, self.demo_today, self.demo_seed) / name

    def plan_path(self) -> Path:
        """plan.csv to load into raw_plan.plan."""
        settings = load_settings()
        configured = self.plan_file or settings.plan_file
        if configured:
            return Path(configured)
        if not settings.demo_mode and not (self.demo_dir or self.demo_size or self.demo_today):
            # Never the demo world's plan in a real company's warehouse.
            raise PlanNotConfigured(
                "PLAN_FILE is not set: a company's plan sheet (CSV or XLSX); "
                "without it the plan source is not part of the graph"
            )
        return self._demo_file("plan.csv")
