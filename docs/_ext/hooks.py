"""MkDocs hooks for the docs build (mkdocs.yml loads this file).

Each benchmark page includes its published report as it is
(``--8<-- "benchmarks/results/<suite>/report.md:2"``), so the report's own
relative image links (``curves.png``) are resolved from the page's folder,
``docs/benchmarks/<suite>/``. This hook adds the published figures from
``benchmarks/results/`` to the site at those paths, read from where they are
published (nothing is copied into ``docs/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
FIGURES = ("*.png", "*.svg")


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    for pattern in FIGURES:
        for figure in sorted(RESULTS.rglob(pattern)):
            uri = f"benchmarks/{figure.relative_to(RESULTS).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(figure)))
    return files
