// The service worker: context menu, fetching image bytes, and posting them to the bridge.
"use strict";

// Chromium runs this as a service worker; Firefox lists bridge.js before it in background.scripts.
if (typeof importScripts === "function") importScripts("bridge.js");

const MENU_ID = "synthspot-check-image";
const MAX_PARALLEL_CHECKS = 4;
const MAX_IMAGE_BYTES = 40 * 1024 * 1024;

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: "Check image with SynthSpot", contexts: ["image"] });
});

chrome.contextMenus.onClicked.addListener((info, tab) => checkFromMenu(info, tab));

async function checkFromMenu(info, tab) {
  if (info.menuItemId !== MENU_ID || !tab || tab.id === undefined) return null;
  const frameId = info.frameId || 0;
  try {
    await injectContentScript(tab.id, frameId);
    return await chrome.tabs.sendMessage(tab.id, { type: "synthspot:checkOne", srcUrl: info.srcUrl }, { frameId });
  } catch (error) {
    // Browser pages and extension stores cannot be scripted; say so on the toolbar button.
    await chrome.action.setBadgeText({ tabId: tab.id, text: "!" });
    await chrome.action.setTitle({ tabId: tab.id, title: `SynthSpot cannot check images on this page: ${error.message}` });
    return null;
  }
}

// Auto-scan: pages of the sites the user switched it on for are scanned once loaded.
chrome.tabs.onUpdated.addListener(async (tabId, change, tab) => {
  if (change.status !== "complete" || !tab.url || !/^https?:/.test(tab.url)) return;
  const { autoScanSites = [] } = await chrome.storage.local.get("autoScanSites");
  if (autoScanSites.includes(new URL(tab.url).origin)) scanTab(tabId).catch(() => {});
});

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const handlers = {
    "synthspot:check": () => throttled(() => checkImage(message, sender)),
    "synthspot:open": () => SynthSpotBridge.open(message.sha256),
    "synthspot:scanTab": () => scanTab(message.tabId),
  };
  const handler = handlers[message && message.type];
  if (!handler) return false;
  handler().then(
    (value) => sendResponse({ ok: true, value }),
    (error) => sendResponse({ ok: false, state: error.state || "error", message: error.message }),
  );
  return true; // answered asynchronously
});

async function injectContentScript(tabId, frameId = 0) {
  await chrome.scripting.executeScript({ target: { tabId, frameIds: [frameId] }, files: ["content.js"] });
}

async function scanTab(tabId) {
  await injectContentScript(tabId);
  return chrome.tabs.sendMessage(tabId, { type: "synthspot:scanPage" });
}

// A page with a hundred images should not open a hundred connections at once.
let running = 0;
const waiting = [];
async function throttled(task) {
  while (running >= MAX_PARALLEL_CHECKS) await new Promise((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await task();
  } finally {
    running -= 1;
    const next = waiting.shift();
    if (next) next();
  }
}

async function checkImage(message, sender) {
  const pageUrl = (sender.tab && sender.tab.url) || message.pageUrl || "";
  const blob = message.base64 ? base64ToBlob(message.base64, message.mimeType) : await fetchImage(message.url);
  const result = await SynthSpotBridge.scan(blob, pageUrl, message.url);
  return {
    sha256: result.sha256,
    verdict: result.verdict,
    verdictLabel: result.verdict_label,
    probability: result.probability,
    reasons: result.reasons || [],
    provenance: (result.provenance || []).map((hint) => hint.label),
    cached: result.cached,
  };
}

async function fetchImage(url) {
  let response;
  try {
    // With the page's cookies where the browser allows it, so images behind a login work.
    response = await fetch(url, { credentials: "include", cache: "force-cache" });
  } catch (error) {
    throw new SynthSpotBridge.BridgeError("fetch_failed", "The image could not be downloaded from the site (network error).");
  }
  if (!response.ok) {
    throw new SynthSpotBridge.BridgeError("fetch_failed", `The site refused to send the image (HTTP ${response.status}).`);
  }
  const blob = await response.blob();
  if (blob.size === 0) throw new SynthSpotBridge.BridgeError("fetch_failed", "The site sent an empty image.");
  if (blob.size > MAX_IMAGE_BYTES) throw new SynthSpotBridge.BridgeError("too_large");
  return blob;
}

function base64ToBlob(base64, mimeType) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], { type: mimeType || "application/octet-stream" });
}
