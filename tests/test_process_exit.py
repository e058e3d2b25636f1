"""Ending the console script right after its files are flushed, and only there."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lossbench import cli
from tests.conftest import REPO

SCRIPT = textwrap.dedent(
    """
    import atexit, logging, sys
    from lossbench import cli

    handler = logging.FileHandler(sys.argv[1] + ".log", delay=False)
    logging.getLogger("t").addHandler(handler)
    logging.getLogger("t").warning("logged")
    atexit.register(lambda: open(sys.argv[1] + ".atexit", "w").write("ran"))
    sys.stdout.write("x" * 100000 + "END")  # buffered: a pipe
    sys.stderr.write("err")

    class Teardown:  # its __del__ runs only in the interpreter's own shutdown
        def __del__(self, open=open, path=sys.argv[1] + ".teardown"):
            open(path, "w").write("ran")

    keep = Teardown()
    cli.end_process(int(sys.argv[2]))
    print("not reached")
    """
)


@pytest.mark.parametrize("code", [0, 3])
@pytest.mark.parametrize("fast", ["1", "0"])
def test_end_process_flushes_everything_and_keeps_the_code(tmp_path, code, fast):
    base = str(tmp_path / "out")
    env = {"PATH": "/usr/bin:/bin", cli.FAST_EXIT_ENV: fast}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, base, str(code)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == code
    assert proc.stdout == "x" * 100000 + "END" and proc.stderr == "err"
    assert Path(base + ".log").read_text() == "logged\n"
    assert Path(base + ".atexit").read_text() == "ran"
    assert Path(base + ".teardown").exists() == (fast == "0")  # skipped only when fast


def test_switch_and_guards(monkeypatch):
    monkeypatch.setenv(cli.FAST_EXIT_ENV, "0")
    assert not cli.fast_exit_allowed()
    with pytest.raises(SystemExit) as exc:
        cli.end_process(4)
    assert exc.value.code == 4
    monkeypatch.setenv(cli.FAST_EXIT_ENV, "1")
    monkeypatch.setattr(cli, "_children", lambda: ["123"])  # a launcher's worker still alive
    assert not cli.fast_exit_allowed()
    monkeypatch.setattr(cli, "_children", lambda: [])
    assert cli.fast_exit_allowed()


def test_library_calls_never_end_the_process(monkeypatch, capsys):
    def forbidden(code):
        raise AssertionError("os._exit called outside the console script")

    monkeypatch.setattr(cli.os, "_exit", forbidden)
    assert cli.main(["--version"]) == 0
    assert cli.main(["list"]) == 0
    assert cli.main(["nope"]) == 2
    capsys.readouterr()


def test_console_turns_system_exit_into_the_exit_code(monkeypatch):
    ended = []
    monkeypatch.setattr(cli, "end_process", ended.append)
    for raised, code in ((None, 0), (2, 2), ("a message", 1)):

        def main(raised=raised):
            raise SystemExit(raised)

        monkeypatch.setattr(cli, "main", main)
        cli.console()
        assert ended[-1] == code
