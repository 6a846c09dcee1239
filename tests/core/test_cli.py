"""The httpd-like command line: -t, -S, -M, -V, -k, -h, -v, --print-default-config."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from support.configs import HEADER_LINES, write

from fastcore.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_t_syntax_ok(tmp_path, capsys):
    path = write(tmp_path, "KeepAlive On\n")
    assert run(capsys, "-t", "-f", str(path)) == (0, "Syntax OK\n", "")


def test_t_error_on_stderr_exit_1(tmp_path, capsys):
    path = write(tmp_path, "Bogus 1\n")
    rc, out, err = run(capsys, "-t", "-f", str(path))
    assert rc == 1 and out == ""
    assert err.startswith("AH00526: Syntax error on line ") and f"of {path}:" in err
    assert "Invalid command 'Bogus'" in err and "Traceback" not in err


def test_missing_file_and_bad_folder_are_clean_errors(tmp_path, capsys):
    rc, out, err = run(capsys, "-t", "-f", str(tmp_path / "nope.conf"))
    assert rc == 1 and "Could not open configuration file" in err
    rc, out, err = run(capsys, "-t", str(tmp_path / "not-a-folder"))
    assert rc == 1 and "not a folder" in err


def test_D_C_c_reach_the_parser(tmp_path, capsys):
    path = write(tmp_path, "<IfDefine !X>\n  Bogus\n</IfDefine>\n")
    assert run(capsys, "-t", "-DX", "-f", str(path))[0] == 0
    assert run(capsys, "-t", "-f", str(path))[0] == 1
    rc, _out, err = run(capsys, "-t", "-D", "X", "-c", "Sparkle 1", "-f", str(path))
    assert rc == 1 and "of -c:" in err
    assert run(capsys, "-t", "-D", "X", "-C", "Timeout 5", "-f", str(path))[0] == 0


def test_S_lists_vhosts_listeners_and_settings(tmp_path, capsys):
    path = write(tmp_path, """Listen [::1]:18081
Mutex fcntl mpm-accept
<VirtualHost *:18080>
  ServerName a.example
</VirtualHost>
<VirtualHost *:18080>
  ServerName b.example
  ServerAlias c.example
</VirtualHost>
<VirtualHost 127.0.0.1:18081>
  ServerName d.example
</VirtualHost>
""")
    path.write_text(path.read_text().replace("mpm_event_module modules/mod_mpm_event.so",
                                             "mpm_worker_module modules/mod_mpm_worker.so"))
    rc, out, _err = run(capsys, "-S", "-f", str(path))
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "VirtualHost configuration:"
    assert "*:18080                is a NameVirtualHost" in lines
    assert f"         default server a.example ({path}:{HEADER_LINES + 3})" in lines
    assert f"         port 18080 namevhost b.example ({path}:{HEADER_LINES + 6})" in lines
    assert "                 alias c.example" in lines
    assert f"127.0.0.1:18081        d.example ({path}:{HEADER_LINES + 10})" in lines
    assert f'ServerRoot: "{tmp_path}"' in lines
    assert f'PidFile: "{tmp_path}/httpd.pid"' in lines
    assert "Listen: 127.0.0.1:18080" in lines and "Listen: [::1]:18081" in lines
    assert any(ln.startswith("Mutex mpm-accept:") and "mechanism=fcntl" in ln for ln in lines)
    assert "MPM: worker" in lines
    assert any(ln.startswith("User: name=") for ln in lines)


def test_M_apache_format(tmp_path, capsys):
    rc, out, _ = run(capsys, "-M", "-f", str(write(tmp_path, "")))
    lines = out.splitlines()
    assert rc == 0 and lines[0] == "Loaded Modules:"
    assert " core_module (static)" in lines and " mpm_event_module (shared)" in lines
    assert " dir_module (shared)" in lines and " status_module (shared)" not in lines


def test_V_build_settings(capsys):
    rc, out, _ = run(capsys, "-V")
    assert rc == 0
    assert out.startswith("Server version: fastcore/")
    assert "Server MPM:     event" in out
    from fastcore._ext import load

    assert f'FC_ATOMICS_MODE="{load("scoreboard").ATOMICS_MODE}' in out
    assert f'Atomics:        {load("scoreboard").ATOMICS_MODE} (' in out
    acc = load("accept")
    assert f'FC_DEFAULT_ACCEPT_MUTEX="{acc.DEFAULT_MECHANISM}"' in out
    assert "FC_CYTHON_VERSION" in out and "FC_CC_VERSION" in out
    assert "HAS_SENDFILE" in out and "Implementation:" in out


def test_v_h_and_default_config(tmp_path, capsys):
    assert run(capsys, "-v")[1].startswith("Server version: fastcore/")
    rc, out, _ = run(capsys, "-h")
    assert rc == 0 and "-f FILE" in out and "--print-default-config" in out
    rc, out, _ = run(capsys, "--print-default-config", "-p", "9123", str(tmp_path))
    assert rc == 0 and "Listen 127.0.0.1:9123" in out and f'DocumentRoot "{tmp_path}"' in out
    conf = tmp_path / "printed.conf"
    conf.write_text(out)
    assert run(capsys, "-t", "-f", str(conf))[:2] == (0, "Syntax OK\n")


def test_bad_option_and_bad_log_level(capsys):
    assert main(["--no-such-option"]) == 1
    rc, _out, err = run(capsys, "-t", "-e", "loud")
    assert rc == 1 and "unknown LogLevel" in err


@pytest.mark.parametrize("action, sig", [("graceful", signal.SIGUSR1),
                                         ("restart", signal.SIGHUP),
                                         ("graceful-stop", signal.SIGWINCH),
                                         ("stop", signal.SIGTERM)])
def test_k_signals_the_pidfile_process(tmp_path, capsys, action, sig):
    marker = tmp_path / "got"
    code = ("import signal,sys,time\n"
            f"def h(n,f): open({str(marker)!r},'w').write(str(n)); sys.exit(0)\n"
            f"signal.signal({int(sig)}, h)\n"
            f"open({str(tmp_path / 'ready')!r},'w').close()\n"
            "time.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        (tmp_path / "httpd.pid").write_text(f"{proc.pid}\n")
        rc, _out, _err = run(capsys, "-k", action, "-f", str(write(tmp_path, "")))
        assert rc == 0
        proc.wait(timeout=10)
        assert marker.read_text() == str(int(sig))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_k_stop_without_server(tmp_path, capsys):
    rc, _out, err = run(capsys, "-k", "stop", "-f", str(write(tmp_path, "")))
    assert rc == 0 and "not running" in err
    assert not os.path.exists(tmp_path / "httpd.pid")


def test_E_sends_startup_errors_to_a_file(tmp_path, capsys):
    path = write(tmp_path, "Bogus 1\n")
    log = tmp_path / "startup.log"
    rc, out, err = run(capsys, "-t", "-E", str(log), "-f", str(path))
    assert (rc, out, err) == (1, "", "")
    assert "Invalid command 'Bogus'" in log.read_text()


def test_t_with_dump_defines_is_S_and_M(tmp_path, capsys):
    path = str(write(tmp_path, ""))
    rc, out, err = run(capsys, "-t", "-DDUMP_MODULES", "-f", path)
    assert rc == 0 and out.startswith("Loaded Modules:\n") and err == "Syntax OK\n"
    rc, out, _ = run(capsys, "-t", "-D", "DUMP_VHOSTS", "-f", path)
    assert rc == 0 and out.startswith("VirtualHost configuration:\n")
