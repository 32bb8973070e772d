// The toolbar popup: connection state, pairing, "scan this page" and the per-site auto-scan switch.
"use strict";

const $ = (id) => document.getElementById(id);
const SCANNABLE = /^(https?|file):/;
const NOT_RUNNING = "SynthSpot is not running (or its bridge is off)";
const PANELS = { not_paired: "pairing", waiting: "waiting", confirm: "confirm", paired: "actions" };

function setConnection(state, text, detail = "") {
  const focused = document.activeElement;
  $("connection").dataset.state = state;
  $("status-text").textContent = text;
  $("status-detail").textContent = detail;
  $("retry").hidden = !["app_not_running", "not_responding", "busy", "error", "impostor"].includes(state);
  for (const [panelState, panel] of Object.entries(PANELS)) $(panel).hidden = state !== panelState;
  // A keyboard user on a control that just went away (Try again, Pair, Cancel) lands on the news, not
  // back at the top of the popup.
  if (focused && focused !== document.body && !focused.checkVisibility()) $("status-text").focus();
}

function defaultBrowserName() {
  const data = navigator.userAgentData;
  const brand = data && data.brands.map((b) => b.brand).find((b) => !/not.a.brand/i.test(b) && b !== "Chromium");
  const browser = brand || (data && data.brands.some((b) => b.brand === "Chromium") ? "Chromium" : "Browser");
  const platform = (data && data.platform) || navigator.platform || "this computer";
  return `${browser} on ${platform}`;
}

// The page to act on: from the toolbar, the tab in front (null when it is a browser page, which cannot
// be scanned: never another tab behind it). Opened as a tab of its own, the page looked at last in
// this window.
async function targetTab() {
  const scannable = (tab) => Boolean(tab && tab.url && SCANNABLE.test(tab.url));
  if (!(await chrome.tabs.getCurrent())) {
    const front = await frontTab();
    return scannable(front) ? front : null;
  }
  const pages = (await chrome.tabs.query({ currentWindow: true })).filter(scannable);
  return pages.find((tab) => tab.active)
    || pages.sort((a, b) => (b.lastAccessed || 0) - (a.lastAccessed || 0))[0]
    || null;
}

// The tab the person was looking at, scannable or not: from the toolbar the tab in front; opened as a
// tab of its own, the one looked at before it.
async function frontTab() {
  const current = await chrome.tabs.getCurrent();
  const tabs = await chrome.tabs.query({ currentWindow: true });
  if (!current) return tabs.find((tab) => tab.active) || null;
  return tabs.filter((tab) => tab.id !== current.id)
    .sort((a, b) => (b.lastAccessed || 0) - (a.lastAccessed || 0))[0] || null;
}

// A "Check image with SynthSpot" that failed on this tab marks the toolbar button "!" (background.js);
// the popup, opened to see why, says it in words, whatever the connection.
// Opened as a tab of its own, "Scan this page" may act on another page than the one the check failed
// on (the last web page, not the last tab): the line then names the tab it is about.
async function showMenuFailure() {
  const tab = await frontTab();
  const failed = Boolean(tab) && (await chrome.action.getBadgeText({ tabId: tab.id })) === "!";
  let text = failed ? await chrome.action.getTitle({ tabId: tab.id }) : "";
  if (failed && (await chrome.tabs.getCurrent())) {
    const target = await targetTab();
    if (!target || target.id !== tab.id) text = `On the tab “${tab.title || tab.url || "without a title"}”: ${text}`;
  }
  $("menu-failure").textContent = text;
  $("menu-failure").hidden = !failed;
}

