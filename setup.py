"""Build hook: the web client goes into the package.

Everything else about the package is in pyproject.toml. The web client (``static/``) lives
beside the Python packages in the source tree, where the docs and the browser tests point at
it, so package data cannot name it. Without it, ``pip install .`` (as the image and operators
install) gave a server whose every page was a 500 FileNotFoundError. The build copies it to
``chatserver/static`` in the wheel, where the settings look first. An editable install (the
development set-up) reads the checkout's ``static/`` directly, so edits show at once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WEB_CLIENT = Path(__file__).resolve().parent / "static"


class BuildPyWithWebClient(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "chatserver" / "static"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(WEB_CLIENT, target)


setup(cmdclass={"build_py": BuildPyWithWebClient})
