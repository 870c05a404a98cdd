"""`nd serve` end to end: the real command on a free loopback port, watched by headless Chromium."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

START_TIMEOUT = 180  # the first start loads torch and the network on a busy CI machine


@pytest.fixture
def served(tmp_path):
    """`nd serve` at 64x64 with one step per frame; yields its URL, then stops it with Ctrl-C."""
    command = [
        sys.executable, "-c", "from neuralgae_cli.main import main; main()", "serve",
        "--port", "0", "--size", "64x64", "--steps", "1", "--prior", "0", "--classes", "goldfish",
        "--record", str(tmp_path / "rec"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"nd serve printed no address in {START_TIMEOUT} s")
            if "streaming at " in line:
                url = line.split("streaming at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        process.url = url
        process.reader = reader
        process.lines = lines
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_viewer_watches_and_requests_a_subject(served, browser, tmp_path):
    page = browser.new_page(viewport={"width": 900, "height": 700})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served.url)

    page.wait_for_selector("#stage[data-drawn]", timeout=120_000)
    spread = page.evaluate(
        """() => {
            const c = document.getElementById('view');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let sum = 0, sq = 0, n = 0;
            for (let i = 0; i < d.length; i += 4 * 97) { const v = d[i]; sum += v; sq += v * v; n++; }
            const mean = sum / n; return Math.sqrt(sq / n - mean * mean);
        }"""
    )
    assert spread > 2, "the canvas holds no picture"
    assert page.eval_on_selector("#subject-bottom", "e => e.dataset.subject") == "goldfish"
    assert page.eval_on_selector("#class-names", "e => e.options.length") == 1000

    page.fill("#ask-name", "volcano")
    page.click("#ask button")
    page.wait_for_selector('#subject-bottom[data-subject="volcano"]', timeout=30_000)
    assert page.eval_on_selector("#subject-top", "e => e.dataset.subject") == "goldfish"
    assert "volcano" in page.text_content("#message")

    page.fill("#ask-name", "volcanoo")
    page.click("#ask button")
    page.wait_for_selector("#message.bad", timeout=10_000)
    assert "did you mean 'volcano'" in page.text_content("#message")
    assert errors == []
    page.close()

    served.send_signal(signal.SIGINT)
    served.wait(timeout=30)
    served.reader.join(timeout=5)
    err = served.stderr.read()
    out = "".join(served.lines.queue)
    assert served.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert (tmp_path / "rec" / "manifest.jsonl").read_text().count("\n") >= 1
