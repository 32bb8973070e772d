// The service worker: context menu, page scans in every frame, fetching image bytes, pairing, and
// posting bytes to the bridge.
"use strict";

// Chromium runs this as a service worker; Firefox lists bridge.js before it in background.scripts.
if (typeof importScripts === "function") importScripts("bridge.js");

const MENU_ID = "synthspot-check-image";
const LINK_MENU_ID = "synthspot-check-linked-image";
// A link to a picture ("View the full-size photo"): its address ends in an image format.
const IMAGE_LINK_PATTERNS = ["jpg", "jpeg", "png", "webp", "gif", "avif", "heic", "heif", "bmp", "tif", "tiff"]
  // Match patterns are case-sensitive: photo.jpg, photo.JPG and photo.Jpg, each with or without a query.
  .flatMap((extension) => [extension, extension.toUpperCase(), extension[0].toUpperCase() + extension.slice(1)])
  .flatMap((extension) => [`*://*/*.${extension}`, `*://*/*.${extension}?*`]);
const MAX_PARALLEL_CHECKS = 4;
const MAX_IMAGE_BYTES = 40 * 1024 * 1024;
const TICKET_TTL_MS = 60_000;
const OPEN_INTERVAL_MS = 1000;
const PAIRING_POLL_MS = 700;
const PAIRING_TIMEOUT_MS = 10 * 60_000;
const CONTENT_FILES = ["badges.js", "content.js"];

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: "Check image with SynthSpot", contexts: ["image"] });
  chrome.contextMenus.create({ id: LINK_MENU_ID, title: "Check linked image with SynthSpot", contexts: ["link"],
    targetUrlPatterns: IMAGE_LINK_PATTERNS });
});

chrome.contextMenus.onClicked.addListener((info, tab) => checkFromMenu(info, tab));

// The person's own click on one image may use the site's cookies (an image behind a login); nothing a
// page lists can. A ticket, known only here, marks that one image in that one frame.
const tickets = new Map();

function issueTicket(tabId, frameId, url) {
  const ticket = crypto.randomUUID();
  tickets.set(ticket, { tabId, frameId, url, expires: Date.now() + TICKET_TTL_MS });
  return ticket;
}

function takeTicket(ticket, sender, url) {
  const held = ticket && tickets.get(ticket);
  if (!held) return false;
  tickets.delete(ticket);
  return held.expires > Date.now() && held.url === url && sender.tab && held.tabId === sender.tab.id
    && held.frameId === (sender.frameId || 0);
}

async function checkFromMenu(info, tab) {
  if (![MENU_ID, LINK_MENU_ID].includes(info.menuItemId) || !tab || tab.id === undefined) return null;
  const frameId = info.frameId || 0;
  const url = info.menuItemId === LINK_MENU_ID ? info.linkUrl : info.srcUrl;
  try {
    await inject({ tabId: tab.id, frameIds: [frameId] });
    const ticket = issueTicket(tab.id, frameId, url);
    const [run] = await chrome.scripting.executeScript({
      target: { tabId: tab.id, frameIds: [frameId] },
      func: (srcUrl, held) => globalThis.__synthspot.checkOne(srcUrl, held),
      args: [url, ticket],
    });
    // A check that works here takes back what an earlier failure on this tab put on the button.
    if ((await chrome.action.getBadgeText({ tabId: tab.id })) === "!") {
      await chrome.action.setBadgeText({ tabId: tab.id, text: "" });
      await chrome.action.setTitle({ tabId: tab.id, title: await chrome.action.getTitle({}) });  // every tab's
    }
    return run && run.result;
  } catch (error) {
    // Browser pages and extension stores cannot be scripted; say so on the toolbar button.
    await chrome.action.setBadgeText({ tabId: tab.id, text: "!" });
    await chrome.action.setTitle({ tabId: tab.id, title: `SynthSpot cannot check images on this page: ${error.message}` });
    return null;
  }
}

