"""The CX report in a real browser: headless Chromium (Debian's package, installed by .ci/run)
renders the page; a probe script reports, in the rendered DOM, every section and plot, and how
the Arabic and Persian comments are laid out (computed direction, first letter right of the
last). The screenshot is kept in $CXLOOP_TEST_ARTIFACTS (printed by .ci/run), else tmp."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cxloop.report import write_cx_report
from cxloop.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from report_warehouse import PLOTS, RESPONSES, SECTIONS, write_report_warehouse  # noqa: E402

PROBE = """
<script>
(() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  const letters = (el) => {  // rectangles of the first and the last letter of the comment
    const text = el.firstChild, range = document.createRange();
    range.setStart(text, 0); range.setEnd(text, 1); const first = range.getBoundingClientRect();
    const n = text.textContent.length;
    range.setStart(text, n - 1); range.setEnd(text, n); const last = range.getBoundingClientRect();
    return {first_x: first.x, last_x: last.x, top_delta: Math.abs(first.y - last.y)};
  };
  const result = {
    sections: [...document.querySelectorAll('section[data-section]')].map(s => ({
      id: s.dataset.section, box: box(s), noData: !!s.querySelector('.no-data')})),
    plots: [...document.querySelectorAll('figure[data-plot]')].map(f => ({
      id: f.dataset.plot, box: box(f.querySelector('svg')),
      marks: f.querySelectorAll('svg path, svg rect, svg use').length})),
    comments: [...document.querySelectorAll('blockquote.comment')].map(c => ({
      lang: c.lang, dir: c.getAttribute('dir'), direction: getComputedStyle(c).direction,
      text: c.firstChild.textContent, box: box(c), ...letters(c)})),
  };
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = JSON.stringify(result); document.body.appendChild(out);
})();
</script>
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CXLOOP_REQUIRE_CHROMIUM"):
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
    pytest.skip("chromium is not installed (apt-get install chromium fonts-noto-core)")


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1100,5200",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CXLOOP_TEST_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_chromium_renders_every_section_plot_and_rtl_comment(
    cx_home: Path, tmp_path: Path, artifacts: Path
) -> None:
    paths = Settings().paths.ensure()
    write_report_warehouse(paths.warehouse)
    page = Path(write_cx_report(paths, None)["path"])

    shot = artifacts / "cx-report.png"
    run_chromium(page, tmp_path / "profile-shot", f"--screenshot={shot}")
    width, height = png_size(shot)
    assert (width, height) == (1100, 5200) and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")

    probed = tmp_path / "probed.html"
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = run_chromium(probed, tmp_path / "profile-dom", "--dump-dom").stdout
    (artifacts / "cx-report.dom.html").write_text(dom, encoding="utf-8")
    [raw] = re.findall(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    probe = json.loads(html.unescape(raw))

    sections = {s["id"]: s for s in probe["sections"]}
    assert list(sections) == list(SECTIONS)
    assert all(not s["noData"] and s["box"]["height"] > 50 for s in sections.values())
    plots = {p["id"]: p for p in probe["plots"]}
    assert set(plots) == set(PLOTS)
    for plot in plots.values():  # drawn, with a size, and with marks in it
        assert plot["box"]["width"] > 300 and plot["box"]["height"] > 100, plot
        assert plot["marks"] > 5, plot

    expected = {lang: text for _, _, _, _, _, text, lang in RESPONSES if lang in ("ar", "fa")}
    rtl = [c for c in probe["comments"] if c["lang"] in ("ar", "fa")]
    assert {c["lang"] for c in rtl} == {"ar", "fa"}
    for comment in rtl:
        assert comment["text"] == expected[comment["lang"]]  # decoded as written: no mojibake
        assert comment["dir"] == "rtl" and comment["direction"] == "rtl"
        assert comment["top_delta"] < 2  # one line, so x order is reading order
        assert comment["first_x"] > comment["last_x"], comment  # laid out right to left
    english = [c for c in probe["comments"] if c["lang"] == "en"]
    assert english and all(c["direction"] == "ltr" and c["first_x"] < c["last_x"] for c in english)


def test_chromium_renders_the_empty_report(cx_home: Path, tmp_path: Path, artifacts: Path) -> None:
    page = Path(write_cx_report(Settings().paths.ensure(), None)["path"])
    shot = artifacts / "cx-report-empty.png"
    run_chromium(page, tmp_path / "profile", f"--screenshot={shot}")
    assert png_size(shot) == (1100, 5200)
    dom = run_chromium(page, tmp_path / "profile", "--dump-dom").stdout
    assert dom.count("No data yet") == len(SECTIONS) and "<svg" not in dom
