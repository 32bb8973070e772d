// The extension's only way to SynthSpot: HTTP to the bridge on 127.0.0.1, over an authenticated
// channel (engine/bridge/protocol.py describes it; this file mirrors it).
// Pairing derives a key by X25519 + HKDF; the key is kept as a non-extractable CryptoKey in the
// extension's IndexedDB (never readable by a content script, never sent anywhere). Every call first
// asks the server to prove it holds that key (hello) and sends nothing else until it has; answers
// that carry results must be signed too. Shared by the service worker (importScripts) and the popup.
"use strict";

const SynthSpotBridge = (() => {
  const DEFAULT_PORT = 47615;
  const H = {
    client: "X-SynthSpot-Client", nonce: "X-SynthSpot-Nonce", signature: "X-SynthSpot-Signature",
    body: "X-SynthSpot-Body-Sha256", page: "X-SynthSpot-Page-Url", image: "X-SynthSpot-Image-Url",
  };
  const MAX_URL_LABEL = 2048;
  // How long an answer may take: a frozen app must not leave badges "checking…" for ever. A scan waits
  // behind the app's queue, so it gets longer than the quick control calls.
  const ANSWER_TIMEOUT_MS = 15_000;
  const SCAN_TIMEOUT_MS = 120_000;
  // "Busy" (HTTP 429) is the app's rate limit on a big page: wait as it asks (Retry-After), then try again.
  const BUSY_RETRIES = 5;
  const MAX_BUSY_WAIT_MS = 5_000;
  const enc = new TextEncoder();

  // Every failure has a state the UI can explain; never a silent failure.
  const MESSAGES = {
    app_not_running: "SynthSpot is not running on this computer, or its browser bridge is off. Start the app and "
      + "tick Settings → Browser bridge (a developer install can run synthspot serve instead).",
    app_not_responding: "SynthSpot does not answer: it may be stopped or very busy. Try again in a moment.",
    not_paired: "Not paired with SynthSpot: open the SynthSpot popup and pair this browser.",
    not_recognised: "The SynthSpot on this port does not know this browser (it was unpaired in the app, or it is " +
      "not SynthSpot). Nothing was sent. Pair again from the popup.",
    impostor: "Something answers on SynthSpot's port but cannot prove it is the SynthSpot this browser paired " +
      "with. Nothing was sent to it.",
    pairing_closed: "SynthSpot is not accepting browsers yet: open Pair a browser in the app first, as above, " +
      "then click Pair again.",
    pairing_refused: "The pairing was refused in SynthSpot.",
    pairing_suspended: "SynthSpot stopped taking pairing requests: more came than a person makes (something on " +
      "this computer may be trying to pair). Close Pair a browser in the app, open it again, then click Pair.",
    unknown_request: "The pairing request is gone (the app's Pair a browser window was closed). Try again.",
    // An app older than this extension takes the key in the first step, and says so this way.
    bad_public_key: "This SynthSpot app is older than the extension and cannot pair with it: update SynthSpot, " +
      "then pair again.",
    commitment_mismatch: "The pairing did not reach SynthSpot as it was sent (something on its port changed " +
      "it). Nothing was paired. Try again.",
    bad_origin: "SynthSpot refused this extension (its ID is not on the app's list of allowed extensions).",
    rate_limited: "SynthSpot is busy; try again in a moment.",
    too_large: "The image is too large for SynthSpot (over 40 MB).",
    not_scanned: "SynthSpot could not read this image.",
    no_model: "SynthSpot has no detection model loaded: choose one in the app.",
    model_changed: "SynthSpot's model changed while this image waited: check it again.",
    no_app_window: "SynthSpot runs without a window here (synthspot serve): open the app to see details.",
    fetch_failed: "The image could not be downloaded from the site.",
    unsupported_format: "SVG images are not checked: SynthSpot checks photos and pictures (JPEG, PNG, WebP…).",
  };

  class BridgeError extends Error {
    constructor(state, message, status = 0) {
      super(message || MESSAGES[state] || state);
      this.state = state;
      this.status = status;
    }
  }

  // --- bytes ------------------------------------------------------------------

  function b64url(bytes) {
    let text = "";
    for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function unb64url(text) {
    const padded = String(text).replace(/-/g, "+").replace(/_/g, "/") + "===".slice((String(text).length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  async function sha256Hex(bytes) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  const fields = (...parts) => enc.encode(parts.join("\n"));
  const sign = async (key, ...parts) => b64url(await crypto.subtle.sign("HMAC", key, fields(...parts)));
  async function verify(key, signature, ...parts) {
    try {
      return await crypto.subtle.verify("HMAC", key, unb64url(signature || ""), fields(...parts));
    } catch (_) {
      return false; // not even base64url
    }
  }

  // --- the pairing, kept where only extension pages and the worker can reach it ------

  function database() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("synthspot", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("pairing");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function store(mode, action) {
    const db = await database();
    try {
      return await new Promise((resolve, reject) => {
        const request = action(db.transaction("pairing", mode).objectStore("pairing"));
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    } finally {
      db.close();
    }
  }

  const loadPairing = () => store("readonly", (s) => s.get("bridge"));
  const savePairing = (pairing) => store("readwrite", (s) => s.put(pairing, "bridge"));
  const forgetPairing = () => store("readwrite", (s) => s.delete("bridge"));
  // Approved by whatever answers on the port, not yet confirmed by the person: not used for anything.
  const UNCONFIRMED = "bridge-unconfirmed";
  const loadUnconfirmed = () => store("readonly", (s) => s.get(UNCONFIRMED));

  async function port() {
    return (await chrome.storage.local.get({ bridgePort: DEFAULT_PORT })).bridgePort;
  }

  // --- plain HTTP ---------------------------------------------------------------

  async function send(path, { method = "GET", body, headers = {}, timeoutMs = ANSWER_TIMEOUT_MS } = {}) {
    const bridgePort = await port();
    try {
      return await fetch(`http://127.0.0.1:${bridgePort}${path}`, {
        method, body, headers, credentials: "omit", cache: "no-store", signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error.name === "TimeoutError") throw new BridgeError("app_not_responding");
      throw new BridgeError("app_not_running",
        `Nothing answers on 127.0.0.1:${bridgePort}: SynthSpot is not running, or its browser bridge is off. ` +
        "Start the app and tick Settings → Browser bridge (a developer install can run synthspot serve instead).");
    }
  }

  async function jsonOf(response) {
    try { return await response.json(); } catch (_) { return {}; }
  }

  function refusal(status, data) {
    // No SynthSpot error in the answer: another program has the port (a web server, a proxy).
    if (!data.error && !data.message && data.app !== "SynthSpot") {
      return new BridgeError("not_synthspot", `Something other than SynthSpot answers on this port (HTTP ${status}). ` +
        "Check the port under Settings, or start SynthSpot.", status);
    }
    const state = data.error || "bridge_error";
    const message = state === "not_scanned" && data.message
      ? `SynthSpot could not read this image: ${data.message}.`
      : MESSAGES[state] || data.message || `SynthSpot answered HTTP ${status}`;
    return new BridgeError(state, message, status);
  }

  // Seconds the app asked to wait (Retry-After), as milliseconds within reason; 1 s when it did not say.
  function busyWait(response) {
    const seconds = Number(response.headers.get("Retry-After"));
    const wait = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
    return Math.min(wait, MAX_BUSY_WAIT_MS) + Math.random() * 250; // apart, not all at once again
  }

  const postJson = (path, value, headers = {}) => send(path, {
    method: "POST", body: JSON.stringify(value), headers: { "Content-Type": "application/json", ...headers },
  });

  // --- the authenticated channel ----------------------------------------------

  // A fresh nonce from a server that proved it holds our key; nothing but our ID and a challenge is sent.
  async function verifiedNonce(pairing) {
    const challenge = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const response = await postJson("/v1/hello", { client: pairing.client, challenge }, { [H.client]: pairing.client });
    const data = await jsonOf(response);
    if (response.status === 401) throw new BridgeError("not_recognised", MESSAGES.not_recognised, 401);
    if (!response.ok) {
      const error = refusal(response.status, data);
      if (response.status === 429) error.retryAfterMs = busyWait(response);
      throw error;
    }
    const proven = typeof data.nonce === "string"
      && await verify(pairing.key, data.proof, "synthspot-server-v1", pairing.client, challenge, data.nonce);
    if (!proven) throw new BridgeError("impostor", MESSAGES.impostor, response.status);
    return data.nonce;
  }

  async function signedCall(path, options = {}) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await signedCallOnce(path, options);
      } catch (error) {
        if (error.state !== "rate_limited" || attempt >= BUSY_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs || 1000));
      }
    }
  }

  async function signedCallOnce(path, { method = "GET", body, contentType = "", pageUrl = "", imageUrl = "",
    timeoutMs = ANSWER_TIMEOUT_MS } = {}) {
    const pairing = await loadPairing();
    if (!pairing) throw new BridgeError("not_paired");
    const bytes = body ? new Uint8Array(await body.arrayBuffer()) : new Uint8Array(0);
    const digest = await sha256Hex(bytes);
    const nonce = await verifiedNonce(pairing); // before any URL or byte goes out
    const headers = {
      [H.client]: pairing.client, [H.nonce]: nonce, [H.body]: digest,
      [H.signature]: await sign(pairing.key, "synthspot-request-v1", method, path, nonce, contentType, pageUrl,
        imageUrl, digest),
    };
    if (contentType) headers["Content-Type"] = contentType;
    if (pageUrl) headers[H.page] = pageUrl;
    if (imageUrl) headers[H.image] = imageUrl;
    const response = await send(path, { method, body: body ? bytes : undefined, headers, timeoutMs });
    const answer = new Uint8Array(await response.arrayBuffer());
    const signed = await verify(pairing.key, response.headers.get(H.signature), "synthspot-answer-v1", nonce,
      String(response.status), await sha256Hex(answer));
    let data = {};
    try { data = JSON.parse(new TextDecoder().decode(answer)); } catch (_) { /* the status says enough */ }
    // Results and verdicts are believed only when signed; an unsigned refusal (401, 413, 429) carries none.
    if ((response.ok || response.status === 422) && !signed) throw new BridgeError("impostor", MESSAGES.impostor);
    if (response.ok) return data;
    // A 401 here may come from anything on the port: it never deletes our key.
    const error = refusal(response.status, response.status === 401 ? { error: "not_recognised" } : data);
    if (response.status === 429) error.retryAfterMs = busyWait(response);
    throw error;
  }

  function label(url) {
    const text = String(url || "");
    // data: URLs can be megabytes; the app only needs to know what kind of thing it was.
    const kept = text.startsWith("data:") ? text.slice(0, text.indexOf(",") + 1 || 64) : text;
    return encodeURIComponent(kept.slice(0, MAX_URL_LABEL));
  }

  // --- pairing ----------------------------------------------------------------

  async function deriveFromExchange(privateKey, clientPublic, serverPublic) {
    const peer = await crypto.subtle.importKey("raw", serverPublic, { name: "X25519" }, false, []);
    const shared = await crypto.subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256);
    const both = new Uint8Array(clientPublic.length + serverPublic.length);
    both.set(clientPublic);
    both.set(serverPublic, clientPublic.length);
    const salt = await crypto.subtle.digest("SHA-256", both);
    const base = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey", "deriveBits"]);
    const key = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt, info: enc.encode("synthspot bridge key v1") }, base,
      { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign", "verify"]);
    const codeBits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: enc.encode("synthspot pairing code v1") }, base, 64);
    const code = String(new DataView(codeBits).getBigUint64(0) % 1000000n).padStart(6, "0");
    return { key, code };
  }

  // What goes out before the key itself (as protocol.py's pairing_commitment): a relay on the port must
  // give its key before it sees ours, so it cannot try keys until the code we show matches the app's.
  async function commitmentTo(clientPublic) {
    const prefix = enc.encode("synthspot pairing commitment v1\n");
    const both = new Uint8Array(prefix.length + clientPublic.length);
    both.set(prefix);
    both.set(clientPublic, prefix.length);
    return new Uint8Array(await crypto.subtle.digest("SHA-256", both));
  }

  // Ask to pair; resolves with the code to compare in the app, and the means to wait for the answer.
  async function requestPairing(name) {
    const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
    const clientPublic = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const response = await postJson("/v1/pair", { name, commitment: b64url(await commitmentTo(clientPublic)) });
    const data = await jsonOf(response);
    if (response.status !== 202) throw refusal(response.status, data);
    const serverPublic = unb64url(data.public_key);  // fixed now: only then is our key revealed
    const revealed = await postJson("/v1/pair/reveal", { request: data.request, public_key: b64url(clientPublic) });
    if (revealed.status !== 202) {
      const failed = refusal(revealed.status, await jsonOf(revealed));
      await withdrawPairing({ request: data.request }).catch(() => {});  // its place in the app is free again
      throw failed;
    }
    const { key, code } = await deriveFromExchange(pair.privateKey, clientPublic, serverPublic);
    return { request: data.request, key, code, name };
  }

  // One look at the app's answer: "pending", or "approved" (the pairing is then held until the person
  // confirms it: a program answering on the port while SynthSpot is not running could approve itself),
  // or a BridgeError.
  async function pairingAnswer(attempt) {
    const response = await postJson("/v1/pair/status", { request: attempt.request });
    const data = await jsonOf(response);
    if (response.status === 202) return "pending";
    if (!response.ok) throw refusal(response.status, data);
    const proven = typeof data.client === "string"
      && await verify(attempt.key, data.proof, "synthspot-paired-v1", attempt.request, data.client);
    if (!proven) throw new BridgeError("impostor", MESSAGES.impostor);
    await store("readwrite", (s) => s.put({ client: data.client, key: attempt.key, name: attempt.name,
      pairedAt: Date.now(), request: attempt.request }, UNCONFIRMED));
    return "approved";
  }

  // The person saw their approval in SynthSpot's window: the held pairing becomes the one in use.
  // ``request``: the attempt whose code the person was shown; a pairing held for another one is not kept.
  async function confirmPairing(request) {
    const held = await loadUnconfirmed();
    if (!held || held.request !== request) throw new BridgeError("unknown_request", MESSAGES.unknown_request);
    const { request: _request, ...pairing } = held;
    await savePairing(pairing);
    await store("readwrite", (s) => s.delete(UNCONFIRMED));
  }

  // They did not approve it there: forget it, and have whatever approved it drop it too.
  async function discardPairing() {
    const held = await loadUnconfirmed();
    await store("readwrite", (s) => s.delete(UNCONFIRMED));
    if (held) await withdrawPairing({ request: held.request }).catch(() => {});
  }

  // Stop waiting: the request leaves the app's window (or a pairing approved meanwhile is undone there).
  async function withdrawPairing(attempt) {
    const response = await postJson("/v1/pair/withdraw", { request: attempt.request });
    if (!response.ok && response.status !== 404) throw refusal(response.status, await jsonOf(response));
  }

  async function publicStatus() {
    const response = await send("/v1/status");
    const data = await jsonOf(response);
    if (!response.ok) throw refusal(response.status, data);
    if (data.app !== "SynthSpot") throw refusal(response.status, {}); // a web page, not SynthSpot's answer
    return data;
  }

  return {
    DEFAULT_PORT,
    MESSAGES,
    BridgeError,
    loadPairing,
    publicStatus,
    // Paired and proven: the model and this browser's name; else a BridgeError saying why not.
    status: () => signedCall("/v1/status"),
    requestPairing,
    pairingAnswer,
    confirmPairing,
    discardPairing,
    withdrawPairing,
    // Forgotten here in any case; true where the app forgot this browser too (or had already), false where
    // it could not be reached and still lists it.
    async unpair() {
      let told = true;
      try {
        await signedCall("/v1/forget", { method: "POST" });
      } catch (error) {
        told = error.state === "not_recognised";
      }
      await forgetPairing();
      return told;
    },
    scan(blob, pageUrl, imageUrl) {
      const type = blob.type && blob.type.startsWith("image/") ? blob.type : "application/octet-stream";
      return signedCall("/v1/scan", {
        method: "POST", body: blob, contentType: type, pageUrl: label(pageUrl), imageUrl: label(imageUrl),
        timeoutMs: SCAN_TIMEOUT_MS,
      });
    },
    open: (sha256) => signedCall(`/v1/open/${encodeURIComponent(sha256)}`, { method: "POST" }),
  };
})();
