// Injected on demand (popup, context menu, auto-scan) into every frame the extension may access,
// after badges.js. Finds the images the page has itself loaded and displays, asks the service worker
// for a verdict on each and badges it. After a page scan it keeps watching for a while, so an image a lazy
// loader swaps in (data-src, a placeholder and then the real one) is checked once the real image has loaded.
// Nothing here is reachable from the page: this is the extension's isolated world.
(() => {
  "use strict";
  if (globalThis.__synthspot) return;
  const Badges = globalThis.SynthSpotBadges;

  const MIN_SIDE = 64; // CSS pixels shown: icons, avatars and spacers are not worth a verdict
  const MAX_IMAGE_BYTES = 40 * 1024 * 1024; // the bridge takes no more (background.js refuses the same)
  const MIN_NATURAL_SIDE = 64; // pixels decoded, as MIN_SIDE: smaller is a spacer or a lazy loader's placeholder (blown up)
  const MAX_ELEMENTS_FOR_BACKGROUNDS = 5000;
  const BACKGROUND_DECODE_MS = 3000;
  const SHORT_ERRORS = {
    app_not_running: "SynthSpot not running (or its bridge is off)",
    not_paired: "Not paired: open the SynthSpot popup",
    not_recognised: "Not paired with this SynthSpot: open the popup",
    impostor: "Not SynthSpot on its port: nothing sent",
    fetch_failed: "Image could not be fetched",
    // The bridge says why in the tooltip: damaged bytes, a format it does not read, over 100 MP...
    not_scanned: "Could not be checked",
    too_large: "Image too large to check",
    rate_limited: "SynthSpot busy: try again",
    no_model: "No model loaded in SynthSpot",
    model_changed: "SynthSpot changed model: check it again",
    unsupported_format: "SVG: this format is not checked",
    extension_reloaded: "SynthSpot was updated: reload the page",
    app_not_responding: "SynthSpot does not answer",
  };
  // Failures that say nothing about the image: a verdict already shown for it stays.
  const TRANSIENT = new Set(["rate_limited", "app_not_running", "app_not_responding", "extension_reloaded",
    "model_changed"]);
  // What the badge's tooltip says where the answer is made here, not by the worker.
  const LOCAL_MESSAGES = {
    unsupported_format: "SVG images are not checked: SynthSpot checks photos and pictures (JPEG, PNG, WebP…).",
    fetch_failed: "This image exists only inside the page (a blob: address) and the page did not let it be read.",
    too_large: "The image is too large for SynthSpot (over 40 MB).",
  };

  // One page scan checks at most this many images as they load after it, within this time: a page
  // cannot turn one click into an endless stream of images of its choosing sent to the app.
  const FOLLOW_UP_IMAGES = 100;
  const FOLLOW_UP_MS = 10 * 60 * 1000;
  let followUpsLeft = 0;
  let watchUntil = 0;
  let scans = [];
  let checking = 0; // images asked about and not answered yet (the popup, reopened mid-scan, shows it)

  function shownBox(element) {
    const style = getComputedStyle(element);
    if (style.display === "none" || style.visibility === "hidden" || Number(style.opacity) === 0) return null;
    const box = element.getBoundingClientRect();
    return box.width >= MIN_SIDE && box.height >= MIN_SIDE ? box : null;
  }

  // "image/svg+xml; charset=utf-8" is an SVG too.
  const isSvgType = (type) => /^image\/svg\+xml\s*(;|$)/i.test(type || "");

  function isSvg(url) {
    if (/^data:image\/svg/i.test(url)) return true;
    try { return /\.svgz?$/i.test(new URL(url).pathname); } catch (_) { return false; }
  }

  // The page loaded it itself: decoded and not a placeholder (an SVG may have no pixel size of its own).
  function loaded(image) {
    const url = image.currentSrc || image.src;
    return Boolean(url) && image.complete && (isSvg(url)
      || image.naturalWidth >= MIN_NATURAL_SIDE && image.naturalHeight >= MIN_NATURAL_SIDE);
  }

  function backgroundUrl(element) {
    const background = getComputedStyle(element).backgroundImage;
    const match = background && background !== "none" && background.match(/url\(\s*(['"]?)(.*?)\1\s*\)/);
    if (!match) return "";
    try { return new URL(match[2], document.baseURI).href; } catch (_) { return ""; }
  }

  // Only images the page itself fetched (its resource timing lists them) or made (data:, blob:), so a
  // page cannot have the extension fetch a URL it merely names.
  function pageFetched() {
    return new Set(performance.getEntriesByType("resource").map((entry) => entry.name));
  }

  // A CSS background the page fetched may still have failed (a 404 is listed too): it counts once it
  // decodes here, in the page's own context (from the page's cache, with what the page itself may send).
  function decodesForPage(url) {
    const probe = new Image();
    probe.src = url;
    const timeout = new Promise((resolve) => setTimeout(resolve, BACKGROUND_DECODE_MS, false));
    const decoded = probe.decode().then(
      () => isSvg(url) || probe.naturalWidth >= MIN_NATURAL_SIDE && probe.naturalHeight >= MIN_NATURAL_SIDE,
      () => false);
    return Promise.race([decoded, timeout]);
  }

  // Every element of the page, those inside open shadow roots (web components, some galleries) included.
  function pageElements() {
    const found = [];
    const roots = document.body ? [document.body] : [];
    while (roots.length) {
      const root = roots.pop();
      for (const element of root.querySelectorAll("*")) {
        found.push(element);
        if (element.shadowRoot) roots.push(element.shadowRoot);
      }
    }
    return found;
  }

  async function pageImages() {
    const found = [];
    const elements = pageElements();
    const images = new Set(document.images);
    for (const element of elements) if (element instanceof HTMLImageElement) images.add(element);
    for (const image of images) {
      if (loaded(image) && shownBox(image)) found.push({ element: image, url: image.currentSrc || image.src });
    }
    const fetched = pageFetched();
    const backgrounds = [];
    for (let i = 0; i < Math.min(elements.length, MAX_ELEMENTS_FOR_BACKGROUNDS); i += 1) {
      const element = elements[i];
      if (element instanceof HTMLImageElement) continue;
      const url = backgroundUrl(element);
      const made = url.startsWith("data:") || url.startsWith("blob:");
      if (url && (made || fetched.has(url)) && shownBox(element)) backgrounds.push({ element, url });
    }
    const decodes = new Map();
    for (const { url } of backgrounds) if (!decodes.has(url)) decodes.set(url, decodesForPage(url));
    for (const item of backgrounds) if (await decodes.get(item.url)) found.push(item);
    return found;
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

  // The service worker fetches the bytes (without cookies unless the person asked for this one image).
  // blob: URLs, and images only this page may read, are read here instead, as the page itself could.
  // The pixels an <img> shows, as a lossless PNG: a page that revoked its blob: address once the image
  // loaded (the usual way) leaves nothing else to read. Decoded pixels, not the file's own bytes.
  async function shownPixels(element) {
    if (!(element instanceof HTMLImageElement) || !element.complete || !element.naturalWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = element.naturalWidth;
    canvas.height = element.naturalHeight;
    canvas.getContext("2d").drawImage(element, 0, 0);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  async function verdictFor(url, ticket, elements = []) {
    let answer = isSvg(url) ? { ok: false, state: "unsupported_format", message: LOCAL_MESSAGES.unsupported_format }
      : null;
    if (!answer) {
      answer = url.startsWith("blob:") ? { ok: false, state: "fetch_failed", message: LOCAL_MESSAGES.fetch_failed }
        : await ask({ type: "synthspot:check", url, ticket });
    }
    if (!answer.ok && answer.state === "fetch_failed" && !isSvg(url)) {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) {
          const blob = await response.blob();
          // Said before the bytes are copied: over 64 MB of base64 the message to the worker itself fails.
          answer = isSvgType(blob.type)
            ? { ok: false, state: "unsupported_format", message: LOCAL_MESSAGES.unsupported_format }
            : blob.size > MAX_IMAGE_BYTES ? { ok: false, state: "too_large", message: LOCAL_MESSAGES.too_large }
            : await ask({ type: "synthspot:check", url, base64: await asBase64(blob), mimeType: blob.type });
        }
      } catch (_) { /* the service worker's answer stands */ }
    }
    if (!answer.ok && answer.state === "fetch_failed" && url.startsWith("blob:")) {
      try {
        const png = await shownPixels(elements.find((element) => element instanceof HTMLImageElement));
        if (png && png.size <= MAX_IMAGE_BYTES) {
          answer = await ask({ type: "synthspot:check", url, base64: await asBase64(png), mimeType: "image/png" });
        }
      } catch (_) { /* a canvas the page's pixels taint: the answer stands */ }
    }
    if (!answer.ok) answer.shortText = SHORT_ERRORS[answer.state] || "SynthSpot could not check this image";
    return answer;
  }

  const openInApp = (sha256) => ask({ type: "synthspot:open", sha256 });

  // One verdict per URL, shown on every element that displays it; resolves to what was found.
  function check(items, ticket) {
    const byUrl = new Map();
    for (const { element, url } of items) {
      if (!byUrl.has(url)) byUrl.set(url, []);
      byUrl.get(url).push(element);
    }
    const done = [...byUrl].map(async ([url, elements]) => {
      const shown = elements.map((element) => Badges.verdictOn(element, url)).find(Boolean);
      const entries = elements.map((element) => Badges.add(element, url));
      entries.forEach((entry) => Badges.render(entry, { state: "checking" }, openInApp));
      checking += 1;
      let outcome;
      try {
        outcome = await verdictFor(url, ticket, elements);
      } finally {
        checking -= 1;
      }
      // In a page scan, a busy or absent app says nothing about the image: the verdict it had stays. (A
      // check the person asked for from the menu says what happened: the popup is not open to say it.)
      if (!ticket && !outcome.ok && TRANSIENT.has(outcome.state) && shown) outcome = shown;
      entries.forEach((entry) => Badges.render(entry, outcome, openInApp));
      return outcome;
    });
    return { images: byUrl.size, done: Promise.all(done) };
  }

  function summarise(outcomes) {
    const counts = { checked: outcomes.length, likely_ai: 0, uncertain: 0, likely_real: 0, failed: 0, unsupported: 0 };
    for (const outcome of outcomes) {
      if (outcome.ok) counts[outcome.value.verdict] = (counts[outcome.value.verdict] || 0) + 1;
      else if (outcome.state === "unsupported_format") counts.unsupported += 1;
      else counts.failed += 1;
    }
    return counts;
  }

  // Lazy loaders: once a scan ran here, an image that finishes loading later is checked too. Without a
  // page scan (one image checked from the menu), an image that now shows another picture (a lightbox's
  // Next) loses the badge of the one before: only the person may ask for the new one.
  document.addEventListener("load", (event) => {
    const image = event.target;
    if (!(image instanceof HTMLImageElement)) return;
    const url = image.currentSrc || image.src;
    const badged = Badges.urlOn(image);
    const watching = followUpsLeft > 0 && Date.now() < watchUntil;
    const checkable = watching && loaded(image) && shownBox(image);
    if (badged && badged !== url && !checkable) Badges.remove(image); // no verdict of another picture stays
    if (checkable && badged !== url) {
      followUpsLeft -= 1;
      scans.push(check([{ element: image, url }]).done);
    }
  }, true);

  globalThis.__synthspot = {
    // ``onlyNew``: leave images that already show a verdict for what they show (an auto-scan after the
    // page only changed its address); the popup's Scan checks everything again.
    async startScan({ onlyNew = false } = {}) {
      followUpsLeft = FOLLOW_UP_IMAGES;
      watchUntil = Date.now() + FOLLOW_UP_MS;
      let items = await pageImages();
      if (onlyNew) items = items.filter(({ element, url }) => !Badges.verdictOn(element, url));
      const { images, done } = check(items);
      scans = [done];
      return { elements: items.length, images };
    },
    progress: () => ({ checking }),
    async scanFinished() {
      const outcomes = (await Promise.all(scans)).flat();
      return summarise(outcomes);
    },
    // "Check image with SynthSpot" on one image: the ticket lets the worker fetch it with the site's cookies.
    async checkOne(srcUrl, ticket) {
      const matching = [...document.images, ...pageElements()]
        .filter((element) => (element instanceof HTMLImageElement ? element.currentSrc || element.src
          : backgroundUrl(element)) === srcUrl);
      const items = [...new Set(matching)].filter((element) => Badges.canHold(element))
        .map((element) => ({ element, url: srcUrl }));
      if (items.length) return summarise(await check(items, ticket).done);
      // The image is gone, or too small for a badge (an icon, a broken image's alt text): say so in a corner.
      const toast = Badges.add(null, srcUrl);
      Badges.render(toast, { state: "checking" }, openInApp);
      const outcome = await verdictFor(srcUrl, ticket);
      Badges.render(toast, outcome, openInApp);
      return summarise([outcome]);
    },
    describe: () => Badges.describe(),
  };
})();
