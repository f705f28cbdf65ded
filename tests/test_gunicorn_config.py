"""config/gunicorn.py, read as gunicorn reads it."""

from __future__ import annotations

import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "config" / "gunicorn.py"


def test_no_control_socket_is_shared_with_other_servers_on_the_host(monkeypatch):
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    assert runpy.run_path(str(CONFIG))["control_socket_disable"] is True

    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", "1")
    assert runpy.run_path(str(CONFIG))["control_socket_disable"] is False


def test_its_variables_are_read_from_dot_env_below_the_environment(tmp_path, monkeypatch):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "gunicorn.py").write_text(CONFIG.read_text())
    (tmp_path / ".env").write_text("PORT=8123\nWEB_CONCURRENCY=3\n")
    for name in ("PORT", "WEB_CONCURRENCY"):
        monkeypatch.setenv(name, "")  # restored (unset) after the test
        monkeypatch.delenv(name)

    config = runpy.run_path(str(tmp_path / "config" / "gunicorn.py"))
    assert (config["bind"], config["workers"]) == ("127.0.0.1:8123", 3)

    monkeypatch.setenv("PORT", "8124")
    assert runpy.run_path(str(tmp_path / "config" / "gunicorn.py"))["bind"] == "127.0.0.1:8124"
