/* attnbook interactive attention views (head view and model view).
 *
 * Two halves, exported once as `attnbookView` on the global object (window in a
 * page, globalThis in Node):
 *
 *   decoding, pure (no DOM):  inflate(base64) -> Promise<Uint8Array>
 *                             decode(payload, bytes) -> source
 *                             decodePayload(payload) -> Promise<source>
 *                             source({model, modelName, layers, heads, levels}) -> source
 *                             source({model, modelName, parts: [...]}) -> source
 *   drawing:                  mount(root, source, options) -> view
 *                             view.render(newSource) / view.select({...}) /
 *                             view.state() / view.destroy()
 *
 * A "source" is {model, modelName, parts: [{name, layers, heads, causal, levels: [{name,
 * query: {tokens, special}, key: {tokens, special}, nq, nk, k,
 * weights(layer, head) -> Float32Array nq*nk, query-major: [i*nk + j] is query
 * i -> key j}]}]}. A part is one kind of attention: "self" (one text), or
 * "encoder", "decoder" and "cross" (an encoder-decoder: the cross part's
 * queries are the target's tokens, its keys the source's). `model` is the
 * model's id, `modelName` the name the caption shows: it comes from Python
 * (the payload's `model_name`, or the playground's manifest), where
 * attnbook.ids.short_model_name is the one rule; this file never shortens an
 * id itself. A page that computes attention itself (the playground) builds a
 * source with `source()` and re-renders with `view.render()`.
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

  function axis(a, fallback) {
    a = a || fallback;
    var tokens = a.tokens.map(String);
    return { tokens: tokens, special: a.special || tokens.map(function () { return false; }) };
  }

  /* One level of a payload part: weights(layer, head), decoded on first use. */
  function payloadLevel(part, meta, blob, scale) {
    var nq = meta.nq, nk = meta.nk, k = meta.k, heads = part.heads;
    var cache = {};
    function weights(layer, head) {
      var key = layer * heads + head;
      if (cache[key]) return cache[key];
      var off = meta.offsets[key];
      if (off === undefined) fail("no block for layer " + layer + ", head " + head);
      var w = new Float32Array(nq * nk), i, j, p;
      if (meta.layout === "dense") {
        // Stored key-major: byte j*nq + i is query i -> key j.
        if (off + nq * nk > blob.length) fail("payload too short");
        for (j = 0; j < nk; j++) for (i = 0; i < nq; i++) w[i * nk + j] = blob[off + j * nq + i] / scale;
      } else if (meta.layout === "tril") {
        // Causal, nq == nk: key j's column holds queries j..n-1; the rest stays exactly 0.
        if (nq !== nk) fail("a tril block must be square");
        if (off + (nq * (nq + 1)) / 2 > blob.length) fail("payload too short");
        p = off;
        for (j = 0; j < nk; j++) for (i = j; i < nq; i++) w[i * nk + j] = blob[p++] / scale;
      } else if (meta.layout === "topk") {
        // nq*k little-endian uint16 key indices, then nq*k weight bytes.
        var vals = off + 2 * nq * k;
        if (vals + nq * k > blob.length) fail("payload too short");
        for (i = 0; i < nq; i++) {
          for (var r = 0; r < k; r++) {
            p = i * k + r;
            j = blob[off + 2 * p] | (blob[off + 2 * p + 1] << 8);
            if (j >= nk) fail("key index out of range");
            w[i * nk + j] = blob[vals + p] / scale;
          }
        }
      } else {
        fail("unknown layout " + meta.layout);
      }
      cache[key] = w;
      return w;
    }
    var query = axis(meta.query);
    return {
      name: meta.name,
      query: query,
      key: meta.key ? axis(meta.key) : query,
      nq: nq,
      nk: nk,
      k: meta.layout === "topk" ? k : null,
      weights: weights,
    };
  }

  function decode(payload, bytes) {
    if (!payload || payload.version !== 2) fail("unsupported payload version");
    var parts = [];
    for (var p = 0; p < payload.parts.length; p++) {
      var part = payload.parts[p], levels = [];
      for (var i = 0; i < part.levels.length; i++) levels.push(payloadLevel(part, part.levels[i], bytes, payload.scale));
      parts.push({ name: part.name, layers: part.layers, heads: part.heads, causal: !!part.causal, levels: levels });
    }
    return { model: payload.model || "", modelName: payload.model_name || "", parts: parts };
  }

  function decodePayload(payload) {
    return inflate(payload.data).then(function (bytes) {
      return decode(payload, bytes);
    });
  }

  /* One part of a source from weights computed elsewhere. Each level has
   * `tokens` (self-attention) or `queryTokens` and `keyTokens` (with
   * `special` or `querySpecial` / `keySpecial`), and `attentions`: a
   * Float32Array of layers*heads*nq*nk (layer-, head-, query-major) or nested
   * arrays [layers][heads][queries][keys]. */
  function sourcePart(spec, denseLimit) {
    var L = spec.layers, H = spec.heads, levels = [];
    if (!(L > 0 && H > 0)) fail("layers and heads must be positive");
    for (var v = 0; v < spec.levels.length; v++) {
      var lv = spec.levels[v];
      var query = axis({ tokens: lv.queryTokens || lv.tokens, special: lv.querySpecial || lv.special });
      var key = lv.keyTokens ? axis({ tokens: lv.keyTokens, special: lv.keySpecial }) : query;
      var nq = query.tokens.length, nk = key.tokens.length, a = lv.attentions;
      if (!(a instanceof Float32Array)) {
        var flat = new Float32Array(L * H * nq * nk), p = 0;
        for (var l = 0; l < L; l++)
          for (var h = 0; h < H; h++)
            for (var i = 0; i < nq; i++) for (var j = 0; j < nk; j++) flat[p++] = a[l][h][i][j];
        a = flat;
      }
      if (a.length !== L * H * nq * nk) fail("attentions do not match " + L + "x" + H + "x" + nq + "x" + nk);
      levels.push({
        name: lv.name || "token",
        query: query,
        key: key,
        nq: nq,
        nk: nk,
        // Long inputs are drawn with each query's top 8 keys, like the Python views.
        k: Math.max(nq, nk) > (denseLimit || 128) ? Math.min(8, nk) : null,
        weights: (function (arr, size) {
          return function (layer, head) {
            var off = (layer * H + head) * size;
            return arr.subarray(off, off + size);
          };
        })(a, nq * nk),
      });
    }
    return { name: spec.name || "self", layers: L, heads: H, causal: !!spec.causal, levels: levels };
  }

  /* A source from weights computed elsewhere: {model, modelName, layers, heads,
   * levels} (one self-attention part) or {model, modelName, parts: [{name,
   * layers, heads, causal, levels}]}. `modelName` is shown as given (none:
   * no name in the caption). */
  function source(spec) {
    var specs = spec.parts || [spec], parts = [];
    for (var i = 0; i < specs.length; i++) parts.push(sourcePart(specs[i], spec.denseLimit));
    if (!parts.length) fail("a source needs at least one part");
    return { model: spec.model || "", modelName: spec.modelName || "", parts: parts };
  }

  // ----- labels -------------------------------------------------------------

  var LABELS = {
    en: {
      layer: "Layer",
      head: "Head",
      words: "whole words",
      attention: "Attention",
      query: "query",
      key: "key",
      target: "target (queries)",
      source: "source (keys)",
      part: { self: "self-attention", encoder: "encoder self-attention", decoder: "decoder self-attention (causal)", cross: "cross-attention" },
      lines: "attention lines",
      allHeads: "all heads",
      colHead: function (h) { return "head " + h; },
      rowLayer: function (l) { return "layer " + l; },
      cell: function (l, h) { return "layer " + l + ", head " + h; },
      tokenLabel: function (side, t) { return (side === "q" ? "query " : "key ") + t; },
      where: function (l, h, n, word, nk) {
        var unit = word ? " words" : " tokens";
        if (nk === undefined || nk === n) return "layer " + l + ", head " + h + " (0-indexed), " + n + unit;
        return "layer " + l + ", head " + h + " (0-indexed), " + n + " queries × " + nk + " keys (" + unit.trim() + ")";
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
      attention: "アテンション",
      query: "クエリ",
      key: "キー",
      target: "出力側（クエリ）",
      source: "入力側（キー）",
      part: { self: "自己注意", encoder: "エンコーダーの自己注意", decoder: "デコーダーの自己注意（因果）", cross: "クロスアテンション" },
      lines: "アテンションの線",
      allHeads: "すべてのヘッド",
      colHead: function (h) { return "ヘッド " + h; },
      rowLayer: function (l) { return "層 " + l; },
      cell: function (l, h) { return "層 " + l + "・ヘッド " + h; },
      tokenLabel: function (side, t) { return (side === "q" ? "クエリ " : "キー ") + t; },
      where: function (l, h, n, word, nk) {
        var unit = word ? "単語" : "トークン";
        if (nk === undefined || nk === n) return "層 " + l + "・ヘッド " + h + "（0 始まり）、" + n + " " + unit;
        return "層 " + l + "・ヘッド " + h + "（0 始まり）、クエリ " + n + " × キー " + nk + "（" + unit + "）";
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

  /* Draw `src` into `root`. options: kind ("head" | "model"), part (index or
   * name of the part shown first), layer, head, threshold (lines below it are
   * not drawn), lang ("en" | "ja"), words (start on the word level). Mounting
   * again on the same root replaces the view. */
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
    var state = { part: opts.part || 0, layer: opts.layer || 0, head: opts.head || 0, level: opts.words ? 1 : 0, focus: null };
    var entryCache = {};
    var cur, selects, stage, caption, geo, thumbs;

    function part() {
      return cur.parts[state.part];
    }
    function level() {
      return part().levels[state.level];
    }
    function partIndex(p) {
      if (typeof p === "string") {
        for (var i = 0; i < cur.parts.length; i++) if (cur.parts[i].name === p) return i;
        return 0;
      }
      return Math.max(0, Math.min(p || 0, cur.parts.length - 1));
    }
    /* Keep layer, head and level inside the current part. */
    function clamp() {
      state.part = partIndex(state.part);
      state.layer = Math.max(0, Math.min(state.layer, part().layers - 1));
      state.head = Math.max(0, Math.min(state.head, part().heads - 1));
      state.level = Math.max(0, Math.min(state.level, part().levels.length - 1));
    }
    /* [query, key, weight] of one head with weight >= threshold. */
    function entries(layer, head) {
      var key = state.part + ":" + state.level + ":" + layer + ":" + head;
      if (entryCache[key]) return entryCache[key];
      var lv = level(), nq = lv.nq, nk = lv.nk, w = lv.weights(layer, head), out = [], k = lv.k;
      for (var i = 0; i < nq; i++) {
        var row = [];
        for (var j = 0; j < nk; j++) {
          var x = w[i * nk + j];
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
      selects = {};
      if (cur.parts.length > 1) {
        // One kind of attention at a time (encoder, decoder, cross): their sizes differ.
        var pid = uid + "-part";
        h("label", { for: pid }, controls, T.attention + " ");
        var ps = h("select", { id: pid, "data-role": "part" }, controls);
        for (var q = 0; q < cur.parts.length; q++) {
          var name = cur.parts[q].name;
          var o = h("option", { value: String(q), "data-part": name }, ps, T.part[name] || name);
          if (q === state.part) o.selected = true;
        }
        ps.addEventListener("change", function () {
          state.part = parseInt(ps.value, 10);
          clamp();
          build();
          update();
        });
        selects.part = ps;
      }
      selects.layer = select("layer", T.layer, part().layers, state.layer, function (v) {
        state.layer = v;
        update();
      });
      selects.head = select("head", T.head, part().heads, state.head, function (v) {
        state.head = v;
        update();
      });
      if (part().levels.length > 1) {
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
      var model = cur.modelName ? cur.modelName + " — " : "";
      var text = model + T.where(state.layer, state.head, lv.nq, lv.name === "word", lv.nk);
      if (lv.k) text += T.topk(lv.k);
      if (state.focus) {
        var t = (state.focus.side === "q" ? lv.query : lv.key).tokens[state.focus.index];
        text += state.focus.side === "q" ? T.from(t) : T.into(t);
      } else {
        text += T.hint;
      }
      caption.textContent = text;
    }

    function drawStage() {
      var lv = level(), nq = lv.nq, nk = lv.nk, cross = part().name === "cross";
      while (stage.firstChild) stage.removeChild(stage.firstChild);
      var svg = s("svg", { class: "ab-svg", role: "group", "aria-label": T.lines }, stage);
      var measure = s("text", { class: "ab-text" }, svg);
      /* Each side's labels, very long tokens shortened on screen (the full string is a tooltip). */
      function fit(tokens) {
        var width = 30, shown = [];
        for (var i = 0; i < tokens.length; i++) {
          var label = tokens[i];
          measure.textContent = label;
          while (label.length > 4 && measure.getComputedTextLength() > MAXW) {
            label = label.slice(0, -2);
            measure.textContent = label + "…";
          }
          shown.push(measure.textContent);
          width = Math.max(width, measure.getComputedTextLength());
        }
        return { shown: shown, width: Math.ceil(width) + 2 * PAD };
      }
      var left = fit(lv.query.tokens), right = lv.key === lv.query ? left : fit(lv.key.tokens);
      svg.removeChild(measure);
      var xl = left.width, xr = left.width + GAP, total = left.width + GAP + right.width;
      var height = Math.max(nq, nk) * ROW + 24;
      svg.setAttribute("width", total);
      svg.setAttribute("height", height);
      svg.setAttribute("viewBox", "0 0 " + total + " " + height);
      // A cross part: the target (queries) on the left, the source (keys) on the right.
      s("text", { x: xl - PAD, y: 12, class: "ab-head", "text-anchor": "end" }, svg).textContent = cross ? T.target : T.query;
      s("text", { x: xr + PAD, y: 12, class: "ab-head" }, svg).textContent = cross ? T.source : T.key;
      var lines = s("g", { class: "ab-lines" }, svg);
      var layer = s("g", {}, svg);
      var toks = [];
      function token(side, i) {
        var y = 24 + i * ROW, ax = side === "q" ? lv.query : lv.key, fitted = side === "q" ? left : right;
        var g = s("g", { class: "ab-tok", tabindex: "0", "data-side": side, "data-index": String(i) }, layer);
        g.setAttribute("aria-label", T.tokenLabel(side, ax.tokens[i]));
        s("rect", { x: side === "q" ? 0 : xr, y: y, width: fitted.width, height: ROW - 2, rx: 3 }, g);
        var t = s("text", {
          x: side === "q" ? xl - PAD : xr + PAD,
          y: y + ROW / 2 + 3,
          "text-anchor": side === "q" ? "end" : "start",
          class: "ab-text" + (ax.special[i] ? " ab-special" : ""),
        }, g);
        t.textContent = fitted.shown[i];
        s("title", {}, g).textContent = ax.tokens[i];
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
      // In tab order: every query, then every key.
      for (var q = 0; q < nq; q++) token("q", q);
      for (var k = 0; k < nk; k++) token("k", k);
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
      if (selects.part) selects.part.value = String(state.part);
      selects.layer.value = String(state.layer);
      selects.head.value = String(state.head);
      drawStage();
    }

    /* Model view: every head as a small line view on a canvas; click to open it. */
    function buildGrid() {
      var grid = h("div", { class: "ab-grid", role: "group", "aria-label": T.allHeads }, body);
      h("div", { class: "ab-corner" }, grid);
      var L = part().layers, H = part().heads;
      for (var c = 0; c < H; c++) h("div", { class: "ab-collabel" }, grid, T.colHead(c));
      for (var l = 0; l < L; l++) {
        h("div", { class: "ab-rowlabel" }, grid, T.rowLayer(l));
        for (var hd = 0; hd < H; hd++) {
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
      grid.style.gridTemplateColumns = "auto repeat(" + H + ", auto)";
    }

    function drawThumbs() {
      if (!thumbs.length) return;
      var lv = level(), f = state.focus;
      var colour = global.getComputedStyle(root).getPropertyValue("--ab-line").trim() || "#3b528b";
      for (var t = 0; t < thumbs.length; t++) {
        var th = thumbs[t], ctx = th.canvas.getContext("2d");
        if (!ctx) continue;
        var size = th.canvas.width, top = 0.05 * size;
        ctx.clearRect(0, 0, size, size);
        ctx.strokeStyle = colour;
        ctx.lineWidth = 1.5;
        // Queries down the left edge, keys down the right, each side spread over the height.
        var stepQ = (size - 2 * top) / Math.max(lv.nq - 1, 1), stepK = (size - 2 * top) / Math.max(lv.nk - 1, 1);
        var es = entries(th.layer, th.head);
        for (var e = 0; e < es.length; e++) {
          var i = es[e][0], j = es[e][1];
          if (f && ((f.side === "q" && f.index !== i) || (f.side === "k" && f.index !== j))) continue;
          ctx.globalAlpha = es[e][2];
          ctx.beginPath();
          ctx.moveTo(0.1 * size, top + i * stepQ);
          ctx.lineTo(0.9 * size, top + j * stepK);
          ctx.stroke();
        }
        ctx.globalAlpha = 1;
      }
    }

    /* Show new weights (same or other tokens): keeps layer, head and level where they exist. */
    function render(next) {
      if (!next || !next.parts || !next.parts.length) fail("a source needs at least one part");
      for (var p = 0; p < next.parts.length; p++) {
        if (!next.parts[p].levels || !next.parts[p].levels.length) fail("a part needs at least one level");
      }
      cur = next;
      entryCache = {};
      clamp();
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
        if (sel.part !== undefined) state.part = partIndex(sel.part);
        if (sel.layer !== undefined) state.layer = sel.layer;
        if (sel.head !== undefined) state.head = sel.head;
        if (sel.words !== undefined) state.level = sel.words ? 1 : 0;
        clamp();
        build();
        update();
        return view;
      },
      state: function () {
        return {
          part: part().name,
          layer: state.layer,
          head: state.head,
          words: state.level === 1,
          focus: state.focus,
        };
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
    var opts = { kind: v.kind, part: v.part, layer: v.layer, head: v.head, threshold: v.threshold, lang: v.lang };
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

  // version 3: sources with parts (payload v2). An older copy on the page is replaced.
  var lib = existing && existing.version === 3 ? existing : {
    version: 3,
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
