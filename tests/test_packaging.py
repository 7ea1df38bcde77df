"""A wheel of cxloop installs into a fresh environment and runs the demo with the checkout gone.

The wheel is built from a copy of the checkout, which is then deleted; the new environment gets
cxloop from the wheel alone (its third-party dependencies are borrowed from this test's
environment through a path file, since installing them again would take minutes). The demo then
runs from an unrelated folder: the dbt project, playbook specs, templates and suites must all come
from the installed package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_checkout(dest: Path) -> None:
    """Every tracked (or new, not ignored) file of the checkout, as it is in the work tree."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def fresh_env(tmp_path: Path) -> dict[str, str]:
    """The process environment with nothing that points back at the checkout or a Prefect API."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "CXLOOP_", "PYTHON", "VIRTUAL_ENV", "DBT_"))
    }
    env.update(
        CXLOOP_HOME=str(tmp_path / "home"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        GX_ANALYTICS_ENABLED="false",
    )
    return env


def test_wheel_runs_the_demo_from_another_folder_without_the_checkout(tmp_path: Path) -> None:
    checkout, wheels, venv = tmp_path / "checkout", tmp_path / "wheels", tmp_path / "venv"
    copy_checkout(checkout)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(wheels), str(checkout)],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(checkout)
    (wheel,) = wheels.glob("cxloop-*.whl")

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies, not cxloop: a plain path entry does not run the editable-install hook
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q"]
        + [str(wheel)],
        check=True,
        capture_output=True,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = fresh_env(tmp_path)
    probe = subprocess.run(
        [str(python), "-c", "import cxloop, importlib.util as u; print(cxloop.__file__); "
         "print([m for m in ('flows', 'models', 'expectations', 'playbooks', 'benchmarks') "
         "if u.find_spec(m)])"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()  # fmt: skip
    assert probe[0].startswith(str(site)), probe
    assert probe[1] == "[]", f"generic top-level names installed: {probe[1]}"

    demo = subprocess.run(
        [str(venv / "bin" / "cxloop"), "demo", "--scale", "0.1", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    home = tmp_path / "home"
    assert (home / "warehouse" / "cx.duckdb").is_file()
    assert (home / "bi" / "cx.duckdb").is_file()
    assert '"status": "ok"' in demo.stdout
    assert not list(elsewhere.iterdir()), "the demo wrote into the folder it was started from"
