"""mod_env: SetEnv/UnsetEnv/PassEnv parsed, merged per directory as mod_env.c does, and
seen where a static server shows them: %{VAR}e and CustomLog env= conditions."""
from __future__ import annotations

import pytest
from support.configs import cfg

from fastcore.cli import main
from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.modules.mod_env import EnvDir, cache_contribution, request_env
from fastcore.modules.mod_log_config import compile_format, log_condition

LOAD = "LoadModule env_module modules/mod_env.so\n"


class Rec:
    """A log record with only what %e and the conditions read."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env


def test_deeper_scope_unsets_and_sets_over_the_inherited_variables(tmp_path) -> None:
    www = tmp_path / "www"
    (www / "sub" / "deeper").mkdir(parents=True)
    c = cfg(tmp_path, LOAD + "SetEnv TOP t\nSetEnv KEEP k\n"
            f"<Directory {www}/sub>\n UnsetEnv top\n SetEnv SUB s\n</Directory>\n"
            f"<Directory {www}/sub/deeper>\n SetEnv Top again\n</Directory>\n")
    r = DirResolver(c)
    assert request_env(r.dir_config(c.main, str(www))) == {"top": "t", "keep": "k"}
    assert request_env(r.dir_config(c.main, f"{www}/sub")) == {"keep": "k", "sub": "s"}
    assert request_env(r.dir_config(c.main, f"{www}/sub/deeper")) == {
        "keep": "k", "sub": "s", "top": "again"}


def test_order_within_one_scope(tmp_path) -> None:
    """UnsetEnv drops what the scope set before it; a later SetEnv sets it again."""
    c = cfg(tmp_path, LOAD + "SetEnv A 1\nUnsetEnv A\nSetEnv B 2\nUnsetEnv B\nSetEnv B 3\n"
            "SetEnv EMPTY\n")
    assert request_env(c.main.dir_defaults) == {"b": "3", "empty": ""}


def test_merge_is_mod_envs() -> None:
    base = EnvDir({"a": "1", "b": "2"})
    assert base.merge(EnvDir({"c": "3"}, frozenset({"a"}))).vars == {"b": "2", "c": "3"}
    assert base.merge(EnvDir()).vars == {"a": "1", "b": "2"}


def test_passenv_takes_the_servers_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FC_TEST_PASSED", "from-env")
    monkeypatch.delenv("FC_TEST_MISSING", raising=False)
    c = cfg(tmp_path, LOAD + "PassEnv FC_TEST_PASSED FC_TEST_MISSING\nSetEnv X=Y z\n")
    assert request_env(c.main.dir_defaults) == {"fc_test_passed": "from-env", "x=y": "z"}
    assert any("AH01506: PassEnv variable FC_TEST_MISSING was undefined" in w
               for w in c.warnings)
    assert any("AH10032: Spurious usage of '=' in an environment variable name. "
               "'SetEnv X Y' expected instead?" in w for w in c.warnings)


@pytest.mark.parametrize("line", ["SetEnv A b", "UnsetEnv A", "PassEnv HOME"])
def test_unloaded_module_directive_is_an_invalid_command(tmp_path, line: str) -> None:
    with pytest.raises(ConfigError, match=f"Invalid command '{line.split()[0]}', perhaps "
                                          "misspelled or defined by a module not included"):
        cfg(tmp_path, line + "\n")


def test_argument_counts(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SetEnv takes 1-2 arguments, an environment "
                                          "variable name and optional value to pass to CGI."):
        cfg(tmp_path, LOAD + "SetEnv a b c\n")
    with pytest.raises(ConfigError, match="UnsetEnv requires at least one argument"):
        cfg(tmp_path, LOAD + "UnsetEnv\n")


def test_htaccess_needs_fileinfo(tmp_path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / ".htaccess").write_text("SetEnv FROM_HT yes\n")
    ok = cfg(tmp_path, LOAD + f"<Directory {www}>\n AllowOverride FileInfo\n</Directory>\n")
    assert request_env(DirResolver(ok).htaccess(ok.main, str(www))) == {"from_ht": "yes"}
    refused = cfg(tmp_path, LOAD + f"<Directory {www}>\n AllowOverride Indexes\n</Directory>\n")
    with pytest.raises(ConfigError, match="SetEnv not allowed here"):
        DirResolver(refused).htaccess(refused.main, str(www))


def test_percent_e_renders_the_variable_escaped_without_case() -> None:
    fmt = compile_format('[%{Foo}e] [%{EMPTY}e] [%{none}e] [%{q}e]')
    assert fmt(Rec({"foo": "bar", "empty": "", "q": 'say "hi"'})) == \
        '[bar] [] [-] [say \\"hi\\"]'
    assert fmt(Rec({})) == "[-] [-] [-] [-]"


def test_customlog_env_conditions() -> None:
    has, hasnt = Rec({"top": "x"}), Rec({})
    assert log_condition("env=TOP")(has) and not log_condition("env=TOP")(hasnt)
    assert not log_condition("env=!top")(has) and log_condition("env=!top")(hasnt)
    assert log_condition(None)(hasnt)


def test_a_directory_with_variables_is_served_by_the_full_handler(tmp_path) -> None:
    """The fast paths log without the request's environment: such answers are not cached."""
    c = cfg(tmp_path, LOAD + "SetEnv A 1\n")
    plain = cfg(tmp_path, LOAD)
    # mod_env's share in core/cacheable.py's decision (the transaction is not consulted)
    assert not cache_contribution(None, c.main.dir_defaults, None).cacheable
    assert cache_contribution(None, plain.main.dir_defaults, None).cacheable


def test_dash_m_lists_env_module(tmp_path, capsys) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/error.log\n"
                    "LoadModule mpm_event_module modules/mod_mpm_event.so\n" + LOAD +
                    "Listen 127.0.0.1:18080\nServerName x\n")
    assert main(["-f", str(conf), "-M"]) == 0
    assert " env_module (shared)" in capsys.readouterr().out.splitlines()
