"""Settings: defaults, TOML file, environment overrides, saving."""

import pytest

from photocap import config


def test_defaults_put_the_library_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    s = config.load(tmp_path / "none.toml", env={})
    assert s.db_path() == tmp_path / "data" / "photocap" / "library.db"
    assert s.model == "blip-base" and s.device == "auto"


def test_file_then_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('model = "blip-large"\nbatch_size = 4\nnum_beams = 5\nfuture_option = 1\n')
    s = config.load(path, env={"PHOTOCAP_BATCH_SIZE": "16", "PHOTOCAP_DO_SAMPLE": "yes",
                               "PHOTOCAP_DB": "/tmp/x.db"})
    assert (s.model, s.batch_size, s.num_beams, s.do_sample) == ("blip-large", 16, 5, True)
    assert str(s.db_path()) == "/tmp/x.db"
    assert s.extra == {"future_option": 1}


def test_save_round_trips_and_writes_only_changes(tmp_path):
    path = tmp_path / "c.toml"
    s = config.Settings().replace(prompt='a "photography" of', temperature=0.7, do_sample=True, db=None)
    config.save(s, path)
    assert "model" not in path.read_text()
    assert config.load(path, env={}) == s


@pytest.mark.parametrize("text", ["model = ", "batch_size = 'many'", "\xff"])
def test_broken_file_is_one_clear_error(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(config.ConfigError):
        config.load(path, env={})


def test_save_keeps_keys_it_does_not_know(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('future_option = "kept"\nmodel = "blip-large"\n')
    s = config.load(path, env={})
    config.save(s.replace(batch_size=4), path)
    again = config.load(path, env={})
    assert again.extra == {"future_option": "kept"} and again.batch_size == 4
