"""Opening a sweep's Optuna storage: files named when unusable, credentials masked, one
finaliser per study."""

from __future__ import annotations

import optuna
import pytest

from src.errors import SegmentationError
from src.sweep.storage import mask, open_storage, try_claim


def test_a_corrupt_optuna_store_is_named_with_the_fix(tmp_path):
    db = tmp_path / "optuna.db"
    db.write_bytes(b"garbage, not a database" * 200)
    with pytest.raises(SegmentationError, match=f"{db} is not a usable SQLite database"):
        open_storage(f"sqlite:///{db}")


def test_a_journal_file_is_a_storage_several_processes_share(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 'sweep.journal'}")
    optuna.create_study(study_name="s", storage=storage)
    assert (tmp_path / "sweep.journal").exists()


def test_an_unreachable_database_server_is_named_without_its_password():
    url = "postgresql://optuna:s3cret@127.0.0.1:1/optuna"
    with pytest.raises(SegmentationError) as err:
        open_storage(url)
    assert "s3cret" not in str(err.value) and "127.0.0.1:1" in str(err.value)


def test_every_url_in_a_text_is_masked():
    text = "a https://u:tok@h/x and postgresql://o:pw@db:5432/optuna"
    assert mask(text) == "a https://u:***@h/x and postgresql://o:***@db:5432/optuna"


def test_only_one_process_claims_the_finalisation_of_a_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = try_claim(url, "study")
    assert first is not None
    assert try_claim(url, "study") is None  # flock: a second open file description is refused
    assert try_claim(url, "other") is not None
    first.release()
    assert try_claim(url, "study") is not None
