"""Review pictures decoded in helper processes, so decoding never holds the app's GIL.

Measured on 2 cores under load: with decoding on threads of the app, the GUI thread waited up to
150 ms at a time for the interpreter (it ran 2 ms of those); with the same pictures already decoded,
under 35 ms. A helper is `python -m photocap.gui.review_decode`: it reads one request per line on
stdin (JSON: path, width, height) and answers each with one JSON line on stdout, {"width", "height"}
followed by width * height * 3 bytes of RGB, or {"error": reason}. It ends when its stdin closes:
when the app quits or is killed. No Qt here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import BinaryIO

from photocap.library.images import open_image


def decode_rgb(path: str, width: int, height: int) -> tuple[int, int, bytes]:
    """The photo upright, fitted into width x height, as RGB bytes. Raises ImageError or OSError."""
    image = open_image(path, max_side=max(width, height))
    image.thumbnail((width, height))
    rgb = image.convert("RGB")
    return rgb.width, rgb.height, rgb.tobytes()


def reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests until the input ends."""
    for line in requests:
        try:
            asked = json.loads(line)
            width, height, data = decode_rgb(str(asked["path"]), int(asked["width"]), int(asked["height"]))
        except Exception as exc:  # noqa: BLE001 - every failure is the answer to that request
            answers.write(json.dumps({"error": reason(exc)}).encode() + b"\n")
        else:
            answers.write(json.dumps({"width": width, "height": height}).encode() + b"\n" + data)
        answers.flush()


class HelperGone(Exception):
    """The helper process ended or answered nonsense: decode another way."""


class Helper:
    """One helper process, used by one thread at a time."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "photocap.gui.review_decode"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def decode(self, path: str, width: int, height: int) -> tuple[int, int, bytes]:
        """Like decode_rgb, in the helper. Raises ValueError (the photo's reason) or HelperGone."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps({"path": path, "width": width, "height": height}).encode() + b"\n")
            stdin.flush()
            header = json.loads(stdout.readline() or b"null")
        except (OSError, ValueError) as exc:
            raise HelperGone(str(exc)) from None
        if not isinstance(header, dict):
            raise HelperGone("no answer")
        if "error" in header:
            raise ValueError(str(header["error"]))
        w, h = int(header["width"]), int(header["height"])
        if not (0 < w <= width and 0 < h <= height):
            raise HelperGone(f"a picture of {w}x{h} for a box of {width}x{height}")
        data = stdout.read(w * h * 3)
        if len(data) != w * h * 3:
            raise HelperGone("the picture was cut short")
        return w, h, data

    def close(self) -> None:
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.close()          # the helper sees the end of its input and exits
            except OSError:
                pass
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def can_start_helpers() -> bool:
    """A frozen app has no `python -m`: it decodes on threads."""
    return not getattr(sys, "frozen", False)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
