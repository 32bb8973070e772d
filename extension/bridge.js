// The extension's only way to SynthSpot: HTTP to the bridge on 127.0.0.1.
// Shared by the service worker (importScripts) and the popup (<script>).
"use strict";

const SynthSpotBridge = (() => {
  const DEFAULT_PORT = 47615;
  const TOKEN_HEADER = "X-SynthSpot-Token";
  const MAX_URL_LABEL = 2048;

  // Every failure has a state the UI can explain; never a silent failure.
  const MESSAGES = {
    app_not_running: "SynthSpot is not running on this computer. Start the app (or `synthspot serve`).",
    not_paired: "Not paired with SynthSpot: open the SynthSpot popup and enter the code the app shows.",
    wrong_code: "That code is not the one SynthSpot shows now; codes are single use and change after a few minutes.",
    bad_origin: "SynthSpot refused this extension (its ID is not on the app's list of allowed extensions).",
    rate_limited: "SynthSpot is busy; try again in a moment.",
    too_large: "The image is too large for SynthSpot (over 40 MB).",
    not_scanned: "SynthSpot could not read this image.",
    no_model: "SynthSpot has no detection model loaded: choose one in the app.",
    no_app_window: "SynthSpot runs without a window (synthspot serve): open the app to see details.",
    fetch_failed: "The image could not be downloaded from the site.",
  };

  class BridgeError extends Error {
    constructor(state, message, status = 0) {
      super(message || MESSAGES[state] || state);
      this.state = state;
      this.status = status;
    }
  }

  async function settings() {
    return chrome.storage.local.get({ bridgePort: DEFAULT_PORT, token: "" });
  }

  function label(url) {
    const text = String(url || "");
    // data: URLs can be megabytes; the app only needs to know what kind of thing it was.
    const kept = text.startsWith("data:") ? text.slice(0, text.indexOf(",") + 1 || 64) : text;
    return encodeURIComponent(kept.slice(0, MAX_URL_LABEL));
  }

  async function call(path, { method = "GET", body, headers = {} } = {}) {
    const { bridgePort, token } = await settings();
    const sent = { ...headers };
    if (token) sent[TOKEN_HEADER] = token;
    let response;
    try {
      response = await fetch(`http://127.0.0.1:${bridgePort}${path}`, {
        method, body, headers: sent, credentials: "omit", cache: "no-store",
      });
    } catch (error) {
      throw new BridgeError("app_not_running",
        `SynthSpot is not running on this computer (nothing answers on 127.0.0.1:${bridgePort}). ` +
        "Start the app (or `synthspot serve`).");
    }
    let data = {};
    try { data = await response.json(); } catch (_) { /* an empty or non-JSON answer: the status says enough */ }
    if (response.ok) return data;
    if (response.status === 401) await chrome.storage.local.remove("token");
    const state = data.error || (response.status === 401 ? "not_paired" : "bridge_error");
    const message = state === "not_scanned" && data.message
      ? `SynthSpot could not read this image: ${data.message}.`
      : MESSAGES[state] || data.message || `SynthSpot answered HTTP ${response.status}`;
    throw new BridgeError(state, message, response.status);
  }

  return {
    DEFAULT_PORT,
    MESSAGES,
    BridgeError,
    status: () => call("/v1/status"),
    async pair(code) {
      const answer = await call("/v1/pair", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code: String(code).replace(/\s+/g, ""), label: navigator.userAgent.slice(0, 80) }),
      });
      await chrome.storage.local.set({ token: answer.token });
      return true;
    },
    unpair: () => chrome.storage.local.remove("token"),
    scan(blob, pageUrl, imageUrl) {
      const type = blob.type && blob.type.startsWith("image/") ? blob.type : "application/octet-stream";
      return call("/v1/scan", {
        method: "POST",
        body: blob,
        headers: { "Content-Type": type, "X-SynthSpot-Page-Url": label(pageUrl), "X-SynthSpot-Image-Url": label(imageUrl) },
      });
    },
    open: (sha256) => call(`/v1/open/${encodeURIComponent(sha256)}`, { method: "POST" }),
  };
})();
