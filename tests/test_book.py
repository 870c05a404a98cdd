"""classes.txt, the text generators (verse, prose) and the HTML book, without running a chain."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from neuralgae.core.chain.book import (
    BookFrame,
    book_frames,
    build_book,
    chapter_file,
    classes_line,
    parse_classes_line,
    read_classes_txt,
    write_classes_txt,
)
from neuralgae.core.nets.classes import class_names
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import save_image
from neuralgae.core.runs.runfolder import MANIFEST
from neuralgae.core.host.plugins import PluginHost
from neuralgae.core.chain.textgen import TextContext, bigram_table, bigram_walk, details, gist, join_names
from neuralgae.plugins.text import prose, verse
from neuralgae_cli.book import register

SEED_FRAMES = [
    ["Gordon setter", "minibus", "sidewinder", "miniskirt", "hand-held computer", "Doberman", "steel drum", "packet"],
    ["terrapin", "comic book", "worm fence", "African chameleon", "mousetrap", "prayer rug", "kimono", "tank suit"],
    ["common iguana", "bullfrog", "swimming trunks", "bow", "loggerhead", "black grouse", "horned viper", "night snake"],
    ["fiddler crab", "eft", "tiger shark", "green mamba", "coho", "chambered nautilus", "electric ray", "boa constrictor"],
    ["sleeping bag", "coho", "mongoose", "coral reef", "dhole", "wood rabbit", "frilled lizard", "banded gecko"],
    ["frilled lizard", "banded gecko", "Airedale", "diamondback", "hyena", "common iguana", "partridge", "terrapin"],
]


def ctx(seed: int = 0) -> TextContext:
    return TextContext(rng=np.random.default_rng(seed))


def fake_run(folder: Path, frames=SEED_FRAMES, *, size: int = 8) -> Path:
    """A run folder as `nd run` leaves it: frame PNGs and a manifest with class names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = class_names()
    lines = []
    for k, frame in enumerate(frames):
        file = f"frame_{k:05d}.png"
        save_image(folder / file, np.full((size, size, 3), k / max(1, len(frames)), dtype=np.float32))
        classes = [[names.index(n), 1.0] for n in frame]
        lines.append(json.dumps({"index": k, "file": file, "classes": classes, "class_names": frame}) + "\n")
    (folder / MANIFEST).write_text("".join(lines), encoding="utf-8")
    return folder


# -- classes.txt --------------------------------------------------------------------------


def test_classes_lines_follow_the_seed_format_and_round_trip(tmp_path):
    line = classes_line("./Neuralgia/image0.jpg", SEED_FRAMES[0])
    assert line == "./Neuralgia/image0.jpg: Gordon setter, minibus, sidewinder, miniskirt, hand-held computer, Doberman, steel drum, packet"
    assert parse_classes_line(line) == ("./Neuralgia/image0.jpg", SEED_FRAMES[0])
    entries = [{"file": f"frame_{k:05d}.png", "class_names": f} for k, f in enumerate(SEED_FRAMES)]
    path = write_classes_txt(tmp_path, entries)
    assert read_classes_txt(path) == [(e["file"], e["class_names"]) for e in entries]
    with pytest.raises(NeuralgaeError, match="PATH: class"):
        parse_classes_line("no separator here")


# -- text helpers and generators ------------------------------------------------------------


def test_bigram_walk_follows_the_table_and_the_seed():
    table = bigram_table(["the red fish swims. the red crab walks, slowly."])
    assert table["red"] == ("fish", "crab")
    walk = bigram_walk("the", table, np.random.default_rng(3), length=6)
    assert walk[0] == "red" and walk[1] in ("fish", "crab") and "." not in walk
    assert walk == bigram_walk("the", table, np.random.default_rng(3), length=6)
    assert bigram_walk("unknown", table, np.random.default_rng(3), length=6) == []


