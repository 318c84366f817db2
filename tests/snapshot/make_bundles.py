"""Builds the tar bundles the snapshot tests load: a package tree, and one
whose member escapes with "..". Run by CMake with Debian's python3.11."""
import io
import sys
import tarfile

out_dir = sys.argv[1]


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


with tarfile.open(out_dir + "/package.tar", "w", format=tarfile.PAX_FORMAT) as tar:
    directory = tarfile.TarInfo("app")
    directory.type = tarfile.DIRTYPE
    directory.mode = 0o755
    tar.addfile(directory)
    add(tar, "app/__init__.py", b"")
    add(tar, "app/helper.py", b"WORDS = 'from a package'\n")
    add(tar, "app/data.txt", b"data file\n")
    add(tar, "app/main.py",
        b"import os\nfrom app.helper import WORDS\n"
        b"DATA = open(os.path.join(os.path.dirname(__file__), 'data.txt')).read()\n"
        b"def handler(event, context):\n    return {'helper': WORDS, 'data': DATA}\n")

with tarfile.open(out_dir + "/evil.tar", "w", format=tarfile.GNU_FORMAT) as tar:
    add(tar, "../escape.py", b"print('escaped')\n")
