"""Hub-ready output: `data/{split}-*.parquet`, README.md and a manifest, swapped in safely, and publishing.

The output folder may hold the user's own files (a clone of the Hub dataset repo with its `.git/`,
notes, evaluation results): a build replaces only the entries it wrote before, which the manifest
`.raft-dataset-manifest.json` lists, and leaves everything else alone.

A write stages everything in a scratch folder inside the output folder, then, holding a lock on the
output folder, moves the previous build's manifest and card aside, swaps in the new entries and puts
the new card and manifest in place last: a folder without both is never a finished dataset. A build
killed at any point leaves its scratch folder behind; it records what it was replacing, so the next
write knows those entries are its own, finishes the replacement and deletes the leftovers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import datasets

from . import __version__
from .cache import ScratchDir, lock_dir, remove_stale_scratch, stale_scratch
from .card import render_card
from .corpus import OUTPUT_MANIFEST
from .formats import DATASET_INFO_NAME, STYLES, FormatError, llama_factory_dataset_info, write_jsonl
from .pipeline import BuildResult
from .records import SAMPLE_FEATURES
from .shards import DATA_DIR, SHARD_NAME, plan_shards, write_shard

FEATURES = SAMPLE_FEATURES  # the columns of every split, derived from `records.Sample`

MANIFEST_NAME = OUTPUT_MANIFEST  # the corpus reader skips folders holding it
CARD_NAME = "README.md"
# Staging area and moved-aside entries of one write, inside the output folder (same file system).
SCRATCH_PREFIX = ".raft-dataset-tmp-"
# Entries of a version-control clone (or a Hub repo clone) that make a folder count as empty.
VCS_ENTRIES = frozenset({".git", ".gitattributes", ".gitignore", ".gitmodules", ".hg", ".hgignore", ".svn"})
# Stands for the repo id in the card kept in the manifest, so `push_to_hub` can name the real repo.
_REPO_ID_PLACEHOLDER = "__RAFT_DATASET_REPO_ID__"


class OutputFolderError(FileExistsError):
    """Writing to the output folder would replace or lose something that is not the build's own."""


class PushError(RuntimeError):
    """Publishing to the Hub failed; the message says why in one line."""


def to_dataset_dict(result: BuildResult) -> datasets.DatasetDict:
    """The build's splits as a `DatasetDict` with the fixed RAFT features (empty splits left out)."""
    return datasets.DatasetDict({
        name: datasets.Dataset.from_list(rows, features=FEATURES, split=datasets.Split(name))
        for name, rows in result.splits.items()
        if rows
    })


# -- what is ours -------------------------------------------------------------------------------


def read_manifest(path: str | Path) -> dict:
    """A manifest written by `write_dataset_folder`; `OutputFolderError` when it is not one."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise OutputFolderError(f"{path}: unreadable raft-dataset manifest ({err})") from None
    if not (isinstance(manifest, dict) and manifest.get("tool") == "raft-dataset"
            and isinstance(manifest.get("entries"), list) and isinstance(manifest.get("files"), dict)):
        raise OutputFolderError(f"{path}: not a raft-dataset manifest")
    return manifest


def _is_legacy_output(folder: Path) -> bool:
    """An output of a version before the manifest: a card with our YAML block, and data/."""
    card = folder / CARD_NAME
    try:
        return (folder / DATA_DIR).is_dir() and card.is_file() and "\nraft_dataset:\n" in card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def _interrupted_manifests(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Manifests inside the scratch folders of killed writes: what they were replacing and putting in."""
    found = []
    for scratch in stale_scratch(folder, SCRATCH_PREFIX):
        if scratch != exclude:
            found += [m for m in (scratch / "old" / MANIFEST_NAME, scratch / "new" / MANIFEST_NAME) if m.is_file()]
    return found


def owned_entries(folder: str | Path, *, exclude: Path | None = None) -> set[str] | None:
    """Top-level entries of `folder` that a build wrote, or None when no build wrote there.

    From the manifest, the card and data/ of a version before manifests, and the manifests a killed
    write left in its scratch folder (so a crash in the middle of a swap is repaired by the next run).
    """
    folder = Path(folder)
    owned: set[str] | None = None
    manifests = _interrupted_manifests(folder, exclude)
    if (folder / MANIFEST_NAME).is_file():
        manifests.append(folder / MANIFEST_NAME)
    elif _is_legacy_output(folder):
        owned = {DATA_DIR, CARD_NAME}
    for path in manifests:
        owned = (owned or set()) | {str(e) for e in read_manifest(path)["entries"]} | {MANIFEST_NAME}
    return owned


