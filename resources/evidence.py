"""The Evidence CLI as a Dagster resource: the only code that runs npm / Evidence.

Why a wrapper: the report is a static site built by Node tools. Building it must be bounded in
time, must not see the product's secrets, must send no telemetry, must fail with the tool's own
words (the tail of its output), and must not run twice at once in the same folder
(`evidence sources` and `evidence build` both write `.evidence/` and `build/`).

The build runs in a working copy of the project beside the data it shows (`work_dir`: the pages,
sources and config copied from the repository's project, its node_modules linked), so two data
folders (the demo, a company, a dataset, a test) build their sites side by side instead of queuing
on one `.evidence/`, and the repository's folder holds no company's data.

The site is Evidence's single-page app (`VITE_EVIDENCE_SPA`, the root `svelte.config.js`): the pages
query their Parquet files in the browser, so the compiled app depends on the pages and packages only,
never on the figures. It is compiled once per project digest into a cache shared by every working
copy (`app_cache_dir`), and each refresh publishes that app with its own `data/` in seconds, where a
prerendered build spent one to five minutes of CPU every 15-minute refresh recompiling the same code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT_DIR = PROJECT_ROOT / "reports_evidence"

# Environment variables never handed to Node: the site is public-ish, its build tools need no secrets.
_SECRET_PREFIXES = (
    "OPENAI_",
    "TELEGRAM_",
    "BITRIX",
    "AMOCRM_",
    "WAREHOUSE_URL",
    "PG",
    "DAGSTER_PG",
    "AWS_",
    "GITHUB_TOKEN",
)
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "WEBHOOK")
_STAMP = ".rop-install-stamp"  # written by scripts/install-stamp.cjs (postinstall) and by install()

_GUARD = threading.Lock()
_THREAD_LOCKS: dict[str, threading.RLock] = {}
_DEPTH: dict[str, int] = {}  # lock depth per project, only touched while holding its RLock


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` across processes (flock) and threads, re-entrant within a thread."""
    key = str(folder)
    with _GUARD:
        rlock = _THREAD_LOCKS.setdefault(key, threading.RLock())
    with rlock:
        depth = _DEPTH.get(key, 0)
        _DEPTH[key] = depth + 1
        try:
            if depth:
                yield
                return
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / ".evidence-cli.lock", "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            _DEPTH[key] = depth


