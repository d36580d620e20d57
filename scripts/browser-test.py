#!/usr/bin/env python3
"""The setup preview page in a real browser (issue 13): headless Chromium, driven through its
DevTools protocol over a pipe (--remote-debugging-pipe: no WebSocket client needed), opens the
page of `dactyl run samples/session.y4m --preview` while the session plays in real time, and
checks:
  - the camera picture updates: the <img> streaming /stream.mjpg is drawn into a canvas twice,
    half a second apart, and the two pictures differ (and are the clip's 96x96);
  - the signing zone is drawn: the overlay is visible, yellow, and covers exactly the run's
    --crop (8,8,80,80 of 96x96) of the picture on the screen;
  - the box's state and the segmenter's figures arrive (status badge, motion meter);
  - the committed words appear in the page as they happen: jade, yara, tess (samples/session.json),
    each received live (seconds apart, not replayed at once), the same words dactyl printed;
and keeps a screenshot of the page at .build/browser-test/preview.png.

    python3 scripts/browser-test.py [--dactyl .build/release/dactyl] [--out .build/browser-test]

Prints "PASS  browser ..." / "FAIL  browser ..." per check; exits 0 when all pass. Without
Chromium it prints "SKIP  browser: ..." and exits 0 (scripts/setup.sh installs it).
"""
import argparse
import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROP = (8, 8, 80, 80)
WORDS = ["jade", "yara", "tess"]


class Browser:
    """Chromium with the DevTools protocol on fds 3 (commands in) and 4 (replies out), messages
    separated by NUL bytes."""

    def __init__(self, executable, profile):
        to_child = os.pipe()
        from_child = os.pipe()
        # Keep our ends and the child's ends above 4, so the dup2 to 3 and 4 cannot clobber them.
        child_in = fcntl_dup(to_child[0])
        child_out = fcntl_dup(from_child[1])

        def child_setup():
            # The browser stands for a phone or laptop elsewhere: it must not take the box's CPU
            # (on 2 shared cores its start-up and compositing made the real-time clip drop frames).
            os.nice(19)
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--mute-audio", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1100,720", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=child_setup)
        for fd in (to_child[0], from_child[1], child_in, child_out):
            os.close(fd)
        self.write_fd = to_child[1]
        self.read_fd = from_child[0]
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True, timeout=15):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {method} within {timeout} s")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed its DevTools pipe")
                self.buffer += chunk

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fcntl_dup(fd):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


# The picture as the page shows it, drawn into a canvas: its size and a sample of its pixels.
PICTURE = """(() => {
  const image = document.getElementById("camera");
  if (!image.complete || !image.naturalWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = [];
  for (let i = 0; i < data.length; i += 4) rgb.push(data[i], data[i + 1], data[i + 2]);
  return {width: canvas.width, height: canvas.height, rgb: rgb};
})()"""

# The zone overlay against the picture on the screen.
ZONE = """(() => {
  const image = document.getElementById("camera").getBoundingClientRect();
  const zone = document.getElementById("zone");
  const box = zone.getBoundingClientRect(), style = getComputedStyle(zone);
  return {display: style.display, color: style.borderTopColor, border: parseFloat(style.borderTopWidth),
          image: [image.left, image.top, image.width, image.height], zone: [box.left, box.top, box.width, box.height],
          data: zone.dataset.zone || ""};
})()"""

PAGE_STATE = """(() => ({
  words: Array.from(document.querySelectorAll("#words li.word")).map((li) => li.textContent),
  received: Array.from(document.querySelectorAll("#words li.word")).map((li) => Number(li.dataset.receivedMs)),
  status: document.getElementById("status").textContent,
  figures: document.getElementById("figures").textContent,
  connection: document.getElementById("connection").dataset.state,
}))()"""