def is_dataset_folder(folder: str | Path) -> bool:
    """Whether a folder holds a raft-dataset output (a manifest, or a card with our YAML block and data/)."""
    folder = Path(folder)
    return folder.is_dir() and owned_entries(folder) is not None


def _is_scratch(name: str) -> bool:
    return name.startswith(SCRATCH_PREFIX)


def check_output_dir(output_dir: str | Path) -> Path:
    """The resolved output folder, or a one-line error when writing there could lose the user's files.

    Accepted: a folder that does not exist yet (under a writable folder), an empty one, one holding
    only version-control files (a fresh clone of a Hub repo), or a previous raft-dataset output
    (whatever else the user keeps there is left alone). Call it before a long build, not only after.
    """
    if not str(output_dir).strip():
        raise ValueError("output folder: empty path; name the folder to write the dataset to (--output DIR)")
    output_dir = Path(output_dir).expanduser().resolve()
    for ancestor in output_dir.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise OutputFolderError(f"{ancestor}: is a file, so the output folder {output_dir} cannot be made")
            if not output_dir.exists() and not os.access(ancestor, os.W_OK | os.X_OK):
                raise OutputFolderError(f"{ancestor}: not writable, so the output folder {output_dir} cannot be made")
            break
    if not output_dir.exists() and not output_dir.is_symlink():
        return output_dir
    if not output_dir.is_dir():
        raise OutputFolderError(f"{output_dir}: exists and is not a folder; choose a new --output")
    owned = owned_entries(output_dir)
    if owned is None:
        foreign = sorted(p.name for p in output_dir.iterdir() if p.name not in VCS_ENTRIES and not _is_scratch(p.name))
        if foreign:
            raise OutputFolderError(f"{output_dir}: exists and is not a raft-dataset output folder (it holds "
                                    f"{foreign[0]!r}); choose a new --output")
        owned = set()
    _check_no_foreign_targets(output_dir, owned, (DATA_DIR, CARD_NAME, MANIFEST_NAME))
    return output_dir


