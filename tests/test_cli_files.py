"""`-o FILE` as `cp` and compilers write it (calc/files.py), signals during a run (calc/cli.py),
and spec paths that are not files.

In-process through `calc.cli.main` where that is faithful; real subprocesses for signals (the
test hook FLOPCALC_TEST_PAUSE_BEFORE_RENAME makes the writer wait with its temporary file
complete, so the signal lands at that exact point, not after a guessed delay) and for
permissions (as root, the unprivileged user `nobody`, since root may write any file).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from calc.cli import main
PAUSE_HOOK = "FLOPCALC_TEST_PAUSE_BEFORE_RENAME"  # calc.files.PAUSE_HOOK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NET = "name: tiny\ninput: [3, 8, 8]\nlayers:\n  - {type: conv, name: conv1, K: 3, Cout: 4}\n"
TEMP = re.compile(r"\.(.+)\.calc-[0-9a-f]{8}\.tmp")
"""What a temporary output file is called: `.FILE.calc-XXXXXXXX.tmp`, next to FILE."""


def run(capsys, argv):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def usage_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err.rstrip("\n")


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(NET)
    return path


def report_text(capsys, spec) -> str:
    code, out, err = run(capsys, ["report", spec])
    assert code == 0, err
    return out


# -- never over an input -----------------------------------------------------------------------


def _same_as_spec(spec: Path, how: str) -> Path:
    if how == "itself":
        return spec
    if how == "relative":
        return Path(os.path.relpath(spec))
    if how == "dot-dot":
        return spec.parent / ".." / spec.parent.name / spec.name
    other = spec.parent / f"{how}.yaml"
    if how == "symlink":
        other.symlink_to(spec.name)
    else:
        os.link(spec, other)
    return other


@pytest.mark.parametrize("how", ["itself", "relative", "dot-dot", "symlink", "hardlink"])
@pytest.mark.parametrize("command", [["report"], ["compare", "--conventions", "exact"]])
def test_output_over_the_spec_is_refused(capsys, spec, how, command):
    """`calc report s.yaml -o s.yaml` used to replace the spec with its report."""
    out_path = _same_as_spec(spec, how)
    before = sorted(os.listdir(spec.parent))
    code, out, err = run(capsys, [command[0], spec, *command[1:], "-o", out_path])
    assert code == 2 and out == ""
    alias = "" if how in ("itself", "dot-dot") else f"{spec}, "  # the input named when named otherwise
    assert usage_line(err) == (f"error: cannot write {out_path}: it is {alias}an input of this command "
                               "(expected an output file other than the inputs)")
    assert spec.read_text() == NET and sorted(os.listdir(spec.parent)) == before


def test_output_over_the_claims_file_is_refused(capsys, tmp_path):
    claims = tmp_path / "claims.yaml"
    text = (Path(ROOT) / "specs" / "claims" / "seeds.yaml").read_text()
    claims.write_text(text)
    code, out, err = run(capsys, ["check", "--claims", claims, "-o", claims])
    assert code == 2 and "an input of this command" in usage_line(err)
    assert claims.read_text() == text


def test_output_next_to_the_spec_is_fine(capsys, spec):
    """The refusal is about the same file, not the same folder or a similar name."""
    target = spec.parent / "net.yaml.txt"
    code, out, err = run(capsys, ["report", spec, "-o", target])
    assert code == 0 and err == "" and target.read_text() == report_text(capsys, spec)


# -- symlinks, permission bits, umask ----------------------------------------------------------


def test_symlink_is_written_through(capsys, spec, tmp_path):
    """Like `cp x link`: the link's target gets the text, the link stays a link."""
    real = tmp_path / "sub" / "real.txt"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    code, out, err = run(capsys, ["report", spec, "-o", link])
    assert code == 0 and err == ""
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == report_text(capsys, spec)
    assert os.listdir(real.parent) == ["real.txt"]  # the temporary file was next to the target


def test_dangling_symlink_creates_its_target(capsys, spec, tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to("made.txt")
    code, out, err = run(capsys, ["report", spec, "-o", link])
    assert code == 0 and err == ""
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == report_text(capsys, spec)


def test_symlink_loop_is_one_line(capsys, spec, tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    code, out, err = run(capsys, ["report", spec, "-o", tmp_path / "a"])
    assert code == 2 and usage_line(err).startswith(f"error: cannot write {tmp_path / 'a'}: too many levels")


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o640, 0o755])
def test_existing_file_keeps_its_permission_bits(capsys, spec, tmp_path, mode):
    """`-o` used to leave every file at 0600 (mkstemp's mode) whatever it was before."""
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    target.chmod(mode)
    code, out, err = run(capsys, ["report", spec, "-o", target])
    assert code == 0 and err == ""
    assert stat.S_IMODE(target.stat().st_mode) == mode and target.read_text() == report_text(capsys, spec)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_new_file_mode_follows_the_umask(capsys, spec, tmp_path, umask):
    """A new file gets 0666 & ~umask, as from `cp` or a shell redirection (not 0600)."""
    target = tmp_path / "new.txt"
    old = os.umask(umask)
    try:
        code, out, err = run(capsys, ["report", spec, "-o", target])
    finally:
        os.umask(old)
    assert code == 0 and err == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(os.geteuid() != 0, reason="root only: root may write a read-only file, as with cp")