def clip_rgb():
    """The session clip's frames as RGB (BT.601, limited range, as the page should show them)."""
    import numpy
    data = open(os.path.join(ROOT, "samples/session.y4m"), "rb").read()
    header_end = data.index(b"\n") + 1
    width = height = 96
    frame_bytes = 6 + width * height * 3 // 2
    frames = []
    for start in range(header_end, len(data) - frame_bytes + 1, frame_bytes):
        planes = numpy.frombuffer(data, numpy.uint8, width * height * 3 // 2, start + 6).astype(numpy.float32)
        y = planes[:width * height].reshape(height, width)
        u = planes[width * height:width * height * 5 // 4].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
        v = planes[width * height * 5 // 4:].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
        y, u, v = (y - 16) * 255 / 219, (u - 128) * 255 / 224, (v - 128) * 255 / 224
        rgb = numpy.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], -1)
        frames.append(numpy.clip(rgb, 0, 255))
    return frames


def closest_frame(rgb):
    """The clip frame nearest to the picture the page shows, and the mean absolute difference."""
    import numpy
    picture = numpy.array(rgb, numpy.float32).reshape(96, 96, 3)
    differences = [float(numpy.abs(frame - picture).mean()) for frame in clip_rgb()]
    best = int(numpy.argmin(differences))
    return best, differences[best]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dactyl", default=os.path.join(ROOT, ".build/release/dactyl"))
    parser.add_argument("--out", default=os.path.join(ROOT, ".build/browser-test"))
    parser.add_argument("--timeout", type=float, default=40, help="seconds to wait for the three words")
    args = parser.parse_args()

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP  browser: chromium is not installed (apt-get install --no-install-recommends chromium, "
              "as scripts/setup.sh does)")
        return 0
    if not os.access(args.dactyl, os.X_OK):
        print(f"FAIL  browser: no dactyl binary at {args.dactyl} (swift build -c release)")
        return 1
    os.makedirs(args.out, exist_ok=True)
    started = time.monotonic()
    failures = []

    def check(name, ok, detail):
        print(f"{'PASS' if ok else 'FAIL'}  browser {name}: {detail}")
        if not ok:
            failures.append(name)

    profile = tempfile.mkdtemp(prefix="dactyl-chromium-")
    # The browser first: its start-up is the heaviest moment, and the clip plays in real time.
    browser = Browser(chromium, profile)
    run = None
    try:
        browser.send("Browser.getVersion", session=False, timeout=30)  # the browser is up
        # Looped, so that the page (opened a moment after the run starts) sees the session's
        # words as they happen; the run is stopped (SIGTERM) once they are checked.
        run = subprocess.Popen(
            [args.dactyl, "run", os.path.join(ROOT, "samples/session.y4m"), "--loop", "--max-frames", "1800", "--stats",
             "--crop", ",".join(map(str, CROP)), "--preview", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.monotonic() + 10
        while url is None and time.monotonic() < deadline:
            ready, _, _ = select.select([run.stderr], [], [], 1)
            if ready:
                line = run.stderr.readline()
                if "preview at " in line:
                    url = line.split("preview at ", 1)[1].strip()
        if url is None:
            check("start", False, "dactyl did not print its preview URL")
            return 1
        browser.open(url)

        # The picture: loaded, the clip's size, and changing.
        first = None
        deadline = time.monotonic() + 10
        while first is None and time.monotonic() < deadline:
            time.sleep(0.2)
            first = browser.evaluate(PICTURE)
        time.sleep(0.6)
        second = browser.evaluate(PICTURE)
        changed = first and second and first["rgb"] != second["rgb"]
        differing = sum(a != b for a, b in zip(first["rgb"], second["rgb"])) if changed else 0
        check("picture", bool(first) and first["width"] == 96 and first["height"] == 96 and changed,
              f"/stream.mjpg drawn twice 0.6 s apart: {first and first['width']}x{first and first['height']}, "
              f"{differing} of {len(first['rgb']) if first else 0} RGB values differ")
        if first:
            frame, difference = closest_frame(first["rgb"])
            check("picture-content", difference < 6,
                  f"the picture is clip frame {frame} (mean |RGB difference| {difference:.2f} after JPEG, BT.601 limited range)")

        # The words, as they come.
        state = browser.evaluate(PAGE_STATE)
        deadline = time.monotonic() + args.timeout
        while len(state["words"]) < len(WORDS) and time.monotonic() < deadline:
            time.sleep(0.3)
            state = browser.evaluate(PAGE_STATE)
        words, received = state["words"][:3], state["received"][:3]
        live = len(received) == 3 and received[2] - received[0] >= 2000
        check("words", words == WORDS and live,
              f"page shows {words} (expected {WORDS}), received at {received} ms after the page opened")

        # The zone, against the picture as laid out.
        zone = browser.evaluate(ZONE)
        ix, iy, iw, ih = zone["image"]
        expected = [ix + iw * CROP[0] / 96, iy + ih * CROP[1] / 96, iw * CROP[2] / 96, ih * CROP[3] / 96]
        error = max(abs(a - b) for a, b in zip(zone["zone"], expected))
        check("zone", zone["display"] == "block" and zone["color"] == "rgb(255, 212, 0)" and zone["border"] >= 2
              and error <= 1.5 and zone["data"] == ",".join(map(str, CROP)),
              f"overlay {[round(v, 1) for v in zone['zone']]} for crop {CROP} of 96x96 on a picture at "
              f"{[round(v, 1) for v in zone['image']]} (off by {error:.2f} px), {zone['color']}")

        check("state", state["status"] in ("idle", "hand", "signing") and "frame" in state["figures"]
              and state["connection"] == "live",
              f"status '{state['status']}', meter '{state['figures'][:60]}', events {state['connection']}")

        shot = browser.send("Page.captureScreenshot", {"format": "png"})
        path = os.path.join(args.out, "preview.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"browser: screenshot {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)
        out = errors = ""
        if run:
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)
            try:
                out, errors = run.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                run.kill()
                out, errors = run.communicate()
    if run is None:
        return 1
    printed = out.split()
    stats = next((line for line in errors.splitlines() if "frames encoded" in line), "no --stats line")
    check("run", run.returncode == 0 and printed[:3] == WORDS,
          f"dactyl exited {run.returncode} after SIGTERM and printed {printed[:3]}; {stats.removeprefix('dactyl: ')}")
    print(f"browser: took {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a browser that does not start or answer: one line, not a traceback
        print(f"FAIL  browser: {type(error).__name__}: {error}")
        sys.exit(1)
