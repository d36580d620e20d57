#!/usr/bin/env python3
"""Frames per second of `dactyl run --fast` over the session clip (looped), side by side:
without --preview, with --preview and nobody watching, and with a viewer reading the picture
stream and the event stream the whole run (issue 13: the preview never slows recognition).
Runs alternate (A/B/C, A/B/C, ...) so that a busy machine affects each alike; prints the median
of each and the pictures the viewer received.

    python3 scripts/preview-fps.py [--dactyl .build/release/dactyl] [--frames 9240] [--repeats 3]
"""
import argparse
import os
import socket
import statistics
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def viewer(port, path, counts, key):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: fps\r\n\r\n".encode())
    while True:
        data = connection.recv(65536)
        if not data:
            break
        counts[key] = counts.get(key, 0) + len(data)
        if path == "/stream.mjpg":
            counts["pictures"] = counts.get("pictures", 0) + data.count(b"--dactylframe")


def run(dactyl, frames, mode):
    command = [dactyl, "run", os.path.join(ROOT, "samples/session.y4m"), "--fast", "--loop", "--max-frames", str(frames)]
    if mode != "off":
        command += ["--preview", "127.0.0.1:0"]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    counts, threads = {}, []
    if mode != "off":
        line = process.stderr.readline()
        port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        if mode == "viewer":
            for path, key in (("/stream.mjpg", "stream"), ("/events", "events")):
                thread = threading.Thread(target=viewer, args=(port, path, counts, key), daemon=True)
                thread.start()
                threads.append(thread)
    process.wait()
    elapsed = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=5)
    return frames / elapsed, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dactyl", default=os.path.join(ROOT, ".build/release/dactyl"))
    parser.add_argument("--frames", type=int, default=9240, help="source frames per run (30 loops of the session)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {"off": [], "on, no viewer": [], "viewer": []}
    pictures = []
    for _ in range(args.repeats):
        for mode in results:
            fps, counts = run(args.dactyl, args.frames, {"off": "off", "on, no viewer": "on", "viewer": "viewer"}[mode])
            results[mode].append(fps)
            if mode == "viewer":
                pictures.append((counts.get("pictures", 0), counts.get("events", 0)))
    for mode, values in results.items():
        print(f"{mode:>14}: {statistics.median(values):7.1f} frames/s (runs: {', '.join(f'{v:.1f}' for v in values)})")
    print(f"viewer received (pictures, event bytes) per run: {pictures}")


if __name__ == "__main__":
    main()