async function showPairing(message = "") {
  let open = false;
  try {
    open = (await SynthSpotBridge.publicStatus()).pairing_open;
  } catch (error) {
    if (error.state === "app_not_running") {
      setConnection("app_not_running", NOT_RUNNING, error.message);
      return;
    }
    if (error.state === "app_not_responding") {
      setConnection("not_responding", "SynthSpot does not answer", error.message);
      return;
    }
    if (error.state === "not_synthspot") {
      setConnection("impostor", "Not SynthSpot on this port", error.message);
      return;
    } // SynthSpot answered, if oddly: pairing is still the way forward
  }
  const { pairingAttempt: attempt } = await chrome.storage.local.get("pairingAttempt");
  if (attempt && attempt.state === "waiting" && Date.now() - attempt.started < 10 * 60_000) {
    showWaiting(attempt);
    return;
  }
  // "yet" only where nothing went before: not after an unpairing in the app, a refusal or a Cancel.
  const before = message || (attempt && attempt.state === "failed");
  setConnection("not_paired", before ? "Not paired" : "Not paired yet", open ? "SynthSpot is ready to pair a browser."
    : "SynthSpot is running; pairing is not open in the app yet.");
  if (!$("browser-name").value) $("browser-name").value = defaultBrowserName();
  $("pair-message").textContent = message || (attempt && attempt.state === "failed" ? attempt.message : "");
}

function showWaiting(attempt) {
  setConnection("waiting", "Waiting for approval in SynthSpot");
  $("pair-code").textContent = `${attempt.code.slice(0, 3)} ${attempt.code.slice(3)}`;
  // Read digit by digit ("9 3 7 4 9 6"), not as two numbers; the big code is hidden from screen readers.
  $("pair-code-spoken").textContent = `Code ${[...attempt.code].join(" ")}`;
  $("pair-name").textContent = attempt.name;
}

function showConfirm(attempt) {
  setConnection("confirm", "Approved: is it yours?");
  $("confirm-code").textContent = `${attempt.code.slice(0, 3)} ${attempt.code.slice(3)}`;
  $("confirm-code").setAttribute("aria-label", [...attempt.code].join(" "));
}

async function answerApproval(approvedThere) {
  const type = approvedThere ? "synthspot:confirmPairing" : "synthspot:rejectPairing";
  const answer = await chrome.runtime.sendMessage({ type }).catch((error) => ({ ok: false, message: error.message }));
  if (!answer || !answer.ok) await showPairing((answer && answer.message) || "The pairing could not be kept: pair again.");
}

async function refresh() {
  setConnection("checking", "Looking for SynthSpot on this computer…");
  // An approval waiting for the person's word comes first, even over an older pairing the app has
  // forgotten (re-pairing after a revoke): that older one is what it replaces.
  const { pairingAttempt: attempt } = await chrome.storage.local.get("pairingAttempt");
  if (attempt && attempt.state === "confirm") {
    showConfirm(attempt);
    return;
  }
  const paired = Boolean(await SynthSpotBridge.loadPairing());
  $("unpair").hidden = !paired; // nothing to unpair before pairing
  resetUnpair();
  if (!paired) {
    await showPairing();
    return;
  }
  let status;
  try {
    status = await SynthSpotBridge.status(); // the server proves it is the app we paired with, first
  } catch (error) {
    if (error.state === "app_not_running") {
      setConnection("app_not_running", NOT_RUNNING, error.message);
    }
    else if (error.state === "app_not_responding") setConnection("not_responding", "SynthSpot does not answer", error.message);
    else if (error.state === "rate_limited") setConnection("busy", "SynthSpot is busy", error.message);
    else if (["impostor", "not_synthspot"].includes(error.state)) {
      setConnection("impostor", "Not SynthSpot on this port", error.message);
    }
    else if (error.state === "not_recognised") await showPairing(error.message);
    else setConnection("error", "SynthSpot refused this extension", error.message);
    return;
  }
  const model = status.model
    ? `model ${status.model.name} ${/^v/i.test(status.model.version) ? "" : "v"}${status.model.version} on `
      + String(status.provider).toUpperCase()
    : "no model loaded";
  setConnection("paired", `Connected to SynthSpot as “${status.browser_name}”`, `SynthSpot ${status.version} · ${model}`);
  await showSite();
  await showRunningScan();
}

