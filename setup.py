"""Packs the lab's data folders (cluster config, Dockerfiles, kit recipes, the workload's sources)
into the wheel as lab/_files, so a lab installed with pip or pipx finds them without a checkout.
Everything else about the package is in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("clusters", "images", "workloads")


class BuildWithData(build_py):
    def run(self):
        super().run()
        for folder in DATA_FOLDERS:
            shutil.copytree(folder, Path(self.build_lib) / "lab" / "_files" / folder, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("target", "__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithData})
