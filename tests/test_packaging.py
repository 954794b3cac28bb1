"""The packaging files validate with the tools distributions use."""

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"
needs = lambda tool: pytest.mark.skipif(shutil.which(tool) is None and not os.environ.get("CI"),  # noqa: E731
                                        reason=f"{tool} not installed")


@needs("desktop-file-validate")
def test_desktop_file_validates():
    result = subprocess.run(["desktop-file-validate", str(LINUX / "io.github.photocap.Photocap.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@needs("appstreamcli")
def test_metainfo_validates():
    result = subprocess.run(["appstreamcli", "validate", "--no-net",
                             str(LINUX / "io.github.photocap.Photocap.metainfo.xml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_unit_runs_the_daemon():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(ROOT / "packaging" / "systemd" / "photocap.service")
    assert unit["Service"]["ExecStart"].endswith("photocap watch")
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert unit["Install"]["WantedBy"] == "default.target"


def test_pyinstaller_spec_is_valid_python_with_every_os_branch():
    source = (ROOT / "packaging" / "photocap.spec").read_text()
    compile(source, "photocap.spec", "exec")
    for branch in ('sys.platform == "darwin"', 'sys.platform == "win32"', "BUNDLE(", "COLLECT("):
        assert branch in source
