/* attnbook interactive attention views (head view and model view).
 *
 * Two halves, exported once as `attnbookView` on the global object (window in a
 * page, globalThis in Node):
 *
 *   decoding, pure (no DOM):  inflate(base64) -> Promise<Uint8Array>
 *                             decode(payload, bytes) -> source
 *                             decodePayload(payload) -> Promise<source>
 *                             source({model, layers, heads, levels}) -> source
 *   drawing:                  mount(root, source, options) -> view
 *                             view.render(newSource) / view.select({...}) /
 *                             view.state() / view.destroy()
 *
 * A "source" is {model, layers, heads, levels: [{name, tokens, special, n, k,
 * weights(layer, head) -> Float32Array n*n, query-major: [i*n + j] is query i
 * -> key j}]}. A page that computes attention itself (the playground) builds
 * one with `source()` and re-renders with `view.render()`.
 *
 * Inlined once per view by attnbook/view/html.py; loads nothing from the
 * network. Each inlined copy mounts the view it belongs to. A view's state
 * lives in its closure (and a WeakMap from root element to view), never on DOM
 * nodes. Tokens are only ever inserted with textContent / setAttribute, never
 * as markup. Labels come in English and Japanese; the language is the `lang`
 * option, else the payload's, else the nearest `lang` attribute of the page.
 */
