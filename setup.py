"""Build hook: the wheel gets matcher_api/v1 generated from proto/ and the sample feed.

Everything else is declared in pyproject.toml. grpcio-tools is a build requirement only
([build-system] requires), so the installed service never carries it. An editable install
(``make setup``) skips the hook: ``make gen`` writes the stubs into the source tree instead.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SAMPLE_FEED = ROOT / "data" / "suppliers.jsonl"
#: Where the sample feed goes inside the wheel; matcher_api/server.py looks for it there.
BUNDLED_FEED = Path("matcher_api", "sample", "suppliers.jsonl")


class BuildWithStubs(build_py):
    """build_py, then the generated gRPC code and the sample feed into the build tree."""

    def run(self) -> None:
        """Copies the packages, then adds what is generated or lives outside them."""
        super().run()
        if getattr(self, "editable_mode", False):
            return
        sys.path.insert(0, str(ROOT))
        from devtools.protogen import generate  # build time only

        build = Path(self.build_lib)
        generate(protos=ROOT / "proto", out=build / "matcher_api" / "v1")
        target = build / BUNDLED_FEED
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / "__init__.py").write_text('"""The bundled sample feed."""\n')
        shutil.copyfile(SAMPLE_FEED, target)


setup(cmdclass={"build_py": BuildWithStubs})
