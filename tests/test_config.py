import pytest

from pipeline.config import Settings, load_settings
from pipeline.errors import UserError


def test_layers_defaults_file_environment_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "custom.toml"
    config.write_text('[supplywatch]\nread_timeout = 3.5\nmax_redirects = 2\ndb_path = "from-file.db"\n')
    settings = load_settings(
        str(config),
        overrides={"db_path": "from-option.db", "max_redirects": None},
        environ={"SUPPLYWATCH_MAX_REDIRECTS": "4"},
    )
    assert settings.read_timeout == 3.5  # file over default
    assert settings.max_redirects == 4  # environment over file; a None option changes nothing
    assert settings.db_path == "from-option.db"  # option over everything
    assert settings.connect_timeout == Settings().connect_timeout


def test_supplywatch_toml_in_working_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "supplywatch.toml").write_text("nlp_batch_size = 4\n")
    assert load_settings(environ={}).nlp_batch_size == 4


@pytest.mark.parametrize(
    "content, message",
    [("read_timeout = 'soon'\n", "must be a float"), ("colour = 'red'\n", "unknown setting"), ("x = [", "not valid TOML")],
)
def test_bad_settings_are_user_errors(tmp_path, content, message):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(UserError, match=message):
        load_settings(str(config), environ={})
