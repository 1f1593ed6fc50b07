"""Packaging (issue 7): system-library check, licence links, icons, desktop/AppStream files,
third-party notices. The frozen bundle itself is checked by `make test-bundle`."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from jscope_desktop.app.start import main, syslibs
from jscope_desktop.app.window import about

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("env, expected", [
    ({}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb:foo"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"}, True),
])
def test_uses_xcb(env, expected, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert syslibs.uses_xcb(env) is expected


def test_missing_library_is_named_with_its_package(monkeypatch, capsys):
    monkeypatch.setattr(syslibs, "XCB_LIBS", (("libc.so.6", "libc6"),
                                              ("libjscope-nonexistent.so.7", "jscope-nonexistent7")))
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no dialog tool
    assert syslibs.missing_libraries() == [("libjscope-nonexistent.so.7", "jscope-nonexistent7")]
    assert syslibs.check_or_explain() is False
    err = capsys.readouterr().err.strip()
    assert err == ("Jacobian Scopes Desktop cannot start because system libraries are missing: "
                   "libjscope-nonexistent.so.7. Install them and start it again; on Debian or "
                   "Ubuntu: sudo apt install jscope-nonexistent7")


def test_main_exits_1_before_qt_when_a_library_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(syslibs, "XCB_LIBS", (("libjscope-nonexistent.so.7", "x"),))
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main.main([]) == 1
    assert "libjscope-nonexistent.so.7" in capsys.readouterr().err


def test_offscreen_checks_only_the_core_libraries(monkeypatch):
    monkeypatch.setattr(syslibs, "XCB_LIBS", (("libjscope-nonexistent.so.7", "x"),))
    monkeypatch.setattr(syslibs, "CORE_LIBS", (("libjscope-core-nonexistent.so.1", "y"),))
    assert syslibs.missing_libraries(xcb=False) == [("libjscope-core-nonexistent.so.1", "y")]
    assert len(syslibs.missing_libraries(xcb=True)) == 2
    monkeypatch.setattr(syslibs, "CORE_LIBS", (("libc.so.6", "libc6"),))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert syslibs.check_or_explain() is True


def test_every_system_library_is_a_soname_with_a_package():
    names = [lib for lib, _ in syslibs.SYSTEM_LIBS]
    assert len(set(names)) == len(names)
    assert all(lib.startswith("lib") and ".so." in lib and pkg for lib, pkg in syslibs.SYSTEM_LIBS)


def test_self_test_does_not_need_the_xcb_libraries(monkeypatch):
    monkeypatch.setattr(syslibs, "XCB_LIBS", (("libjscope-nonexistent.so.7", "x"),))
    monkeypatch.setattr(syslibs, "CORE_LIBS", (("libc.so.6", "libc6"),))
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert syslibs.check_or_explain(window=False) is True
    assert syslibs.check_or_explain(window=True) is False


def test_present_libraries_pass(monkeypatch):
    monkeypatch.setattr(syslibs, "XCB_LIBS", (("libc.so.6", "libc6"),))
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert syslibs.check_or_explain() is True


def test_bundled_library_counts_as_present(monkeypatch, tmp_path):
    (tmp_path / "libjscope-bundled.so.1").write_bytes(b"")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(syslibs, "XCB_LIBS", (("libjscope-bundled.so.1", "x"),))
    assert syslibs.missing_libraries() == []


def test_streams_guarded(monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    main._guard_streams()
    print("progress", file=sys.stderr)  # must not raise
    assert sys.stdout is not None and sys.stderr is not None


def test_license_links_in_a_bundle(monkeypatch, tmp_path):
    folder = tmp_path / "licenses"
    folder.mkdir()
    for name in ("LICENSE", "THIRD_PARTY_NOTICES.txt"):
        (folder / name).write_text("text")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    links = about.license_links()
    assert links == {"Jacobian Scopes Desktop (Apache-2.0)": folder / "LICENSE",
                     "third-party notices": folder / "THIRD_PARTY_NOTICES.txt"}
    html = about.about_text({"torch": "2.13"}, "SmolLM2", "Apache-2.0", links)
    assert f'<a href="file://{folder}/THIRD_PARTY_NOTICES.txt">third-party notices</a>' in html


def test_license_link_from_a_checkout():
    assert about.license_links() == {"Jacobian Scopes Desktop (Apache-2.0)": ROOT / "LICENSE"}
    assert "Apache License" in (ROOT / "LICENSE").read_text()


def test_ico_holds_png_entries_at_its_sizes():
    data = (PACKAGING / "icons" / "jscope-desktop.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, 7)
    sizes = []
    for i in range(count):
        w, _, _, _, _, bpp, size, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        assert bpp == 32 and data[offset:offset + 8] == PNG_MAGIC
        width = struct.unpack(">I", data[offset + 16:offset + 20])[0]  # the PNG's IHDR width
        assert width == (w or 256)
        sizes.append(width)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]


def test_icns_elements_cover_the_file():
    data = (PACKAGING / "icons" / "jscope-desktop.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    pos, widths = 8, {}
    while pos < len(data):
        code, length = data[pos:pos + 4].decode(), struct.unpack(">I", data[pos + 4:pos + 8])[0]
        assert data[pos + 8:pos + 16] == PNG_MAGIC
        widths[code] = struct.unpack(">I", data[pos + 24:pos + 28])[0]
        pos += length
    assert pos == len(data)
    assert widths["ic10"] == 1024 and widths["ic07"] == 128 and widths["icp4"] == 16


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils missing")
def test_desktop_file_validates():
    out = subprocess.run(["desktop-file-validate", str(PACKAGING / "jscope-desktop.desktop")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "error" not in out.stdout.lower(), out.stdout


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream missing")
def test_metainfo_validates():
    out = subprocess.run(["appstreamcli", "validate", "--no-net", "--pedantic",
                          str(PACKAGING / "io.github.jscope_desktop.metainfo.xml")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_third_party_notices_carry_licence_texts():
    sys.path.insert(0, str(PACKAGING))
    try:
        import third_party
    finally:
        sys.path.remove(str(PACKAGING))
    text = third_party.notices()
    assert "\ntorch " in text and "\ntransformers " in text
    entry = text.split("\ntransformers ")[1].split("-" * 78)[0]
    assert "Apache License" in entry  # the full text, not only the name
    assert "Licence text: Qt-PySide6-LGPL-NOTICE.txt" in text.split("\nPySide6_Essentials ")[1]


MIME_TOOLS = ("xdg-mime", "update-mime-database", "update-desktop-database")


@pytest.mark.skipif(not all(shutil.which(t) for t in MIME_TOOLS),
                    reason="xdg-utils, shared-mime-info or desktop-file-utils missing")
def test_the_installer_registers_the_session_type_for_a_double_click(tmp_path):
    """The tar.gz's install.sh, run as a user would (its own HOME and XDG data folder): a
    ``*.jscope.json`` file is then a session, and the app is its default application, as
    ``xdg-mime`` (what a file manager asks) reports; --uninstall removes the type again."""
    folder = tmp_path / "jscope-desktop"
    (folder / "share" / "icons").mkdir(parents=True)
    for name in ("jscope-desktop.desktop", "jscope-desktop-mime.xml"):
        shutil.copy(PACKAGING / name, folder / "share" / name)
    shutil.copy(PACKAGING / "icons" / "png" / "48x48.png", folder / "share" / "icons")
    script = (PACKAGING / "install.sh").read_text(encoding="utf-8").replace("@LIBS@", "")
    (folder / "install.sh").write_text(script, encoding="utf-8")
    (folder / "jscope-desktop").write_text("#!/bin/sh\n", encoding="utf-8")
    (folder / "jscope-desktop").chmod(0o755)
    home, data = tmp_path / "home", tmp_path / "home" / ".local" / "share"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_DATA_HOME": str(data),
           "XDG_DATA_DIRS": f"{data}:/usr/share"}
    out = subprocess.run(["sh", str(folder / "install.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    session = tmp_path / "run.jscope.json"
    session.write_text('{"kind": "jscope-session", "version": 1}', encoding="utf-8")

    def xdg(*args):
        return subprocess.run(["xdg-mime", "query", *args], env=env, capture_output=True,
                              text=True, timeout=60).stdout.strip()
    assert xdg("filetype", str(session)) == "application/x-jscope-session"
    assert xdg("default", "application/x-jscope-session") == "jscope-desktop.desktop"
    entry = (data / "applications" / "jscope-desktop.desktop").read_text(encoding="utf-8")
    assert f'Exec="{folder}/jscope-desktop" %f' in entry  # the file reaches the app
    subprocess.run(["sh", str(folder / "install.sh"), "--uninstall"], env=env,
                   capture_output=True, timeout=60, check=True)
    assert xdg("filetype", str(session)) != "application/x-jscope-session"