def _check_no_foreign_targets(folder: Path, owned: set[str], targets) -> None:
    """Refuse to replace an entry the build did not write (a README.md or data/ of the user's)."""
    for name in targets:
        path = folder / name
        if (path.exists() or path.is_symlink()) and name not in owned:
            raise OutputFolderError(f"{path}: exists and was not written by raft-dataset; move it away or "
                                    "choose a new --output")
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return
    listed = read_manifest(manifest_path)["files"]
    card = folder / CARD_NAME
    if CARD_NAME in listed and card.is_file() and _sha256(card) != listed[CARD_NAME].get("sha256"):
        raise OutputFolderError(f"{card}: edited since raft-dataset wrote it; move it away to rebuild, "
                                "or keep your card and choose a new --output")
    data = folder / DATA_DIR
    if data.is_dir() and not data.is_symlink():
        for path in sorted(data.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if (path.is_file() or path.is_symlink()) and rel not in listed:
                raise OutputFolderError(f"{path}: not written by raft-dataset but inside its data/ folder, "
                                        "which a rebuild replaces; move it away first")


# -- writing ------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_table(root: Path, names) -> dict[str, dict]:
    """relative path -> {bytes, sha256} of every file under the given top-level entries of `root`."""
    files = {}
    for name in names:
        top = root / name
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file():
                files[path.relative_to(root).as_posix()] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return files


def _write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _stage(result: BuildResult, staging: Path, repo_id: str) -> dict:
    """Write the shards and the card into `staging`; returns the manifest (without its file table)."""
    (staging / DATA_DIR).mkdir()
    sizes = {name: len(rows) for name, rows in result.splits.items()}
    shards = plan_shards(sizes, result.config.rows_per_shard)
    if result.config.executor == "ray":  # a Ray task per shard
        from .ray_executor import write_shards_on_ray

        shard_bytes = write_shards_on_ray(result.splits, shards, staging / DATA_DIR, result.config)
    else:
        shard_bytes = [write_shard(result.splits[s.split][s.start:s.end], s.split, staging / DATA_DIR / s.name)
                       for s in shards]
    splits = datasets.SplitDict()
    for name, n_rows in sizes.items():
        if n_rows:
            num_bytes = sum(size for shard, size in zip(shards, shard_bytes) if shard.split == name)
            splits.add(datasets.SplitInfo(name=name, num_examples=n_rows, num_bytes=num_bytes))
    write_llama_factory_info(staging)  # the folder is a LLaMA-Factory `dataset_dir` as it is
    info = datasets.DatasetInfo(features=FEATURES, splits=splits, dataset_size=sum(s.num_bytes for s in splits.values()))
    # Rendered once with a placeholder for the repo id: `push_to_hub` fills in the real one later.
    card_template = str(render_card(result, info._to_yaml_dict(), repo_id=_REPO_ID_PLACEHOLDER))
    with (staging / CARD_NAME).open("w", encoding="utf-8", newline="") as f:
        f.write(card_template.replace(_REPO_ID_PLACEHOLDER, repo_id))
    return {"tool": "raft-dataset", "version": __version__, "format": 1, "card_repo_id": repo_id,
            "card_template": card_template}


def write_dataset_folder(result: BuildResult, output_dir: str | Path, repo_id: str | None = None) -> Path:
    """Write parquet shards, the card and the manifest into `output_dir`, replacing only the previous
    build's entries.

    Everything is staged in a scratch folder inside `output_dir` first; the swap (under a lock on the
    folder, so two builds cannot interleave) moves the old card and manifest out first and puts the
    new ones in last. The user's other files (`.git/`, notes, results) are never touched; a README.md
    or data/ that is not the build's own is refused, not replaced. Leftovers of killed writes (and
    of earlier versions' `.NAME.partial-*` / `.NAME.old-*`) are removed once the write succeeded.
    """
    output_dir = check_output_dir(output_dir)
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    scratch = ScratchDir(output_dir, SCRATCH_PREFIX)
    journal = scratch.path / "new" / MANIFEST_NAME
    try:
        staging, aside = scratch.path / "new", scratch.path / "old"
        staging.mkdir()
        aside.mkdir()
        manifest = _stage(result, staging, repo_id or output_dir.name)
        with lock_dir(output_dir):
            _swap_in(staging, aside, output_dir, manifest, scratch.path)
            remove_stale_scratch(output_dir, SCRATCH_PREFIX)
    except BaseException:
        if journal.exists():  # interrupted mid-swap (Ctrl-C): keep the journal for the next run to finish
            scratch.abandon()
            raise
        scratch.cleanup()
        if created:  # leave no empty folder behind where there was none
            with contextlib.suppress(OSError):
                output_dir.rmdir()
        raise
    scratch.cleanup()
    _remove_legacy_leftovers(output_dir)
    return output_dir


def _swap_in(staging: Path, aside: Path, output_dir: Path, manifest: dict, own_scratch: Path) -> None:
    """Replace the previous build's entries of `output_dir` by those staged; card and manifest last."""
    owned = owned_entries(output_dir, exclude=own_scratch)
    if owned is None:
        foreign = sorted(p.name for p in output_dir.iterdir() if p.name not in VCS_ENTRIES and not _is_scratch(p.name))
        if foreign:  # something appeared while the build ran
            raise OutputFolderError(f"{output_dir}: not a raft-dataset output folder (it holds {foreign[0]!r})")
        owned = set()
    new_entries = sorted(p.name for p in staging.iterdir())
    _check_no_foreign_targets(output_dir, owned, [*new_entries, MANIFEST_NAME])
    manifest = {**manifest, "entries": new_entries, "files": _file_table(staging, new_entries)}
    # The journal of this swap: until the manifest is in place, the next run reads it here.
    _write_manifest(staging / MANIFEST_NAME, manifest)
    # First out: the manifest and the card, so the folder stops looking finished; then every old entry.
    first_out = [MANIFEST_NAME, CARD_NAME]
    for name in [*first_out, *sorted(owned - set(first_out))]:
        if (output_dir / name).exists() or (output_dir / name).is_symlink():
            _move(output_dir / name, aside / name)
    # In: the data, then the card, the manifest last.
    for name in sorted(new_entries, key=lambda n: n == CARD_NAME):
        _move(staging / name, output_dir / name)
    _move(staging / MANIFEST_NAME, output_dir / MANIFEST_NAME)


def _move(source: Path, target: Path) -> None:
    """One rename inside the output folder (a single step: never a half-copied entry)."""
    source.rename(target)


def _remove_legacy_leftovers(output_dir: Path) -> None:
    """`.NAME.partial-*` (stale) and `.NAME.old-PID` (dead PID) folders of versions before the manifest."""
    prefix = f".{output_dir.name}."
    for path in output_dir.parent.iterdir():
        if not path.name.startswith(prefix) or not path.is_dir() or path.is_symlink():
            continue
        kind, _, suffix = path.name[len(prefix):].partition("-")
        # Earlier versions are not run at the same time as this one: their staging folders are stale.
        if kind == "partial" or (kind == "old" and suffix.isdigit() and not _pid_alive(int(suffix))):
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# -- publishing ---------------------------------------------------------------------------------


def _card_for_repo(folder: Path, manifest: dict, repo_id: str) -> None:
    """Re-render the card for `repo_id` (unless the user edited it) and record it in the manifest."""
    card = folder / CARD_NAME
    listed = manifest["files"].get(CARD_NAME, {})
    template = manifest.get("card_template")
    if not template or manifest.get("card_repo_id") == repo_id or _sha256(card) != listed.get("sha256"):
        return  # already names the repo, or the user's own edit: uploaded as it is
    text = template.replace(_REPO_ID_PLACEHOLDER, repo_id)
    with lock_dir(folder):
        with (folder / f".{CARD_NAME}.tmp").open("w", encoding="utf-8", newline="") as f:
            f.write(text)
        (folder / f".{CARD_NAME}.tmp").replace(card)
        manifest["card_repo_id"] = repo_id
        manifest["files"][CARD_NAME] = {"bytes": card.stat().st_size, "sha256": _sha256(card)}
        _write_manifest(folder / f".{MANIFEST_NAME}.tmp", manifest)
        (folder / f".{MANIFEST_NAME}.tmp").replace(folder / MANIFEST_NAME)


def _hub_failures() -> tuple[type[BaseException], ...]:
    """What the Hub client raises for refusals and network trouble (not programming errors)."""
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalTokenNotFoundError

    failures: list[type[BaseException]] = [HfHubHTTPError, HFValidationError, LocalTokenNotFoundError, OSError]
    for module, name in (("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            failures.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(failures)


def _hub_error(err: Exception, repo_id: str) -> str:
    """One line saying why the Hub refused or could not be reached (never the token)."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalTokenNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, LocalTokenNotFoundError):
        return "not logged in to the Hub: run `hf auth login` or set HF_TOKEN"
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status == 401:
        return f"{repo_id}: the Hub refused the token (401): log in again or set a valid HF_TOKEN"
    if status == 403:
        return f"{repo_id}: permission denied (403): the token cannot write to this repo"
    if isinstance(err, RevisionNotFoundError):
        return f"{repo_id}: revision not found on the Hub"
    if isinstance(err, RepositoryNotFoundError) or status == 404:
        return f"{repo_id}: dataset repo not found, or the token cannot see it (404)"
    if isinstance(err, HFValidationError):
        return f"{repo_id}: not a valid repo id (expected owner/name)"
    lines = [line for line in str(err).splitlines() if line.strip()]
    first = lines[0].strip() if lines else type(err).__name__
    if isinstance(err, HfHubHTTPError):
        return f"{repo_id}: the Hub answered {status or 'an error'}: {first}"
    return f"{repo_id}: cannot reach the Hub ({type(err).__name__}: {first})"


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool | None = None, token: str | None = None,
                revision: str | None = None, create_pr: bool = False, commit_message: str | None = None) -> str:
    """Publish a built folder as a dataset repo, in one commit; returns the commit (or PR) URL.

    Uploads the files the manifest lists (never `.git/` or the user's other files), deletes `data/`
    files on the Hub that this build did not write (stale shards of splits no longer built), and
    uploads a card whose usage snippet names `repo_id`. `revision`: the branch to commit to (made
    if missing); `create_pr`: open a pull request instead of committing to the branch. The token
    comes from `token`, else HF_TOKEN or the login, and goes to `huggingface_hub` only.

    Raises:
        PushError: in one line, for a folder that is not a built dataset and for every Hub failure
            (authentication, permission, missing repo, network).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    folder = Path(folder)
    if (folder / MANIFEST_NAME).is_file():
        try:
            manifest = read_manifest(folder / MANIFEST_NAME)
        except OutputFolderError as err:
            raise PushError(str(err)) from None
        _card_for_repo(folder, manifest, repo_id)
        files = sorted([*manifest["files"], MANIFEST_NAME])
    elif _is_legacy_output(folder):
        files = sorted([CARD_NAME, *_file_table(folder, [DATA_DIR])])
    else:
        raise PushError(f"{folder}: not a built raft-dataset folder (README.md, data/ and {MANIFEST_NAME} expected)")
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise PushError(f"{folder / missing[0]}: listed in the manifest but missing; rebuild the folder")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision and not create_pr:
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        remote = api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
        stale = sorted(f for f in remote if f.startswith(f"{DATA_DIR}/") and f not in files)
        operations = [CommitOperationDelete(path_in_repo=f) for f in stale]
        operations += [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(folder / f)) for f in files]
        commit = api.create_commit(
            repo_id, operations, repo_type="dataset", revision=revision, create_pr=create_pr,
            commit_message=commit_message or "Upload RAFT dataset built with raft-dataset",
        )
    except _hub_failures() as err:
        raise PushError(_hub_error(err, repo_id)) from err
    return str(getattr(commit, "pr_url", None) or getattr(commit, "commit_url", commit))


# -- other trainers' files ----------------------------------------------------------------------

def split_shards(folder: str | Path) -> dict[str, list[str]]:
    """Split name -> its parquet shards in a built folder, as paths relative to the folder."""
    shards: dict[str, list[str]] = {}
    for path in sorted((Path(folder) / DATA_DIR).glob("*.parquet")):
        match = SHARD_NAME.match(path.name)
        if match:
            shards.setdefault(match["split"], []).append(f"{DATA_DIR}/{path.name}")
    return shards


def write_llama_factory_info(folder: str | Path) -> Path:
    """Write LLaMA-Factory's `dataset_info.json` for the shards in `folder`'s data/ (one entry per split,
    `raft_train`, `raft_validation`, ...); `folder` is then a `dataset_dir` LLaMA-Factory reads as it is."""
    folder = Path(folder)
    info = llama_factory_dataset_info(split_shards(folder))
    partial = folder / f".{DATASET_INFO_NAME}.partial"
    partial.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    partial.replace(folder / DATASET_INFO_NAME)
    return folder / DATASET_INFO_NAME


def iter_split_rows(folder: str | Path, split: str = "train", batch_size: int = 256) -> Iterator[dict]:
    """The rows of one split of a built folder, read shard by shard in batches (bounded memory).

    Raises:
        ValueError: one line, for a folder without shards or a split it does not have.
    """
    import pyarrow.parquet as pq

    folder = Path(folder)
    shards = split_shards(folder)
    if not shards:
        raise ValueError(f"{folder}: not a built raft-dataset folder (no {DATA_DIR}/*.parquet shards)")
    if split not in shards:
        raise ValueError(f"{folder}: no split {split!r} (it has: {', '.join(shards)})")
    for shard in shards[split]:
        for batch in pq.ParquetFile(folder / shard).iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


def export_jsonl(folder: str | Path, output: str | Path, style: str, split: str = "train") -> int:
    """Write one split of a built folder as alpaca, ShareGPT or OpenAI-chat JSON lines; returns the rows.

    The style is checked before anything is read, and `output` is replaced only once it is complete.
    """
    if style not in STYLES:
        raise FormatError(f"format: unknown style {style!r} (choose from {', '.join(STYLES)})")
    return write_jsonl(iter_split_rows(folder, split), output, style)
