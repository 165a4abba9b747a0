"""components.framework.page relies on one Streamlit internal: the pages/ flag. These fail when Streamlit moves it."""

from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager

from tests.support.browser import ROOT


def test_streamlit_still_sets_the_pages_directory_flag_from_a_pages_folder(tmp_path: Path):
    (tmp_path / "pages").mkdir()
    script = tmp_path / "app.py"
    script.write_text("")
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None
        PagesManager(str(script))
        assert PagesManager.uses_pages_directory is True
        PagesManager.uses_pages_directory = None
        (tmp_path / "pages").rmdir()
        PagesManager(str(script))
        assert PagesManager.uses_pages_directory is False
    finally:
        PagesManager.uses_pages_directory = saved


def test_the_lab_has_the_pages_folder_that_sets_it():
    assert (ROOT / "pages").is_dir() and (ROOT / "app.py").is_file()
