"""The dataset card: Hub metadata that is the same for the same data, and a body with real content."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard

from raft_dataset import card as card_module
from raft_dataset.config import ConfigError, RaftDatasetConfig
from raft_dataset.export import MANIFEST_NAME, write_dataset_folder
from raft_dataset.pipeline import build_raft_dataset
from raft_dataset.preview import context_documents
from tests.conftest import REPO
from tests.fake_encoder import HashingEncoder

DOCS = Path(__file__).parent / "fixtures" / "docs"


def _config(**overrides) -> RaftDatasetConfig:
    settings = dict(corpus=str(DOCS), embedding_cache="", num_distractors=1, min_query_similarity=-1.0,
                    license="mit", splits={"train": 0.5, "validation": 0.25, "test": 0.25})
    return RaftDatasetConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def builds():
    """The same build run twice (hashing encoder, the fixture pages): equal data, different timings."""
    encoder = HashingEncoder()
    return [build_raft_dataset(_config(), encoder=encoder, show_progress=False) for _ in range(2)]


@pytest.fixture(scope="module")
def folders(builds, tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    return [write_dataset_folder(build, root / name, repo_id="me/raft-test") for build, name in zip(builds, "ab")]


def _yaml_text(card_text: str) -> str:
    match = re.match(r"---\n(.*?)\n---\n", card_text, re.DOTALL)
    assert match, "the card starts with a YAML block"
    return match.group(1)


def _section(body: str, heading: str) -> str:
    """The text under `heading` (a whole heading line) up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = body.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if re.match(rf"^#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end]).strip()


def test_hub_metadata_fields(folders, builds):
    metadata = yaml.safe_load(_yaml_text((folders[0] / "README.md").read_text()))
    assert metadata["language"] == ["en"]
    assert metadata["annotations_creators"] == ["machine-generated"]
    assert metadata["source_datasets"] == ["original"]
    assert metadata["task_categories"] == ["question-answering", "text-generation"]
    assert metadata["task_ids"] == ["closed-domain-qa", "open-book-qa"]
    assert metadata["size_categories"] == ["n<1K"]
    assert metadata["license"] == "mit"
    assert metadata["raft_dataset"]["counts"]["samples"] == sum(len(rows) for rows in builds[0].splits.values())
    # The Hub's own parser reads the same metadata.
    assert DatasetCard.load(folders[0] / "README.md").data.to_dict()["task_ids"] == ["closed-domain-qa", "open-book-qa"]


def test_yaml_is_identical_for_two_identical_builds(builds, folders):
    first, second = ((folder / "README.md").read_text() for folder in folders)
    assert builds[0].splits == builds[1].splits
    assert builds[0].timings != builds[1].timings  # what must stay out of the YAML did change
    assert _yaml_text(first) == _yaml_text(second)
    assert "seconds" not in _yaml_text(first)
    # LLM accounting changes from run to run too (a rerun is answered from the cache): body only.
    usage = [{"requests": 40, "cache_hits": 0, "prompt_tokens": 9000}, {"requests": 0, "cache_hits": 40, "prompt_tokens": 0}]
    cards = [str(card_module.render_card(dataclasses.replace(builds[0], llm_usage=u), {}, repo_id="me/x")) for u in usage]
    assert _yaml_text(cards[0]) == _yaml_text(cards[1])
    assert '"cache_hits": 40' in cards[1] and "cache_hits" not in _yaml_text(cards[1])


def test_source_datasets_and_language_follow_the_config(builds, tmp_path):
    def metadata(**overrides):
        result = dataclasses.replace(builds[0], config=_config(**overrides))
        return yaml.safe_load(_yaml_text(str(card_module.render_card(result, {}))))

    hub = metadata(corpus=None, hf_dataset="rajpurkar/squad")
    assert hub["source_datasets"] == ["rajpurkar/squad"]
    local = tmp_path / "my_dataset"
    local.mkdir()
    assert metadata(corpus=None, hf_dataset=str(local))["source_datasets"] == ["original"]  # a path means nothing on the Hub
    assert metadata(language=["en", "de"])["language"] == ["en", "de"]
    assert "language" not in metadata(language=None)
    with pytest.raises(ConfigError, match=r"^language: expected an ISO 639 code such as \"en\", got 'English'$"):
        _config(language="English")
    with pytest.raises(ConfigError, match=r"^language\[1\]: "):
        _config(language=["en", 7])


def test_body_sections_hold_real_content(folders, builds):
    text = (folders[0] / "README.md").read_text()
    body = text.split("\n---\n", 1)[1]
    result = builds[0]
    for heading in ("## Uses", "### Direct use", "### Out-of-scope use", "### Example row", "## Limitations",
                    "## Citation", "## Quality", "## Usage"):
        assert _section(body, heading), f"{heading} is empty"

    # The example row is a real row, its documents cut short.
    example = json.loads(re.search(r"```json\n(.*?)\n```", _section(body, "### Example row"), re.DOTALL).group(1))
    rows = {row["id"]: row for split in result.splits.values() for row in split}
    row = rows[example["id"]]
    assert example["question"] == row["question"] and example["output"] == row["output"]
    assert "messages" not in example and "prompt" not in example
    shown, full = context_documents(example), context_documents(row)
    assert [d.title for d in shown] == [d.title for d in full] and len(shown) == len(row["context_chunk_ids"])
    for short, long in zip(shown, full):
        limit = card_module.EXAMPLE_DOCUMENT_CHARS
        if len(long.text) <= limit:
            assert short.text == long.text
        else:  # cut at the limit, trailing blanks (e.g. after a heading line) dropped before the ellipsis
            assert short.text.endswith("…") and len(short.text) <= limit
            assert long.text.startswith(short.text[:-1]) and not long.text[len(short.text) - 1:limit - 1].strip()

    # Limitations are this build's: its answer kind, and the oracle figures of its quality report.
    limitations = _section(body, "## Limitations")
    quality = result.quality
    assert "extractive" in limitations and "English" in limitations
    assert f"{100 * quality.share(quality.oracle_outscored):.1f}% of rows" in limitations
    assert f"{100 * quality.share(quality.retrievers_agree):.1f}%" in limitations

    citation = _section(body, "## Citation")
    assert "@article{zhang2024raft" in citation and "arXiv:2403.10131" in citation and "Zhang, Tianjun" in citation

    # The quality report renders as tables and a list (its plain lines would run into one paragraph).
    quality_section = _section(body, "## Quality")
    assert f"| Check ({quality.rows} rows) | Share of rows |" in quality_section
    assert "| oracle outscored by another document (confidence <= 0) |" in quality_section
    assert re.search(r"^- Oracles: ", quality_section, re.MULTILINE)
    assert re.search(r"^- Question forms: ", quality_section, re.MULTILINE)

    totals = sum(entry["total"]["total"] for entry in result.statistics.values())
    assert f"{totals:,} total tokens" in body


def test_usage_snippet_names_the_repo_or_the_folder(builds, folders, tmp_path):
    assert 'load_dataset("me/raft-test")' in (folders[0] / "README.md").read_text()
    local = write_dataset_folder(builds[0], tmp_path / "my-raft")
    assert 'load_dataset("my-raft")' in (local / "README.md").read_text()
    assert json.loads((local / MANIFEST_NAME).read_text())["card_repo_id"] == "my-raft"
    assert 'load_dataset("someone/else")' in str(card_module.render_card(builds[0], {}, repo_id="someone/else"))


def test_design_card_is_the_template():
    assert (REPO / "dataset_card.md").read_text() == card_module.TEMPLATE_PATH.read_text()