def test_phrases_from_descriptions():
    d = "A bee is a small flying insect with a stout body, six legs, and two pairs of clear wings. It hums."
    assert gist(d) == "small flying insect"
    assert details(d) == ["a stout body", "six legs", "two pairs of clear wings"]
    assert details("A wind instrument with a hollow body, with a short protruding mouthpiece.") == [
        "a hollow body", "a short protruding mouthpiece"]
    assert gist("") == "" and details("") == []
    assert join_names(["a", "b", "c"]) == "a, b and c"


def test_verse_writes_a_stanza_per_frame_and_a_line_per_class_starting_with_its_name():
    stanzas = verse(SEED_FRAMES, ctx(1))
    assert len(stanzas) == len(SEED_FRAMES)
    for stanza, names in zip(stanzas, SEED_FRAMES):
        lines = stanza.split("\n")
        assert len(lines) == len(names)
        for line, name in zip(lines, names):
            assert line.startswith(name)
    walked = [line[len(name):].split() for s, f in zip(stanzas, SEED_FRAMES) for line, name in zip(s.split("\n"), f)]
    assert sum(1 for w in walked if w) >= 0.8 * len(walked)  # almost every line walks on from its name
    assert max(len(w) for w in walked) <= 7  # 6 walked tokens (a first word may come from the class's description)
    assert verse(SEED_FRAMES, ctx(1)) == stanzas
    assert verse(SEED_FRAMES, ctx(2)) != stanzas


def test_prose_reads_as_text_with_continuity_and_no_repeated_sentences():
    frames = SEED_FRAMES * 4
    passages = prose(frames, ctx(5))
    assert len(passages) == len(frames)
    assert prose(frames, ctx(5)) == passages and prose(frames, ctx(6)) != passages
    sentences = [s for p in passages for s in re.split(r"(?<=[.!?])\s+", p)]
    # no boilerplate: few sentences repeat word for word, and passages open in different ways
    assert len(set(sentences)) >= 0.9 * len(sentences)
    openers = [" ".join(p.split()[:2]) for p in passages]
    assert len(set(openers)) >= len(passages) // 3
    # continuity: frame 5 keeps "frilled lizard", "banded gecko" from frame 4, and the text says which stays
    assert re.search(r"frilled lizard|banded gecko", passages[5].split(".")[0])
    # no list of eight: a passage names new classes in sentences, not only as a list
    assert all(p.count(".") >= 3 for p in passages)
    for p in passages:
        assert p[0].isupper() and p.endswith(".")
        assert "{" not in p and "  " not in p


def test_text_generators_are_registered_as_plugins():
    host = PluginHost(entry_points=False)
    assert {"verse", "prose"} <= set(host.text_generators)
    assert host.get("text_generator", "verse").params["words"].default == 6
    with pytest.raises(NeuralgaeError, match="words"):
        verse(SEED_FRAMES, ctx(), words=0)


# -- the book ---------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.sections = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"])
        elif tag == "a":
            self.links.append(a["href"])
        elif tag == "section":
            self.sections.append(a.get("id"))


def parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_the_book_lists_every_frame_in_chapters_with_navigation(tmp_path):
    run = fake_run(tmp_path / "run")
    frames = book_frames(run)
    passages = [f"passage <{k}> & more" for k in range(len(frames))]
    index = build_book(frames, passages, tmp_path / "book", chapter_size=4, title="Neuralgia")
    book = index.parent
    assert set(parse(index).links) == {chapter_file(1), chapter_file(2)}
    one, two = parse(book / chapter_file(1)), parse(book / chapter_file(2))
    assert one.sections == [f"frame-{k}" for k in range(4)] and two.sections == ["frame-4", "frame-5"]
    assert chapter_file(2) in one.links and chapter_file(1) in two.links and "index.html" in two.links
    assert chapter_file(0) not in one.links and chapter_file(3) not in two.links
    for page in (one, two):
        for src in page.images:  # every image is copied into the book and is the frame's bytes
            assert (book / src).is_file()
    assert (book / "images/00005.png").read_bytes() == (run / "frame_00005.png").read_bytes()
    text = (book / chapter_file(1)).read_text(encoding="utf-8")
    assert "passage &lt;0&gt; &amp; more" in text and "Gordon setter, minibus" in text
    assert "http" not in text  # self-contained


