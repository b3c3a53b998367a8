/* attnbook playground: the BERT uncased WordPiece tokenizer in JavaScript.
 *
 * Gives the tokens of the Hugging Face fast tokenizer the embedded model uses
 * (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece), checked against
 * it in tests/test_playground.py on generated sentences:
 *
 *   1. clean: drop U+0000, U+FFFD and control/format characters (Cc, Cf, Co,
 *      Cn) except tab/newline/CR; every whitespace character becomes " ";
 *   2. put spaces around CJK ideographs (not kana: 「犬が」 -> " 犬 が");
 *   3. strip accents: NFD, then drop nonspacing marks (Mn) — which also drops
 *      the voiced marks of kana (が -> か);
 *   4. lowercase, one character at a time (no final-sigma rule, as in Rust);
 *   5. split on whitespace and around every punctuation character (ASCII
 *      symbols 33-47, 58-64, 91-96, 123-126, and Unicode category P);
 *   0. special-token strings typed in the text ("[CLS]") are one token each;
 *   6. WordPiece: longest vocabulary prefix first, then "##" pieces; a word
 *      with no split, or longer than 100 characters, is "[UNK]".
 *
 * Exported as attnbookTokenizer.{create(vocab), ...} on the global object.
 */
(function (global) {
  "use strict";
  var CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u;
  var SPACE = /[\s\p{Zs}]/u;
  var MARK = /\p{Mn}/gu;
  var PUNCT = /\p{P}/u;

  function isWhitespace(c) {
    return c === " " || c === "\t" || c === "\n" || c === "\r" || SPACE.test(c);
  }
  function isControl(c) {
    if (c === "\t" || c === "\n" || c === "\r") return false;
    return CONTROL.test(c);
  }
  function isCjk(cp) {
    return (
      (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
      (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
      (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
      (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
    );
  }
  function isPunctuation(c) {
    var cp = c.codePointAt(0);
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
      return true;
    }
    return PUNCT.test(c);
  }

  /* Steps 1-4, one input character at a time so every output character knows
   * where it came from: {chars: [...], from: [[start, end) of the input in
   * UTF-16 units]}. NFD per character equals NFD of the whole text once the
   * marks are dropped. */
  function normaliseSpans(text) {
    var chars = [], from = [], pos = 0;
    function put(c, start, end) {
      chars.push(c);
      from.push([start, end]);
    }
    for (var c of String(text)) {
      var start = pos, end = pos + c.length, cp = c.codePointAt(0);
      pos = end;
      if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
      if (isWhitespace(c)) {
        put(" ", start, end);
        continue;
      }
      if (isCjk(cp)) {
        put(" ", start, start);
        put(c, start, end);
        put(" ", end, end);
        continue;
      }
      for (var d of c.normalize("NFD").replace(MARK, "")) {
        for (var l of d.toLowerCase()) put(l, start, end);
      }
    }
    return { chars: chars, from: from };
  }

  function normalise(text) {
    return normaliseSpans(text).chars.join("");
  }

  /* Step 5: words (whitespace-separated, punctuation on its own), each with
   * the span of the input it came from. */
  function preTokeniseSpans(text) {
    var n = normaliseSpans(text), words = [], cur = "", start = -1, end = -1;
    function flush() {
      if (cur) words.push({ word: cur, start: start, end: end });
      cur = "";
    }
    for (var i = 0; i < n.chars.length; i++) {
      var c = n.chars[i];
      if (isWhitespace(c)) {
        flush();
      } else if (isPunctuation(c)) {
        flush();
        words.push({ word: c, start: n.from[i][0], end: n.from[i][1] });
      } else {
        if (!cur) start = n.from[i][0];
        cur += c;
        end = n.from[i][1];
      }
    }
    flush();
    return words;
  }

  function create(vocabList, options) {
    var opts = options || {};
    var unk = opts.unk || "[UNK]", prefix = opts.prefix || "##", maxChars = opts.maxChars || 100;
    var vocab = new Map();
    for (var i = 0; i < vocabList.length; i++) if (!vocab.has(vocabList[i])) vocab.set(vocabList[i], i);
    if (!vocab.has(unk)) throw new Error("the vocabulary has no " + unk);
    var specials = (opts.specials || ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]).filter(function (t) {
      return vocab.has(t);
    });

    /* Step 6 for one word. */
    function wordPiece(word) {
      var chars = Array.from(word);
      if (chars.length > maxChars) return [unk];
      var pieces = [], start = 0;
      while (start < chars.length) {
        var end = chars.length, found = null;
        while (start < end) {
          var piece = chars.slice(start, end).join("");
          if (start > 0) piece = prefix + piece;
          if (vocab.has(piece)) {
            found = piece;
            break;
          }
          end--;
        }
        if (found === null) return [unk];
        pieces.push(found);
        start = end;
      }
      return pieces;
    }

    /* text -> {tokens, ids, wordIds, words}: no special tokens. wordIds[i]
     * indexes `words`, the words as written in the text (original case). */
    function tokenise(text) {
      text = String(text);
      var tokens = [], wordIds = [], words = [];
      function addWord(word, original, pieces) {
        words.push(original || word);
        for (var p = 0; p < pieces.length; p++) {
          tokens.push(pieces[p]);
          wordIds.push(words.length - 1);
        }
      }
      function ordinary(segment) {
        var spans = preTokeniseSpans(segment);
        for (var w = 0; w < spans.length; w++) {
          var original = segment.slice(spans[w].start, spans[w].end);
          addWord(spans[w].word, original, wordPiece(spans[w].word));
        }
      }
      // Special-token strings typed in the text ("[CLS]", "[MASK]") are matched
      // first, as written, and stay one token each (Hugging Face's added tokens).
      var pos = 0;
      while (pos <= text.length) {
        var best = -1, which = null;
        for (var k = 0; k < specials.length; k++) {
          var at = text.indexOf(specials[k], pos);
          if (at >= 0 && (best < 0 || at < best || (at === best && specials[k].length > which.length))) {
            best = at;
            which = specials[k];
          }
        }
        if (best < 0) {
          ordinary(text.slice(pos));
          break;
        }
        ordinary(text.slice(pos, best));
        addWord(which, which, [which]);
        pos = best + which.length;
      }
      var ids = tokens.map(function (t) {
        return vocab.get(t);
      });
      return { tokens: tokens, ids: ids, wordIds: wordIds, words: words };
    }

    return {
      tokenise: tokenise,
      id: function (token) { return vocab.get(token); },
      unk: unk,
      size: vocab.size,
    };
  }

  global.attnbookTokenizer = { create: create, normalise: normalise, preTokenise: preTokeniseSpans };
})(typeof window !== "undefined" ? window : globalThis);