// Auto-scan: pages of the sites the person switched it on for are scanned once loaded, quietly: while
// the app is not running, has no model, or does not know this browser (unpaired there: the signed status
// proves it does), nothing is badged (the popup says why), and a page that only changed its address
// (history.pushState) checks just the images it had not checked.
chrome.tabs.onUpdated.addListener(async (tabId, change, tab) => {
  if (change.status !== "complete" || !tab.url || !/^https?:/.test(tab.url)) return;
  const { autoScanSites = [] } = await chrome.storage.local.get("autoScanSites");
  if (!autoScanSites.includes(new URL(tab.url).origin) || !(await SynthSpotBridge.loadPairing())) return;
  try {
    const status = await SynthSpotBridge.status();
    if (!status.paired || !status.model) return;
  } catch (_) {
    return;
  }
  scanTab(tabId, { onlyNew: true }).catch(() => {});
});

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  // The popup (in its bubble or opened as a tab) has an extension URL; a content script has the page's.
  const fromExtensionPage = sender.id === chrome.runtime.id && String(sender.url || "").startsWith(chrome.runtime.getURL(""));
  const handlers = {
    "synthspot:check": () => throttled(() => checkImage(message, sender)),
    "synthspot:open": () => openInApp(message.sha256, sender),
    // The popup's requests: never honoured from a content script.
    "synthspot:scanTab": fromExtensionPage && (() => scanTab(message.tabId)),
    "synthspot:scanFinished": fromExtensionPage && (() => scanFinished(message.tabId)),
    "synthspot:scanProgress": fromExtensionPage && (() => scanProgress(message.tabId)),
    "synthspot:pair": fromExtensionPage && (() => startPairing(message.name)),
    "synthspot:cancelPairing": fromExtensionPage && (() => cancelPairing()),
    "synthspot:confirmPairing": fromExtensionPage && (() => answerApproval(true)),
    "synthspot:rejectPairing": fromExtensionPage && (() => answerApproval(false)),
  };
  const handler = handlers[message && message.type];
  if (!handler) return false;
  handler().then(
    (value) => sendResponse({ ok: true, value }),
    (error) => sendResponse({ ok: false, state: error.state || "error", message: error.message }),
  );
  return true; // answered asynchronously
});

async function inject(target) {
  await chrome.scripting.executeScript({ target, files: CONTENT_FILES });
}

// Every frame the extension may access; the counts are summed over frames.
async function scanTab(tabId, options = {}) {
  await inject({ tabId, allFrames: true });
  const runs = await chrome.scripting.executeScript({
    target: { tabId, allFrames: true }, func: (given) => globalThis.__synthspot.startScan(given), args: [options],
  });
  const found = runs.map((run) => run.result).filter(Boolean);
  return {
    frames: found.length,
    elements: found.reduce((sum, r) => sum + r.elements, 0),
    images: found.reduce((sum, r) => sum + r.images, 0),
  };
}

async function scanFinished(tabId) {
  const runs = await chrome.scripting.executeScript({
    target: { tabId, allFrames: true },
    func: () => (globalThis.__synthspot ? globalThis.__synthspot.scanFinished() : null),
  });
  const total = { checked: 0, likely_ai: 0, uncertain: 0, likely_real: 0, failed: 0, unsupported: 0 };
  for (const run of runs) {
    for (const [name, count] of Object.entries((run && run.result) || {})) total[name] = (total[name] || 0) + count;
  }
  return total;
}

