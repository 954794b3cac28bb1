"""Choosing the search model: the embed_model setting, PHOTOCAP_EMBED_MODEL, --embed-model, `models`, the dialog."""

from __future__ import annotations

import json
import shutil

import pytest

from photocap import cli, config
from photocap.commands import options
from photocap.vision.host import ModelHost


def test_the_default_search_model_and_where_it_is_set(tmp_path):
    assert config.load(tmp_path / "none.toml", env={}).embed_model == "blip-itm-base"
    path = tmp_path / "c.toml"
    path.write_text('embed_model = "blip-itm-large"\n')
    assert config.load(path, env={}).embed_model == "blip-itm-large"
    assert config.load(path, env={"PHOTOCAP_EMBED_MODEL": "siglip2-base"}).embed_model == "siglip2-base"
    config.save(config.Settings(embed_model="siglip2-base"), path)
    assert config.load(path, env={}).embed_model == "siglip2-base"


@pytest.mark.parametrize("command", [["index", "photos"], ["watch"], ["caption", "x.jpg"], ["ask", "x.jpg", "why"],
                                     ["gui"]])
def test_every_command_with_model_takes_embed_model(command, tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOCAP_EMBED_MODEL", "blip-itm-large")        # the command line wins
    args = cli.build_parser().parse_args([*command, "--embed-model", "siglip2-base"])
    settings = config.load(tmp_path / "none.toml").replace(**options.settings_changes(args))
    assert ModelHost(settings).embed_model_name() == "siglip2-base"
    unset = cli.build_parser().parse_args(command)
    settings = config.load(tmp_path / "none.toml").replace(**options.settings_changes(unset))
    assert settings.embed_model == "blip-itm-large"


def test_commands_that_only_search_can_take_embed_model_alone():
    import argparse

    parser = argparse.ArgumentParser(parents=[options.embedding()])
    assert options.settings_changes(parser.parse_args(["--embed-model", "x"]))["embed_model"] == "x"


def test_models_lists_the_search_models(tmp_path, monkeypatch, capsys, tiny_itm_dir):
    repo = tmp_path / "hub" / "models--Salesforce--blip-itm-base-coco"
    shutil.copytree(tiny_itm_dir, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert cli.main(["--db", str(tmp_path / "l.db"), "models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "present" in lines["blip-itm-base"] and " MB" in lines["blip-itm-base"]
    assert lines["blip-itm-base"].split()[-2] == "search"
    assert "not downloaded" in lines["siglip2-base"] and "search" in lines["siglip2-base"]
    assert "search" not in lines["blip-base"]
    assert cli.main(["--db", str(tmp_path / "l.db"), "models", "--json"]) == 0
    rows = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert rows["blip-itm-large"]["can_embed"] and not rows["blip-large"]["can_embed"]


def test_the_settings_dialog_offers_the_search_models(qtbot):
    from photocap.gui.settings import SettingsDialog

    dialog = SettingsDialog(config.Settings(embed_model="blip-itm-large"))
    qtbot.addWidget(dialog)
    combo = dialog.embed_model.combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["blip-itm-base", "blip-itm-large", "siglip2-base"]
    assert dialog.values()["embed_model"] == "blip-itm-large"
    combo.setCurrentText("siglip2-base")
    assert dialog.values()["embed_model"] == "siglip2-base"
