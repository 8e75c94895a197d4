"""The performance table: `vkzc report` reading each cell's bench.json, Markdown and HTML, --compare,
and the compact table a bench run prints."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_bench_storage import a_run, document
from test_report import LAVAPIPE, two_drivers

from vkzc import cli
from vkzc.bench.figures import Figure
from vkzc.bench.storage import BenchRun, vkzc_section
from vkzc.bench.table import fraction, render_summary, speedup
from vkzc.errors import ConfigurationError
from vkzc.report.perf import build_performance

MiB = 1 << 20


@pytest.fixture(autouse=True)
def only_the_report_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("vkzc.report.command",))


def slower(run: BenchRun, path: str, factor: float) -> BenchRun:
    figures = tuple(replace(f, median_s=f.median_s * factor) if f.path == path else f for f in run.figures)
    return replace(run, figures=figures)


def save(directory: Path, run: BenchRun) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    content = {**document(run), "vkzc": vkzc_section(run)}
    (directory / "bench.json").write_text(json.dumps(content))
    return directory


def results_with_bench(root: Path, run: BenchRun | None = None) -> Path:
    two_drivers(root)
    save(root / LAVAPIPE, run or a_run(LAVAPIPE))
    return root


def report(*args: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["report", *args]) == 0
    return capsys.readouterr().out


def test_markdown_has_the_headline_table_and_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = report(str(results_with_bench(tmp_path / "results")), capsys=capsys)
    section = out[out.index("### Performance") :]
    assert (
        f"`{LAVAPIPE}` — llvmpipe (LLVM 15.0.6, 256 bits) · llvmpipe 22.3.6 · 2026-11-21 20:30 UTC" in section
    )
    assert "| limit | memset |  | 64MiB | 2.5 ms | 25 GiB/s |  |  |  |" in section
    assert "| upload | mapped | type0 HV | 64MiB | 3 ms | 20.8 GiB/s |  | 0.83 | 6.67× |" in section
    assert "Targets at 64MiB: ✓ best mapped upload ≥ 80% of memset (83%, type0 HV)" in section
    # Performance is not part of the verdict: the v3dv cell has no bench.json and is not mentioned.
    assert "v3dv" not in section


def test_no_bench_json_no_performance_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = report(str(two_drivers(tmp_path / "results")), capsys=capsys)
    assert "Performance" not in out


def test_compare_lists_medians_beyond_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = results_with_bench(tmp_path / "old")
    new_run = slower(slower(a_run(LAVAPIPE), "mapped", 1.25), "staged", 1.05)
    new = results_with_bench(tmp_path / "new", new_run)
    out = report(str(new), "--compare", str(old), capsys=capsys)
    section = out[out.index("### Performance changes") :]
    assert f"- slower: `{LAVAPIPE}` upload mapped type0 HV 64MiB: 3 ms → 3.75 ms (+25%)" in section
    assert "staged" not in section  # 5% is within the threshold
    unchanged = report(str(new), "--compare", str(new), capsys=capsys)
    assert "No median moved beyond the threshold." in unchanged


def test_a_directory_of_bench_files_only_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "lent" / "nvidia-h200", a_run())
    out = report(str(tmp_path / "lent"), capsys=capsys)
    assert "No results." in out
    assert "`nvidia-h200` — llvmpipe" in out
    with_suite = report(str(results_with_bench(tmp_path / "results")), str(tmp_path / "lent"), capsys=capsys)
    assert f"`{LAVAPIPE}` —" in with_suite and "`nvidia-h200` —" in with_suite


def test_faster_medians_are_listed_apart(tmp_path: Path) -> None:
    save(tmp_path / "old" / "host", a_run())
    save(tmp_path / "new" / "host", slower(a_run(), "memset", 0.5))
    performance = build_performance([tmp_path / "new"], old=tmp_path / "old")
    assert performance is not None
    assert [c.label for c in performance.faster] == ["limit memset 64MiB"]
    assert performance.slower == ()


def test_one_cell_twice_is_an_error(tmp_path: Path) -> None:
    save(tmp_path / "a" / "host", a_run())
    save(tmp_path / "b" / "host", a_run())
    with pytest.raises(ConfigurationError, match=r"two bench\.json files for cell host"):
        build_performance([tmp_path / "a", tmp_path / "b"])


class Rows(HTMLParser):
    """The performance table's rows: attributes and cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._inside = dict(attrs).get("id") == "performance"
        elif self._inside and tag == "tr" and dict(attrs).get("class") == "filterable":
            self.rows.append((dict(attrs), []))
        elif self._inside and tag == "td":
            self.rows[-1][1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside and self.rows and self.rows[-1][1]:
            self.rows[-1][1][-1] += data


def test_html_lists_every_figure_filterable_by_the_matrix_driver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = report(str(results_with_bench(tmp_path / "results")), "--format", "html", capsys=capsys)
    parser = Rows()
    parser.feed(page)
    assert len(parser.rows) == len(a_run().figures)
    attributes, cells = next(row for row in parser.rows if row[1][3] == "mapped")
    assert attributes["data-driver"] == "lavapipe"  # cell.json's driver id, as the driver filter lists it
    assert cells == [LAVAPIPE, "lavapipe", "upload", "mapped", "type0 HV", "64MiB", "3 ms",
                     "20.8 GiB/s", "", "0.83", "6.67×"]  # fmt: skip
    assert "best mapped upload ≥ 80% of memset: 83%, type0 HV" in page


def test_the_printed_summary_has_grids_imports_and_targets() -> None:
    imports = (
        Figure(
            group="import", path="fresh", variant="opaque-fd", size=4 * MiB, median_s=5e-5, iqr_s=0, rounds=9
        ),
        Figure(
            group="import", path="cached", variant="opaque-fd", size=4 * MiB, median_s=1e-6, iqr_s=0, rounds=9
        ),
    )
    run = a_run()
    lines = render_summary(replace(run, figures=run.figures + imports))
    text = "\n".join(lines)
    assert lines[0].startswith("vkzc bench · llvmpipe (LLVM 15.0.6, 256 bits) · llvmpipe 22.3.6 · host")
    assert "upload mapped type0 HV" in text
    grid = lines[lines.index(next(line for line in lines if line.startswith("× staged"))) + 1]
    assert grid.split()[-1] == "6.67×"
    assert not any(line.startswith("× memcpy") for line in lines)  # no memcpy figure, no grid of dashes
    cached = next(line for line in lines if line.startswith("  cached"))
    assert cached.split() == ["cached", "opaque-fd", "4MiB", "1", "µs", "50.00×", "fresh"]
    assert "  ✓ best mapped upload ≥ 80% of memset: 83%, type0 HV" in text


def test_ratios_keep_two_digits_however_small() -> None:
    assert (fraction(0.8312), fraction(0.00075), fraction(None)) == ("0.83", "0.00075", "—")
    assert (speedup(186.6), speedup(0.0021)) == ("186.60×", "0.0021×")


def test_noisy_figures_are_marked() -> None:
    run = a_run()
    noisy = tuple(replace(f, iqr_s=f.median_s / 2) for f in run.figures)
    lines = render_summary(replace(run, figures=noisy))
    memset = next(line for line in lines if line.startswith("limit memset"))
    assert memset.endswith("~")
