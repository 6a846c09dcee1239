"""`fastcore -d DIR` sources DIR/envvars as Debian's apache2ctl does (fastcore.envvars):
the variables the script exports reach the configuration, the environment's own values
win, the run/socks/lock folders are made as apache2ctl's mkdir_chown makes them, and a
broken script stops the start with the shell's message."""
from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastcore import cli, envvars

ME = pwd.getpwuid(os.getuid()).pw_name

CONF = """LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
ErrorLog ${APACHE_LOG_DIR}/error.log
ServerName localhost
Listen 127.0.0.1:1
"""


def _envvars(base: Path, extra: str = "") -> str:
    return f"""unset HOME
if [ "${{APACHE_CONFDIR##/etc/apache2-}}" != "${{APACHE_CONFDIR}}" ] ; then
\tSUFFIX="-${{APACHE_CONFDIR##/etc/apache2-}}"
else
\tSUFFIX=
fi
export APACHE_RUN_USER={ME}
export APACHE_RUN_GROUP={ME}
export APACHE_PID_FILE={base}/run$SUFFIX/apache2.pid
export APACHE_RUN_DIR={base}/run$SUFFIX
export APACHE_LOCK_DIR={base}/lock$SUFFIX
export APACHE_LOG_DIR={base}/log$SUFFIX
export FC_TEST_CONFDIR_SEEN="$APACHE_CONFDIR"
{extra}"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    conf = tmp_path / "etc"
    conf.mkdir()
    (tmp_path / "log").mkdir()
    (conf / "envvars").write_text(_envvars(tmp_path))
    (conf / "apache2.conf").write_text(CONF)
    return conf


@pytest.fixture
def clean_environ() -> Iterator[None]:
    """os.environ without APACHE_* for main(), which sources into os.environ itself;
    restored afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("APACHE_", "FC_TEST_")):
            del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_apply_sources_and_creates_the_folders(site: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": "/root-home"}
    result = envvars.apply(str(site), env)
    assert result is not None and result.path == str(site / "envvars")
    base = site.parent
    assert env["APACHE_RUN_DIR"] == str(base / "run")
    assert env["APACHE_PID_FILE"] == str(base / "run/apache2.pid")
    assert env["FC_TEST_CONFDIR_SEEN"] == str(site)  # APACHE_CONFDIR, as apache2ctl sets it
    assert "APACHE_CONFDIR" not in env  # apache2ctl does not export it
    assert env["HOME"] == "/root-home"  # the script's `unset HOME` is its own business
    assert result.created == [str(base / "run"), str(base / "run/socks"), str(base / "lock")]
    for sub in ("run/socks", "lock"):
        st = os.stat(base / sub)
        assert st.st_mode & 0o777 == 0o755 and st.st_uid == os.getuid()
    again = envvars.apply(str(site), env)
    assert again is not None and again.created == [] and again.applied == {}


def test_the_environment_wins(site: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    env = {"PATH": os.environ["PATH"], "APACHE_RUN_DIR": str(mine)}
    result = envvars.apply(str(site), env)
    assert result is not None
    assert env["APACHE_RUN_DIR"] == str(mine) and "APACHE_RUN_DIR" not in result.applied
    assert (mine / "socks").is_dir()  # the folders follow the values in force
    assert env["APACHE_LOCK_DIR"] == str(tmp_path / "lock")


def test_suffix_of_a_second_instance(tmp_path: Path) -> None:
    """/etc/apache2-NAME: envvars' SUFFIX logic sees APACHE_CONFDIR as apache2ctl sets it."""
    conf = tmp_path / "etc" / "apache2-two"
    conf.mkdir(parents=True)
    env = {"PATH": os.environ["PATH"]}
    # the script matches the literal /etc/apache2- prefix; point it at our copy
    (conf / "envvars").write_text(_envvars(tmp_path).replace("/etc/apache2-",
                                                             f"{tmp_path}/etc/apache2-"))
    envvars.apply(str(conf), env)
    assert env["APACHE_RUN_DIR"] == str(tmp_path / "run-two")


def test_no_envvars_file_is_no_change(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"]}
    assert envvars.apply(str(tmp_path), env) is None and env == {"PATH": os.environ["PATH"]}
    assert envvars.apply(None, env) is None


def test_apache_envvars_names_another_file(site: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-envvars"
    other.write_text("export FC_TEST_OTHER=yes\n")
    env = {"PATH": os.environ["PATH"], "APACHE_ENVVARS": str(other)}
    envvars.apply(str(site), env)
    assert env["FC_TEST_OTHER"] == "yes" and "APACHE_RUN_DIR" not in env


def test_a_broken_script_stops_with_the_shell_message(site: Path) -> None:
    (site / "envvars").write_text("export A=1\nif then fi\n")
    with pytest.raises(envvars.EnvvarsError) as exc:
        envvars.apply(str(site), {"PATH": os.environ["PATH"]})
    text = str(exc.value)
    assert text.startswith(f"fastcore: sourcing {site}/envvars failed (status 2)")
    assert "Syntax error" in text or "syntax error" in text


def test_a_file_where_the_lock_folder_goes_is_apache2ctl_error(site: Path) -> None:
    """apache2ctl only makes a folder that is not there ([ ! -d ]); an existing folder
    is taken whoever owns it, a file in its place stops it."""
    (site.parent / "lock").write_text("not a folder")
    with pytest.raises(envvars.EnvvarsError) as exc:
        envvars.apply(str(site), {"PATH": os.environ["PATH"]})
    assert str(exc.value) == (f"{site.parent}/lock already exists but is not a directory "
                              f"owned by {ME}.\nPlease fix manually. Aborting.")


def test_an_existing_folder_is_taken_as_it_is(site: Path) -> None:
    (site.parent / "lock").mkdir(mode=0o700)
    result = envvars.apply(str(site), {"PATH": os.environ["PATH"]})
    assert result is not None and str(site.parent / "lock") not in result.created
    assert os.stat(site.parent / "lock").st_mode & 0o777 == 0o700


def test_cli_syntax_check_with_envvars(site: Path, clean_environ: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-d", str(site), "-f", "apache2.conf", "-t"]) == 0
    out, err = capsys.readouterr()
    assert out == "Syntax OK\n" and err == ""
    assert os.environ["APACHE_RUN_DIR"] == str(site.parent / "run")


def test_cli_without_envvars_warns_as_apache(site: Path, clean_environ: None,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """No variables: httpd's AH00111 warning, the text kept, then the read-time error of
    DefaultRuntimeDir (one line, as apache2 prints it)."""
    (site / "envvars").unlink()
    assert cli.main(["-d", str(site), "-f", "apache2.conf", "-t"]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2
    assert lines[0].endswith("] AH00111: Config variable ${APACHE_RUN_DIR} is not defined")
    assert "[core:warn]" in lines[0]
    assert lines[1] == (f"fastcore: Syntax error on line 2 of {site}/apache2.conf: "
                        "DefaultRuntimeDir must be a valid directory, absolute or relative "
                        "to ServerRoot")


def test_cli_reports_a_broken_envvars(site: Path, clean_environ: None,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (site / "envvars").write_text("exit 3\n")
    assert cli.main(["-d", str(site), "-f", "apache2.conf", "-t"]) == 1
    assert capsys.readouterr().err == f"fastcore: sourcing {site}/envvars failed (status 3)\n"


def test_cli_d_alone_reads_apache2_conf(site: Path, clean_environ: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`-d /etc/apache2` without -f reads DIR/apache2.conf, as Debian's apache2 does."""
    (site / "apache2.conf").write_text(CONF + "Invalid_Directive_Here\n")
    assert cli.main(["-d", str(site), "-t"]) == 1
    err = capsys.readouterr().err
    assert f"line 7 of {site}/apache2.conf" in err and "Invalid_Directive_Here" in err