// Reopened while a scan of this tab still runs (the popup closes on a click elsewhere): say so, then
// give its summary as if it had stayed open.
async function showRunningScan() {
  const tab = await targetTab();
  if (!tab) return;
  const answer = await chrome.runtime.sendMessage({ type: "synthspot:scanProgress", tabId: tab.id }).catch(() => null);
  if (!answer || !answer.ok || !answer.value.checking) return;
  const where = new URL(tab.url).host || "this page";
  const message = $("scan-message");
  message.dataset.state = "checking";
  message.textContent = `Still checking ${plural(answer.value.checking, "image")} on ${where}…`;
  await showFinished(tab, where);
}

async function showSite() {
  const tab = await targetTab();
  const toggle = $("auto-scan");
  const note = $("auto-scan-note");
  if (!tab || !/^https?:/.test(tab.url)) {
    $("site").textContent = "this site";
    toggle.disabled = true;
    // A switch greyed out without a word reads as broken: say why it is off here.
    note.textContent = tab
      ? "Automatic scanning is for web sites (http and https addresses). Use Scan this page for a file."
      : "Automatic scanning is for web sites; this tab is a browser page, or a file this extension may not open.";
    note.hidden = false;
    return;
  }
  note.hidden = true;
  const origin = new URL(tab.url).origin;
  const { autoScanSites = [] } = await chrome.storage.local.get("autoScanSites");
  $("site").textContent = new URL(tab.url).host;
  toggle.disabled = false;
  toggle.checked = autoScanSites.includes(origin);
  toggle.dataset.origin = origin;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

async function scanPage() {
  const message = $("scan-message");
  const tab = await targetTab();
  if (!tab) {
    message.textContent = "This tab cannot be scanned: SynthSpot scans web pages (http, https and file addresses), "
      + "not browser pages.";
    return;
  }
  const where = (tab.url && new URL(tab.url).host) || "this page";
  message.textContent = "Looking for images…";
  const answer = await chrome.runtime.sendMessage({ type: "synthspot:scanTab", tabId: tab.id });
  if (!answer || !answer.ok) {
    message.textContent = "This page cannot be scanned (browser pages and extension stores are off limits"
      + (answer && answer.message ? `: ${answer.message}` : "") + ").";
    return;
  }
  const { images } = answer.value;
  if (!images) {
    message.textContent = "No images of at least 64×64 pixels that this page has loaded and shows.";
    return;
  }
  message.dataset.state = "checking";
  message.textContent = `Checking ${plural(images, "image")} on ${where}…`;
  await showFinished(tab, where);
}

// The summary once the tab's checks are done (a scan started here, or earlier and still running).
async function showFinished(tab, where) {
  const message = $("scan-message");
  const finished = await chrome.runtime.sendMessage({ type: "synthspot:scanFinished", tabId: tab.id });
  if (!finished || !finished.ok) return;
  const c = finished.value;
  if (!c.checked && !c.failed && !c.unsupported) {  // the frames that were checking are gone: a reload, a new page
    message.dataset.state = "finished";
    message.textContent = `The page was reloaded or left before the scan finished: scan ${where} again.`;
    return;
  }
  const parts = [c.likely_ai && `${c.likely_ai} likely AI`, c.uncertain && `${c.uncertain} uncertain`,
    c.likely_real && `${c.likely_real} likely real`, c.unsupported && `${c.unsupported} not checked (SVG)`,
    c.failed && `${c.failed} could not be checked`].filter(Boolean);
  message.dataset.state = "finished";
  // The page stays watched (content.js): a lazy loader's later images get badges, not this count.
  message.textContent = `Finished: checked ${plural(c.checked, "image")} on ${where}: ${parts.join(", ")}.`
    + " Images the page loads later are checked as they appear.";
  // Checks that failed may mean the app went away mid-scan: the connection line says so, not a stale "Connected".
  if (c.failed) await refresh();
}

async function toggleAutoScan(event) {
  const origin = event.target.dataset.origin;
  const { autoScanSites = [] } = await chrome.storage.local.get("autoScanSites");
  const sites = new Set(autoScanSites);
  if (event.target.checked) sites.add(origin);
  else sites.delete(origin);
  await chrome.storage.local.set({ autoScanSites: [...sites] });
  if (event.target.checked) await scanPage();
}

$("pairing").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("pair-message").textContent = "Asking SynthSpot…";
  const answer = await chrome.runtime.sendMessage({ type: "synthspot:pair", name: $("browser-name").value.trim() });
  if (!answer || !answer.ok) {
    $("pair-message").textContent = (answer && answer.message) || "Pairing failed.";
    return;
  }
  showWaiting({ code: answer.value.code, name: $("browser-name").value.trim() });
});
chrome.storage.onChanged.addListener((changes) => {
  const attempt = changes.pairingAttempt && changes.pairingAttempt.newValue;
  if (attempt && attempt.state !== "waiting") refresh();
});
$("scan-page").addEventListener("click", scanPage);
$("auto-scan").addEventListener("change", toggleAutoScan);
$("retry").addEventListener("click", refresh);
// Enter in the port field saves, as in a form.
$("port").addEventListener("keydown", (event) => {
  if (event.key === "Enter") $("save-port").click();
});
$("save-port").addEventListener("click", async () => {
  const port = Number($("port").value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    $("port-message").textContent = "A port is a whole number from 1 to 65535; the port was not changed.";
    $("port").setAttribute("aria-invalid", "true");
    return;
  }
  $("port-message").textContent = "";
  $("port").removeAttribute("aria-invalid");
  await chrome.storage.local.set({ bridgePort: port });
  await refresh();
});
// Unpairing cannot be undone from here (pairing again needs the app): the first click asks, the second acts.
let unpairArmed = null;
const UNPAIR_ARMED_MS = 15_000; // time to hear the question read out and answer it
function resetUnpair() {
  clearTimeout(unpairArmed);
  unpairArmed = null;
  $("unpair").textContent = "Unpair this browser";
  $("unpair-message").textContent = "";
}
$("unpair").addEventListener("click", async () => {
  if (!unpairArmed) {
    $("unpair").textContent = "Click again to unpair (pairing again needs the app)";
    // Said as well as shown: a changed button label alone is not announced.
    $("unpair-message").textContent = "Press Unpair again within 15 seconds to unpair this browser.";
    unpairArmed = setTimeout(resetUnpair, UNPAIR_ARMED_MS);
    return;
  }
  resetUnpair();
  const appTold = await SynthSpotBridge.unpair();
  await chrome.storage.local.remove("pairingAttempt");
  await refresh();
  if (!appTold) {
    $("unpair-message").textContent = "Unpaired in this browser. SynthSpot could not be reached, so it still lists "
      + "this browser: remove it there with Revoke, in Settings → Pair a browser….";
  }
  $("status-text").focus(); // the button is gone: the news, not the top of the popup
});
$("confirm-pairing").addEventListener("click", () => answerApproval(true));
$("reject-pairing").addEventListener("click", () => answerApproval(false));
$("cancel-pairing").addEventListener("click", async () => {
  // The worker withdraws the request from the app's window; it also stops at its next look if this fails.
  await chrome.runtime.sendMessage({ type: "synthspot:cancelPairing" }).catch(() => {});
  await chrome.storage.local.remove("pairingAttempt");
  await showPairing("Pairing cancelled.");
});

chrome.storage.local.get({ bridgePort: SynthSpotBridge.DEFAULT_PORT }).then(({ bridgePort }) => {
  $("port").value = bridgePort;
});
refresh();
showMenuFailure();