// How many images the tab's frames are still checking (0 where no scan ran).
async function scanProgress(tabId) {
  const runs = await chrome.scripting.executeScript({
    target: { tabId, allFrames: true },
    func: () => (globalThis.__synthspot ? globalThis.__synthspot.progress() : null),
  });
  return { checking: runs.reduce((sum, run) => sum + ((run && run.result && run.result.checking) || 0), 0) };
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

const lastOpen = new Map(); // tab -> time of its last "Open in SynthSpot"
async function openInApp(sha256, sender) {
  const tabId = sender.tab ? sender.tab.id : -1;
  if (Date.now() - (lastOpen.get(tabId) || 0) < OPEN_INTERVAL_MS) {
    throw new SynthSpotBridge.BridgeError("rate_limited", "Wait a moment before opening another image.");
  }
  lastOpen.set(tabId, Date.now());
  return SynthSpotBridge.open(sha256);
}

async function checkImage(message, sender) {
  const pageUrl = (sender.tab && sender.tab.url) || "";
  const credentials = takeTicket(message.ticket, sender, message.url) ? "include" : "omit";
  const blob = message.base64 ? base64ToBlob(message.base64, message.mimeType)
    : await withPageReferer(message.url, pageUrl, () => fetchImage(message.url, credentials));
  if (/^image\/svg\+xml\s*(;|$)/i.test(blob.type)) throw new SynthSpotBridge.BridgeError("unsupported_format");
  if (blob.size > MAX_IMAGE_BYTES) throw new SynthSpotBridge.BridgeError("too_large");
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

// Image hosts that answer only their own sites' pages (hotlink protection) refused the extension's download
// though the page showed the image: for this one request they see the page's origin as Referer, as a
// cross-site request from the page itself would send, and nothing more of its address.
let refererRuleId = 0;
async function withPageReferer(url, pageUrl, fetching) {
  let origin = "";
  let target = "";
  try {
    const page = new URL(pageUrl);
    const image = new URL(url);
    if (/^https?:$/.test(page.protocol) && /^https?:$/.test(image.protocol)) {
      origin = `${page.origin}/`;
      image.hash = "";
      target = image.href;
    }
  } catch (_) { /* not a web page or not a web address: no Referer to give */ }
  // A filter cannot quote its wildcard characters: such an address goes without.
  if (!origin || /[|*^]/.test(target) || !chrome.declarativeNetRequest) return fetching();
  refererRuleId = (refererRuleId % 1000) + 1;
  const id = refererRuleId;
  try {
    await chrome.declarativeNetRequest.updateSessionRules({
      removeRuleIds: [id],  // left by a worker that stopped mid-fetch
      addRules: [{
        id, priority: 1,
        action: { type: "modifyHeaders", requestHeaders: [{ header: "referer", operation: "set", value: origin }] },
        condition: { urlFilter: `|${target}|`, tabIds: [chrome.tabs.TAB_ID_NONE],
          resourceTypes: ["xmlhttprequest", "other"] },
      }],
    });
  } catch (_) {
    return fetching();
  }
  try {
    return await fetching();
  } finally {
    await chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: [id] }).catch(() => {});
  }
}

async function fetchImage(url, credentials) {
  let response;
  try {
    // No cookies unless the person asked for this image; never from or into the HTTP cache, so an image
    // fetched with cookies once cannot be served to a page scan later.
    response = await fetch(url, { credentials, cache: "no-store", referrerPolicy: "no-referrer" });
  } catch (error) {
    throw new SynthSpotBridge.BridgeError("fetch_failed", "The image could not be downloaded from the site (network error).");
  }
  if (!response.ok) {
    throw new SynthSpotBridge.BridgeError("fetch_failed", `The site refused to send the image (HTTP ${response.status}).`);
  }
  const blob = await boundedBody(response);
  if (blob.size === 0) throw new SynthSpotBridge.BridgeError("fetch_failed", "The site sent an empty image.");
  return blob;
}

// The body, refused as soon as it is known to be over the bridge's limit: a 400 MB link was downloaded whole
// (minutes of "checking…", hundreds of MB held) before "too large".
async function boundedBody(response) {
  const declared = Number(response.headers.get("Content-Length"));
  if (declared > MAX_IMAGE_BYTES) {
    response.body && response.body.cancel().catch(() => {});
    throw new SynthSpotBridge.BridgeError("too_large");
  }
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  if (!response.body) return new Blob([], { type });
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_IMAGE_BYTES) {
      reader.cancel().catch(() => {});
      throw new SynthSpotBridge.BridgeError("too_large");
    }
    chunks.push(value);
  }
  return new Blob(chunks, { type });
}

function base64ToBlob(base64, mimeType) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], { type: mimeType || "application/octet-stream" });
}

