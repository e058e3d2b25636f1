"""``lossbench data download NAME --root DIR``: fetch a dataset archive once, with internet.

Downloads the archive from its official address (urllib), checks its md5 against the
published one, and extracts it into ``DIR`` (the ``dataset.root`` of the dataset that
reads it). Runs never download: without the files a run stops with one line naming
this command. Without internet the command itself stops with one line (exit 2) saying
where to put a copy of the archive fetched elsewhere.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from lossbench.data.cifar import ARCHIVES, DEFAULT_ROOT, Archive, md5sum
from lossbench.errors import EXIT_USAGE, ConfigError

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0


def verify(path: Path, archive: Archive) -> None:
    """The file's md5 is the published one; else a one-line error (a damaged download)."""
    found = md5sum(path)
    if found != archive.md5:
        raise ConfigError(
            f"{path}: md5 {found} is not the published {archive.md5} (an incomplete or "
            f"damaged download); delete it and run: lossbench data download {archive.name} "
            f"--root {path.parent}"
        )


def extract(tarball: Path, root: Path) -> None:
    """Extract ``tarball`` into ``root``, refusing members that would land outside it."""
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                base = root.resolve()
                for member in tar.getmembers():
                    if not (base / member.name).resolve().is_relative_to(base):
                        raise ConfigError(f"{tarball}: member {member.name} leaves {root}")
                tar.extractall(root)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ConfigError(f"{tarball}: cannot extract ({exc})") from None


def download(name: str, root: str = DEFAULT_ROOT, url: str | None = None) -> Path:
    """Fetch, check and extract archive ``name`` into ``root``; returns its folder.

    An archive already extracted there is left as it is.
    """
    if name not in ARCHIVES:
        raise ConfigError(f"unknown dataset {name!r}; choose from: {', '.join(ARCHIVES)}")
    archive = ARCHIVES[name]
    base = Path(root).expanduser()
    folder = base / archive.folder
    if folder.is_dir():
        log.info(f"{folder} is already there")
        return folder
    base.mkdir(parents=True, exist_ok=True)
    tarball = base / archive.filename
    if not tarball.is_file():
        source = url or archive.url
        part = tarball.with_name(tarball.name + ".part")
        log.info(f"downloading {source} -> {tarball}")
        try:
            with (
                urllib.request.urlopen(source, timeout=TIMEOUT_S) as response,
                open(part, "wb") as out,
            ):
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            part.unlink(missing_ok=True)
            reason = getattr(exc, "reason", None) or exc
            raise ConfigError(
                f"cannot download {source} ({reason}); without internet, fetch "
                f"{archive.filename} elsewhere and copy it into {base} (it is checked and "
                "extracted on first use)"
            ) from None
        os.replace(part, tarball)
    verify(tarball, archive)
    extract(tarball, base)
    if not folder.is_dir():
        raise ConfigError(f"{tarball}: extracted, but holds no {archive.folder}/")
    log.info(f"{archive.name}: extracted to {folder}")
    return folder


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lossbench data",
        description="Fetch dataset archives (needs internet; runs never download).",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    get = sub.add_parser("download", help="download, md5-check and extract an archive into --root")
    get.add_argument("name", choices=sorted(ARCHIVES), help="cifar10 or cifar100")
    get.add_argument(
        "--root",
        default=DEFAULT_ROOT,
        help=f"folder to put it in: the dataset.root of the run (default {DEFAULT_ROOT})",
    )
    return parser


def main(argv: list[str]) -> int:
    """``lossbench data download NAME [--root DIR]``."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed its usage line
        return int(exc.code or 0) and EXIT_USAGE
    try:
        folder = download(args.name, args.root)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{args.name}: ready in {folder}; run with dataset={args.name}_lt dataset.root={args.root}"
    )
    return 0