def test_book_errors_are_clear(tmp_path):
    with pytest.raises(NeuralgaeError, match="no manifest.jsonl"):
        book_frames(tmp_path)
    run = fake_run(tmp_path / "run")
    frames = book_frames(run)
    with pytest.raises(NeuralgaeError, match="one per frame"):
        build_book(frames, ["x"], tmp_path / "book")
    no_classes = tmp_path / "dream"
    no_classes.mkdir()
    save_image(no_classes / "frame_00000.png", np.zeros((4, 4, 3), np.float32))
    (no_classes / MANIFEST).write_text(json.dumps({"index": 0, "file": "frame_00000.png", "class_names": None}) + "\n")
    with pytest.raises(NeuralgaeError, match="sampler"):
        book_frames(no_classes)


@pytest.fixture
def app():
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands, so typer keeps the command name
    return app


def test_nd_book_builds_from_a_partial_run_and_writes_classes_txt(tmp_path, app):
    run = fake_run(tmp_path / "run")
    with (run / MANIFEST).open("a") as fh:
        fh.write('{"index": 6, "file": "frame_000')  # torn last line of a run still going
    runner = CliRunner()
    result = runner.invoke(app, ["book", str(run), "--text", "prose", "--seed", "3", "--chapter-size", "2"])
    assert result.exit_code == 0, result.output
    assert read_classes_txt(run / "classes.txt") == [(f"frame_{k:05d}.png", f) for k, f in enumerate(SEED_FRAMES)]
    pages = sorted((run / "book").glob("chapter_*.html"))
    assert len(pages) == 3
    first = (run / "book" / chapter_file(1)).read_text()
    again = runner.invoke(app, ["book", str(run), "--text", "prose", "--seed", "3", "--chapter-size", "2", "-o", str(tmp_path / "b2")])
    assert again.exit_code == 0 and (tmp_path / "b2" / chapter_file(1)).read_text() == first
    bad = runner.invoke(app, ["book", str(run), "--text", "verses"])
    assert bad.exit_code == 1 and "did you mean 'verse'" in bad.output and "Traceback" not in bad.output


