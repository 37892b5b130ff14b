"""The command line answers --help and --version, fast and without importing heavy libraries."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nwb_neurpir import __version__
from nwb_neurpir.cli.app import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_m_nwb_neurpir_runs_the_command() -> None:
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout) == (0, f"neurpir {__version__}\n"), done.stderr


COMMANDS = {"demo", "simulate", "inspect", "fetch", "train", "embed", "annotate", "predict", "evaluate", "plot",
            "export"}


def test_the_app_has_exactly_the_workflow_commands() -> None:
    assert set(typer.main.get_command(app).commands) == COMMANDS
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    rows = result.output.split("Commands:", 1)[1].splitlines()
    assert {row.split()[0] for row in rows if row.startswith("  ") and not row.startswith("   ")} == COMMANDS


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from nwb_neurpir.cli.app import app; "
        "heavy = [m for m in ('torch', 'cebra', 'umap', 'pynwb', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_choices_come_from_the_registries_which_load_only_when_a_value_is_checked(tmp_path) -> None:  # noqa: ANN001
    from nwb_neurpir.cli.options import RegistryChoice
    from nwb_neurpir.evaluation.splits import SPLITS
    from nwb_neurpir.simulate import PRESETS

    assert RegistryChoice("nwb_neurpir.simulate.population:PRESETS", "--preset").names() == tuple(PRESETS)
    assert RegistryChoice("nwb_neurpir.evaluation.splits:SPLITS", "--split").names() == SPLITS
    assert RegistryChoice("nwb_neurpir.simulate.integrator:Backend", "--backend").names() == ("auto", "numba", "numpy")
    bad = runner.invoke(app, ["simulate", str(tmp_path), "--preset", "huge"])
    assert bad.exit_code == 1
    assert bad.output == f"error: --preset must be one of {', '.join(PRESETS)}, not 'huge'\n"
    code = ("import sys; from nwb_neurpir.cli.app import app; "
            "print(','.join(m for m in ('numpy', 'nwb_neurpir.simulate', 'nwb_neurpir.evaluation') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_progress_bars_default_to_on_only_on_a_terminal_and_follow_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import pty

    from nwb_neurpir.cli.options import progress_default
    from nwb_neurpir.errors import NeurPIRError

    for name in ("NEURPIR_PROGRESS", "TQDM_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    leader, follower = pty.openpty()
    with open(leader, "rb") as _, open(follower, "w") as terminal, open(tmp_path / "job.log", "w") as log_file:
        monkeypatch.setattr(sys, "stderr", terminal)
        assert progress_default() is True
        monkeypatch.setenv("TQDM_DISABLE", "1")
        assert progress_default() is False
        monkeypatch.setenv("NEURPIR_PROGRESS", "1")  # ours decides over tqdm's
        assert progress_default() is True
        monkeypatch.setattr(sys, "stderr", log_file)
        assert progress_default() is True
        monkeypatch.setenv("NEURPIR_PROGRESS", "0")
        assert progress_default() is False
        monkeypatch.delenv("NEURPIR_PROGRESS")
        monkeypatch.delenv("TQDM_DISABLE")
        assert progress_default() is False
        monkeypatch.setenv("NEURPIR_PROGRESS", "yes")
        with pytest.raises(NeurPIRError, match="^NEURPIR_PROGRESS must be 1 or 0, not 'yes'$"):
            progress_default()


def test_an_os_error_names_its_files_or_else_what_the_command_writes() -> None:
    import errno

    from nwb_neurpir.cli.app import _os_error_line, _output_target

    full = OSError(errno.ENOSPC, "No space left on device")
    assert _os_error_line(full, _output_target({"out": Path("runs/model"), "sources": ["a.nwb"]})) == \
        "No space left on device (writing to runs/model)"
    in_place = {"output_dir": None, "sources": ["data/", "more.nwb"]}  # annotate or predict without --out
    assert _os_error_line(full, _output_target(in_place)) == "No space left on device (writing to data/ (and 1 more))"
    assert _output_target({"out": None, "sources": ["data/"]}) is None  # embed without --out writes nothing there
    assert _os_error_line(full, None) == "No space left on device"
    signed = {"output_dir": None, "sources": ["https://bucket.example/x.nwb?X-Amz-Signature=secret"]}
    assert "secret" not in _os_error_line(full, _output_target(signed))
    named = OSError(errno.ENOSPC, "No space left on device", "d/.s.nwb.neurpir-tmp-1.nwb")
    assert _os_error_line(named, "d") == "d/.s.nwb.neurpir-tmp-1.nwb: No space left on device"
    moved = OSError(errno.EXDEV, "Invalid cross-device link", "a.tmp", None, "b.nwb")
    assert _os_error_line(moved, None) == "a.tmp -> b.nwb: Invalid cross-device link"


def _without_cache_variables(home: Path, tmp: Path) -> dict[str, str]:
    """This environment with ``home`` as HOME, ``tmp`` as TMPDIR, and none of the cache variables."""
    from nwb_neurpir.cli.library_caches import CACHE_VARIABLES

    env = {key: value for key, value in os.environ.items() if key not in CACHE_VARIABLES}
    return env | {"HOME": str(home), "TMPDIR": str(tmp)}


def test_without_a_writable_home_the_commands_cache_in_a_private_folder_and_say_so_once(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")  # no one can create a folder below a file, root neither
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _without_cache_variables(tmp_path / "not-a-folder" / "home", tmp)
    done = subprocess.run([sys.executable, "-m", "nwb_neurpir.cli", "simulate", str(tmp_path / "sim"), "--preset",
                           "demo", "--animals", "1", "--neurons", "10", "--duration", "2", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]  # pynwb and numba (the simulator's cached kernel) found a cache
    private = tmp / f"neurpir-cache-{os.getuid()}"
    assert done.stderr.splitlines() == [
        f"warning: cannot write the cache folder {tmp_path}/not-a-folder/home/.cache: this run caches in {private} "
        "(XDG_CACHE_HOME, NUMBA_CACHE_DIR, MPLCONFIGDIR); set XDG_CACHE_HOME to a writable folder to keep a cache"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert (private / "pynwb-hdmf").is_dir() and any((private / "numba").iterdir())


def test_a_writable_home_or_the_users_own_variables_are_left_alone(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from nwb_neurpir.cli.library_caches import CACHE_VARIABLES, use_private_caches_if_needed

    (tmp_path / "file").write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert use_private_caches_if_needed() is None  # ~/.cache can be created
    assert "XDG_CACHE_HOME" not in os.environ
    monkeypatch.setenv("HOME", str(tmp_path / "file" / "home"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mine"))
    assert "(XDG_CACHE_HOME, NUMBA_CACHE_DIR);" in use_private_caches_if_needed()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "mine")
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / f"neurpir-cache-{os.getuid()}" / "numba")


def test_the_private_cache_folder_is_never_one_others_can_write(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from nwb_neurpir.cli.library_caches import private_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    usual = tmp_path / f"neurpir-cache-{os.getuid()}"
    with _umask(0o000):
        assert private_folder() == usual and stat.S_IMODE(usual.stat().st_mode) == 0o700
    usual.chmod(0o777)  # as if another user could have planted files (pynwb loads a pickle from its cache)
    fresh = private_folder()
    assert fresh != usual and fresh.parent == tmp_path and stat.S_IMODE(fresh.stat().st_mode) == 0o700
    usual.rmdir()
    usual.symlink_to(tmp_path / "elsewhere")
    assert private_folder() not in (usual, tmp_path / "elsewhere", fresh)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_that_lands_in_a_finaliser_is_not_lost(stop: signal.Signals) -> None:
    import threading

    from nwb_neurpir.cli.app import _StopSignals

    class Finalised:
        def __del__(self) -> None:
            signal.raise_signal(stop)  # its handler runs here, where Python ignores what it raises (h5py has many)

    handler, hook = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    with pytest.raises(KeyboardInterrupt), _StopSignals():
        Finalised()
        threading.Event().wait(30)  # the command's own work, where the stop must land (at once)
    assert signal.getsignal(signal.SIGTERM) == handler and sys.unraisablehook == hook  # given back
