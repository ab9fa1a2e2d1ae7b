"""A tiny busybox root filesystem, imported as a local image on every node."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from lab.spec import DEFAULT_IMAGE, LabError

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"
IMAGE_CHANGES = ['CMD ["sh"]', "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
EXTRA_TAGS = ("latest",)


def busybox_path() -> Path:
    """Return the static busybox binary, or raise when only a dynamic one exists."""
    found = shutil.which("busybox") or "/bin/busybox"
    path = Path(found).resolve()
    if not path.is_file():
        raise LabError("busybox not found; install busybox-static")
    if b"ld-linux" in path.read_bytes()[:65536]:
        raise LabError(f"{path} is dynamically linked; install busybox-static")
    return path


def _add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, link: str = "") -> None:
    """Add a directory, file or symlink entry to the tar."""
    info = tarfile.TarInfo(name)
    if link:
        info.type, info.linkname = tarfile.SYMTYPE, link
    elif data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size, info.mode = len(data), 0o755 if name.startswith("bin/") else 0o644
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def rootfs_tar() -> bytes:
    """Return a tar of busybox, its applet links and a minimal /etc."""
    binary = busybox_path()
    applets = subprocess.run(
        [str(binary), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "var", "usr", "usr/bin"):
            _add(tar, d)
        _add(tar, "bin/busybox", data=binary.read_bytes())
        for applet in applets:
            if applet != "busybox":
                _add(tar, f"bin/{applet}", link="busybox")
        _add(tar, "etc/passwd", data=PASSWD)
        _add(tar, "etc/group", data=GROUP)
    return buf.getvalue()


def image_repo_tag(image: str = DEFAULT_IMAGE) -> tuple[str, str]:
    """Split an image reference into repository and tag."""
    repo, _, tag = image.rpartition(":")
    return repo, tag
