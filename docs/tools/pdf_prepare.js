// Run by docs/tools/pdf.py in the singlehtml page before printing (Playwright
// page.evaluate). Adds a cover and a table of contents, turns the toctree
// captions into Part headings (so the PDF outline has Parts), replaces every
// interactive view and the playground by a note that links the page on the
// site, then waits for MathJax, the fonts and the images. Sets
// window.attnbookPrintReady (and window.attnbookPrintError on a failure) and
// returns the chapter titles in order, for the page numbers of the contents.
async ({ language, siteUrl, version }) => {
  const ja = language === "ja";
  const t = (en, jaText) => (ja ? jaText : en);
  // singlehtml drops the toctree captions from the text; the page's own table of
  // contents (the theme's secondary sidebar) still has them before each Part's list.
  const partBefore = new Map();
  for (const caption of document.querySelectorAll("#pst-page-toc-nav p.caption")) {
    const list = caption.nextElementSibling;
    const link = list && list.querySelector('a[href^="#document-"]');
    if (link) partBefore.set(link.getAttribute("href").slice(1), caption.textContent.trim());
  }
  // Only the article is printed: the theme's columns, bars and print header go.
  const article = document.querySelector("article.bd-article") || document.body;
  if (article !== document.body) document.body.replaceChildren(article);
  const docs = [...document.querySelectorAll('span[id^="document-"]')];

  // The page (docname) an element belongs to: the last document marker before it.
  const docOf = (el) => {
    let found = "index";
    for (const marker of docs) {
      if (marker.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) {
        found = marker.id.slice("document-".length);
      } else break;
    }
    return found;
  };
  const pageUrl = (doc) => {
    const path = `${language}/${doc}.html`;
    return siteUrl ? `${siteUrl.replace(/\/+$/, "")}/${path}` : `../${path}`;
  };
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const titleOf = (marker) => {
    const section = marker.nextElementSibling;
    const h = section && section.querySelector("h1, h2, h3, h4");
    if (!h) return null;
    const copy = h.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((a) => a.remove());
    return { heading: h, text: copy.textContent.trim() };
  };

  // Interactive views and the playground: a note with the page's address.
  const note = (doc, what) => {
    const box = el("div", "attnbook-print-note");
    const url = pageUrl(doc);
    box.append(
      el("strong", "", what),
      document.createTextNode(" "),
      document.createTextNode(
        t(
          "It needs a browser: open this chapter on the book's site to use it, at ",
          "ブラウザーで動くため、印刷版には載せていません。本のサイトのこの章で使えます: ",
        ),
      ),
    );
    const a = el("a", "", url);
    a.href = url;
    box.append(a);
    if (!siteUrl) {
      box.append(
        document.createTextNode(
          t(
            " (relative to the site's pdf/ folder, where this PDF is published).",
            "（この PDF を公開しているサイトの pdf/ フォルダーからの相対パス）。",
          ),
        ),
      );
    }
    return box;
  };
  let views = 0;
  for (const view of document.querySelectorAll(".attnbook-view")) {
    const output = view.closest(".cell_output") || view;
    output.replaceWith(note(docOf(output), t("Interactive attention view.", "対話型のアテンションビュー。")));
    views += 1;
  }
  const playground = document.getElementById("attnbook-playground");
  if (playground) {
    playground.replaceWith(note(docOf(playground), t("The playground.", "プレイグラウンド。")));
  }

  // Each Part and chapter opens a page; a Part heading stands on a page of its own.
  const chapters = [];
  for (const marker of docs) {
    const title = titleOf(marker);
    if (!title) continue;
    marker.nextElementSibling.classList.add("attnbook-chapter");
    const part = partBefore.get(marker.id) || null;
    if (part) marker.before(el("h2", "attnbook-part", part));
    chapters.push({ id: marker.id, text: title.text, part });
  }

  // Japanese: no space between two Japanese characters. Chromium prints a line
  // break inside a paragraph of the source (a wrapped msgstr) as a space, and
  // spaces written around **bold** in the catalogues print as gaps. A space next
  // to Latin text, a number, code or math stays.
  let spacesRemoved = 0;
  if (ja) {
    const CJK = /[\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]/;
    const BLOCK = "p, li, dt, dd, figcaption, caption, th, td, h1, h2, h3, h4, h5, h6, div";
    const SKIP = "pre, code, kbd, samp, mjx-container, script, style, .highlight";
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    let last = null; // {char, node, block}: the last visible character so far
    let pending = null; // a text node ending in whitespace, waiting for the next character
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest(SKIP)) {
        if (node.textContent.trim()) {
          last = { char: "x", block: parent && parent.closest(BLOCK) };
          pending = null;
        }
        continue;
      }
      const block = parent.closest(BLOCK);
      let text = node.textContent;
      const before = text;
      text = text.replace(
        /([\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef])[ \t\n\r]+(?=[\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef])/g,
        "$1",
      );
      const trimmed = text.replace(/^[ \t\n\r]+/, "");
      const first = trimmed.charAt(0);
      if (first) {
        const sameBlock = last && last.block === block;
        if (sameBlock && CJK.test(last.char) && CJK.test(first)) {
          text = trimmed;
          if (pending) {
            pending.textContent = pending.textContent.replace(/[ \t\n\r]+$/, "");
            spacesRemoved += 1;
          }
        }
        const visible = text.replace(/[ \t\n\r]+$/, "");
        last = { char: visible.charAt(visible.length - 1) || first, block };
        pending = /[ \t\n\r]$/.test(text) ? node : null;
      }
      if (text !== before) {
        spacesRemoved += 1;
        node.textContent = text;
      }
    }
  }

  // Cover and contents, before the index page's text.
  const indexTitle = article.querySelector("h1");
  const cover = el("section", "attnbook-cover");
  cover.append(
    el("p", "attnbook-cover-title", "attnbook"),
    el("p", "attnbook-cover-subtitle", t("attention at high resolution", "アテンションを高解像度で")),
    el("p", "attnbook-cover-edition", t("English edition", "日本語版")),
    el("p", "attnbook-cover-version", `${t("version", "バージョン")} ${version}`),
  );
  const toc = el("nav", "attnbook-toc");
  toc.append(el("h2", "attnbook-toc-title", t("Contents", "目次")));
  const list = el("ol", "");
  const numberSpans = [];
  for (const chapter of chapters) {
    if (chapter.part) list.append(el("li", "attnbook-toc-part", chapter.part));
    const li = el("li", "attnbook-toc-entry");
    const a = el("a", "", chapter.text);
    a.href = `#${chapter.id}`;
    const n = el("span", "attnbook-toc-page", "000");
    numberSpans.push(n);
    li.append(a, n);
    list.append(li);
  }
  toc.append(list);
  const start = indexTitle ? indexTitle.closest("section") || indexTitle : article.firstChild;
  start.parentElement.insertBefore(cover, start);
  start.parentElement.insertBefore(toc, start);
  window.attnbookSetPageNumbers = (numbers) => {
    numbers.forEach((n, i) => (numberSpans[i].textContent = n === null ? "" : String(n)));
  };

  // Wait for MathJax, images and fonts before the page is printed.
  window.attnbookPrintReady = false;
  (async () => {
    try {
      if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
        if (MathJax.typesetPromise) await MathJax.typesetPromise();
      }
      await Promise.all(
        [...document.images].map((img) =>
          img.complete ? null : new Promise((r) => img.addEventListener("load", r) || img.addEventListener("error", r)),
        ),
      );
      const broken = [...document.images].filter((img) => !img.naturalWidth).map((img) => img.src);
      if (broken.length) throw new Error(`images that did not load: ${broken.slice(0, 5).join(", ")}`);
      const errors = document.querySelectorAll("mjx-merror, .mjx-merror");
      if (errors.length) throw new Error(`${errors.length} equations MathJax could not typeset`);
      await document.fonts.ready;
    } catch (err) {
      window.attnbookPrintError = String(err);
    }
    window.attnbookPrintReady = true;
  })();

  // The contents fill this many pages at most (pdf.py looks for titles after them).
  return { titles: chapters.map((c) => c.text), views, spacesRemoved, tocPages: 2 + Math.ceil(chapters.length / 30) };
};
