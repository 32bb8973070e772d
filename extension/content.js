// Injected into a page on demand (popup, context menu, auto-scan): finds the images a person
// actually sees and puts a small verdict badge on each. Badges live in one shadow root so the
// page's styles cannot touch them. Injecting twice is harmless.
(() => {
  "use strict";
  if (window.__synthspotContentLoaded) return;
  window.__synthspotContentLoaded = true;

  const MIN_SIDE = 64; // CSS pixels: icons, avatars and spacers are not worth a verdict
  const MAX_ELEMENTS_FOR_BACKGROUNDS = 5000;
  const SHORT_ERRORS = {
    app_not_running: "SynthSpot is not running",
    not_paired: "Not paired: open the SynthSpot popup",
    fetch_failed: "Image could not be fetched",
    not_scanned: "Not a readable image",
    too_large: "Image too large to check",
    rate_limited: "SynthSpot busy: try again",
    no_model: "No model loaded in SynthSpot",
    extension_reloaded: "SynthSpot was updated: reload the page",
  };
  const STYLE = `
    .badge { position: absolute; display: flex; gap: 6px; align-items: center; max-width: 320px;
      font: 600 12px/1.3 system-ui, -apple-system, "Segoe UI", sans-serif; color: #fff; padding: 4px 8px;
      border-radius: 12px; box-shadow: 0 1px 4px rgba(0,0,0,.45); background: #4b5563; pointer-events: auto;
      white-space: nowrap; }
    .badge[hidden] { display: none; }
    .badge .dot { width: 8px; height: 8px; border-radius: 50%; background: currentColor; opacity: .9; flex: none; }
    .badge a { color: inherit; font-weight: 500; text-decoration: underline; cursor: pointer; opacity: .9; }
    .badge.likely_ai { background: #b91c1c; }
    .badge.uncertain { background: #b45309; }
    .badge.likely_real { background: #15803d; }
    .badge.checking { background: #374151; font-weight: 500; }
    .badge.failed { background: #1f2937; border: 1px solid #f59e0b; font-weight: 500; }
    .badge.toast { position: fixed; top: 12px; right: 12px; }
  `;

  let root = null;
  const placed = []; // {element, badge}

  function layer() {
    if (root) return root;
    const host = document.createElement("synthspot-badges");
    host.style.cssText = "position:absolute;top:0;left:0;width:0;height:0;overflow:visible;z-index:2147483647;";
    (document.body || document.documentElement).appendChild(host);
    root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    root.appendChild(style);
    window.addEventListener("resize", placeAll);
    new ResizeObserver(placeAll).observe(document.documentElement);
    return root;
  }

  function visibleBox(element) {
    const style = getComputedStyle(element);
    if (style.display === "none" || style.visibility === "hidden" || Number(style.opacity) === 0) return null;
    const box = element.getBoundingClientRect();
    return box.width >= MIN_SIDE && box.height >= MIN_SIDE ? box : null;
  }

  // The image actually displayed: currentSrc follows srcset and <picture>; a CSS background's first url().
  function displayedUrl(element) {
    if (element instanceof HTMLImageElement) return element.currentSrc || element.src || "";
    const background = getComputedStyle(element).backgroundImage;
    const match = background && background.match(/url\(\s*(['"]?)(.*?)\1\s*\)/);
    return match ? new URL(match[2], document.baseURI).href : "";
  }

  function pageImages() {
    const found = [];
    for (const image of document.images) {
      const url = displayedUrl(image);
      if (url && visibleBox(image)) found.push({ element: image, url });
    }
    const all = document.body ? document.body.getElementsByTagName("*") : [];
    for (let i = 0; i < Math.min(all.length, MAX_ELEMENTS_FOR_BACKGROUNDS); i += 1) {
      const element = all[i];
      if (element instanceof HTMLImageElement || element.tagName === "SYNTHSPOT-BADGES") continue;
      const url = displayedUrl(element);
      if (url && visibleBox(element)) found.push({ element, url });
    }
    return found;
  }

  function place(entry) {
    const box = entry.element.isConnected ? entry.element.getBoundingClientRect() : null;
    entry.badge.hidden = !box || box.width === 0;
    if (!box) return;
    entry.badge.style.left = `${Math.round(box.left + window.scrollX + 6)}px`;
    entry.badge.style.top = `${Math.round(box.top + window.scrollY + 6)}px`;
  }

  function placeAll() {
    placed.forEach(place);
  }

  function badgeFor(element, url) {
    const previous = placed.findIndex((entry) => entry.element === element);
    if (previous >= 0) placed.splice(previous, 1)[0].badge.remove();
    const badge = document.createElement("div");
    badge.dataset.src = url;
    layer().appendChild(badge);
    if (element) {
      const entry = { element, badge };
      placed.push(entry);
      place(entry);
    } else {
      badge.classList.add("toast");
    }
    show(badge, { state: "checking" });
    return badge;
  }

  function show(badge, outcome) {
    const toast = badge.classList.contains("toast");
    badge.replaceChildren();
    badge.className = toast ? "badge toast" : "badge";
    const dot = document.createElement("span");
    dot.className = "dot";
    const text = document.createElement("span");
    text.className = "label";
    badge.append(dot, text);
    if (outcome.state === "checking") {
      badge.classList.add("checking");
      badge.dataset.state = "checking";
      text.textContent = "SynthSpot: checking…";
      return;
    }
    if (!outcome.ok) {
      badge.classList.add("failed");
      badge.dataset.state = outcome.state;
      text.textContent = SHORT_ERRORS[outcome.state] || "SynthSpot could not check this image";
      badge.title = outcome.message || "";
      return;
    }
    const result = outcome.value;
    badge.classList.add(result.verdict);
    badge.dataset.state = "done";
    badge.dataset.verdict = result.verdict;
    badge.dataset.probability = String(result.probability);
    badge.dataset.sha256 = result.sha256;
    text.textContent = `${result.verdictLabel} · ${Math.round(100 * result.probability)}%`;
    badge.title = [`P(AI-generated) = ${result.probability.toFixed(3)}`, ...result.reasons, ...result.provenance].join("\n");
    const open = document.createElement("a");
    open.textContent = "Open in SynthSpot";
    open.addEventListener("click", async (event) => {
      event.preventDefault();
      event.stopPropagation();
      const answer = await ask({ type: "synthspot:open", sha256: result.sha256 });
      open.title = answer.ok ? "Shown in the SynthSpot app" : answer.message;
      if (!answer.ok) open.textContent = "Open the SynthSpot app";
    });
    badge.append(open);
  }

  async function ask(message) {
    try {
      return await chrome.runtime.sendMessage(message);
    } catch (error) {
      return { ok: false, state: "extension_reloaded", message: String(error.message || error) };
    }
  }

  async function asBase64(blob) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  }

  // The service worker fetches the bytes; blob: URLs, and images only this page may read (a site that
  // refuses requests without its referrer), are read here instead and sent along.
  async function verdictFor(url) {
    const pageUrl = location.href;
    let answer = url.startsWith("blob:") ? { ok: false, state: "fetch_failed" } : await ask({ type: "synthspot:check", url, pageUrl });
    if (!answer.ok && answer.state === "fetch_failed") {
      try {
        const response = await fetch(url, { credentials: "include" });
        if (response.ok) {
          const blob = await response.blob();
          answer = await ask({ type: "synthspot:check", url, pageUrl, base64: await asBase64(blob), mimeType: blob.type });
        }
      } catch (_) { /* the service worker's answer stands */ }
    }
    return answer;
  }

  function check(items) {
    const byUrl = new Map();
    for (const { element, url } of items) {
      if (!byUrl.has(url)) byUrl.set(url, []);
      byUrl.get(url).push(element);
    }
    for (const [url, elements] of byUrl) {
      const badges = elements.map((element) => badgeFor(element, url));
      verdictFor(url).then((outcome) => badges.forEach((badge) => show(badge, outcome)));
    }
    return byUrl.size;
  }

  chrome.runtime.onMessage.addListener((message, _sender, sendResponse) => {
    if (message.type === "synthspot:scanPage") {
      const items = pageImages();
      sendResponse({ elements: items.length, images: check(items) });
    } else if (message.type === "synthspot:checkOne") {
      const matching = [...document.images, ...(document.body ? document.body.getElementsByTagName("*") : [])]
        .filter((element) => element.tagName !== "SYNTHSPOT-BADGES" && displayedUrl(element) === message.srcUrl);
      const items = [...new Set(matching)].map((element) => ({ element, url: message.srcUrl }));
      if (items.length) check(items);
      else {
        const toast = badgeFor(null, message.srcUrl); // the image is in a frame or gone: say so in a corner
        verdictFor(message.srcUrl).then((outcome) => show(toast, outcome));
      }
      sendResponse({ elements: items.length });
    }
    return false;
  });
})();