// Pairing runs here, not in the popup: the popup closes as soon as the person clicks into the app to
// approve. Progress goes to storage, where the popup (reopened or not) reads it.
let waitingAttempt = null; // the request this worker waits on, withdrawn if the person gives up on it

async function startPairing(name) {
  const attempt = await SynthSpotBridge.requestPairing(String(name || "").slice(0, 80) || "Browser");
  if (waitingAttempt) withdraw(waitingAttempt); // a new Pair replaces the one still waiting
  waitingAttempt = attempt;
  // An approval still waiting for the person's word belongs to an attempt given up for this one: dropped.
  await SynthSpotBridge.discardPairing();
  const shown = { state: "waiting", code: attempt.code, name: attempt.name, request: attempt.request,
    started: Date.now() };
  await chrome.storage.local.set({ pairingAttempt: shown });
  waitForApproval(attempt, shown).catch(() => {});
  return { code: attempt.code };
}

// Cancel in the popup: the app must stop listing a request nobody waits on (approving it would pair a
// browser that never keeps the key).
async function cancelPairing() {
  await chrome.storage.local.remove("pairingAttempt");
  const attempt = waitingAttempt;
  waitingAttempt = null;
  if (attempt) await withdraw(attempt);
}

// The popup's question after an approval: "Did you approve code … in SynthSpot?"
async function answerApproval(approvedThere) {
  const { pairingAttempt: shown } = await chrome.storage.local.get("pairingAttempt");
  if (approvedThere) {
    await SynthSpotBridge.confirmPairing(shown && shown.request);
    await chrome.storage.local.set({ pairingAttempt: { ...shown, state: "paired" } });
    return { paired: true };
  }
  await SynthSpotBridge.discardPairing();
  await chrome.storage.local.set({ pairingAttempt: { ...shown, state: "failed", error: "not_approved_here",
    message: "Not paired: the approval did not come from your SynthSpot window. If SynthSpot was not running, " +
      "something else answered on its port: start SynthSpot and pair again." } });
  return { paired: false };
}

async function withdraw(attempt) {
  if (waitingAttempt === attempt) waitingAttempt = null;
  try { await SynthSpotBridge.withdrawPairing(attempt); } catch (_) { /* the app is gone: so is the request */ }
}

async function waitForApproval(attempt, shown) {
  const deadline = Date.now() + PAIRING_TIMEOUT_MS;
  // Cancelled in the popup (the attempt is gone) or replaced by a new one: withdraw it, write nothing.
  const stillWanted = async () => {
    const { pairingAttempt: current } = await chrome.storage.local.get("pairingAttempt");
    if (Boolean(current) && current.code === shown.code) return true;
    await withdraw(attempt);
    return false;
  };
  while (Date.now() < deadline) {
    if (!(await stillWanted())) return;
    let answer;
    try {
      answer = await SynthSpotBridge.pairingAnswer(attempt);
    } catch (error) {
      if (!(await stillWanted())) return;
      await chrome.storage.local.set({ pairingAttempt: { ...shown, state: "failed", error: error.state,
        message: error.message } });
      return;
    }
    if (answer === "approved") {
      if (waitingAttempt === attempt) waitingAttempt = null; // answered: nothing left to withdraw
      // Kept only once the person says they approved this code in SynthSpot's window (the popup asks).
      await chrome.storage.local.set({ pairingAttempt: { ...shown, state: "confirm" } });
      return;
    }
    // An extension API call each round also keeps this worker alive while the person decides.
    if (!(await stillWanted())) return;
    await chrome.storage.local.set({ pairingAttempt: { ...shown, polled: Date.now() } });
    await new Promise((resolve) => setTimeout(resolve, PAIRING_POLL_MS));
  }
  if (!(await stillWanted())) return;
  await withdraw(attempt);
  await chrome.storage.local.set({ pairingAttempt: { ...shown, state: "failed", error: "timeout",
    message: "Nobody approved the pairing in SynthSpot in time. Try again." } });
}
