/// The preview page, built into the binary: HTML, CSS and a little JavaScript in one response,
/// no framework, nothing loaded from anywhere else (the server's Content-Security-Policy
/// forbids it). It shows the camera picture (`/stream.mjpg`) with the signing zone drawn over it,
/// the box's state and the segmenter's motion against its thresholds, and the partial and
/// committed text (`/events`). The element ids are what scripts/browser-test.py checks.
public enum PreviewPage {
    public static let html: StaticString = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dactyl: setup preview</title>
<style>
  :root { color-scheme: dark; --zone: #ffd400; --ok: #3ddc84; --warn: #ff6b6b; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.4 system-ui, sans-serif; background: #15171a; color: #e8e8e8; }
  header { padding: 10px 16px; border-bottom: 1px solid #2c3036; display: flex; gap: 12px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header small { color: #9aa0a6; }
  main { display: flex; flex-wrap: wrap; gap: 16px; padding: 16px; }
  #view { position: relative; margin: 0; flex: 1 1 420px; max-width: 720px; background: #000; align-self: flex-start; overflow: hidden; }
  #camera { display: block; width: 100%; height: auto; image-rendering: pixelated; }
  #zone { position: absolute; border: 3px solid var(--zone); box-shadow: 0 0 0 9999px rgba(0,0,0,.35); display: none; }
  #zone span { position: absolute; top: -22px; left: -3px; background: var(--zone); color: #000; font-size: 12px; padding: 1px 5px; }
  #side { flex: 1 1 280px; display: flex; flex-direction: column; gap: 14px; }
  .card { background: #1e2126; border: 1px solid #2c3036; border-radius: 8px; padding: 12px 14px; }
  .card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: #9aa0a6; margin: 0 0 8px; }
  #status { display: inline-block; padding: 2px 10px; border-radius: 99px; background: #394049; font-weight: 600; }
  #status[data-status="signing"] { background: var(--ok); color: #000; }
  #status[data-status="hand"] { background: #2f81f7; }
  #status[data-status="camera-lost"], #status[data-status="error"] { background: var(--warn); color: #000; }
  #message { color: #ff9b9b; margin-left: 8px; }
  #meter { position: relative; height: 14px; background: #2c3036; border-radius: 4px; margin-top: 10px; overflow: hidden; }
  #meter-bar { height: 100%; width: 0; background: #2f81f7; transition: width .15s; }
  #meter[data-segment="true"] #meter-bar { background: var(--ok); }
  .mark { position: absolute; top: 0; bottom: 0; width: 2px; background: #fff; opacity: .7; }
  #figures { color: #9aa0a6; font-size: 13px; margin-top: 6px; }
  #partial { min-height: 1.4em; font-size: 22px; color: #9aa0a6; font-style: italic; }
  #words { font-size: 26px; margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 4px 12px; }
  #words li.open { color: #9aa0a6; }
  #connection { color: #9aa0a6; font-size: 13px; }
  #connection[data-state="lost"] { color: var(--warn); }
</style>
</head>
<body>
<header><h1>dactyl</h1><small>setup preview: aim the camera so the hand signs inside the yellow zone</small></header>
<main>
  <figure id="view">
    <img id="camera" src="/stream.mjpg" alt="camera picture">
    <div id="zone"><span>signing zone</span></div>
  </figure>
  <section id="side">
    <div class="card">
      <h2>Box</h2>
      <span id="status" data-status="starting">starting</span><span id="message"></span>
      <div id="meter" title="motion above the noise floor; marks: start and stop thresholds">
        <div id="meter-bar"></div><div class="mark" id="mark-start"></div><div class="mark" id="mark-stop"></div>
      </div>
      <div id="figures">motion -</div>
    </div>
    <div class="card">
      <h2>Being signed</h2>
      <div id="partial"></div>
    </div>
    <div class="card">
      <h2>Words</h2>
      <ol id="words"></ol>
    </div>
    <div id="connection" data-state="connecting">connecting...</div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { width: 0, height: 0, zone: null, words: 0, open: null };
const METER_FULL = 8;

function drawZone() {
  const zone = state.zone, box = $("zone");
  if (!zone || !state.width || !state.height) { box.style.display = "none"; return; }
  box.style.left = (100 * zone.x / state.width) + "%";
  box.style.top = (100 * zone.y / state.height) + "%";
  box.style.width = (100 * zone.width / state.width) + "%";
  box.style.height = (100 * zone.height / state.height) + "%";
  box.style.display = "block";
  box.dataset.zone = [zone.x, zone.y, zone.width, zone.height].join(",");
}

function addWord(event) {
  // Pieces of a long word are joined, as the text sinks do; the final piece ends the word.
  if (!state.open) {
    state.open = document.createElement("li");
    state.open.className = "open";
    $("words").appendChild(state.open);
  }
  state.open.textContent += event.text;
  if (event.final) {
    state.open.className = "word";
    state.open.dataset.segment = event.segment;
    state.open.dataset.receivedMs = Math.round(performance.now());
    state.open = null;
    state.words += 1;
    document.body.dataset.words = state.words;
  }
  $("partial").textContent = "";
}

function connect() {
  const events = new EventSource("/events");
  events.addEventListener("open", () => { $("connection").dataset.state = "live"; $("connection").textContent = "live"; });
  events.addEventListener("error", () => {
    $("connection").dataset.state = "lost";
    $("connection").textContent = "connection lost: retrying (is dactyl run --preview still running?)";
  });
  const on = (name, handle) => events.addEventListener(name, (message) => handle(JSON.parse(message.data)));
  on("hello", (event) => {
    state.width = event.width; state.height = event.height;
    // The whole picture fits the window's height.
    $("view").style.maxWidth = "min(720px, calc((100vh - 110px) * " + (event.width / event.height) + "))";
    $("words").textContent = ""; state.open = null; state.words = 0;
    document.title = "dactyl: " + event.width + "x" + event.height + " at " + event.fps + " fps";
    drawZone();
  });
  on("zone", (event) => { state.zone = event; drawZone(); });
  on("status", (event) => {
    $("status").textContent = event.status;
    $("status").dataset.status = event.status;
    $("message").textContent = event.message;
    if (event.status === "idle") $("partial").textContent = "";
  });
  on("partial", (event) => { $("partial").textContent = event.text; });
  on("commit", addWord);
  on("meter", (event) => {
    const scale = (value) => Math.max(0, Math.min(100, 100 * value / METER_FULL)) + "%";
    $("meter-bar").style.width = scale(event.motion);
    $("mark-start").style.left = scale(event.start);
    $("mark-stop").style.left = scale(event.stop);
    $("meter").dataset.segment = event.segment;
    $("figures").textContent = "motion " + Math.max(0, event.motion).toFixed(2) + " above the floor (start " + event.start +
      ", stop " + event.stop + ") - frame " + event.frame;
  });
}
connect();
</script>
</body>
</html>
"""#
}
