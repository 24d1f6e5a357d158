"""Where the public datasets are (the DATASETS_DIR setting), and what a test does when they are not.

The datasets (Maven CRM, Superstore, Olist) live outside the repository, by default in
../shared/datasets beside it. A test that needs them calls `require_datasets(...)`: absent, the test
is skipped with a reason tests/conftest.py counts in the run's summary; with ROP_REQUIRE_DATASETS=1
(CI) it fails instead, so a CI run can never pass without having run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resources.settings import load_settings

# tests/conftest.py recognises the skips by this prefix
ABSENT = "public datasets absent at "

MAVEN = "maven_crm_sales_opportunities"
SUPERSTORE = "tableau_sample_superstore"
OLIST = "olist_marketing_funnel"


def datasets_dir() -> Path:
    """DATASETS_DIR (ROP_DATASETS_DIR is still read as an older name), else <project>/../shared/datasets."""
    value = os.environ.get("DATASETS_DIR", "").strip() or os.environ.get("ROP_DATASETS_DIR", "").strip()
    # only this one variable, so a malformed unrelated setting cannot break the lookup
    return load_settings({"DATASETS_DIR": value} if value else {}).datasets_dir


def _required() -> bool:
    return os.environ.get("ROP_REQUIRE_DATASETS", "").strip().lower() in {"1", "true", "yes"}


def require_datasets(*names: str) -> Path:
    """The datasets folder, checked to hold `names` (sub-folders); else skip the test (fail under
    ROP_REQUIRE_DATASETS=1) naming the path and the setting."""
    root = datasets_dir()
    missing = [name for name in names if not (root / name).is_dir()]
    if root.is_dir() and not missing:
        return root
    reason = f"{ABSENT}{root}: set DATASETS_DIR"
    if root.is_dir():
        reason += f" (missing there: {', '.join(missing)})"
    if _required():
        pytest.fail(f"{reason}; ROP_REQUIRE_DATASETS=1 requires them", pytrace=False)
    pytest.skip(reason)
