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


@pytest.mark.parametrize(("name", "text", "allowed"), [
    ("num_beams", "20", "from 1 to 16"),
    ("num_beams", "0", "from 1 to 16"),
    ("num_beams", "2.5", "whole number"),
    ("num_beams", '"many"', "whole number"),
    ("num_captions", "11", "from 1 to 10"),
    ("max_new_tokens", "100000000", "from 1 to 512"),
    ("min_new_tokens", "-1", "from 0 to 512"),
    ("temperature", "0", "above 0 and at most 5"),
    ("temperature", "6.5", "above 0 and at most 5"),
    ("top_p", "0.0", "above 0 and at most 1"),
    ("top_p", "1.5", "above 0 and at most 1"),
    ("top_p", "nan", "above 0 and at most 1"),
    ("repetition_penalty", "0.5", "from 1 to 5"),
    ("batch_size", "0", "from 1 to 256"),
    ("do_sample", '"maybe"', "true or false"),
])
def test_out_of_range_values_in_the_file_or_environment_are_one_line_naming_the_range(
        tmp_path, name, text, allowed):
    path = tmp_path / "c.toml"
    path.write_text(f"{name} = {text}\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path, env={})
    message = str(err.value)
    assert "\n" not in message and name in message and allowed in message and str(path) in message
    env_name = f"PHOTOCAP_{name.upper()}"
    with pytest.raises(config.ConfigError) as err:
        config.load(tmp_path / "none.toml", env={env_name: text.strip('"')})
    message = str(err.value)
    assert "\n" not in message and env_name in message and allowed in message


def test_values_at_the_ends_of_the_ranges_are_accepted(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("num_beams = 16\nnum_captions = 10\nmax_new_tokens = 512\nmin_new_tokens = 0\n"
                    "temperature = 5\ntop_p = 1\nrepetition_penalty = 1\n")
    s = config.load(path, env={"PHOTOCAP_TOP_P": "0.01"})
    assert (s.num_beams, s.num_captions, s.max_new_tokens, s.min_new_tokens) == (16, 10, 512, 0)
    assert (s.temperature, s.top_p, s.repetition_penalty) == (5.0, 0.01, 1.0)


def test_shortest_above_longest_in_one_place_is_an_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("min_new_tokens = 40\nmax_new_tokens = 30\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path, env={})
    assert "min_new_tokens" in str(err.value) and "max_new_tokens" in str(err.value)
    with pytest.raises(config.ConfigError):
        config.Settings(min_new_tokens=40, max_new_tokens=30)


def test_a_value_set_later_wins_over_the_inherited_other_end(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("min_new_tokens = 20\n")
    # The environment lowers the longest below the file's shortest: the shortest follows it.
    s = config.load(path, env={"PHOTOCAP_MAX_NEW_TOKENS": "8"})
    assert (s.min_new_tokens, s.max_new_tokens) == (8, 8)
    s = config.Settings().replace(min_new_tokens=45)
    assert (s.min_new_tokens, s.max_new_tokens) == (45, 45)


def test_settings_refuse_bad_values_however_they_are_made():
    with pytest.raises(config.ConfigError, match="num_beams"):
        config.Settings(num_beams=100)
    with pytest.raises(config.ConfigError, match="max_new_tokens.*1 to 512"):
        config.Settings().replace(max_new_tokens=100_000_000)
    with pytest.raises(config.ConfigError, match="prompt"):
        config.Settings(prompt="a photo of " * 100)


def test_every_limit_names_a_settings_field():
    names = {f.name for f in config.fields(config.Settings)}
    assert config.LIMITS and set(config.LIMITS) <= names
    for name, limit in config.LIMITS.items():
        default = getattr(config.Settings(), name)
        assert limit.allows(default), name