def test_the_book_renders_in_a_browser_with_every_image_loaded(tmp_path, browser):
    run = fake_run(tmp_path / "run", size=64)
    frames = book_frames(run)
    index = build_book(frames, verse(SEED_FRAMES, ctx()), tmp_path / "book", chapter_size=4)
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    seen = 0
    for chapter in sorted(index.parent.glob("chapter_*.html")):
        page.goto(chapter.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")
        assert images and all(ok for _, ok in images), f"{chapter.name}: images that did not load: {[s for s, ok in images if not ok]}"
        seen += len(images)
    assert seen == len(frames)
    page.goto((index.parent / chapter_file(1)).as_uri())
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
    page.close()


def test_nd_book_passes_generator_parameters(tmp_path, app):
    run = fake_run(tmp_path / "run")
    runner = CliRunner()
    short = runner.invoke(app, ["book", str(run), "--param", "words=1", "-o", str(tmp_path / "short")])
    assert short.exit_code == 0, short.output
    page = (tmp_path / "short" / chapter_file(1)).read_text()
    long = runner.invoke(app, ["book", str(run), "-p", "words=12", "-o", str(tmp_path / "long")])
    assert long.exit_code == 0 and len((tmp_path / "long" / chapter_file(1)).read_text()) > len(page)
    unknown = runner.invoke(app, ["book", str(run), "--param", "word=3"])
    assert unknown.exit_code == 1 and "text generator 'verse': unknown parameter 'word'" in unknown.output
    assert "did you mean 'words'" in unknown.output and "Traceback" not in unknown.output
    malformed = runner.invoke(app, ["book", str(run), "--param", "words"])
    assert malformed.exit_code == 1 and "--param words: write NAME=VALUE" in malformed.output
    wrong_type = runner.invoke(app, ["book", str(run), "--param", "words=many"])
    assert wrong_type.exit_code == 1 and "words" in wrong_type.output and "Traceback" not in wrong_type.output


# -- a run folder is untrusted input --------------------------------------------------------


def _book(app, *args):
    result = CliRunner().invoke(app, ["book", *map(str, args)])
    assert "Traceback" not in result.output
    return result


def _one_line_error(result, pattern: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), result.output


@pytest.mark.parametrize(
    "manifest, pattern",
    [
        ("not json\n", r"manifest.jsonl in '.*' is damaged"),
        ("[1, 2]\n", r"is damaged"),
        (b"\xff\xfe\n", r"is damaged"),
        ('{"index": 0, "file": 7, "class_names": ["a"]}\n', r"is damaged"),
        ('{"index": 0, "file": "frame_00000.png", "class_names": "tench"}\n', r"entry 0 .*class_names must be a list of names"),
        ('{"index": 0, "file": "frame_00000.png", "class_names": [1, 2]}\n', r"class_names must be a list"),
    ],
)
def test_nd_book_refuses_a_garbage_manifest_in_one_line(tmp_path, app, manifest, pattern):
    run = fake_run(tmp_path / "run")
    path = run / MANIFEST
    path.write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
    _one_line_error(_book(app, run), pattern)


@pytest.mark.parametrize("name", ["../secret.png", "ABSOLUTE", "link.png", "sub/secret.png"])
def test_nd_book_never_copies_a_file_from_outside_the_run(tmp_path, app, name):
    run = fake_run(tmp_path / "run")
    secret = tmp_path / "secret.png"
    save_image(secret, np.ones((4, 4, 3), np.float32))  # even an image
    (run / "link.png").symlink_to(secret)
    (run / "sub").symlink_to(tmp_path)
    lines = (run / MANIFEST).read_text().splitlines()
    entry = json.loads(lines[2])
    entry["file"] = str(secret) if name == "ABSOLUTE" else name
    lines[2] = json.dumps(entry)
    (run / MANIFEST).write_text("\n".join(lines) + "\n")
    _one_line_error(_book(app, run), r"manifest.jsonl entry 2 \(file '.*(secret|link).png'\) in .* points outside the folder")
    assert not (run / "book").exists()


def test_nd_book_refuses_a_text_file_posing_as_a_frame(tmp_path, app):
    run = fake_run(tmp_path / "run")
    (run / "frame_00003.png").write_text("<script>alert(1)</script>")
    _one_line_error(_book(app, run), r"frame 3 '.*frame_00003.png' is not an image")
    assert not list((run / "book").glob("**/*.html"))


def test_a_book_names_its_copies_by_what_the_frames_are(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "frame_00001.png").rename(run / "frame_00001.html")  # a PNG by content
    lines = (run / MANIFEST).read_text().replace("frame_00001.png", "frame_00001.html")
    (run / MANIFEST).write_text(lines)
    index = build_book(book_frames(run), ["x"] * len(SEED_FRAMES), tmp_path / "book")
    assert (index.parent / "images/00001.png").is_file() and not list(index.parent.glob("images/*.html"))


def test_nd_book_output_that_is_a_file_or_unwritable_is_one_line(tmp_path, app):
    run = fake_run(tmp_path / "run")
    (tmp_path / "taken").write_text("x")
    _one_line_error(_book(app, run, "-o", tmp_path / "taken"), r"book folder '.*taken' is a file, not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not _can_write(locked):  # root writes anyway
            _one_line_error(_book(app, run, "-o", locked / "book"), r"cannot write the book into '.*book': Permission denied")
    finally:
        locked.chmod(0o700)
    (run / "book").symlink_to(tmp_path)
    _one_line_error(_book(app, run), r"the book folder in '.*run' points outside the folder")


def _can_write(folder: Path) -> bool:
    """Whether this process writes into ``folder`` despite its mode (root does)."""
    try:
        (folder / ".probe").write_text("x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True
