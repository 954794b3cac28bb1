"""Library folders ("roots") on real folders and a real library: nesting, refusals, removal, drives."""

import os
import subprocess

import pytest
from helpers import jpeg as make_jpeg

from photocap.library import db, photos, roots, scan
from photocap.library.db import LibraryError


@pytest.fixture
def conn(tmp_path):
    return db.connect(tmp_path / "lib.db")


def jpeg(path, color="red"):
    return make_jpeg(path, color, (32, 24))


def root_paths(conn):
    return [r.path for r in roots.all_roots(conn)]


def test_adding_the_parent_of_a_folder_merges_them_into_one(tmp_path, conn):
    trip = jpeg(tmp_path / "Pictures" / "Trip" / "beach.jpg", "blue")
    home = jpeg(tmp_path / "Pictures" / "home.jpg", "green")
    scan.scan_root(conn, str(tmp_path / "Pictures" / "Trip"))
    pid = photos.by_path(conn, trip).id
    photos.set_auto_captions(conn, pid, ["a blue square"], model="m")
    report = scan.scan_root(conn, str(tmp_path / "Pictures"))
    assert report.errors == [] and report.added == 1 and report.unchanged == 1
    assert root_paths(conn) == [str(tmp_path / "Pictures")]
    parent = roots.by_path(conn, str(tmp_path / "Pictures"))
    assert {p: photos.by_path(conn, p).root_id for p in (trip, home)} == {trip: parent.id, home: parent.id}
    assert photos.get(conn, pid).status == "done" and photos.counts(conn)["photos"] == 2
    assert scan.scan_root(conn, str(tmp_path / "Pictures")).unchanged == 2      # and every later run


def test_register_says_what_it_merged(tmp_path, conn):
    for name in ("a", "b"):
        os.makedirs(tmp_path / "P" / name)
        roots.add(conn, str(tmp_path / "P" / name))
    added = roots.register(conn, str(tmp_path / "P"))
    assert added.created and sorted(added.merged) == [str(tmp_path / "P" / "a"), str(tmp_path / "P" / "b")]
    inner = roots.register(conn, str(tmp_path / "P" / "a"))
    assert not inner.created and inner.root.path == str(tmp_path / "P") and inner.merged == []


def test_a_library_left_with_nested_folders_heals_on_the_next_scan(tmp_path, conn):
    """Libraries that older versions left with both a folder and its parent as roots."""
    trip = jpeg(tmp_path / "P" / "Trip" / "x.jpg")
    scan.scan_root(conn, str(tmp_path / "P" / "Trip"))
    with db.write(conn):       # the state the old `index` left behind
        conn.execute("INSERT INTO roots (path, added_at) VALUES (?, 0)", (str(tmp_path / "P"),))
    report = scan.scan_root(conn, str(tmp_path / "P"))
    assert report.errors == [] and root_paths(conn) == [str(tmp_path / "P")]
    assert photos.by_path(conn, trip).root_id == roots.by_path(conn, str(tmp_path / "P")).id


@pytest.mark.parametrize("what", ["file", "nothing"])
def test_a_file_or_a_path_that_does_not_exist_is_refused(tmp_path, conn, what):
    target = tmp_path / "photo.jpg"
    if what == "file":
        jpeg(target)
    with pytest.raises(LibraryError) as err:
        roots.add(conn, str(target))
    message = str(err.value)
    assert "\n" not in message and str(target) in message
    assert ("not a folder" if what == "file" else "does not exist") in message
    assert root_paths(conn) == []


def test_an_offline_folder_already_in_the_library_is_still_accepted(tmp_path, conn):
    os.makedirs(tmp_path / "usb")
    roots.add(conn, str(tmp_path / "usb"))
    os.rmdir(tmp_path / "usb")
    assert roots.add(conn, str(tmp_path / "usb")).path == str(tmp_path / "usb")


def test_remove_keeps_captions_and_adding_again_restores_them(tmp_path, conn):
    path = jpeg(tmp_path / "P" / "a.jpg")
    scan.scan_root(conn, str(tmp_path / "P"))
    pid = photos.by_path(conn, path).id
    photos.set_auto_captions(conn, pid, ["a red square"], model="m", tags=["red"])
    assert roots.remove(conn, str(tmp_path / "P")) == 1
    assert root_paths(conn) == [] and photos.get(conn, pid).status == "missing"
    assert conn.execute("SELECT count(*) FROM photo_fts").fetchone()[0] == 0      # out of search
    scan.scan_root(conn, str(tmp_path / "P"))
    back = photos.get(conn, pid)
    assert back.status == "done" and back.root_id == roots.by_path(conn, str(tmp_path / "P")).id
    assert [c.text for c in photos.captions(conn, pid)] == ["a red square"]


def test_remove_with_forget_deletes_the_records_never_the_files(tmp_path, conn):
    path = jpeg(tmp_path / "P" / "a.jpg")
    scan.scan_root(conn, str(tmp_path / "P"))
    assert roots.remove(conn, str(tmp_path / "P"), forget=True) == 1
    assert photos.counts(conn)["photos"] == 0 and os.path.exists(path)


def test_removing_a_folder_inside_a_library_folder_names_the_library_folder(tmp_path, conn):
    os.makedirs(tmp_path / "P" / "sub")
    roots.add(conn, str(tmp_path / "P"))
    with pytest.raises(LibraryError, match="inside the library folder .*P"):
        roots.remove(conn, str(tmp_path / "P" / "sub"))


def test_an_emptied_folder_is_online_and_a_vanished_one_is_not(tmp_path, conn):
    jpeg(tmp_path / "P" / "a.jpg")
    scan.scan_root(conn, str(tmp_path / "P"))
    root = roots.by_path(conn, str(tmp_path / "P"))
    assert root.dev == os.stat(tmp_path / "P").st_dev
    os.remove(tmp_path / "P" / "a.jpg")
    assert roots.present(conn, root)          # same drive, just empty: the photo was deleted
    os.rmdir(tmp_path / "P")
    assert not roots.present(conn, root)


needs_root = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mounting needs root")


@needs_root
def test_an_unmounted_drive_is_offline_and_a_remounted_one_is_back(tmp_path, conn):
    mount_point = tmp_path / "usb"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "none", str(mount_point)], check=True)
    try:
        jpeg(mount_point / "a.jpg")
        scan.scan_root(conn, str(mount_point))
        root = roots.by_path(conn, str(mount_point))
        subprocess.run(["umount", str(mount_point)], check=True)
        assert not roots.present(conn, root)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "none", str(mount_point)], check=True)
        jpeg(mount_point / "a.jpg")            # the drive again (a new device number, like another port)
        assert roots.present(conn, root)
        assert roots.by_path(conn, str(mount_point)).dev == os.stat(mount_point).st_dev
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)
