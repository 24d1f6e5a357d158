"""The Evidence lock is one `npm ci` accepts, and the check `make node` runs first names a bad one.

Both marks of a bad lock were seen on these machines: entries without a `version` (written with
--package-lock-only: npm ci dies with "Invalid Version:") and an optional platform package a locked
package asks for but the lock lacks (npm ci: "Missing: …@ from lock file").
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE = ROOT / "reports_evidence"


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(folder / "scripts" / "check-lock.cjs")], capture_output=True, text=True, timeout=60
    )


def _copy(tmp_path: Path, lock: dict) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(EVIDENCE / "scripts" / "check-lock.cjs", tmp_path / "scripts")
    (tmp_path / "package-lock.json").write_text(json.dumps(lock), encoding="utf-8")
    return tmp_path


def test_the_shipped_lock_passes_and_pins_every_package():
    done = _check(EVIDENCE)
    assert done.returncode == 0, done.stderr
    lock = json.loads((EVIDENCE / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/@duckdb/node-api"]["version"] == "1.4.4-r.3"


def test_an_entry_without_version_is_named(tmp_path):
    lock = json.loads((EVIDENCE / "package-lock.json").read_text(encoding="utf-8"))
    lock["packages"]["node_modules/rollup/node_modules/@rollup/rollup-darwin-x64"] = {"optional": True}
    done = _check(_copy(tmp_path, lock))
    assert done.returncode == 1
    assert "rollup-darwin-x64: no version" in done.stderr and "npm run lock" in done.stderr


def test_a_missing_optional_platform_package_is_named(tmp_path):
    lock = json.loads((EVIDENCE / "package-lock.json").read_text(encoding="utf-8"))
    del lock["packages"]["node_modules/@duckdb/node-bindings-win32-x64"]
    done = _check(_copy(tmp_path, lock))
    assert done.returncode == 1
    assert "optional @duckdb/node-bindings-win32-x64 not in the lock" in done.stderr
