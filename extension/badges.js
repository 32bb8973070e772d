// The verdict badges. One fixed, viewport-sized layer holds them all in a closed shadow root: the page
// cannot read a verdict, a hash or a fetch status, cannot restyle a badge, and the layer adds no
// scrollbars. Each badge follows its image every frame (scroll containers, carousels, transforms,
// position: fixed all move the image's box) and is clipped to the part of the image that shows.
// Injected before content.js into the extension's isolated world; injecting twice is harmless.
(() => {
  "use strict";
  if (globalThis.SynthSpotBadges) return;

  const COMPACT_BELOW = 120; // CSS px: smaller images get an icon; the verdict shows on hover
  const INSET = 6;
  const MIN_SHOWN = 2 * INSET + 20; // CSS px of an image in view: the compact icon (20 px) and its insets
  const CLIPS_REFRESH_MS = 1000;
  const COVER_REFRESH_MS = 250; // how often to ask what lies over an image's corner (a fixed header)
  // Inline and !important: beats any page rule aimed at the host (synthspot-badges{display:none!important}).
  const HOST_STYLE = {
    display: "block", position: "fixed", inset: "0", width: "100vw", height: "100vh", margin: "0", padding: "0",
    border: "0", overflow: "hidden", "pointer-events": "none", "z-index": "2147483647", visibility: "visible",
    opacity: "1", transform: "none", translate: "none", scale: "none", rotate: "none", filter: "none",
    "clip-path": "none", contain: "strict", background: "none",
  };
  const STYLE = `
    :host { all: initial; }
    .badge { position: absolute; display: flex; gap: 6px; align-items: center; font: 600 12px/1.3 system-ui,
      -apple-system, "Segoe UI", sans-serif; color: #fff; padding: 4px 8px; border-radius: 12px;
      box-shadow: 0 1px 4px rgba(0,0,0,.45); background: #4b5563; pointer-events: auto; white-space: nowrap;
      border: 1px solid transparent; /* forced colours (high contrast) draw it: the fill is dropped there */
      overflow: hidden; box-sizing: border-box; }
    .badge[hidden] { display: none; }
    .icon { width: 14px; height: 14px; border-radius: 50%; background: rgba(0,0,0,.3); flex: none;
      font: 700 10px/14px system-ui, sans-serif; text-align: center; }
    .full { display: flex; gap: 6px; align-items: center; }
    .what { font-weight: 500; }
    a { color: inherit; font-weight: 500; text-decoration: underline; cursor: pointer; }
    .compact { padding: 3px; border-radius: 10px; }
    .compact .full { display: none; }
    .compact:hover, .compact:focus-within { padding: 4px 8px; z-index: 1; }
    .compact:hover .full, .compact:focus-within .full { display: flex; }
    a:focus-visible, button:focus-visible, .badge:focus-visible { outline: 2px solid #fff; outline-offset: 1px; }
    .dismiss { all: unset; cursor: pointer; padding: 0 4px; font: 700 14px/1 system-ui, sans-serif; }
    .details { display: none; flex-basis: 100%; white-space: normal; font-weight: 400; }
    .badge:focus-within { flex-wrap: wrap; max-width: 320px; } /* a full badge's own max-width (its image) wins */
    .badge:focus-within .details:not(:empty) { display: block; }
    .badge.measuring .details, .badge.measuring:focus-within .details:not(:empty) { display: none; }
    .likely_ai { background: #b91c1c; }
    .uncertain { background: #b45309; }
    .likely_real { background: #15803d; }
    .checking { background: #374151; font-weight: 500; }
    .failed, .unsupported { background: #1f2937; border: 1px solid #f59e0b; font-weight: 500; }
    .failed .label, .unsupported .label { white-space: normal; }
    .toast { right: 12px; max-width: 320px; }
  `;
  const ICONS = { likely_ai: "!", uncertain: "?", likely_real: "✓", checking: "…", failed: "×", unsupported: "–" };
  // What each verdict is worth, in the badge's tooltip (the app's detail pane says the same).
  const VERDICT_MEANS = {
    likely_ai: ["A strong hint, not proof: a real photo enlarged, denoised or retouched can carry the same traces."],
    uncertain: ["The model cannot tell either way: not a lean towards AI."],
    likely_real: ["No strong trace found: not proof of a photo."],
  };

  let host = null;
  let root = null;
  let modal = null; // the page's open modal <dialog>: the browser's top layer, above any z-index
  const entries = new Set(); // {element, badge, clips, clipsAt, data}
  const onElement = new Map(); // element -> its entry (one each): a page of hundreds of images looks up in O(1)
  let framing = false;
  // In a frame, the part of its viewport that the top-level window shows (null: the top frame, or not yet
  // known): a frame half scrolled out of its page puts a badge on the part of its image that shows
  // there, which the frame's own geometry cannot tell (the page around it may be another site's).
  let frameShown = null;
  let frameWatch = null; // the IntersectionObserver that measures frameShown
  const FRAME_SHOWN_STEPS = Array.from({ length: 101 }, (_, step) => step / 100); // to 1% of the frame

  function layer() {
    if (root && host.isConnected) return root;
    if (!host) {
      host = document.createElement("synthspot-badges");
      root = host.attachShadow({ mode: "closed" });
      const style = document.createElement("style");
      style.textContent = STYLE;
      root.appendChild(style);
      new MutationObserver(guardHost).observe(document.documentElement, { childList: true });
      new MutationObserver(styleHost).observe(host, { attributes: true });
      // A page script that hides the popover: shown again (our own hide-then-show in raise has
      // reopened it by the time this runs).
      host.addEventListener("toggle", () => { if (host.isConnected && !raised()) raise(); });
      // A popover or dialog the page opens joins the top layer above ours and could cover a badge with a
      // fake one: ours goes back on top (toggle does not bubble, but it is seen on its way down). At most
      // RAISES_PER_SECOND a second, so a page that answers in kind cannot keep both flipping for ever, nor
      // spend a lifetime budget first and then cover the badges for good.
      document.addEventListener("toggle", (event) => {
        if (event.target === host || event.newState !== "open" || !entries.size) return;
        const now = performance.now();
        if (now - raisesSince > 1000) {
          raisesSince = now;
          pageRaises = 0;
        }
        if (pageRaises < RAISES_PER_SECOND) {
          pageRaises += 1;
          raise();
        }
      }, true);
      window.addEventListener("scroll", placeAll, { capture: true, passive: true });
      window.addEventListener("resize", placeAll, { passive: true });
      if (window !== window.top) {
        frameWatch = new IntersectionObserver((seen) => {
          frameShown = seen[seen.length - 1].intersectionRect;
          placeAll();
        }, { threshold: FRAME_SHOWN_STEPS });
        frameWatch.observe(host);
      }
    }
    styleHost();
    document.documentElement.appendChild(host); // outside <body>: body margins and transforms do not apply
    raise();
    return root;
  }

  // The layer lives in the browser's top layer (a manual popover): drawn against the viewport and above
  // every z-index, and out of reach of a filter on <html> (a page greyed for a day of mourning would
  // grey the badges too, and make <html> what the fixed layer is placed against). Shown again to go
  // above whatever joined the top layer after it (a modal dialog).
  function raised() {
    return typeof host.showPopover !== "function" || host.matches(":popover-open"); // older browsers: z-index alone
  }

  function raise() {
    if (typeof host.showPopover !== "function") return;
    try {
      if (host.getAttribute("popover") !== "manual") host.setAttribute("popover", "manual");
      if (host.matches(":popover-open")) host.hidePopover();
      host.showPopover();
    } catch (_) { /* the page removed the layer meanwhile: guardHost puts it back */ }
  }

  // Re-applied whenever the page touches the host's attributes; a no-op when they are still ours
  // (our own change also wakes the observer).
  let ownStyle = "";
  function styleHost() {
    const popover = host.getAttribute("popover");
    const ours = popover === null ? 1 : 2; // style, and popover (see raise)
    if (!(ownStyle && host.attributes.length === ours && host.getAttribute("style") === ownStyle
          && [null, "manual"].includes(popover))) {
      for (const name of [...host.attributes].map((a) => a.name)) {
        if (!(name === "popover" && popover === "manual")) host.removeAttribute(name);
      }
      for (const [property, value] of Object.entries(HOST_STYLE)) host.style.setProperty(property, value, "important");
      ownStyle = host.getAttribute("style");
    }
    if (host.isConnected && !raised()) raise(); // the page took the popover away, or hid it
  }

  let reattached = 0;
  const RAISES_PER_SECOND = 20;
  let pageRaises = 0;
  let raisesSince = 0;
  function guardHost() {
    if (entries.size && host && !host.isConnected && reattached < 100) { // a page that keeps removing it wins eventually
      reattached += 1;
      document.documentElement.appendChild(host);
      raise();
    }
  }

  // Ancestors that can hide part of the element: overflow other than visible, up to a fixed ancestor.
  function clippingAncestors(element) {
    const clips = [];
    for (let node = element.parentElement; node && node !== document.documentElement; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== "visible" || style.overflowY !== "visible" || /paint|strict|content/.test(style.contain)) {
        clips.push(node);
      }
      if (style.position === "fixed") break;
    }
    return clips;
  }

  // A modal dialog (a lightbox) joins the top layer above the badges: the layer is raised above it again,
  // and only the images inside the dialog keep badges (the page behind is inert and dimmed). Outside the
  // dialog the layer would be inert too (its "Open in SynthSpot" unreachable by keyboard and hidden from
  // screen readers), so it moves into the dialog while it is open, and back when it closes.
  function followModal() {
    let open = null;
    try { open = document.querySelector("dialog:modal"); } catch (_) { return; } // no :modal: an older browser
    if (!host) return;
    const changed = open !== modal;
    modal = open;
    // Checked every frame, not only when the dialog changes: a page that re-renders the dialog's
    // children takes the layer out, and layer() puts it back under <html>.
    const home = modal || document.documentElement;
    if (host.parentNode !== home) home.appendChild(host);
    else if (!changed) return;
    raise();
  }

  // The fixed or sticky bar (a site's header) drawn over ``element`` at (x, y), or null. Only those: an overlay
  // that scrolls with the image (a gallery's transparent link over each picture) is part of the picture. And
  // only bars: a page could put anything taller, or a popover (the layer is raised above those), over its
  // images to send the badges off them and draw fakes in their place.
  function fixedCover(element, x, y) {
    for (const hit of document.elementsFromPoint(x, y)) {
      if (hit === host) continue; // our own badge
      if (hit === element || element.contains(hit) || hit.contains(element)) return null;
      for (let node = hit; node && node !== document.body; node = node.parentElement) {
        const position = getComputedStyle(node).position;
        if (position === "fixed" || position === "sticky") return isHeaderBar(node, element) ? node : null;
      }
      return null;
    }
    return null;
  }

  function isHeaderBar(node, element) {
    if (node.contains(element) || node.getBoundingClientRect().height > window.innerHeight / 3) return false;
    try { return !node.matches(":popover-open, :modal"); } catch (_) { return true; } // no such selectors: no top layer
  }

  function visiblePart(entry, now) {
    const element = entry.element;
    if (!element.isConnected) return null;
    if (modal && !modal.contains(element)) return null;
    // Hidden by the page (a faded-out carousel slide, a view an app set to visibility: hidden): no badge.
    if (element.checkVisibility && !element.checkVisibility({ opacityProperty: true, visibilityProperty: true })) {
      return null;
    }
    const box = element.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) return null;
    if (now - entry.clipsAt > CLIPS_REFRESH_MS) {
      entry.clips = clippingAncestors(element);
      entry.clipsAt = now;
    }
    let left = Math.max(box.left, 0);
    let top = Math.max(box.top, 0);
    let right = Math.min(box.right, window.innerWidth);
    let bottom = Math.min(box.bottom, window.innerHeight);
    if (frameShown) {
      left = Math.max(left, frameShown.left);
      top = Math.max(top, frameShown.top);
      right = Math.min(right, frameShown.right);
      bottom = Math.min(bottom, frameShown.bottom);
    }
    for (const clip of entry.clips) {
      const edge = clip.getBoundingClientRect();
      left = Math.max(left, edge.left + clip.clientLeft);
      top = Math.max(top, edge.top + clip.clientTop);
      right = Math.min(right, edge.left + clip.clientLeft + clip.clientWidth);
      bottom = Math.min(bottom, edge.top + clip.clientTop + clip.clientHeight);
    }
    // A fixed or sticky bar (a site's header) over the image's top: the badge goes below it, not over it.
    // Headers sit at the top: only badges in the viewport's top third ask (a hit test each, 4 times a second).
    if (now - entry.coverAt > COVER_REFRESH_MS) {
      const asked = right > left && bottom > top && top < window.innerHeight / 3;
      entry.cover = asked ? fixedCover(element, left + INSET + 2, top + INSET + 2) : null;
      entry.coverAt = now;
    }
    if (entry.cover && entry.cover.isConnected) top = Math.max(top, entry.cover.getBoundingClientRect().bottom);
    // A sliver of an image cannot hold even the icon: it would spill onto the page's text beside it.
    if (right - left < MIN_SHOWN || bottom - top < MIN_SHOWN) return null;
    return { left, top, right, bottom, width: box.width, height: box.height };
  }

  // The width a verdict badge takes in full ("AI 42% likely real Open in SynthSpot"), measured once per text.
  function fullWidth(entry) {
    if (entry.fullWidth === undefined) {
      const { badge } = entry;
      const compact = badge.classList.contains("compact");
      const maxWidth = badge.style.maxWidth;
      badge.classList.remove("compact");
      badge.classList.add("measuring"); // the one-line badge, without details a focus may be showing
      badge.style.maxWidth = "";
      entry.fullWidth = badge.getBoundingClientRect().width;
      badge.classList.remove("measuring");
      badge.classList.toggle("compact", compact);
      badge.style.maxWidth = maxWidth;
    }
    return entry.fullWidth;
  }

  function place(entry, now = performance.now()) {
    const part = visiblePart(entry, now);
    entry.badge.hidden = !part;
    if (!part) return;
    // Small images, images mostly scrolled or clipped out of view, and images narrower than the verdict's
    // full badge (it would be cut, its link with it) get the icon; the verdict shows on hover.
    const shown = Math.min(part.width, part.right - part.left);
    const compact = Math.min(shown, part.height, part.bottom - part.top) < COMPACT_BELOW
      || (entry.data.state === "done" && shown - 2 * INSET < fullWidth(entry));
    entry.badge.classList.toggle("compact", compact);
    // A compact badge hides its link: the badge itself takes focus from Tab, and focused, it opens up.
    const focusable = compact && entry.data.state === "done";
    // Not taken away from a badge being used (scrolled to full size while focused: focus would drop).
    if (focusable !== (entry.badge.getAttribute("tabindex") === "0") && !entry.badge.matches(":focus-within")) {
      if (focusable) entry.badge.setAttribute("tabindex", "0");
      else entry.badge.removeAttribute("tabindex");
    }
    const left = `${Math.round(part.left + INSET)}px`;
    const top = `${Math.round(part.top + INSET)}px`;
    const maxWidth = `${Math.max(24, Math.round(part.right - part.left - 2 * INSET))}px`;
    if (entry.badge.style.left !== left) entry.badge.style.left = left;
    if (entry.badge.style.top !== top) entry.badge.style.top = top;
    // A compact badge may grow past a thumbnail on hover; a full one stays within its image.
    const wanted = compact ? "" : maxWidth;
    if (entry.badge.style.maxWidth !== wanted) entry.badge.style.maxWidth = wanted;
  }

  // Corner toasts (images the page no longer shows) stack downwards, the oldest on top, never on each other.
  function stackToasts() {
    let top = 12;
    for (const entry of entries) {
      if (!entry.toast) continue;
      entry.badge.style.top = `${top}px`;
      top += entry.badge.getBoundingClientRect().height + 6;
    }
  }

  function placeAll() {
    const now = performance.now();
    followModal();
    stackToasts();
    for (const entry of entries) {
      if (entry.toast) continue; // a corner toast has no element to follow (reading one threw, and the frame loop stopped)
      if (!entry.element.isConnected) {
        forget(entry);
      } else {
        place(entry, now);
      }
    }
  }

  // The observer speaks when the share of the frame in view crosses a step; a frame taller than the window
  // with both ends out of it keeps that share while the page scrolls: measured afresh every frame then.
  function remeasureFrame() {
    if (!frameWatch || !frameShown) return;
    const shown = frameShown.width * frameShown.height;
    if (shown > 0 && shown < window.innerWidth * window.innerHeight - 1) {
      frameWatch.unobserve(host);
      frameWatch.observe(host);
    }
  }

  function frame() {
    remeasureFrame();
    placeAll();
    if (entries.size) requestAnimationFrame(frame);
    else framing = false;
  }

  function track(entry) {
    entries.add(entry);
    if (entry.element) onElement.set(entry.element, entry);
    if (!framing) {
      framing = true;
      requestAnimationFrame(frame);
    }
  }

  function forget(entry) {
    entry.badge.remove();
    entries.delete(entry);
    if (entry.element && onElement.get(entry.element) === entry) onElement.delete(entry.element);
  }

  // ', image "name"': the image's alt text, else its file name, for a screen reader to tell badges apart.
  function imageName(entry) {
    // A corner toast has no element: no alt text (and null.length threw, for data: and blob: images).
    let name = entry.element ? (entry.element.getAttribute("alt") || "").trim() : "";
    if (!name && entry.url && !/^(data|blob):/.test(entry.url)) { // their "file name" is base64 or a UUID
      try {
        name = decodeURIComponent(new URL(entry.url).pathname.split("/").pop() || "");
      } catch (_) {
        name = "";
      }
    }
    name = name.length > 60 ? `${name.slice(0, 59)}…` : name;
    return name ? `, image “${name}”` : "";
  }

  function shownDetails(badge) {
    const details = badge.querySelector(".details");
    return details && details.getBoundingClientRect().width ? details.textContent : "";
  }

  // A corner toast goes when the person says so: its × or Escape while it has focus.
  function dismissToast(entry) {
    forget(entry);
    stackToasts();
  }

  function render(entry, outcome, onOpen) {
    const { badge } = entry;
    const compact = badge.classList.contains("compact");
    const focused = entry.toast && badge.matches(":focus-within"); // a toast's × in use as its result arrives
    badge.replaceChildren();
    badge.className = entry.toast ? "badge toast" : "badge";
    badge.classList.toggle("compact", compact);
    badge.title = "";
    entry.fullWidth = undefined;
    const icon = document.createElement("span");
    icon.className = "icon";
    const full = document.createElement("span");
    full.className = "full";
    const text = document.createElement("span");
    text.className = "label";
    full.append(text);
    badge.append(icon, full);
    let kind;
    if (outcome.state === "checking") {
      kind = "checking";
      text.textContent = "SynthSpot: checking…";
      entry.data = { state: "checking" };
    } else if (!outcome.ok) {
      kind = outcome.state === "unsupported_format" ? "unsupported" : "failed";
      text.textContent = outcome.shortText;
      badge.title = outcome.message || "";
      entry.data = { state: outcome.state, text: outcome.shortText };
    } else {
      const result = outcome.value;
      kind = result.verdict;
      const percent = Math.round(100 * result.probability);
      // Says what the number is: the AI score. Not "probability that it is AI-generated": the bands come
      // from where real photos score, so a "likely real" photo can score above 50%.
      text.textContent = `AI ${percent}%`;
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = result.verdictLabel.charAt(0).toLowerCase() + result.verdictLabel.slice(1); // "likely AI"
      full.append(what);
      // A score of one half or more (as shown) called likely real is explained, and what each verdict is
      // worth is said, as in the app.
      const aboveHalf = result.verdict === "likely_real" && percent >= 50
        ? ["The bands are set where real photos score, and many real photos score this high."] : [];
      badge.title = [`AI score: ${percent}% (${result.probability.toFixed(3)})`,
        `Verdict: ${result.verdictLabel}`, ...aboveHalf, ...(VERDICT_MEANS[result.verdict] || []), ...result.reasons,
        ...result.provenance].join("\n");
      const details = document.createElement("span");
      details.className = "details";
      details.setAttribute("aria-hidden", "true"); // the description says it already
      const open = document.createElement("a");
      open.textContent = "Open in SynthSpot";
      // Reachable from the keyboard (Tab, then Enter or Space); a compact badge opens up while focused.
      open.tabIndex = 0;
      open.setAttribute("role", "button");
      const activate = async (event) => {
        event.preventDefault();
        event.stopPropagation();
        if (!event.isTrusted) return; // only the person's own click or key, never a page script's
        const answer = await onOpen(result.sha256);
        open.title = answer.ok ? "Shown in the SynthSpot app" : answer.message;
        if (!answer.ok) {
          open.textContent = "Open the SynthSpot app";
          details.textContent = [answer.message, details.textContent].filter(Boolean).join(" · "); // why, first
          entry.fullWidth = undefined; // a longer text: measured again
        }
      };
      open.addEventListener("click", activate);
      open.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") activate(event);
      });
      full.append(open);
      // What a hover tooltip tells a mouse user, shown while the keyboard is on the badge (a title never
      // shows on focus); screen readers have it as the badge's description already.
      details.textContent = [...aboveHalf, ...result.reasons, ...result.provenance].join(" · ");
      badge.append(details);
      entry.data = { state: "done", verdict: result.verdict, probability: result.probability, sha256: result.sha256,
        verdictText: what.textContent };
    }
    badge.classList.add(kind);
    // A screen reader hears whose verdict it is, and on which image; the details come after, on request.
    // Only a corner toast (a check the person asked for, of an image the page does not show) is a live
    // region: a page scan would queue one announcement per image (the popup sums a scan up).
    const spoken = kind === "checking" ? "checking…"
      : outcome.ok ? `${entry.data.verdictText}, AI score ${Math.round(100 * entry.data.probability)}%` : text.textContent;
    badge.setAttribute("aria-label", `SynthSpot: ${spoken}${imageName(entry)}`);
    if (badge.title) badge.setAttribute("aria-description", badge.title.replaceAll("\n", ". "));
    else badge.removeAttribute("aria-description");
    if (entry.toast) {
      badge.setAttribute("role", "status");
      const dismiss = document.createElement("button");
      dismiss.className = "dismiss";
      dismiss.textContent = "×";
      dismiss.setAttribute("aria-label", "Dismiss");
      dismiss.addEventListener("click", (event) => { if (event.isTrusted) dismissToast(entry); });
      badge.append(dismiss);
      if (focused) dismiss.focus();
    } else {
      badge.setAttribute("role", "group");
    }
    icon.textContent = ICONS[kind] || "";
    entry.open = badge.querySelector("a");
    entry.outcome = outcome;
    if (entry.toast) stackToasts();
  }

  globalThis.SynthSpotBadges = {
    // A badge on ``element`` (or, without one, in a corner of the frame) for ``url``.
    add(element, url) {
      if (element) this.remove(element);
      const badge = document.createElement("div");
      if (!element) {
        badge.addEventListener("keydown", (event) => {
          if (event.key === "Escape" && event.isTrusted) dismissToast(entry);
        });
      }
      layer().appendChild(badge);
      const entry = { element, url, badge, clips: [], clipsAt: -Infinity, cover: null, coverAt: -Infinity, data: {},
        toast: !element };
      if (element) place(entry);
      track(entry);
      return entry;
    },
    render,
    // Whether a badge on ``element`` would show now (not an icon, an avatar or a broken image's alt text).
    canHold(element) {
      return Boolean(visiblePart({ element, clips: [], clipsAt: -Infinity, cover: null, coverAt: Infinity },
        performance.now()));
    },
    urlOn(element) {
      const entry = onElement.get(element);
      return entry ? entry.url : null;
    },
    // The verdict shown on ``element`` for ``url`` (the outcome it was drawn from), or null.
    verdictOn(element, url) {
      const entry = onElement.get(element);
      return entry && entry.url === url && entry.outcome && entry.outcome.ok ? entry.outcome : null;
    },
    remove(element) {
      const entry = onElement.get(element);
      if (entry) forget(entry);
    },
    // For the service worker's summary and the tests (the extension's world only; the page cannot call it).
    describe() {
      placeAll();
      return [...entries].map((entry) => {
        const box = entry.badge.hidden ? null : entry.badge.getBoundingClientRect();
        const link = entry.open ? entry.open.getBoundingClientRect() : null;
        const dismiss = entry.badge.querySelector(".dismiss");
        const cross = dismiss ? dismiss.getBoundingClientRect() : null;
        return {
          src: entry.url, ...entry.data, title: entry.badge.title,
          text: [...entry.badge.childNodes].filter((node) => !node.classList || !node.classList.contains("details"))
            .map((node) => node.textContent).join(""),
          label: entry.badge.getAttribute("aria-label") || "",
          compact: entry.badge.classList.contains("compact"),
          visible: Boolean(box), left: box ? box.left : null, top: box ? box.top : null,
          width: box ? box.width : null, height: box ? box.height : null,
          openLink: link && link.width ? { x: link.left + link.width / 2, y: link.top + link.height / 2 } : null,
          dismissButton: cross && cross.width ? { x: cross.left + cross.width / 2, y: cross.top + cross.height / 2 } : null,
          details: shownDetails(entry.badge),
          focusable: entry.badge.getAttribute("tabindex") === "0",
        };
      });
    },
  };
})();
