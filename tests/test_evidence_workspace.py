"""The Evidence build's working copy: what it takes from the project and what it keeps of its own.

Two data folders (the demo, a company, a test) build side by side only if each has its own copy; a
copy that kept a page deleted from the repository, or lost the data file the asset had just written,
would publish the wrong site.
"""

from __future__ import annotations

from pathlib import Path

from resources.evidence import EvidenceCLI


def _project(root: Path) -> Path:
    project = root / "project"
    (project / "pages" / "team").mkdir(parents=True)
    (project / "pages" / "index.md").write_text("# Директор\n", encoding="utf-8")
    (project / "pages" / "team" / "index.md").write_text("# Команда\n", encoding="utf-8")
    (project / "sources" / "rop").mkdir(parents=True)
    (project / "sources" / "rop" / "connection.yaml").write_text("name: rop\n", encoding="utf-8")
    (project / "sources" / "rop" / "deals.sql").write_text("select 1\n", encoding="utf-8")
    (project / "sources" / "rop" / "rop.duckdb").write_bytes(b"the repository's own data file")
    (project / "evidence.config.yaml").write_text("appearance: {}\n", encoding="utf-8")
    (project / "node_modules" / "@evidence-dev").mkdir(parents=True)
    (project / ".evidence" / "template").mkdir(parents=True)
    (project / "build").mkdir()
    return project


def test_the_working_copy_follows_the_project_and_keeps_its_data(tmp_path: Path) -> None:
    project = _project(tmp_path)
    cli = EvidenceCLI(project_dir=str(project), work_dir=str(tmp_path / "data" / "evidence"))
    work = cli.workspace
    assert cli.data_file == work / "sources" / "rop" / "rop.duckdb"
    cli.data_file.parent.mkdir(parents=True)
    cli.data_file.write_bytes(b"today's figures")  # what report_site writes before `evidence sources`
    (work / "sources" / "rop" / "dropped.sql").write_text("select 2\n", encoding="utf-8")

    cli._prepare_workspace()

    assert (work / "pages" / "team" / "index.md").read_text(encoding="utf-8") == "# Команда\n"
    assert (work / "evidence.config.yaml").is_file()
    assert sorted(p.name for p in (work / "sources" / "rop").iterdir()) == [
        "connection.yaml",
        "deals.sql",
        "rop.duckdb",
    ]
    assert cli.data_file.read_bytes() == b"today's figures", "the asset's data file was overwritten"
    assert (work / "node_modules").is_symlink() and (work / "node_modules").resolve() == project / "node_modules"
    assert not (work / "build").exists() and not (work / ".evidence").exists()
    assert cli.site_dir == work / "build"

    # a page deleted in the repository leaves the next build; an edited one is taken anew
    (project / "pages" / "team" / "index.md").unlink()
    (project / "pages" / "index.md").write_text("# Директор, новая\n", encoding="utf-8")
    cli._prepare_workspace()
    assert not (work / "pages" / "team" / "index.md").exists()
    assert (work / "pages" / "index.md").read_text(encoding="utf-8") == "# Директор, новая\n"
    assert cli.data_file.read_bytes() == b"today's figures"


def test_without_a_work_dir_the_project_is_built_in_place(tmp_path: Path) -> None:
    project = _project(tmp_path)
    cli = EvidenceCLI(project_dir=str(project))
    cli._prepare_workspace()
    assert cli.workspace == project.resolve()
    assert cli.data_file.read_bytes() == b"the repository's own data file"
    assert not (project / "node_modules").is_symlink()


def test_two_working_copies_do_not_share_a_lock(tmp_path: Path) -> None:
    """Builds of two data folders run side by side; only the same folder queues."""
    import threading

    project = _project(tmp_path)
    first = EvidenceCLI(project_dir=str(project), work_dir=str(tmp_path / "a"))
    second = EvidenceCLI(project_dir=str(project), work_dir=str(tmp_path / "b"))
    got: list[str] = []

    def build_b() -> None:
        with second.locked():
            got.append("b")

    with first.locked():
        worker = threading.Thread(target=build_b)
        worker.start()
        worker.join(timeout=10)
    assert got == ["b"], "a build in another folder waited for this one"
