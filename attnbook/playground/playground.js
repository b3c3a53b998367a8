/* attnbook playground: the embedded model's attention for the reader's own sentence,
 * computed in the browser with onnxruntime-web (wasm, one thread), offline.
 *
 * Needs view.js (attnbookView) and tokenizer.js (attnbookTokenizer) loaded
 * first, and <div id="attnbook-playground" data-assets="URL of the assets">.
 * Loads manifest.json and the vocabulary when the page opens (about 0.1 MB);
 * the model and the runtime only when the reader presses the button (or a
 * script calls attnbook.load() / attnbook.attend()).
 *
 * Scripting API (window.attnbook):
 *   await attnbook.attend(text, {truncate: false})
 *     -> {tokens, attentions: [layers][heads][queries][keys], words, special,
 *         truncated, ms}
 *     Bad input rejects with an Error whose .code is "empty", "too-long"
 *     (.tokens, .limit) or "too-many-characters" (.characters, .limit).
 *   await attnbook.load()      the model (download, progress, start)
 *   attnbook.encode(text)      the tokens, no model needed
 *
 * Everything from the reader reaches the page through textContent only.
 */
(function (global) {
  "use strict";
  var doc = global.document;
  var MAX_CHARACTERS = 20000;

  var LABELS = {
    en: {
      input: "Your sentence",
      examples: "Examples from the book:",
      show: "Show attention",
      load: function (mb) { return "Load the model (" + mb + " MB)"; },
      loadCached: "Load the model (in your browser's cache)",
      downloading: function (done, total) { return "Downloading the model: " + done + " of " + total + " MB"; },
      starting: "Starting the model…",
      ready: function (m) {
        return "Model ready: " + m.model + ", " + m.layers + " layers × " + m.heads +
          " heads, running in your browser (nothing leaves your machine).";
      },
      took: function (n, ms) { return n + " tokens, computed in " + ms + " ms."; },
      tokens: function (n) { return "Tokens (" + n + "): "; },
      empty: "The text is empty: type a sentence first.",
      tooLong: function (n, limit) {
        return "The text is " + n + " tokens long (special tokens included), but the model accepts at most " + limit + ".";
      },
      keepFirst: function (limit) { return "Keep the first " + limit + " tokens"; },
      tooManyCharacters: function (n, limit) {
        return "The text is " + n + " characters long; the playground takes at most " + limit +
          ". Shorten it or split it into sentences.";
      },
      unknown: function (pct) {
        return pct + "% of the tokens are unknown ([UNK]) to this model's vocabulary, so its attention maps are about " +
          "placeholders, not words. For Japanese, use a Japanese model from Python (pip install \"attnbook[ja]\"; chapter 8).";
      },
      fileUrl: "This page was opened from a file (file://), and the browser does not load the model from there. " +
        "Serve the site and open it over http: run `nox -s serve` (or `python3 -m http.server -d docs/_build/html`) " +
        "and go to http://localhost:8000/",
      noAssets: "This copy of the site was built without the playground's model.",
      failed: function (msg) { return "The model could not be loaded: " + msg; },
      unsupported: "This browser cannot run the playground (it needs WebAssembly and DecompressionStream).",
      headView: "Head view",
      modelView: "Model view",
      topHeads: "Which heads link a word to other words",
      queryWord: "Query word",
      keyWords: "Key words",
      layer: "layer",
      head: "head",
      total: "total",
      topNote: "Word level (Clark et al.'s rule): attention from a split word is averaged over its pieces, " +
        "attention to it is summed. Heads with the largest total first.",
      noKeys: "Choose at least one key word.",
    },
    ja: {
      input: "あなたの文",
      examples: "本で使った例：",
      show: "アテンションを表示",
      load: function (mb) { return "モデルを読み込む（" + mb + " MB）"; },
      loadCached: "モデルを読み込む（ブラウザのキャッシュから）",
      downloading: function (done, total) { return "モデルをダウンロードしています：" + total + " MB 中 " + done + " MB"; },
      starting: "モデルを起動しています…",
      ready: function (m) {
        return "モデルの準備ができました：" + m.model + "（" + m.layers + " 層 × " + m.heads +
          " ヘッド）。計算はすべてこのブラウザの中で行われ、何も外部に送信されません。";
      },
      took: function (n, ms) { return n + " トークンを " + ms + " ms で計算しました。"; },
      tokens: function (n) { return "トークン（" + n + " 個）："; },
      empty: "テキストが空です。まず文を入力してください。",
      tooLong: function (n, limit) {
        return "このテキストは（特殊トークンを含めて）" + n + " トークンありますが、モデルが受け付けるのは " + limit + " トークンまでです。";
      },
      keepFirst: function (limit) { return "先頭の " + limit + " トークンだけを使う"; },
      tooManyCharacters: function (n, limit) {
        return "このテキストは " + n + " 文字あります。プレイグラウンドで扱えるのは " + limit +
          " 文字までです。短くするか、文に分けてください。";
      },
      unknown: function (pct) {
        return "トークンの " + pct + "% がこのモデルの語彙にない未知トークン（[UNK]）なので、このアテンションマップは単語ではなく" +
          "置き換え記号についてのものです。日本語には、Python から日本語モデルを使ってください（pip install \"attnbook[ja]\"、第 8 章）。";
      },
      fileUrl: "このページはファイル（file://）として開かれているため、ブラウザがモデルを読み込みません。" +
        "サイトをサーバーで配信して http で開いてください：`nox -s serve`（または `python3 -m http.server -d docs/_build/html`）を実行し、" +
        "次を開きます：http://localhost:8000/",
      noAssets: "このサイトはプレイグラウンドのモデルなしでビルドされています。",
      failed: function (msg) { return "モデルを読み込めませんでした：" + msg; },
      unsupported: "このブラウザではプレイグラウンドを動かせません（WebAssembly と DecompressionStream が必要です）。",
      headView: "ヘッドビュー",
      modelView: "モデルビュー",
      topHeads: "ある単語をほかの単語に結びつけるヘッド",
      queryWord: "クエリの単語",
      keyWords: "キーの単語",
      layer: "層",
      head: "ヘッド",
      total: "合計",
      topNote: "単語単位（Clark らの規則）：分割された単語からのアテンションはピースの平均、その単語へのアテンションはピースの和です。" +
        "合計の大きいヘッドから順に並べています。",
      noKeys: "キーの単語を一つ以上選んでください。",
    },
  };

  var EXAMPLES = [
    "The dog chased the cat.",
    "The animal didn't cross the street because it was too tired.",
    "The cat is cute.",
    "その猫は可愛い",
    "犬が猫を追う",
  ];

  function languageOf(root) {
    var el = root.closest("[lang]");
    return /^ja\b/i.test((el && el.getAttribute("lang")) || "") ? "ja" : "en";
  }

  function h(tag, attrs, parent, text) {
    var e = doc.createElement(tag);
    for (var a in attrs) if (Object.prototype.hasOwnProperty.call(attrs, a)) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function inputError(code, message, extra) {
    var err = new Error(message);
    err.code = code;
    for (var k in extra || {}) err[k] = extra[k];
    return err;
  }

  // ----- loading -------------------------------------------------------------

  /* The loading helpers, in a function of their own: the page runs them, and
   * so does the loader worker (its source is this function's text), with
   * `global` the page's window or the worker's self. */
  function loaderScope(global) {
    var CACHE = "attnbook-playground-v1";

    function inflate(bytes) {
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
      return new Response(stream).arrayBuffer().then(function (b) {
        return new Uint8Array(b);
      });
    }

    function openCache() {
      return global.caches && global.isSecureContext
        ? global.caches.open(CACHE).catch(function () { return null; })
        : Promise.resolve(null);
    }

    /* A whole (small) file as bytes, through the Cache API (a copy per sha256). */
    function download(url, sha, onBytes) {
      var parts = [], got = 0;
      return streamFile(url, sha, onBytes, function (chunk) {
        parts.push(chunk);
        got += chunk.length;
      }, false).then(function () {
        return concat(parts, got);
      });
    }

    function concat(parts, total) {
      var all = new Uint8Array(total), off = 0;
      for (var i = 0; i < parts.length; i++) {
        all.set(parts[i], off);
        off += parts[i].length;
      }
      return all;
    }

    /* Reads a file as it arrives and hands its bytes to sink(chunk), inflated
     * first when `deflated`: inflating (and widening, in the sink) runs while
     * the rest is still downloading instead of after it. onBytes(received)
     * counts the bytes as sent; onDone() when the last one arrived. The Cache
     * API keeps a copy of the file as sent, per sha256: the browser writes a
     * clone of the response while the page reads it (no copy in the page, and
     * nothing left to store once the last byte is in). */
    function streamFile(url, sha, onBytes, sink, deflated, onDone) {
      var key = url + "?sha256=" + sha;
      return openCache().then(function (cache) {
        return (cache ? cache.match(key) : Promise.resolve(null)).then(function (cached) {
          var got = 0;
          var source = cached ? Promise.resolve(cached) : fetch(key).then(function (res) {
            if (!res.ok) throw new Error(url + ": HTTP " + res.status);
            if (cache) cache.put(key, res.clone()).catch(function () {});
            return res;
          });
          return source.then(function (res) {
            var stream = res.body.pipeThrough(new TransformStream({
              transform: function (chunk, out) {
                got += chunk.length;
                onBytes(got);
                out.enqueue(chunk);
              },
              flush: function () { if (onDone) onDone(); },
            }));
            if (deflated) stream = stream.pipeThrough(new DecompressionStream("deflate"));
            var reader = stream.getReader();
            function pump() {
              return reader.read().then(function (r) {
                if (r.done) return;
                sink(r.value);
                return pump();
              });
            }
            return pump();
          });
        });
      });
    }

    function isCached(url, sha) {
      if (!global.caches || !global.isSecureContext) return Promise.resolve(false);
      return global.caches.open(CACHE).then(function (c) {
        return c.match(url + "?sha256=" + sha);
      }).then(function (r) { return !!r; }, function () { return false; });
    }

    /* A sink that gathers `size` bytes (known from the manifest) into one array. */
    function gather(size) {
      var out = new Uint8Array(size), n = 0;
      return {
        push: function (chunk) {
          if (n + chunk.length > size) throw new Error("more bytes than the manifest says");
          out.set(chunk, n);
          n += chunk.length;
        },
        bytes: function () {
          if (n !== size) throw new Error("expected " + size + " bytes, got " + n);
          return out;
        },
      };
    }

    /* float32 value of every float16 bit pattern (exact: float32 holds them all). */
    var HALF = null;
    function halfTable() {
      if (HALF) return HALF;
      HALF = new Float32Array(65536);
      for (var b = 0; b < 65536; b++) {
        var s = b & 0x8000 ? -1 : 1, e = (b >> 10) & 31, m = b & 1023;
        HALF[b] = e === 0 ? s * m * Math.pow(2, -24) : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * Math.pow(2, e - 15);
      }
      return HALF;
    }

    /* A sink that widens float16 bits (little-endian) to float32 as they arrive:
     * the model's matrices, `size` bytes of float16. Chunks may split a value. */
    function widener(size) {
      var table = halfTable();
      var out = new Float32Array(size / 2), n = 0, carry = -1;
      return {
        push: function (u8) {
          var i = 0, len = u8.length;
          if (carry >= 0 && len) {
            out[n++] = table[carry | (u8[0] << 8)];
            carry = -1;
            i = 1;
          }
          for (; i + 1 < len; i += 2) out[n++] = table[u8[i] | (u8[i + 1] << 8)];
          if (i < len) carry = u8[i];
        },
        bytes: function () {
          if (n !== out.length || carry >= 0) throw new Error("expected " + out.length + " weights, got " + n);
          return new Uint8Array(out.buffer);
        },
      };
    }

    return { inflate: inflate, download: download, streamFile: streamFile, isCached: isCached,
      gather: gather, widener: widener, halfTable: halfTable };
  }

  /* The loader worker: downloads the model's big files off the page's thread
   * (inflating, widening, keeping a copy in the Cache API) and hands each
   * over as one buffer (transferred, not copied). The page's thread meanwhile
   * starts the runtime: on two cores the two proceed side by side.
   * In: {files: [{name, url, sha, size, kind: "inflate" | "widen" | "raw"}]}.
   * Out: {type: "bytes", name, got}, {type: "arrived", name, at} (last byte
   * in, at: ms since 1970, the worker's own clock: the page's thread may be
   * too busy to read the message at once),
   * {type: "file", name, data}, {type: "error", name, message}. */
  function loaderWorker(scope) {
    var L = scope(self);
    self.onmessage = function (e) {
      e.data.files.forEach(function (job) {
        var sink = job.kind === "widen" ? L.widener(job.size) : L.gather(job.size), last = 0;
        L.streamFile(job.url, job.sha, function (n) {
          if (n - last >= 1 << 20) { // progress per MB, not per chunk
            last = n;
            self.postMessage({ type: "bytes", name: job.name, got: n });
          }
        }, sink.push, job.kind === "inflate", function () {
          self.postMessage({ type: "arrived", name: job.name, at: performance.timeOrigin + performance.now() });
        }).then(function () {
          var data = sink.bytes();
          self.postMessage({ type: "file", name: job.name, data: data }, [data.buffer]);
        }).catch(function (err) {
          self.postMessage({ type: "error", name: job.name, message: String((err && err.message) || err) });
        });
      });
    };
  }

  var L = loaderScope(global), inflate = L.inflate, download = L.download, streamFile = L.streamFile,
    isCached = L.isCached, gather = L.gather, widener = L.widener, halfTable = L.halfTable;

  /* Downloads `jobs` (see loaderWorker) in the loader worker, or on the page's
   * thread where there is no Worker. onBytes(name, received), onArrived(name, at)
   * with `at` the page's performance.now() when the last byte came in.
   * Returns {name: Promise of the file's bytes (Uint8Array)}. */
  function fetchFiles(jobs, onBytes, onArrived) {
    var waiting = {}, out = {}, worker = null;
    jobs.forEach(function (job) {
      out[job.name] = new Promise(function (resolve, reject) { waiting[job.name] = { resolve: resolve, reject: reject }; });
    });
    try {
      var src = "(" + loaderWorker + ")(" + loaderScope + ");";
      worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
    } catch (err) {
      worker = null;
    }
    function here(list) {
      list.forEach(function (job) {
        var sink = job.kind === "widen" ? widener(job.size) : gather(job.size);
        streamFile(job.url, job.sha, function (n) { onBytes(job.name, n); }, sink.push, job.kind === "inflate",
          function () { onArrived(job.name, performance.now()); })
          .then(function () { return sink.bytes(); })
          .then(waiting[job.name].resolve, waiting[job.name].reject);
      });
    }
    if (!worker) {
      here(jobs);
      return out;
    }
    var left = jobs.length;
    worker.onmessage = function (e) {
      var m = e.data, w = waiting[m.name];
      if (m.type === "bytes") onBytes(m.name, m.got);
      else if (m.type === "arrived") onArrived(m.name, m.at - performance.timeOrigin);
      else if (m.type === "file") w.resolve(m.data);
      else w.reject(new Error(m.name + ": " + m.message));
      if (m.type === "file" || m.type === "error") {
        if (--left === 0) worker.terminate();
      }
    };
    worker.onerror = function () {
      // e.g. a site whose content security policy forbids blob: workers:
      // load on the page's thread instead (only when nothing came through yet).
      worker.terminate();
      if (left === jobs.length) here(jobs);
      else for (var k in waiting) waiting[k].reject(new Error("the loader worker failed"));
    };
    worker.postMessage({ files: jobs });
    return out;
  }

  /* The smallest ONNX graph (y = Identity(x), opset 17): a session of it starts
   * the runtime (wasm compiled, instantiated, initialised) while the model's
   * weights are still downloading. */
  var WARM_UP_MODEL = "CAg6OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEBE=";

  function fromBase64(text) {
    var bin = global.atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // ----- the engine: tokens and attention --------------------------------------

  function Engine(base) {
    this.base = base;
    this.manifest = null;
    this.tokenizer = null;
    this.session = null;
    this.ort = null;
    this.loading = null;
    this.queue = Promise.resolve();
  }

  Engine.prototype.url = function (name) {
    return new URL(name, this.base).href;
  };

  Engine.prototype.init = function () {
    var self = this;
    return fetch(this.url("manifest.json")).then(function (res) {
      if (!res.ok) throw inputError("no-assets", "manifest.json: HTTP " + res.status);
      return res.json();
    }).then(function (m) {
      self.manifest = m;
      var f = m.files["vocab.txt.deflate"];
      return download(self.url("vocab.txt.deflate"), f.sha256, function () {}).then(inflate);
    }).then(function (bytes) {
      var lines = new TextDecoder().decode(bytes).split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      self.tokenizer = global.attnbookTokenizer.create(lines, { unk: self.manifest.special.unk });
      return self.manifest;
    });
  };

  /* The files the button downloads and their size in bytes. */
  Engine.prototype.modelFiles = function () {
    var names = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm.deflate",
      "model.onnx.deflate", "weights.f16", "words.f16"];
    var files = this.manifest.files;
    return names.map(function (n) { return { name: n, bytes: files[n].bytes, sha256: files[n].sha256 }; });
  };

  Engine.prototype.load = function (onProgress) {
    var self = this;
    if (this.loading) return this.loading;
    if (typeof WebAssembly === "undefined" || typeof DecompressionStream === "undefined" ||
        typeof TransformStream === "undefined") {
      return Promise.reject(inputError("unsupported", "no WebAssembly, DecompressionStream or TransformStream"));
    }
    var files = this.modelFiles(), got = {}, total = 0, raw = this.manifest.raw_bytes;
    files.forEach(function (f) { total += f.bytes; });
    // Where the time goes, for the benchmark: performance marks
    // "attnbook:<phase>" (the browser's own timeline), and the same as ms
    // since load() began in this.timings: the runtime's wasm inflated, its
    // modules imported, the runtime started (warm), the last byte downloaded,
    // everything inflated and widened, the session created (then, in
    // Playground.load: the first run, the first map drawn).
    var t0 = (this.loadStart = performance.now()), timings = (this.timings = {}), left = files.length;
    performance.mark("attnbook:load");
    function mark(name, at) {
      var when = at === undefined ? performance.now() : at;
      timings[name] = when - t0;
      performance.mark("attnbook:" + name, { startTime: when });
    }
    this.mark = mark;
    function progress(name) {
      return function (n) {
        got[name] = n;
        var sum = 0;
        for (var k in got) sum += got[k];
        onProgress && onProgress(sum, total);
      };
    }
    function file(name) {
      return files.filter(function (x) { return x.name === name; })[0];
    }
    var lastByte = 0;
    function arrived(name, at) {
      progress(name)(file(name).bytes);
      lastByte = Math.max(lastByte, at);
      if (--left === 0) mark("downloaded", lastByte);
    }
    // The big files come through the loader worker: inflated (wasm, graph),
    // widened (the matrices) or as they are (the word table).
    var WASM = "ort-wasm-simd-threaded.wasm.deflate";
    var big = fetchFiles([[WASM, "inflate"], ["model.onnx.deflate", "inflate"], ["weights.f16", "widen"], ["words.f16", "raw"]]
      .map(function (j) {
        return { name: j[0], url: self.url(j[0]), sha: file(j[0]).sha256, size: raw[j[0]], kind: j[1] };
      }), function (name, n) { progress(name)(n); }, arrived);
    // The runtime first: its files are small, and starting it (compiling 14 MB
    // of wasm) overlaps the download of the weights. Its two modules are
    // imported at once, before the weights' chunks fill the page's task
    // queue (imported after the wasm, they waited until the weights were in),
    // and only imported: the browser caches them like any script.
    function module(name) {
      return import(self.url(name)).then(function (mod) {
        arrived(name, performance.now());
        return mod;
      });
    }
    var runtime = Promise.all([
      big[WASM].then(function (b) { mark("runtimeBytes"); return b; }),
      module("ort.wasm.min.mjs"),
      // the glue module onnxruntime imports when it starts (same URL: same module)
      module("ort-wasm-simd-threaded.mjs"),
    ]).then(function (parts) {
      mark("runtimeImported");
      // Imported from the site, not from a CDN; its glue module is found next
      // to it (wasmPaths) and its wasm is handed over as bytes.
      return Promise.resolve(parts[1]).then(function (ort) {
        // One thread: a static site is not cross-origin isolated, so the
        // browser gives wasm no shared-memory workers anyway.
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.proxy = false;
        ort.env.wasm.wasmPaths = { mjs: self.url("ort-wasm-simd-threaded.mjs") };
        ort.env.wasm.wasmBinary = parts[0].buffer;
        return ort.InferenceSession.create(fromBase64(WARM_UP_MODEL), { executionProviders: ["wasm"] })
          .then(function (warm) {
            mark("warm");
            if (warm.release) warm.release();
            return ort;
          });
      });
    });
    this.loading = Promise.all([
      runtime,
      big["model.onnx.deflate"],
      big["weights.f16"],
      big["words.f16"],
    ]).then(function (parts) {
      mark("inflated");
      var ort = (self.ort = parts[0]);
      // The word-embedding table stays here, in float16: each sentence's rows
      // are widened in run(); the runtime never holds the whole table.
      self.words = new Uint16Array(parts[3].buffer, parts[3].byteOffset, parts[3].byteLength / 2);
      onProgress && onProgress(total, total, "starting");
      return ort.InferenceSession.create(parts[1], {
        executionProviders: ["wasm"],
        // The graph comes optimised (onnxruntime's basic level, at export):
        // optimising it again here cost 1.5-2 s of the start under load.
        graphOptimizationLevel: "disabled",
        externalData: [{ path: "weights.bin", data: parts[2] }],
      });
    }).then(function (session) {
      mark("session");
      self.session = session;
      return session;
    }, function (err) {
      self.loading = null;
      throw err;
    });
    return this.loading;
  };

  /* text -> tokens with [CLS]/[SEP], ids, word ids (null for special tokens), words. */
  Engine.prototype.encode = function (text, truncate) {
    if (typeof text !== "string") throw inputError("not-text", "attend(text) needs a string");
    if (!text.trim()) throw inputError("empty", "the text is empty");
    if (text.length > MAX_CHARACTERS) {
      throw inputError("too-many-characters", "the text is " + text.length + " characters long",
        { characters: text.length, limit: MAX_CHARACTERS });
    }
    var m = this.manifest, t = this.tokenizer.tokenise(text), limit = m.max_tokens;
    var n = t.tokens.length + 2, truncated = false;
    if (n > limit) {
      if (!truncate) throw inputError("too-long", "the text is " + n + " tokens long", { tokens: n, limit: limit });
      truncated = true;
    }
    var keep = Math.min(t.tokens.length, limit - 2);
    var tokens = [m.special.cls].concat(t.tokens.slice(0, keep), [m.special.sep]);
    var ids = [this.tokenizer.id(m.special.cls)].concat(t.ids.slice(0, keep), [this.tokenizer.id(m.special.sep)]);
    var wordIds = [null].concat(t.wordIds.slice(0, keep), [null]);
    var used = keep ? t.wordIds[keep - 1] + 1 : 0;
    var unk = 0;
    for (var i = 1; i < tokens.length - 1; i++) if (tokens[i] === m.special.unk) unk++;
    return {
      tokens: tokens,
      ids: ids,
      wordIds: wordIds,
      words: t.words.slice(0, used),
      special: tokens.map(function (_, i) { return i === 0 || i === tokens.length - 1; }),
      unknownFraction: keep ? unk / keep : 0,
      truncated: truncated,
    };
  };

  /* The graph's input for an encoding: the word-embedding rows of its ids,
   * float32 [1, T, D] (exactly the float16 values, widened). */
  Engine.prototype.wordRows = function (ids) {
    var D = this.manifest.hidden, T = ids.length, out = new Float32Array(T * D), table = halfTable();
    for (var t = 0; t < T; t++) {
      var src = ids[t] * D, dst = t * D;
      for (var d = 0; d < D; d++) out[dst + d] = table[this.words[src + d]];
    }
    return out;
  };

  /* Attention [L*H*T*T] (Float32Array, query-major) for an encoding; one run at a time. */
  Engine.prototype.run = function (enc) {
    var self = this;
    var job = this.queue.then(function () {
      var T = enc.ids.length, D = self.manifest.hidden;
      var feeds = { words: new self.ort.Tensor("float32", self.wordRows(enc.ids), [1, T, D]) };
      return self.session.run(feeds).then(function (out) {
        if (self.timings && self.timings.firstRun === undefined) self.mark("firstRun");
        return out.attentions.data;
      });
    });
    this.queue = job.catch(function () {});
    return job;
  };

  /* Clark et al.'s word level, like AttentionMaps.to_words: attention from a
   * unit is the mean over its pieces, attention to a unit the sum. */
  function toWords(enc, att, L, H) {
    var units = [], unitOf = {}, T = enc.tokens.length;
    for (var i = 0; i < T; i++) {
      var w = enc.wordIds[i];
      if (w === null) units.push([i]);
      else if (unitOf[w] !== undefined) units[unitOf[w]].push(i);
      else {
        unitOf[w] = units.length;
        units.push([i]);
      }
    }
    var U = units.length, unit = new Int32Array(T), out = new Float32Array(L * H * U * U);
    units.forEach(function (u, k) { u.forEach(function (i) { unit[i] = k; }); });
    for (var lh = 0; lh < L * H; lh++) {
      var src = lh * T * T, dst = lh * U * U;
      for (var q = 0; q < T; q++) {
        var row = dst + unit[q] * U, scale = 1 / units[unit[q]].length;
        for (var k2 = 0; k2 < T; k2++) out[row + unit[k2]] += att[src + q * T + k2] * scale;
      }
    }
    return {
      tokens: units.map(function (u) { var w = enc.wordIds[u[0]]; return w === null ? enc.tokens[u[0]] : enc.words[w]; }),
      special: units.map(function (u) { return enc.wordIds[u[0]] === null; }),
      attentions: out,
      n: U,
    };
  }

  function nested(att, L, H, T) {
    var out = [];
    for (var l = 0; l < L; l++) {
      var heads = [];
      for (var hd = 0; hd < H; hd++) {
        var rows = [];
        for (var i = 0; i < T; i++) {
          var off = ((l * H + hd) * T + i) * T;
          rows.push(Array.from(att.subarray(off, off + T)));
        }
        heads.push(rows);
      }
      out.push(heads);
    }
    return out;
  }

  // ----- the page --------------------------------------------------------------

  function Playground(root) {
    var self = this;
    this.root = root;
    this.lang = languageOf(root);
    this.T = LABELS[this.lang];
    this.engine = new Engine(new URL(root.getAttribute("data-assets") || "./", doc.baseURI));
    this.views = {};
    this.last = null;
    this.timer = null;
    this.build();
    if (global.location.protocol === "file:") {
      this.fatal(this.T.fileUrl + this.lang + "/playground.html");
      this.initDone = Promise.resolve(null);
      return;
    }
    this.initDone = this.engine.init().then(function (m) {
      var mb = (self.engine.modelFiles().reduce(function (s, f) { return s + f.bytes; }, 0) / 1e6).toFixed(1);
      self.loadButton.textContent = self.T.load(mb);
      self.loadButton.disabled = false;
      root.setAttribute("data-model-bytes", String(Math.round(mb * 1e6)));
      var weights = m.files["weights.f16"];
      isCached(self.engine.url("weights.f16"), weights.sha256).then(function (yes) {
        if (yes && !self.engine.session) self.loadButton.textContent = self.T.loadCached;
      });
      self.preview();
      root.setAttribute("data-state", "idle");
      return m;
    }, function (err) {
      self.fatal(err.code === "no-assets" ? self.T.noAssets : self.T.failed(err.message));
      return null;
    });
  }

  Playground.prototype.build = function () {
    var T = this.T, self = this, root = this.root;
    while (root.firstChild) root.removeChild(root.firstChild);
    var form = h("div", { class: "ab-pg-form" }, root);
    var id = "attnbook-pg-input";
    h("label", { for: id, class: "ab-pg-label" }, form, T.input);
    this.input = h("textarea", { id: id, rows: "3", spellcheck: "false", "data-role": "sentence" }, form);
    this.input.value = EXAMPLES[this.lang === "ja" ? 3 : 0];
    var ex = h("div", { class: "ab-pg-examples" }, form);
    h("span", {}, ex, T.examples + " ");
    EXAMPLES.forEach(function (s) {
      var b = h("button", { type: "button", class: "ab-pg-example", "data-role": "example" }, ex, s);
      b.addEventListener("click", function () {
        self.input.value = s;
        self.changed(true);
      });
    });
    var actions = h("div", { class: "ab-pg-actions" }, form);
    this.loadButton = h("button", { type: "button", class: "ab-pg-load", "data-role": "load", disabled: "" }, actions, T.load("…"));
    this.showButton = h("button", { type: "button", class: "ab-pg-show", "data-role": "show", disabled: "" }, actions, T.show);
    this.progress = h("progress", { class: "ab-pg-progress", max: "1", value: "0", hidden: "" }, actions);
    this.status = h("p", { class: "ab-pg-status", role: "status", "aria-live": "polite" }, root);
    this.message = h("div", { class: "ab-pg-message", role: "alert" }, root);
    this.tokenLine = h("p", { class: "ab-pg-tokens" }, root);
    this.output = h("div", { class: "ab-pg-output", hidden: "" }, root);
    h("h3", {}, this.output, T.headView);
    this.headRoot = h("div", { class: "attnbook-view", "data-kind": "head" }, this.output);
    h("h3", {}, this.output, T.modelView);
    this.modelRoot = h("div", { class: "attnbook-view", "data-kind": "model" }, this.output);
    h("h3", {}, this.output, T.topHeads);
    this.topRoot = h("div", { class: "ab-pg-top" }, this.output);

    this.loadButton.addEventListener("click", function () { self.load(); });
    this.showButton.addEventListener("click", function () { self.changed(true); });
    this.input.addEventListener("input", function () { self.changed(false); });
    this.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        self.changed(true);
      }
    });
  };

  Playground.prototype.fatal = function (text) {
    this.root.setAttribute("data-state", "error");
    this.loadButton.disabled = true;
    this.say(text);
  };

  Playground.prototype.say = function (text, action) {
    var m = this.message;
    while (m.firstChild) m.removeChild(m.firstChild);
    if (!text) return;
    h("p", { class: "ab-pg-error" }, m, text);
    if (action) {
      var b = h("button", { type: "button", "data-role": action.role }, m, action.label);
      b.addEventListener("click", action.run);
    }
  };

  Playground.prototype.load = function () {
    var self = this, T = this.T;
    this.loadButton.disabled = true;
    this.progress.hidden = false;
    this.root.setAttribute("data-state", "loading");
    var t0 = performance.now();
    return this.engine.load(function (done, total, phase) {
      self.progress.value = total ? done / total : 0;
      self.status.textContent = phase === "starting" ? T.starting
        : T.downloading((done / 1e6).toFixed(1), (total / 1e6).toFixed(1));
    }).then(function () {
      self.progress.hidden = true;
      self.loadButton.hidden = true;
      self.showButton.disabled = false;
      self.status.textContent = T.ready(self.engine.manifest);
      self.root.setAttribute("data-state", "ready");
      self.root.setAttribute("data-load-ms", String(Math.round(performance.now() - t0)));
      return self.changed(true).then(function (res) {
        var t = self.engine.timings;
        if (t) {
          self.engine.mark("firstMap");
          // The goal: the first map this long after the last byte arrived.
          performance.measure("attnbook:after-download", "attnbook:downloaded", "attnbook:firstMap");
          self.root.setAttribute("data-timings", JSON.stringify(t));
        }
        return res;
      });
    }, function (err) {
      self.progress.hidden = true;
      self.loadButton.disabled = false;
      self.root.setAttribute("data-state", "error");
      self.say(err.code === "unsupported" ? T.unsupported : T.failed(err.message || String(err)));
      throw err;
    });
  };

  /* Typing: the tokens at once; the maps after a short pause (now = at once). */
  Playground.prototype.changed = function (now) {
    var self = this;
    this.preview();
    clearTimeout(this.timer);
    if (!this.engine.session) return Promise.resolve(null);
    if (now) return this.compute(false);
    this.timer = setTimeout(function () { self.compute(false); }, 250);
    return Promise.resolve(null);
  };

  /* The tokens and any problem with the text, before (and without) the model. */
  Playground.prototype.preview = function () {
    var T = this.T;
    if (!this.engine.tokenizer) return null;
    this.tokenLine.textContent = "";
    try {
      var enc = this.engine.encode(this.input.value, false);
    } catch (err) {
      this.explain(err);
      return null;
    }
    this.say("");
    var shown = enc.tokens.length > 80 ? enc.tokens.slice(0, 80).concat(["…"]) : enc.tokens;
    this.tokenLine.textContent = T.tokens(enc.tokens.length) + shown.join(" ");
    if (enc.unknownFraction > (this.engine.manifest.unknown_threshold || 0.25)) {
      this.say(T.unknown(Math.round(enc.unknownFraction * 100)));
    }
    return enc;
  };

  Playground.prototype.explain = function (err) {
    var T = this.T, self = this;
    if (err.code === "empty") this.say(T.empty);
    else if (err.code === "too-many-characters") this.say(T.tooManyCharacters(err.characters, err.limit));
    else if (err.code === "too-long") {
      this.say(T.tooLong(err.tokens, err.limit), {
        role: "truncate",
        label: T.keepFirst(err.limit),
        run: function () { self.compute(true); },
      });
    } else this.say(T.failed(err.message));
  };

  Playground.prototype.compute = function (truncate) {
    var self = this, T = this.T, text = this.input.value;
    return attend(text, { truncate: truncate }).then(function (res) {
      if (self.input.value !== text) return null; // the reader typed on: a newer run follows
      self.show(res);
      self.status.textContent = T.took(res.tokens.length, Math.round(res.ms));
      return res;
    }, function (err) {
      if (err.code) self.explain(err);
      else self.say(T.failed(err.message || String(err)));
      return null;
    });
  };

  Playground.prototype.show = function (res) {
    var m = this.engine.manifest, L = m.layers, H = m.heads;
    var source = global.attnbookView.source({
      model: m.model,
      modelName: m.model_name,
      layers: L,
      heads: H,
      levels: [
        { name: "token", tokens: res.tokens, special: res.special, attentions: res.flat },
        { name: "word", tokens: res.wordLevel.tokens, special: res.wordLevel.special, attentions: res.wordLevel.attentions },
      ],
    });
    this.output.hidden = false;
    if (!this.views.head) {
      this.views.head = global.attnbookView.mount(this.headRoot, source, { kind: "head", lang: this.lang });
      this.views.model = global.attnbookView.mount(this.modelRoot, source, { kind: "model", lang: this.lang });
    } else {
      this.views.head.render(source);
      this.views.model.render(source);
    }
    this.last = res;
    this.topHeads(res);
    this.root.setAttribute("data-tokens", String(res.tokens.length));
    this.root.setAttribute("data-rendered", String((+this.root.getAttribute("data-rendered") || 0) + 1));
  };

  /* Chapter 5's question for any sentence: which heads send the query word's
   * attention to the key words (word level, like AttentionMaps.top_heads). */
  Playground.prototype.topHeads = function (res) {
    var T = this.T, self = this, box = this.topRoot, wl = res.wordLevel;
    var m = this.engine.manifest, L = m.layers, H = m.heads, U = wl.n;
    var words = [];
    for (var u = 0; u < U; u++) if (!wl.special[u]) words.push(u);
    var prev = this.topChoice || {};
    function findWord(name, not) {
      for (var i = 0; i < words.length; i++) {
        if (wl.tokens[words[i]].toLowerCase() === name && words[i] !== not) return words[i];
      }
      return -1;
    }
    var query = words.indexOf(prev.query) >= 0 && wl.tokens[prev.query] === prev.queryText ? prev.query : -1;
    if (query < 0) query = findWord("chased");
    if (query < 0) query = words.length > 1 ? words[Math.min(2, words.length - 1)] : words[0];
    var keys = (prev.keysText || []).map(function (t) { return findWord(t, query); }).filter(function (k) { return k >= 0; });
    if (!keys.length) {
      ["dog", "cat"].forEach(function (t) { var k = findWord(t, query); if (k >= 0) keys.push(k); });
    }
    if (!keys.length) keys = words.filter(function (w) { return w !== query; }).slice(0, 2);
    while (box.firstChild) box.removeChild(box.firstChild);
    if (query === undefined || query < 0) return;
    var controls = h("div", { class: "ab-pg-top-controls" }, box);
    var qid = "attnbook-pg-query";
    h("label", { for: qid }, controls, T.queryWord + " ");
    var qsel = h("select", { id: qid, "data-role": "query" }, controls);
    words.forEach(function (u) {
      var o = h("option", { value: String(u) }, qsel, wl.tokens[u] + " (" + u + ")");
      if (u === query) o.selected = true;
    });
    var fs = h("fieldset", { class: "ab-pg-keys" }, controls);
    h("legend", {}, fs, T.keyWords);
    words.forEach(function (u) {
      if (u === query) return;
      var kid = "attnbook-pg-key-" + u;
      var cb = h("input", { type: "checkbox", id: kid, value: String(u), "data-role": "key" }, fs);
      cb.checked = keys.indexOf(u) >= 0;
      h("label", { for: kid }, fs, wl.tokens[u]);
      cb.addEventListener("change", function () { remember(); self.topHeads(res); });
    });
    function remember() {
      var chosen = Array.from(fs.querySelectorAll("input:checked")).map(function (c) { return +c.value; });
      self.topChoice = {
        query: +qsel.value,
        queryText: wl.tokens[+qsel.value],
        keysText: chosen.map(function (k) { return wl.tokens[k].toLowerCase(); }),
      };
    }
    qsel.addEventListener("change", function () { remember(); self.topHeads(res); });
    if (!keys.length) {
      h("p", {}, box, T.noKeys);
      return;
    }
    var rows = [];
    for (var l = 0; l < L; l++) {
      for (var hd = 0; hd < H; hd++) {
        var off = ((l * H + hd) * U + query) * U, per = [], total = 0;
        for (var k = 0; k < keys.length; k++) {
          per.push(wl.attentions[off + keys[k]]);
          total += wl.attentions[off + keys[k]];
        }
        rows.push({ layer: l, head: hd, per: per, total: total });
      }
    }
    rows.sort(function (a, b) { return b.total - a.total || a.layer - b.layer || a.head - b.head; });
    var table = h("table", { class: "ab-pg-table", "data-role": "top-heads" }, box);
    var tr = h("tr", {}, h("thead", {}, table));
    [T.layer, T.head].concat(keys.map(function (k) { return wl.tokens[k]; }), [T.total]).forEach(function (c) {
      h("th", { scope: "col" }, tr, c);
    });
    var body = h("tbody", {}, table);
    rows.slice(0, 5).forEach(function (r) {
      var row = h("tr", {}, body);
      h("td", {}, row, String(r.layer));
      h("td", {}, row, String(r.head));
      r.per.forEach(function (v) { h("td", {}, row, v.toFixed(3)); });
      h("td", {}, row, r.total.toFixed(3));
    });
    h("p", { class: "ab-pg-note" }, box, T.topNote);
  };

  // ----- the scripting API ----------------------------------------------------

  var page = null;

  function engine() {
    if (!page) throw new Error("no playground on this page");
    return page.engine;
  }

  function attend(text, options) {
    var opts = options || {};
    return page.initDone.then(function () {
      var e = engine();
      var enc = e.encode(text, !!opts.truncate); // throws on bad input, before any download
      var start = e.session ? null : page.load();
      return Promise.resolve(start).then(function () {
        var t0 = performance.now();
        return e.run(enc).then(function (flat) {
          var m = e.manifest, L = m.layers, H = m.heads, n = enc.tokens.length;
          return {
            tokens: enc.tokens,
            words: enc.words,
            special: enc.special,
            truncated: enc.truncated,
            flat: flat,
            wordLevel: toWords(enc, flat, L, H),
            ms: performance.now() - t0,
            get attentions() {
              return nested(flat, L, H, n);
            },
          };
        });
      });
    });
  }

  function start() {
    var root = doc.getElementById("attnbook-playground");
    if (!root || page) return;
    page = new Playground(root);
  }

  global.attnbook = {
    attend: function (text, options) {
      return attend(text, options).then(function (r) {
        return {
          tokens: r.tokens,
          attentions: r.attentions,
          words: r.words,
          special: r.special,
          truncated: r.truncated,
          ms: r.ms,
        };
      });
    },
    load: function () {
      return page.initDone.then(function () { return page.engine.session || page.load(); }).then(function () { return true; });
    },
    encode: function (text, options) {
      return page.initDone.then(function () { return engine().encode(text, !!(options && options.truncate)); });
    },
    wordLevel: function (text) {
      return attend(text).then(function (r) {
        var wl = r.wordLevel;
        return { tokens: wl.tokens, attentions: nested(wl.attentions, page.engine.manifest.layers, page.engine.manifest.heads, wl.n) };
      });
    },
  };

  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start);
  else start();
})(window);