def test_root_writes_a_read_only_file_keeping_its_bits(capsys, spec, tmp_path):
    target = tmp_path / "ro.txt"
    target.write_text("old\n")
    target.chmod(0o444)
    code, out, err = run(capsys, ["report", spec, "-o", target])
    assert code == 0 and err == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o444 and target.read_text() == report_text(capsys, spec)


def _without_dac_override() -> None:  # pragma: no cover - runs in the child
    """Root without CAP_DAC_OVERRIDE (dropped from the bounding set, hence from what the exec'd
    interpreter gets): permission bits bind it as they bind any user."""
    import ctypes

    PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1
    if ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_bound_by_permissions(argv: list[str], cwd: Path) -> tuple[int, str]:
    """`python -m calc ARGV` in `cwd`, bound by permission bits (as root: without
    CAP_DAC_OVERRIDE); returns the exit status and stderr."""
    kwargs = {"preexec_fn": _without_dac_override} if os.geteuid() == 0 else {}
    try:
        result = subprocess.run([sys.executable, "-m", "calc", *argv], cwd=cwd, capture_output=True, text=True,
                                timeout=60, env=dict(os.environ, PYTHONPATH=ROOT), **kwargs)
    except subprocess.SubprocessError as exc:  # pragma: no cover
        pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {exc}")
    return result.returncode, result.stderr


def unprivileged(argv: list[str], files: dict[str, tuple[str, int]], writable_folder: bool = True):
    """`run_bound_by_permissions` in a fresh folder holding `files` (name -> (text, mode)),
    writable or not.  Returns the exit status, stderr, and the folder's files afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="calc-test-"))
    try:
        for name, (text, mode) in files.items():
            (folder / name).write_text(text)
            (folder / name).chmod(mode)
        folder.chmod(0o755 if writable_folder else 0o555)
        code, err = run_bound_by_permissions(argv, folder)
        return code, err, {p.name: p.read_text() for p in folder.iterdir()}
    finally:
        folder.chmod(0o700)
        shutil.rmtree(folder)


def test_read_only_file_is_refused():
    """Like `cp`: a file the user may not write is not replaced (the rename used to replace it)."""
    code, err, after = unprivileged(["report", "net.yaml", "-o", "ro.txt"],
                                    {"net.yaml": (NET, 0o644), "ro.txt": ("old\n", 0o444)})
    assert code == 2, err
    assert usage_line(err) == "error: cannot write ro.txt: permission denied (expected a file you may write)"
    assert after == {"net.yaml": NET, "ro.txt": "old\n"}


def test_read_only_folder_is_refused():
    """The file is writable, but the temporary file cannot be made next to it: refused (rather
    than written in place, which would give up atomicity)."""
    code, err, after = unprivileged(["report", "net.yaml", "-o", "out.txt"],
                                    {"net.yaml": (NET, 0o644), "out.txt": ("old\n", 0o666)}, writable_folder=False)
    assert code == 2 and usage_line(err) == (
        "error: cannot write out.txt: its folder is not writable (the text is written to a temporary file "
        "there, then renamed) (expected a writable folder)")
    assert after == {"net.yaml": NET, "out.txt": "old\n"}


def test_output_onto_a_folder_or_a_device(capsys, spec, tmp_path):
    code, out, err = run(capsys, ["report", spec, "-o", tmp_path])
    assert code == 2 and usage_line(err) == f"error: cannot write {tmp_path}: is a folder (expected a file name)"
    code, out, err = run(capsys, ["report", spec, "-o", f"{tmp_path}/new/"])
    assert code == 2 and usage_line(err) == f"error: cannot write {tmp_path}/new/: names a folder (expected a file name)"
    code, out, err = run(capsys, ["report", spec, "-o", os.devnull])
    assert code == 0 and err == ""
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # written to, not replaced by a file


def test_output_checked_before_the_work(capsys, tmp_path):
    """An unwritable -o is reported before the spec is read (here: there is no spec at all)."""
    code, out, err = run(capsys, ["report", tmp_path / "nope.yaml", "-o", tmp_path / "no" / "x.txt"])
    assert code == 2 and "no such folder" in usage_line(err)


# -- signals -----------------------------------------------------------------------------------


def _default_signals() -> None:  # pragma: no cover - runs in the child
    """A child of a background job inherits SIGINT ignored; the test wants the user's view."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def interrupt_while_writing(argv: list[str], cwd: Path, signum: int) -> tuple[int, str, str]:
    """Run `python -m calc ARGV`, send `signum` when its temporary output file is complete and
    not yet renamed; return (exit status, stderr, the temporary file's path)."""
    marker = Path(tempfile.mkdtemp(prefix="calc-pause-")) / "paused"
    env = dict(os.environ, PYTHONPATH=ROOT, **{PAUSE_HOOK: str(marker)})
    proc = subprocess.Popen([sys.executable, "-m", "calc", *argv], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_signals)
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text().endswith(".tmp")):
            assert proc.poll() is None, f"finished without pausing: {proc.communicate()}"
            assert time.monotonic() < deadline, "the writer never paused"
            time.sleep(0.005)
        tmp = marker.read_text()
        assert os.path.exists(tmp)
        proc.send_signal(signum)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # Seen once in CI with five test runs sharing two cores: the child, paused in
            # time.sleep, still running 30 s after the signal.  Send it once more (a handled
            # first signal would have ended the run: the handler ignores a second one); a child
            # that ignores both still fails the test.
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(marker.parent)
    return proc.returncode, err, tmp


