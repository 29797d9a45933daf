"""What the command line says when it is used wrongly: in words, in the person's language."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli import main
from tests.conftest import REPO


def test_check_in_a_folder_without_a_config_says_so_and_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TPS_LANG", raising=False)
    assert main(["check"]) == 64
    err = capsys.readouterr().err
    assert "konfigurasi tidak ditemukan: tidak ada tps-exporter.yml di sini" in err
    assert "--config.file" in err and "--targets" in err
    assert main(["check", "--lang", "en"]) == 64
    assert "no configuration found: there is no tps-exporter.yml here" in capsys.readouterr().err


def test_a_mistyped_device_id_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(REPO / "tps-exporter.yml")
    assert main(["--config.file", config, "probe", "bts-21-72-01"]) == 64
    err = capsys.readouterr().err
    assert "tidak ada perangkat 'bts-21-72-01' di inventaris (maksudnya 'bts-21.72.01'" in err


def test_argparse_speaks_indonesian_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--format", "docx"])
    err = capsys.readouterr().err
    assert "pemakaian: tps-exporter report" in err
    assert "galat: argumen --format: pilihan 'docx' tidak ada (pilih dari" in err
    with pytest.raises(SystemExit):
        main(["--lang", "en", "report", "--format", "docx"])
    assert "error: argument --format: invalid choice: 'docx'" in capsys.readouterr().err


def test_help_is_indonesian_and_every_flag_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "opsi:" in out and "provinsi: kode, nama atau singkatannya" in out
