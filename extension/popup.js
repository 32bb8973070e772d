// The toolbar popup: connection state, pairing, "scan this page" and the per-site auto-scan switch.
"use strict";

const $ = (id) => document.getElementById(id);
const SCANNABLE = /^(https?|file):/;

function setConnection(state, text, detail = "") {
  $("connection").dataset.state = state;
  $("status-text").textContent = text;
  $("status-detail").textContent = detail;
  $("retry").hidden = !["app_not_running", "error"].includes(state);
  $("pairing").hidden = state !== "not_paired";
  $("actions").hidden = state !== "paired";
}

// The page to act on. Opened as a tab of its own (not from the toolbar), the popup acts on the
// page looked at last in this window.
async function targetTab() {
  const tabs = await chrome.tabs.query({ currentWindow: true });
  const pages = tabs.filter((tab) => tab.url && SCANNABLE.test(tab.url));
  return pages.find((tab) => tab.active)
    || pages.sort((a, b) => (b.lastAccessed || 0) - (a.lastAccessed || 0))[0]
    || null;
}

async function refresh() {
  setConnection("checking", "Looking for SynthSpot on this computer…");
  let status;
  try {
    status = await SynthSpotBridge.status();
  } catch (error) {
    const notRunning = error.state === "app_not_running";
    setConnection(notRunning ? "app_not_running" : "error",
      notRunning ? "SynthSpot is not running" : "SynthSpot refused this extension", error.message);
    return;
  }
  const model = status.model
    ? `model ${status.model.name} ${status.model.version} on ${String(status.provider).toUpperCase()}`
    : "no model loaded";
  const about = `SynthSpot ${status.version} · ${model}`;
  if (!status.paired) {
    await SynthSpotBridge.unpair(); // a revoked token is of no more use
    setConnection("not_paired", "Not paired yet: enter the code SynthSpot shows", about);
    $("code").focus();
    return;
  }
  setConnection("paired", "Connected to SynthSpot", about);
  await showSite();
}

async function showSite() {
  const tab = await targetTab();
  const toggle = $("auto-scan");
  if (!tab || !/^https?:/.test(tab.url)) {
    $("site").textContent = "this site";
    toggle.disabled = true;
    return;
  }
  const origin = new URL(tab.url).origin;
  const { autoScanSites = [] } = await chrome.storage.local.get("autoScanSites");
  $("site").textContent = new URL(tab.url).host;
  toggle.disabled = false;
  toggle.checked = autoScanSites.includes(origin);
  toggle.dataset.origin = origin;
}

async function scanPage() {
  const message = $("scan-message");
  const tab = await targetTab();
  if (!tab) {
    message.textContent = "There is no web page to scan in this window.";
    return;
  }
  message.textContent = "Looking for images…";
  const answer = await chrome.runtime.sendMessage({ type: "synthspot:scanTab", tabId: tab.id });
  if (!answer || !answer.ok) {
    message.textContent = "This page cannot be scanned (browser pages and extension stores are off limits"
      + (answer && answer.message ? `: ${answer.message}` : "") + ").";
    return;
  }
  const { elements, images } = answer.value || { elements: 0, images: 0 };
  message.textContent = elements
    ? `Checking ${images} image${images === 1 ? "" : "s"} on ${new URL(tab.url).host || "this page"}; a badge on each shows the verdict.`
    : "No visible images of at least 64×64 pixels on this page.";
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
  const message = $("pair-message");
  message.textContent = "Pairing…";
  try {
    await SynthSpotBridge.pair($("code").value);
    message.textContent = "";
    $("code").value = "";
    await refresh();
  } catch (error) {
    message.textContent = error.message;
  }
});
$("scan-page").addEventListener("click", scanPage);
$("auto-scan").addEventListener("change", toggleAutoScan);
$("retry").addEventListener("click", refresh);
$("save-port").addEventListener("click", async () => {
  const port = Number($("port").value);
  if (Number.isInteger(port) && port > 0 && port < 65536) await chrome.storage.local.set({ bridgePort: port });
  await refresh();
});
$("unpair").addEventListener("click", async () => {
  await SynthSpotBridge.unpair();
  await refresh();
});

chrome.storage.local.get({ bridgePort: SynthSpotBridge.DEFAULT_PORT }).then(({ bridgePort }) => {
  $("port").value = bridgePort;
});
refresh();
