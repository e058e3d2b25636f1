"""Ship the top-level ``configs/`` inside the wheel as ``lossbench/configs/``.

Everything else is declared in ``pyproject.toml``. The configs stay at the top of
the checkout (where users edit them); ``lossbench.registry.config_dir`` finds them
there in a checkout and in the package when installed from a wheel.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithConfigs(build_py):
    """``build_py`` that also copies ``configs/**/*.yaml`` into ``lossbench/configs/``."""

    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent / "configs"
        target = Path(self.build_lib) / "lossbench" / "configs"
        for src in sorted(root.rglob("*.yaml")):
            dest = target / src.relative_to(root)
            self.mkpath(str(dest.parent))
            self.copy_file(str(src), str(dest))


setup(cmdclass={"build_py": BuildWithConfigs})
