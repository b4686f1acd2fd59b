"""Configuration: connections the way Airflow reads them, and helpful errors."""

from __future__ import annotations

import pytest
from govlake import config


def test_airflow_connection_uris_become_sqlalchemy_urls(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KP_POLICE", "postgres://police:p%40ss@db.example:5432/hukou")
    monkeypatch.setenv("AIRFLOW_CONN_KP_MARKET", "mysql://root@127.0.0.1:3306/kp_market")
    police = config.connection("kp_police")
    assert police.password == "p@ss"
    assert police.sqlalchemy_url() == "postgresql+psycopg://police:p%40ss@db.example:5432/hukou"
    assert config.connection("kp_market").sqlalchemy_url() == (
        "mysql+pymysql://root@127.0.0.1:3306/kp_market?charset=utf8mb4"
    )


def test_missing_connection_says_which_variable_to_set(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVLAKE_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_KP_TAX", raising=False)
    with pytest.raises(config.ConfigError, match="AIRFLOW_CONN_KP_TAX"):
        config.connection("kp_tax")


def test_storage_is_local_unless_an_s3_endpoint_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVLAKE_HOME", str(tmp_path))
    monkeypatch.delenv("GOVLAKE_S3_ENDPOINT", raising=False)
    monkeypatch.delenv("GOVLAKE_STORAGE", raising=False)
    assert config.storage_settings().kind == "local"
    monkeypatch.setenv("GOVLAKE_S3_ENDPOINT", "http://minio:9000")
    assert config.storage_settings().kind == "s3"
    monkeypatch.setenv("GOVLAKE_STORAGE", "ftp")
    with pytest.raises(config.ConfigError, match="GOVLAKE_STORAGE"):
        config.storage_settings()


def test_connection_options_such_as_sslmode_are_kept(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KP_HRSS", "postgres://hr:s%2Fecret%3A@db:5432/si?sslmode=verify-full"
    )
    url = config.connection("kp_hrss").sqlalchemy_url()
    assert url == "postgresql+psycopg://hr:s%2Fecret%3A@db:5432/si?sslmode=verify-full"
    import sqlalchemy as sa

    assert sa.make_url(url).password == "s/ecret:"