(function (global) {
  "use strict";
  // Every inlined copy defines the same functions; the first copy's object is
  // kept, so all views on a page share one registry (root element -> view).
  var existing = global.attnbookView;

  // ----- decoding (pure) --------------------------------------------------

  function fail(message) {
    throw new Error("attnbook view: " + message);
  }

  function inflate(b64) {
    var bin = global.atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (typeof global.DecompressionStream === "undefined") {
      return Promise.reject(new Error("no DecompressionStream"));
    }
    var stream = new global.Blob([bytes]).stream().pipeThrough(new global.DecompressionStream("deflate"));
    return new global.Response(stream).arrayBuffer().then(function (b) {
      return new Uint8Array(b);
    });
  }

  /* One level of a payload: weights(layer, head), decoded on first use. */
  function payloadLevel(payload, meta, blob) {
    var n = meta.n, k = meta.k, heads = payload.heads, scale = payload.scale;
    var cache = {};
    function weights(layer, head) {
      var key = layer * heads + head;
      if (cache[key]) return cache[key];
      var off = meta.offsets[key];
      if (off === undefined) fail("no block for layer " + layer + ", head " + head);
      var w = new Float32Array(n * n), i, j;
      if (meta.layout === "dense") {
        // Stored key-major: byte j*n + i is query i -> key j.
        if (off + n * n > blob.length) fail("payload too short");
        for (j = 0; j < n; j++) for (i = 0; i < n; i++) w[i * n + j] = blob[off + j * n + i] / scale;
      } else if (meta.layout === "topk") {
        // n*k little-endian uint16 key indices, then n*k weight bytes.
        var vals = off + 2 * n * k;
        if (vals + n * k > blob.length) fail("payload too short");
        for (i = 0; i < n; i++) {
          for (var r = 0; r < k; r++) {
            var p = i * k + r;
            j = blob[off + 2 * p] | (blob[off + 2 * p + 1] << 8);
            if (j >= n) fail("key index out of range");
            w[i * n + j] = blob[vals + p] / scale;
          }
        }
      } else {
        fail("unknown layout " + meta.layout);
      }
      cache[key] = w;
      return w;
    }
    return {
      name: meta.name,
      tokens: meta.tokens,
      special: meta.special,
      n: n,
      k: meta.layout === "topk" ? k : null,
      weights: weights,
    };
  }

  function decode(payload, bytes) {
    if (!payload || payload.version !== 1) fail("unsupported payload version");
    var levels = [];
    for (var i = 0; i < payload.levels.length; i++) levels.push(payloadLevel(payload, payload.levels[i], bytes));
    return { model: payload.model || "", layers: payload.layers, heads: payload.heads, levels: levels };
  }

  function decodePayload(payload) {
    return inflate(payload.data).then(function (bytes) {
      return decode(payload, bytes);
    });
  }

  /* A source from weights computed elsewhere. Each level's `attentions` is a
   * Float32Array of layers*heads*n*n (layer-, head-, query-major) or nested
   * arrays [layers][heads][queries][keys]. */
  function source(spec) {
    var L = spec.layers, H = spec.heads, levels = [];
    if (!(L > 0 && H > 0)) fail("layers and heads must be positive");
    for (var v = 0; v < spec.levels.length; v++) {
      var lv = spec.levels[v], n = lv.tokens.length, a = lv.attentions;
      if (!(a instanceof Float32Array)) {
        var flat = new Float32Array(L * H * n * n), p = 0;
        for (var l = 0; l < L; l++)
          for (var h = 0; h < H; h++)
            for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) flat[p++] = a[l][h][i][j];
        a = flat;
      }
      if (a.length !== L * H * n * n) fail("attentions do not match " + L + "x" + H + "x" + n + "x" + n);
      levels.push({
        name: lv.name || "token",
        tokens: lv.tokens.map(String),
        special: lv.special || lv.tokens.map(function () { return false; }),
        n: n,
        // Long inputs are drawn with each query's top 8 keys, like the Python views.
        k: n > (spec.denseLimit || 128) ? Math.min(8, n) : null,
        weights: (function (arr, n) {
          return function (layer, head) {
            var size = n * n, off = (layer * H + head) * size;
            return arr.subarray(off, off + size);
          };
        })(a, n),
      });
    }
    return { model: spec.model || "", layers: L, heads: H, levels: levels };
  }

  // ----- labels -------------------------------------------------------------

  var LABELS = {
    en: {
      layer: "Layer",
      head: "Head",
      words: "whole words",
      query: "query",
      key: "key",
      lines: "attention lines",
      allHeads: "all heads",
      colHead: function (h) { return "head " + h; },
      rowLayer: function (l) { return "layer " + l; },
      cell: function (l, h) { return "layer " + l + ", head " + h; },
      tokenLabel: function (side, t) { return (side === "q" ? "query " : "key ") + t; },
      where: function (l, h, n, word) {
        return "layer " + l + ", head " + h + " (0-indexed), " + n + (word ? " words" : " tokens");
      },
      topk: function (k) { return "; top " + k + " keys per query"; },
      from: function (t) { return "; from “" + t + "”"; },
      into: function (t) { return "; into “" + t + "”"; },
      hint: ". Hover or focus a token (Tab) to see its lines.",
      error: "This view could not be shown: ",
      noStream: "this browser cannot decompress the view (no DecompressionStream)",
    },
    ja: {
      layer: "層",
      head: "ヘッド",
      words: "単語単位",
      query: "クエリ",
      key: "キー",
      lines: "アテンションの線",
      allHeads: "すべてのヘッド",
      colHead: function (h) { return "ヘッド " + h; },
      rowLayer: function (l) { return "層 " + l; },
      cell: function (l, h) { return "層 " + l + "・ヘッド " + h; },
      tokenLabel: function (side, t) { return (side === "q" ? "クエリ " : "キー ") + t; },
      where: function (l, h, n, word) {
        return "層 " + l + "・ヘッド " + h + "（0 始まり）、" + n + (word ? " 単語" : " トークン");
      },
      topk: function (k) { return "、各クエリの上位 " + k + " キーのみ"; },
      from: function (t) { return "。「" + t + "」からの線"; },
      into: function (t) { return "。「" + t + "」への線"; },
      hint: "。トークンにポインタを合わせるか Tab キーで選ぶと、その線だけを表示します。",
      error: "このビューを表示できませんでした：",
      noStream: "このブラウザはビューを展開できません（DecompressionStream がありません）",
    },
  };

  function languageOf(root, wanted) {
    var lang = wanted;
    if (!lang && root && root.closest) {
      var el = root.closest("[lang]");
      lang = el ? el.getAttribute("lang") : "";
    }
    return /^ja\b/i.test(lang || "") ? "ja" : "en";
  }

  // ----- drawing ------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";
  var ROW = 20, GAP = 150, PAD = 6, MAXW = 320;
  var views = typeof WeakMap !== "undefined" ? new WeakMap() : null;
  var counter = 0;

  function h(tag, attrs, parent, text) {
    var e = global.document.createElement(tag);
    for (var a in attrs) if (Object.prototype.hasOwnProperty.call(attrs, a)) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function s(tag, attrs, parent) {
    var e = global.document.createElementNS(SVG, tag);
    for (var a in attrs) if (Object.prototype.hasOwnProperty.call(attrs, a)) e.setAttribute(a, attrs[a]);
    if (parent) parent.appendChild(e);
    return e;
  }

  /* Draw `src` into `root`. options: kind ("head" | "model"), layer, head,
   * threshold (lines below it are not drawn), lang ("en" | "ja"), words (start
   * on the word level). Mounting again on the same root replaces the view. */
  function mount(root, src, options) {
    var old = views && views.get(root);
    if (old) old.destroy();
    var opts = options || {};
    var kind = opts.kind === "model" ? "model" : "head";
    var threshold = typeof opts.threshold === "number" ? opts.threshold : 0.01;
    var T = LABELS[languageOf(root, opts.lang)];
    var uid = "attnbook-" + ++counter + "-" + Math.random().toString(36).slice(2, 8);
    var body = h("div", { class: "ab-body" }, root);
    var cleanups = [];
    var state = { layer: opts.layer || 0, head: opts.head || 0, level: opts.words ? 1 : 0, focus: null };
    var entryCache = {};
    var cur, selects, stage, caption, geo, thumbs;

    function level() {
      return cur.levels[state.level];
    }
    /* [query, key, weight] of one head with weight >= threshold. */
    function entries(layer, head) {
      var key = state.level + ":" + layer + ":" + head;
      if (entryCache[key]) return entryCache[key];
      var lv = level(), n = lv.n, w = lv.weights(layer, head), out = [], k = lv.k;
      for (var i = 0; i < n; i++) {
        var row = [];
        for (var j = 0; j < n; j++) {
          var x = w[i * n + j];
          if (x > 0 && x >= threshold) row.push([i, j, x]);
        }
        // Long inputs: only each query's k largest weights (as the payload's top-k layout).
        if (k && row.length > k) row = row.sort(function (a, b) { return b[2] - a[2]; }).slice(0, k);
        for (var r = 0; r < row.length; r++) out.push(row[r]);
      }
      entryCache[key] = out;
      return out;
    }

    function build() {
      while (body.firstChild) body.removeChild(body.firstChild);
      thumbs = [];
      var controls = h("div", { class: "ab-controls" }, body);
      function select(role, label, count, value, onchange) {
        var id = uid + "-" + role;
        h("label", { for: id }, controls, label + " ");
        var e = h("select", { id: id, "data-role": role }, controls);
        for (var i = 0; i < count; i++) {
          var o = h("option", { value: String(i) }, e, String(i));
          if (i === value) o.selected = true;
        }
        e.addEventListener("change", function () {
          onchange(parseInt(e.value, 10));
        });
        return e;
      }
      selects = {
        layer: select("layer", T.layer, cur.layers, state.layer, function (v) {
          state.layer = v;
          update();
        }),
        head: select("head", T.head, cur.heads, state.head, function (v) {
          state.head = v;
          update();
        }),
      };
      if (cur.levels.length > 1) {
        var id = uid + "-words";
        var box = h("input", { type: "checkbox", id: id, "data-role": "words" }, controls);
        box.checked = state.level === 1;
        h("label", { for: id }, controls, T.words);
        box.addEventListener("change", function () {
          state.level = box.checked ? 1 : 0;
          update();
        });
      }
      caption = h("p", { class: "ab-caption", "aria-live": "polite" }, body);
      if (kind === "model") buildGrid();
      stage = h("div", { class: "ab-stage" }, body);
    }

    function describe() {
      var lv = level();
      var model = cur.model ? cur.model.split("/").pop() + " — " : "";
      var text = model + T.where(state.layer, state.head, lv.n, lv.name === "word");
      if (lv.k) text += T.topk(lv.k);
      if (state.focus) {
        var t = lv.tokens[state.focus.index];
        text += state.focus.side === "q" ? T.from(t) : T.into(t);
      } else {
        text += T.hint;
      }
      caption.textContent = text;
    }

    function drawStage() {
      var lv = level(), n = lv.n;
      while (stage.firstChild) stage.removeChild(stage.firstChild);
      var svg = s("svg", { class: "ab-svg", role: "group", "aria-label": T.lines }, stage);
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
      var xl = width, xr = width + GAP, total = 2 * width + GAP, height = n * ROW + 24;
      svg.setAttribute("width", total);
      svg.setAttribute("height", height);
      svg.setAttribute("viewBox", "0 0 " + total + " " + height);
      s("text", { x: xl - PAD, y: 12, class: "ab-head", "text-anchor": "end" }, svg).textContent = T.query;
      s("text", { x: xr + PAD, y: 12, class: "ab-head" }, svg).textContent = T.key;
      var lines = s("g", { class: "ab-lines" }, svg);
      var layer = s("g", {}, svg);
      var toks = [];
      function token(side, i) {
        var y = 24 + i * ROW;
        var g = s("g", { class: "ab-tok", tabindex: "0", "data-side": side, "data-index": String(i) }, layer);
        g.setAttribute("aria-label", T.tokenLabel(side, lv.tokens[i]));
        s("rect", { x: side === "q" ? 0 : xr, y: y, width: width, height: ROW - 2, rx: 3 }, g);
        var t = s("text", {
          x: side === "q" ? xl - PAD : xr + PAD,
          y: y + ROW / 2 + 3,
          "text-anchor": side === "q" ? "end" : "start",
          class: "ab-text" + (lv.special[i] ? " ab-special" : ""),
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
        toks.push({ side: side, index: i, el: g });
      }
      for (var q = 0; q < n; q++) {
        token("q", q);
        token("k", q);
      }
      geo = { lines: lines, xl: xl, xr: xr, toks: toks };
      drawLines();
    }

    function drawLines() {
      while (geo.lines.firstChild) geo.lines.removeChild(geo.lines.firstChild);
      var es = entries(state.layer, state.head), f = state.focus;
      for (var t = 0; t < geo.toks.length; t++) {
        var tk = geo.toks[t];
        tk.el.classList.toggle("ab-active", !!(f && tk.side === f.side && tk.index === f.index));
      }
      for (var e = 0; e < es.length; e++) {
        var i = es[e][0], j = es[e][1], w = es[e][2];
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
      selects.layer.value = String(state.layer);
      selects.head.value = String(state.head);
      drawStage();
    }

    /* Model view: every head as a small line view on a canvas; click to open it. */
    function buildGrid() {
      var grid = h("div", { class: "ab-grid", role: "group", "aria-label": T.allHeads }, body);
      h("div", { class: "ab-corner" }, grid);
      for (var c = 0; c < cur.heads; c++) h("div", { class: "ab-collabel" }, grid, T.colHead(c));
      for (var l = 0; l < cur.layers; l++) {
        h("div", { class: "ab-rowlabel" }, grid, T.rowLayer(l));
        for (var hd = 0; hd < cur.heads; hd++) {
          var b = h("button", {
            type: "button", class: "ab-thumb", "aria-pressed": "false",
            "aria-label": T.cell(l, hd),
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
      grid.style.gridTemplateColumns = "auto repeat(" + cur.heads + ", auto)";
    }

    function drawThumbs() {
      if (!thumbs.length) return;
      var n = level().n, f = state.focus;
      var colour = global.getComputedStyle(root).getPropertyValue("--ab-line").trim() || "#3b528b";
      for (var t = 0; t < thumbs.length; t++) {
        var th = thumbs[t], ctx = th.canvas.getContext("2d");
        if (!ctx) continue;
        var size = th.canvas.width, top = 0.05 * size;
        ctx.clearRect(0, 0, size, size);
        ctx.strokeStyle = colour;
        ctx.lineWidth = 1.5;
        var step = (size - 2 * top) / Math.max(n - 1, 1);
        var es = entries(th.layer, th.head);
        for (var e = 0; e < es.length; e++) {
          var i = es[e][0], j = es[e][1];
          if (f && ((f.side === "q" && f.index !== i) || (f.side === "k" && f.index !== j))) continue;
          ctx.globalAlpha = es[e][2];
          ctx.beginPath();
          ctx.moveTo(0.1 * size, top + i * step);
          ctx.lineTo(0.9 * size, top + j * step);
          ctx.stroke();
        }
        ctx.globalAlpha = 1;
      }
    }

    /* Show new weights (same or other tokens): keeps layer, head and level where they exist. */
    function render(next) {
      if (!next || !next.levels || !next.levels.length) fail("a source needs at least one level");
      cur = next;
      entryCache = {};
      state.layer = Math.max(0, Math.min(state.layer, cur.layers - 1));
      state.head = Math.max(0, Math.min(state.head, cur.heads - 1));
      state.level = Math.min(state.level, cur.levels.length - 1);
      build();
      update();
      root.setAttribute("data-attnbook-ready", "true");
      return view;
    }

    // Redraw the canvases when the page theme changes (their colours are not CSS).
    if (kind === "model") {
      var redraw = function () {
        drawThumbs();
      };
      if (global.matchMedia) {
        var mq = global.matchMedia("(prefers-color-scheme: dark)");
        if (mq.addEventListener) {
          mq.addEventListener("change", redraw);
          cleanups.push(function () { mq.removeEventListener("change", redraw); });
        }
      }
      if (global.MutationObserver) {
        var mo = new global.MutationObserver(redraw);
        mo.observe(global.document.documentElement, { attributes: true, attributeFilter: ["data-theme", "data-mode"] });
        cleanups.push(function () { mo.disconnect(); });
      }
    }

    var view = {
      render: render,
      select: function (sel) {
        if (sel.layer !== undefined) state.layer = Math.max(0, Math.min(sel.layer, cur.layers - 1));
        if (sel.head !== undefined) state.head = Math.max(0, Math.min(sel.head, cur.heads - 1));
        if (sel.words !== undefined) state.level = sel.words && cur.levels.length > 1 ? 1 : 0;
        build();
        update();
        return view;
      },
      state: function () {
        return { layer: state.layer, head: state.head, words: state.level === 1, focus: state.focus };
      },
      destroy: function () {
        cleanups.forEach(function (c) { c(); });
        if (body.parentNode) body.parentNode.removeChild(body);
        if (views) views.delete(root);
      },
    };
    if (views) views.set(root, view);
    return render(src);
  }

  /* Start the inlined view this script belongs to (one per <div class="attnbook-view">). */
  function autoMount(lib) {
    var doc = global.document;
    if (!doc) return;
    var script = doc.currentScript;
    // Jupyter front ends that run scripts via eval have no currentScript: take the
    // first view on the page that has not been started yet.
    var root =
      (script && script.closest && script.closest(".attnbook-view")) ||
      doc.querySelector(".attnbook-view:not([data-attnbook-ready])");
    if (!root || root.hasAttribute("data-attnbook-ready")) return;
    var data = root.querySelector("script.attnbook-data");
    if (!data) return;
    root.setAttribute("data-attnbook-ready", "loading");
    var payload = JSON.parse(data.textContent), v = payload.view || {};
    var opts = { kind: v.kind, layer: v.layer, head: v.head, threshold: v.threshold, lang: v.lang };
    var T = LABELS[languageOf(root, v.lang)];
    lib.decodePayload(payload).then(
      function (src) {
        lib.mount(root, src, opts);
      },
      function (err) {
        root.setAttribute("data-attnbook-ready", "error");
        var msg = err && err.message === "no DecompressionStream" ? T.noStream : String(err && err.message);
        h("p", { class: "ab-error", role: "alert" }, root, T.error + msg);
      }
    );
  }

  var lib = existing && existing.version === 2 ? existing : {
    version: 2,
    inflate: inflate,
    decode: decode,
    decodePayload: decodePayload,
    source: source,
    mount: mount,
    labels: LABELS,
  };
  global.attnbookView = lib;
  autoMount(lib);
})(typeof window !== "undefined" ? window : globalThis);