@pytest.mark.parametrize("signum, code, name", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_while_writing_cleans_up(tmp_path, signum, code, name):
    """SIGINT used to print a 20-40-line traceback, SIGTERM to leave `.calc-XXXX`; both now
    remove the temporary file, leave the target as it was, print one line, exit 128 + signal."""
    (tmp_path / "net.yaml").write_text(NET)
    (tmp_path / "out.txt").write_text("old\n")
    got, err, tmp = interrupt_while_writing(["report", "net.yaml", "-o", "out.txt"], tmp_path, signum)
    assert TEMP.fullmatch(os.path.basename(tmp)).group(1) == "out.txt"
    assert (got, err) == (code, f"calc: interrupted by {name}\n")
    assert sorted(os.listdir(tmp_path)) == ["net.yaml", "out.txt"]
    assert (tmp_path / "out.txt").read_text() == "old\n"


def test_sigkill_leaves_a_named_complete_temporary_file(tmp_path):
    """SIGKILL cannot be caught: what it leaves is named after its target and hidden, and the
    target is untouched; a later run writes the target normally."""
    (tmp_path / "net.yaml").write_text(NET)
    got, err, tmp = interrupt_while_writing(["report", "net.yaml", "-o", "out.txt"], tmp_path, signal.SIGKILL)
    assert got == -signal.SIGKILL
    left = sorted(set(os.listdir(tmp_path)) - {"net.yaml"})
    assert left == [os.path.basename(tmp)] and TEMP.fullmatch(left[0]).group(1) == "out.txt"
    result = subprocess.run([sys.executable, "-m", "calc", "report", "net.yaml", "-o", "out.txt"], cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and (tmp_path / "out.txt").read_text() == Path(tmp).read_text()


def test_interrupt_outside_writing_is_one_line(capsys, monkeypatch, spec):
    import calc.network

    def slow(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(calc.network, "load_network", slow)
    try:
        code, out, err = run(capsys, ["report", spec])
    except KeyboardInterrupt:
        pytest.fail("main let KeyboardInterrupt through: a traceback at the command line")
    assert (code, out, err) == (130, "", "calc: interrupted by SIGINT\n")


def test_main_restores_signal_handlers(capsys, spec):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    run(capsys, ["report", spec])
    assert {s: signal.getsignal(s) for s in before} == before


# -- spec paths that are not files -------------------------------------------------------------


COMMANDS = [["report"], ["compare"], ["check", "--claims"]]


@pytest.mark.parametrize("kind", ["folder", "dev-zero"])
@pytest.mark.parametrize("command", COMMANDS)
def test_spec_that_is_not_a_file_does_not_hang(tmp_path, kind, command):
    """End to end, as a user runs it: one line, exit 1, at once."""
    if kind == "folder":
        path = tmp_path / "specs"
        path.mkdir()
    else:
        path = Path("/dev/zero")
    start = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", "calc", *command, str(path)], cwd=tmp_path,
                                env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"calc {' '.join(command)} {kind} hangs")
    took = time.monotonic() - start
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"{path}:") and "Traceback" not in result.stderr
    assert took < 5


@pytest.mark.parametrize("command", COMMANDS)
def test_spec_fifo_without_writer_is_refused(capsys, monkeypatch, tmp_path, command):
    """A FIFO nobody writes to is given up on after calc.yamlload.STREAM_WAIT_S (2 s; 0.2 s
    here, to keep the test fast) instead of waiting for ever."""
    import calc.yamlload

    monkeypatch.setattr(calc.yamlload, "STREAM_WAIT_S", 0.2)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    start = time.monotonic()
    code, out, err = run(capsys, [*command, fifo])
    assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith(f"{fifo}:")
    assert time.monotonic() - start < 3


def test_spec_from_a_fifo_with_a_writer(tmp_path):
    """`calc report <(generate-spec)`: a FIFO that a program writes to is read like a file."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "calc", "report", str(fifo), "--format", "csv"], cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # open the writing end once calc has opened the reading end (never blocks)
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: no reader yet
                assert proc.poll() is None and time.monotonic() < deadline, "calc never opened the FIFO"
                time.sleep(0.005)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "w") as fh:
            fh.write(NET)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.splitlines()[-1].startswith("total,")
