"""Writing seeds: what the writer writes, tomllib reads back into the same seed."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from openkms import seedfile
from openkms.domain.seed import SeedSecretVersion
from openkms.seedfile import writer

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "seed" / "seed.toml"


def test_the_example_written_and_read_again_is_the_same_seed() -> None:
    seed = seedfile.load(EXAMPLE)
    text = writer.dumps(writer.to_document(seed))
    assert text.startswith("# An openkms seed file")
    assert "-----BEGIN PRIVATE KEY-----\n" in text  # a PEM block reads as one
    assert seedfile.from_document(tomllib.loads(text)) == seed


def test_awkward_strings_survive() -> None:
    seed = seedfile.load(EXAMPLE)
    awkward = "quote \" backslash \\ tab \t newline \n ünïcödé \u2028 \x7f \x00 ''' end"
    [secret] = seed.secrets
    versions = (replace(secret.versions[0], value=awkward), *secret.versions[1:])
    key = replace(seed.keys[0], description=awkward, tags=(("a key with spaces", "v:1"), ("team", "x")))
    changed = replace(seed, keys=(key, *seed.keys[1:]), secrets=(replace(secret, versions=versions),))
    again = seedfile.from_document(tomllib.loads(writer.dumps(writer.to_document(changed))))
    assert again == changed
    assert again.secrets[0].versions[0].value == awkward


def test_an_empty_value_and_a_binary_one_are_kept() -> None:
    seed = seedfile.load(EXAMPLE)
    [secret] = seed.secrets
    versions = (
        SeedSecretVersion("v1", "", ("ACSPrevious",)),
        SeedSecretVersion("v2", "AAEC/w==", ("ACSCurrent",), data_type="binary"),
    )
    changed = replace(seed, secrets=(replace(secret, versions=versions),))
    document = tomllib.loads(writer.dumps(writer.to_document(changed)))
    assert document["secrets"][0]["versions"][0]["value"] == ""
    assert seedfile.from_document(document) == changed
