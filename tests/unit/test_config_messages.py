"""What `check` says about a hand-edited inventory, in Bahasa Indonesia: YAML's own mistakes
(tabs, indentation, a stray colon) in words, with the file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli import main

CASES = {
    "tab": ("devices:\n\t- id: rtr-1\n", "2:1: YAML tidak sah: ada tab di indentasi: YAML hanya "
            "memakai spasi untuk indentasi; ganti tab dengan spasi"),
    "indentation": ("devices:\n  - id: rtr-1\n   kind: router\n",
                    "3:4: YAML tidak sah: indentasi baris ini tidak sejajar dengan baris di "
                    "atasnya (bloknya mulai di baris 2)"),
    "colon": ("devices:\n  - id: rtr-1\n    name: BTS: Kawal\n",
              "3:14: YAML tidak sah: ada ':' di tempat yang tidak boleh"),
    "at sign": ("devices:\n  - id: @rtr\n", "2:9: YAML tidak sah: nilai tidak boleh diawali '@'"),
    "unknown key": ("devices:\n  - {id: rtr-1, kind: router, adress: 127.0.0.1}\n",
                    "2:31: devices[0].adress: kunci tidak dikenal (maksudnya 'address'?); yang "
                    "boleh: id, name, kind, operator, address, family"),
    "wrong type": ("devices: just text\n",
                   "1:10: devices: harus daftar (list), bukan nilai 'just text'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_file_is_explained_in_words(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TPS_LANG", raising=False)
    text, said = CASES[case]
    path = tmp_path / "kawal.yaml"
    path.write_text(text)
    assert main(["check", "--targets", str(path)]) == 1
    err = capsys.readouterr().err
    assert " kesalahan di konfigurasi atau inventaris:\n" in err.splitlines(keepends=True)[0], err
    assert f"{path}:{said}" in err, err


def test_the_same_in_english_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kawal.yaml"
    path.write_text(CASES["tab"][0])
    assert main(["check", "--lang", "en", "--targets", str(path)]) == 1
    assert (f"{path}:2:1: invalid YAML: a tab in the indentation: YAML indents with spaces only"
            in capsys.readouterr().err)  # fmt: skip