@contextlib.contextmanager
def _shared_lock(folder: Path) -> Iterator[None]:
    """A shared lock on `folder`'s lock file: builds in working copies use the project's node_modules
    side by side, while `npm ci` (the exclusive holder) rewrites it alone."""
    with open(folder / ".evidence-cli.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class EvidenceError(RuntimeError):
    """An Evidence / npm command failed or timed out; the message carries the tail of its output."""


def scrubbed_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) without secrets, with telemetry and npm chatter off."""
    env = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if not key.upper().startswith(_SECRET_PREFIXES) and not any(word in key.upper() for word in _SECRET_WORDS)
    }
    env.update(
        {
            "SEND_ANONYMOUS_USAGE_STATS": "no",
            "NO_UPDATE_NOTIFIER": "1",
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            "CI": "true",  # no interactive prompts, no spinners waiting on a TTY
        }
    )
    return env


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# What a working copy takes from the project: everything a build reads, nothing it writes.
_NOT_COPIED = {"node_modules", ".evidence", "build", ".evidence-cli.lock", ".app-cache"}
_APPS_KEPT = 3  # compiled apps kept in the cache: the current one and a few to go back to


class EvidenceCLI(ConfigurableResource):
    """Runs `npm ci` in `project_dir`, `evidence sources` and `evidence build` in `work_dir`.

    `work_dir`: the working copy the data file is written to and the site is built in (default:
    the project folder itself). `build_dir`: where the finished site is published (copied as a
    whole, then swapped in); default is Evidence's own `<work_dir>/build`.
    """

    project_dir: str = Field(
        default=str(DEFAULT_PROJECT_DIR), description="Folder of the Evidence project (package.json)."
    )
    work_dir: str | None = Field(
        default=None, description="Build in this working copy of the project; default: in the project folder."
    )
    build_dir: str | None = Field(default=None, description="Publish the built site here; default <work_dir>/build.")
    app_cache_dir: str | None = Field(
        default=None, description="Compiled report apps, one per project digest; default <project_dir>/.app-cache."
    )
    install_timeout_s: int = 900
    sources_timeout_s: int = 300
    build_timeout_s: int = 900

    # --- paths -----------------------------------------------------------------------------
    @property
    def project(self) -> Path:
        return Path(self.project_dir).resolve()

    @property
    def workspace(self) -> Path:
        """Where `evidence sources` and `evidence build` run (the project itself without a work_dir)."""
        return Path(self.work_dir).resolve() if self.work_dir else self.project

    @property
    def data_file(self) -> Path:
        """The DuckDB file `sources/rop/connection.yaml` reads (written by the report_site asset)."""
        return self.workspace / "sources" / "rop" / "rop.duckdb"

    @property
    def site_dir(self) -> Path:
        return Path(self.build_dir).resolve() if self.build_dir else self.workspace / "build"

    @property
    def app_cache(self) -> Path:
        return Path(self.app_cache_dir).resolve() if self.app_cache_dir else self.project / ".app-cache"

    @property
    def data_dir(self) -> Path:
        """Where `evidence sources` leaves the Parquet files and their manifest."""
        return self.workspace / ".evidence" / "template" / "static" / "data"

    @property
    def fingerprint_file(self) -> Path:
        """Beside the published site (never inside it): what the published build was made from."""
        return self.site_dir.with_name(self.site_dir.name + ".fingerprint")

    def project_digest(self) -> str:
        """The pages, source queries, config and installed packages a build is made of.

        A changed page rebuilds the site even when no figure changed; the data file, Evidence's
        caches and node_modules itself are not part of it (the lock digest stands for the latter).
        """
        digest = hashlib.sha256(self._lock_digest().encode())
        # the top-level folders left out are not walked at all: node_modules alone is some 35 000 files
        tops = [p for p in self.project.iterdir() if p.name not in _NOT_COPIED]
        files = [p for top in tops for p in ([top] if top.is_file() else top.rglob("*"))]
        for path in sorted(files):
            relative = path.relative_to(self.project)
            if not path.is_file():
                continue
            if path.name.endswith((".duckdb", ".wal", ".tmp")) or relative.parts[:2] == ("static", "data"):
                continue
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def published_fingerprint(self) -> str | None:
        """The fingerprint of the site now published, or None when there is none to keep."""
        if not (self.site_dir / "index.html").exists() or not self.fingerprint_file.exists():
            return None
        return self.fingerprint_file.read_text().strip() or None

    # --- plumbing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the working copy's lock: one writer of its data file, `.evidence/`, `build/` at a time.

        Across processes (flock) and threads; re-entrant within a thread, so the asset can hold it
        around install + data file + sources + build while each method also takes it.
        """
        with _folder_lock(self.workspace):
            yield

    def _prepare_workspace(self) -> None:
        """Make the working copy match the project: its pages, sources' SQL and config, linked node_modules.

        Copied afresh each build (a page deleted in the repository leaves the site too); the data file
        and Evidence's own `.evidence/` cache stay.
        """
        work = self.workspace
        if work == self.project:
            return
        work.mkdir(parents=True, exist_ok=True)
        for entry in self.project.iterdir():
            if entry.name in _NOT_COPIED:
                continue
            target = work / entry.name
            if entry.name == "sources":  # keep the data file the asset wrote there
                for source in entry.iterdir():
                    if source.is_dir():
                        (target / source.name).mkdir(parents=True, exist_ok=True)
                        for query in source.iterdir():
                            if query.is_file() and not query.name.endswith((".duckdb", ".wal", ".tmp")):
                                shutil.copy2(query, target / source.name / query.name)
                        for stale in (target / source.name).glob("*.sql"):
                            if not (source / stale.name).exists():
                                stale.unlink()
                continue
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            if entry.is_dir():  # static/data would be an old run's Parquet output
                shutil.copytree(
                    entry, target, ignore=shutil.ignore_patterns("data") if entry.name == "static" else None
                )
            else:
                shutil.copy2(entry, target)
        link = work / "node_modules"
        if not link.is_symlink() or link.resolve() != (self.project / "node_modules").resolve():
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.exists():
                shutil.rmtree(link)
            link.symlink_to(self.project / "node_modules", target_is_directory=True)

    def _run(
        self,
        args: Sequence[str],
        timeout_s: int,
        what: str,
        cwd: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> float:
        """Run one command in the working copy (or `cwd`); return its wall time in seconds."""
        cwd = cwd or self.workspace
        started = time.monotonic()
        try:
            # its own process group: `evidence build` starts Vite as a child, and a timeout must stop
            # both (an orphaned Vite would go on burning a core for a minute)
            proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                env={**scrubbed_env(), **(extra_env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise EvidenceError(f"{what}: {args[0]!r} not found; install Node.js 18+ and npm") from exc
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate()
            raise EvidenceError(f"{what} timed out after {timeout_s} s in {cwd}:\n{_tail(stdout or '')}") from exc
        done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        if done.returncode != 0:
            raise EvidenceError(
                f"{what} failed (exit {done.returncode}) in {cwd}:\n"
                f"--- stderr (tail) ---\n{_tail(done.stderr)}\n--- stdout (tail) ---\n{_tail(done.stdout, 20)}"
            )
        return time.monotonic() - started

    def _lock_digest(self) -> str:
        """What an install depends on: the lock file and the patches applied by postinstall."""
        digest = hashlib.sha256((self.project / "package-lock.json").read_bytes())
        for patch in sorted((self.project / "patches").glob("*.patch")):
            digest.update(patch.name.encode())
            digest.update(patch.read_bytes())
        return digest.hexdigest()

    def _node(
        self, args: Sequence[str], timeout_s: int, what: str, extra_env: Mapping[str, str] | None = None
    ) -> float:
        """An Evidence command in the working copy, with the project's node_modules held shared.

        In place (no working copy) the caller already holds the project's exclusive lock.
        """
        if self.workspace == self.project:
            return self._run(args, timeout_s, what, extra_env=extra_env)
        with _shared_lock(self.project):
            return self._run(args, timeout_s, what, extra_env=extra_env)

    def _cli(self, *args: str) -> list[str]:
        cli = self.project / "node_modules" / "@evidence-dev" / "evidence" / "cli.js"
        return ["node", str(cli), *args]

    # --- public API --------------------------------------------------------------------------
    def install_needed(self) -> bool:
        stamp = self.project / "node_modules" / _STAMP
        return not stamp.exists() or stamp.read_text().strip() != self._lock_digest()

    def install(self) -> float:
        """`npm ci` when node_modules is missing or older than package-lock.json/patches; seconds spent."""
        with _folder_lock(self.project):
            if not self.install_needed():
                return 0.0
            seconds = self._run(
                ["npm", "ci", "--no-audit", "--no-fund"], self.install_timeout_s, "npm ci", cwd=self.project
            )
            (self.project / "node_modules" / _STAMP).write_text(self._lock_digest())
            return seconds

    def sources(self) -> float:
        """`evidence sources`: run sources/*/*.sql against the data file into Parquet; seconds spent.

        The previous output is removed first: Evidence leaves an old Parquet file in place when a
        query now returns no rows, and the site would show yesterday's figures.
        """
        with self.locked():
            self._prepare_workspace()
            shutil.rmtree(self.workspace / ".evidence" / "template" / "static" / "data", ignore_errors=True)
            return self._node(self._cli("sources"), self.sources_timeout_s, "evidence sources")

    def build(self, fingerprint: str | None = None, routes: Sequence[str] = ()) -> Path:
        """Publish the compiled app (compiling it first when the pages or packages changed) with the
        data of the last `sources` to `site_dir`; return the site's index.html.

        `routes`: pages of a parameterised route that exist only through the data (one per manager,
        `menedzher/<name>`); each gets a folder with the app's page, as the pages from files do, so any
        static file server opens a link (the app routes in the browser). `fingerprint` is recorded
        beside the published site once it is in place (and removed before a build starts), so a build
        that fails half-way never leaves a site that claims to be current.
        """
        with self.locked():
            self.fingerprint_file.unlink(missing_ok=True)
            self._prepare_workspace()
            app = self.compiled_app()
            index = self._publish(app, routes)
            if fingerprint:
                self.fingerprint_file.write_text(fingerprint + "\n")
            return index

    def compiled_app(self) -> Path:
        """The app for the current pages and packages: from the cache, or `evidence build` now.

        One compile per project digest across processes: a second builder of the same digest waits
        for the first (flock) and then reuses its app instead of compiling the same code again.
        """
        key = self.project_digest()[:24]
        app = self.app_cache / key
        if not (app / "index.html").exists():
            self.app_cache.mkdir(parents=True, exist_ok=True)
            with open(self.app_cache / f"{key}.lock", "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    if not (app / "index.html").exists():
                        self._compile_into(app)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        os.utime(app)  # most recently used: the last to be evicted
        self._evict_apps(keep=app)
        return app

    def _compile_into(self, app: Path) -> None:
        built = self.workspace / "build"
        # `evidence build` adds to build/ and never removes: start from nothing
        shutil.rmtree(built, ignore_errors=True)
        self._node(self._cli("build"), self.build_timeout_s, "evidence build", extra_env={"VITE_EVIDENCE_SPA": "true"})
        if not (built / "index.html").exists():
            raise EvidenceError(f"evidence build finished but {built / 'index.html'} is missing")
        staging = app.with_name(f"{app.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        # the app without this build's data: each publish brings its own
        shutil.copytree(built, staging, ignore=lambda folder, _names: ["data"] if Path(folder) == built else [])
        staging.rename(app)
        shutil.rmtree(built, ignore_errors=True)

    def _evict_apps(self, keep: Path) -> None:
        apps = [p for p in self.app_cache.iterdir() if p.is_dir() and ".tmp-" not in p.name and p != keep]
        apps.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in apps[_APPS_KEPT - 1 :]:
            shutil.rmtree(old, ignore_errors=True)
            (self.app_cache / f"{old.name}.lock").unlink(missing_ok=True)

    def _publish(self, app: Path, routes: Sequence[str]) -> Path:
        """Copy app + data + route folders into a staging folder, then swap it in for the site.

        The published copy stays until the new one is complete, so a failure leaves it in place.
        """
        target = self.site_dir
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(app, staging)
        if self.data_dir.is_dir():
            shutil.copytree(self.data_dir, staging / "data")
            _hash_data_files(staging / "data")
        shell = (staging / "index.html").read_bytes()
        for route in [*_page_routes(app), *routes]:
            folder = staging / route.strip("/")
            if folder.resolve().is_relative_to(staging.resolve()) and folder != staging:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "index.html").write_bytes(shell)
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return target / "index.html"


def _page_routes(app: Path) -> list[str]:
    """The app's pages from files, as Evidence lists them (`api/<route>/evidencemeta.json`);
    parameterised ones (`[manager]`) have no folder of their own."""
    api = app / "api"
    routes = []
    for meta in api.rglob("evidencemeta.json"):
        route = meta.parent.relative_to(api).as_posix()
        if route != "." and "[" not in route:
            routes.append(route)
    return sorted(routes)


def _hash_data_files(data: Path) -> None:
    """Move each Parquet file the manifest names into a folder named by its content's md5 and
    rewrite the manifest, as `evidence build` does: a browser never shows yesterday's figures
    from its cache under an unchanged address."""
    manifest_file = data / "manifest.json"
    if not manifest_file.exists():
        return
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    for files in (manifest.get("renderedFiles") or {}).values():
        for i, url in enumerate(files):
            parts = url.split("/")[-3:]  # <source>/<table>/<file>.parquet
            path = data.joinpath(*parts)
            if not path.is_file():
                continue
            digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            moved = path.parent / digest / path.name
            moved.parent.mkdir(exist_ok=True)
            path.rename(moved)
            files[i] = url[: len(url) - len("/".join(parts))] + "/".join([*parts[:2], digest, parts[2]])
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")
