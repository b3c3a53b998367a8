/* attnbook interactive attention views (head view and model view).
 *
 * Inlined once per view by attnbook/view/html.py; loads nothing from the network.
 * Everything lives inside this function: several views on one page do not share
 * state, and no global name is created. Tokens are only ever inserted with
 * textContent / setAttribute, never as markup.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  // Jupyter front ends that run scripts via eval have no currentScript: take the
  // first view on the page that has not been started yet.
  var root =
    (script && script.closest && script.closest(".attnbook-view")) ||
    document.querySelector(".attnbook-view:not([data-attnbook-ready])");
  if (!root || root.hasAttribute("data-attnbook-ready")) return;
  root.setAttribute("data-attnbook-ready", "loading");

  var SVG = "http://www.w3.org/2000/svg";
  var uid = "attnbook-" + Math.random().toString(36).slice(2, 10);
  var P = JSON.parse(root.querySelector("script.attnbook-data").textContent);
  var opts = P.view;

  function h(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var a in attrs) if (Object.prototype.hasOwnProperty.call(attrs, a)) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function s(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    for (var a in attrs) if (Object.prototype.hasOwnProperty.call(attrs, a)) e.setAttribute(a, attrs[a]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }
  function fail(message) {
    root.setAttribute("data-attnbook-ready", "error");
    h("p", { class: "ab-error", role: "alert" }, root, message);
  }

  function inflate(b64) {
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot decompress the view (no DecompressionStream)"));
    }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (b) {
      return new Uint8Array(b);
    });
  }

  /* One level (sub-word tokens or words): weights of (layer, head). */
  function Level(meta, blob) {
    this.meta = meta;
    this.tokens = meta.tokens;
    this.n = meta.n;
    this.blob = blob;
    this.cache = {}; // decoded entries per head: hovering redraws every thumbnail
  }
  /* Entries [query, key, weight] of one head with weight >= thr (all queries). */
  Level.prototype.entries = function (layer, head, thr) {
    var key = layer * P.heads + head + ":" + thr;
    if (!this.cache[key]) this.cache[key] = this.decode(layer, head, thr);
    return this.cache[key];
  };
  Level.prototype.decode = function (layer, head, thr) {
    var m = this.meta, n = this.n, blob = this.blob, out = [];
    var off = m.offsets[layer * P.heads + head];
    var i, j, w;
    if (m.layout === "dense") {
      for (j = 0; j < n; j++) {
        for (i = 0; i < n; i++) {
          w = blob[off + j * n + i] / P.scale;
          if (w > 0 && w >= thr) out.push([i, j, w]);
        }
      }
    } else {
      var k = m.k, vals = off + 2 * n * k;
      for (i = 0; i < n; i++) {
        for (var r = 0; r < k; r++) {
          var p = i * k + r;
          j = blob[off + 2 * p] | (blob[off + 2 * p + 1] << 8);
          w = blob[vals + p] / P.scale;
          if (w > 0 && w >= thr) out.push([i, j, w]);
        }
      }
    }
    return out;
  };

  var state = {
    layer: Math.min(opts.layer, P.layers - 1),
    head: Math.min(opts.head, P.heads - 1),
    level: 0,
    focus: null, // {side: "q" | "k", index: i}
  };
  var levels = [];
  var controls, stage, caption, grid, thumbs = [];

  function current() {
    return levels[state.level];
  }

  function buildControls() {
    controls = h("div", { class: "ab-controls" }, root);
    function select(label, count, value, onchange) {
      var id = uid + "-" + label.toLowerCase();
      h("label", { for: id }, controls, label + " ");
      var e = h("select", { id: id, "data-role": label.toLowerCase() }, controls);
      for (var i = 0; i < count; i++) {
        var o = h("option", { value: String(i) }, e, String(i));
        if (i === value) o.selected = true;
      }
      e.addEventListener("change", function () {
        onchange(parseInt(e.value, 10));
      });
      return e;
    }
    var layerSel = select("Layer", P.layers, state.layer, function (v) {
      state.layer = v;
      update();
    });
    var headSel = select("Head", P.heads, state.head, function (v) {
      state.head = v;
      update();
    });
    root._abSelects = { layer: layerSel, head: headSel };
    if (levels.length > 1) {
      var id = uid + "-words";
      var box = h("input", { type: "checkbox", id: id, "data-role": "words" }, controls);
      h("label", { for: id }, controls, "whole words");
      box.addEventListener("change", function () {
        state.level = box.checked ? 1 : 0;
        state.focus = null;
        drawThumbs();
        update();
      });
    }
    caption = h("p", { class: "ab-caption", "aria-live": "polite" }, root);
  }

  function describe() {
    var lv = current();
    var model = P.model ? P.model.split("/").pop() + " — " : "";
    var text = model + "layer " + state.layer + ", head " + state.head + " (0-indexed), " +
      lv.n + (lv.meta.name === "word" ? " words" : " tokens");
    if (lv.meta.layout === "topk") text += "; top " + lv.meta.k + " keys per query";
    if (state.focus) {
      text += state.focus.side === "q" ? "; from “" : "; into “";
      text += lv.tokens[state.focus.index] + "”";
    } else {
      text += ". Hover or focus a token (Tab) to see its lines.";
    }
    caption.textContent = text;
  }

  var ROW = 20, GAP = 150, PAD = 6, MAXW = 320;

  function drawStage() {
    var lv = current();
    clear(stage);
    var n = lv.n;
    var svg = s("svg", { class: "ab-svg", role: "group", "aria-label": "attention lines" }, stage);
    var measure = s("text", { class: "ab-text" }, svg);
    var width = 30, shown = [];
    for (var i = 0; i < n; i++) {
      // Very long tokens are shortened on screen; the full string is in a tooltip.
      var label = lv.tokens[i];
      measure.textContent = label;
      while (label.length > 4 && measure.getComputedTextLength() > MAXW) {
        label = label.slice(0, -2);
        measure.textContent = label + "…";
      }
      shown.push(measure.textContent);
      width = Math.max(width, measure.getComputedTextLength());
    }
    svg.removeChild(measure);
    width = Math.ceil(width) + 2 * PAD;
    var xl = width, xr = width + GAP, total = 2 * width + GAP;
    var height = n * ROW + 24;
    svg.setAttribute("width", total);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + total + " " + height);
    s("text", { x: xl - PAD, y: 12, class: "ab-head", "text-anchor": "end" }, svg).textContent = "query";
    s("text", { x: xr + PAD, y: 12, class: "ab-head" }, svg).textContent = "key";
    var lines = s("g", { class: "ab-lines" }, svg);
    var layer = s("g", {}, svg);
    function token(side, i) {
      var y = 24 + i * ROW;
      var g = s("g", { class: "ab-tok", tabindex: "0", "data-side": side, "data-index": String(i) }, layer);
      g.setAttribute("aria-label", (side === "q" ? "query " : "key ") + lv.tokens[i]);
      s("rect", { x: side === "q" ? 0 : xr, y: y, width: width, height: ROW - 2, rx: 3 }, g);
      var t = s("text", {
        x: side === "q" ? xl - PAD : xr + PAD,
        y: y + ROW / 2 + 3,
        "text-anchor": side === "q" ? "end" : "start",
        class: "ab-text" + (lv.meta.special[i] ? " ab-special" : ""),
      }, g);
      t.textContent = shown[i];
      s("title", {}, g).textContent = lv.tokens[i];
      function on() {
        state.focus = { side: side, index: i };
        drawLines();
      }
      function off() {
        if (state.focus && state.focus.side === side && state.focus.index === i) {
          state.focus = null;
          drawLines();
        }
      }
      g.addEventListener("mouseenter", on);
      g.addEventListener("focus", on);
      g.addEventListener("mouseleave", off);
      g.addEventListener("blur", off);
    }
    for (var q = 0; q < n; q++) {
      token("q", q);
      token("k", q);
    }
    stage._ab = { lines: lines, xl: xl, xr: xr, svg: svg };
    drawLines();
  }

  function drawLines() {
    var geo = stage._ab, lv = current();
    clear(geo.lines);
    var entries = lv.entries(state.layer, state.head, opts.threshold);
    var f = state.focus;
    var toks = geo.svg.querySelectorAll(".ab-tok");
    for (var t = 0; t < toks.length; t++) {
      var on = f && toks[t].getAttribute("data-side") === f.side &&
        +toks[t].getAttribute("data-index") === f.index;
      toks[t].classList.toggle("ab-active", !!on);
    }
    for (var e = 0; e < entries.length; e++) {
      var i = entries[e][0], j = entries[e][1], w = entries[e][2];
      var hl = f && ((f.side === "q" && f.index === i) || (f.side === "k" && f.index === j));
      if (f && !hl) continue;
      s("line", {
        x1: geo.xl, y1: 24 + i * ROW + ROW / 2 - 1,
        x2: geo.xr, y2: 24 + j * ROW + ROW / 2 - 1,
        "stroke-opacity": w.toFixed(3),
        class: hl ? "ab-line ab-hl" : "ab-line",
        "data-q": String(i), "data-k": String(j), "data-w": w.toFixed(4),
      }, geo.lines);
    }
    root.setAttribute("data-lines", String(geo.lines.childNodes.length));
    describe();
    drawThumbs();
  }

  function update() {
    state.focus = null;
    for (var t = 0; t < thumbs.length; t++) {
      var sel = thumbs[t].layer === state.layer && thumbs[t].head === state.head;
      thumbs[t].button.setAttribute("aria-pressed", sel ? "true" : "false");
    }
    root._abSelects.layer.value = String(state.layer);
    root._abSelects.head.value = String(state.head);
    drawStage();
  }

  /* Model view: every head as a small line view on a canvas; click to open it. */
  function buildGrid() {
    grid = h("div", { class: "ab-grid", role: "group", "aria-label": "all heads" }, root);
    h("div", { class: "ab-corner" }, grid);
    for (var c = 0; c < P.heads; c++) h("div", { class: "ab-collabel" }, grid, "head " + c);
    for (var l = 0; l < P.layers; l++) {
      h("div", { class: "ab-rowlabel" }, grid, "layer " + l);
      for (var hd = 0; hd < P.heads; hd++) {
        var b = h("button", {
          type: "button", class: "ab-thumb", "aria-pressed": "false",
          "aria-label": "layer " + l + ", head " + hd,
          "data-layer": String(l), "data-head": String(hd),
        }, grid);
        // Drawn at twice its CSS size so the lines stay sharp on high-density screens.
        var cv = h("canvas", { width: "88", height: "88" }, b);
        (function (layer, head) {
          b.addEventListener("click", function () {
            state.layer = layer;
            state.head = head;
            update();
          });
        })(l, hd);
        thumbs.push({ layer: l, head: hd, button: b, canvas: cv });
      }
    }
    grid.style.gridTemplateColumns = "auto repeat(" + P.heads + ", auto)";
  }

  function drawThumbs() {
    if (!thumbs.length) return;
    var lv = current(), n = lv.n, f = state.focus;
    var colour = getComputedStyle(root).getPropertyValue("--ab-line").trim() || "#3b528b";
    for (var t = 0; t < thumbs.length; t++) {
      var th = thumbs[t], ctx = th.canvas.getContext("2d");
      if (!ctx) continue;
      var size = th.canvas.width, top = 0.05 * size;
      ctx.clearRect(0, 0, size, size);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.5;
      var step = (size - 2 * top) / Math.max(n - 1, 1);
      var entries = lv.entries(th.layer, th.head, opts.threshold);
      for (var e = 0; e < entries.length; e++) {
        var i = entries[e][0], j = entries[e][1];
        if (f && ((f.side === "q" && f.index !== i) || (f.side === "k" && f.index !== j))) continue;
        ctx.globalAlpha = entries[e][2];
        ctx.beginPath();
        ctx.moveTo(0.1 * size, top + i * step);
        ctx.lineTo(0.9 * size, top + j * step);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }
  }

  function start(blob) {
    for (var i = 0; i < P.levels.length; i++) levels.push(new Level(P.levels[i], blob));
    buildControls();
    if (opts.kind === "model") buildGrid();
    stage = h("div", { class: "ab-stage" }, root);
    update();
    // Redraw the canvases when the page theme changes (their colours are not CSS).
    var redraw = function () {
      drawThumbs();
    };
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) mq.addEventListener("change", redraw);
    }
    if (window.MutationObserver) {
      new MutationObserver(redraw).observe(document.documentElement, {
        attributes: true,
        attributeFilter: ["data-theme", "data-mode"],
      });
    }
    root.setAttribute("data-attnbook-ready", "true");
  }

  inflate(P.data).then(start, function (err) {
    fail("attnbook view: " + err.message);
  });
})();
