// Drops the CSS rules no page of the built book can use, for _ext/site_assets.py.
// Usage: node purge-css.js PURGECSS_DIR < request.json > purged.css, where the request is
//   {"css": "...", "content": ["page.html", "script.js", ...], "keep": ["^bs-", ...]}
// PurgeCSS keeps a rule when every class, id and element name in its selector appears as a word in one
// of the content files (the pages, and the scripts they load, which add classes as they run) or matches
// one of the "keep" patterns; @font-face and @keyframes rules nothing refers to go too.
"use strict";
const {PurgeCSS} = require(process.argv[2]);

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const request = JSON.parse(input);
  const keep = request.keep.map((pattern) => new RegExp(pattern));
  const [result] = await new PurgeCSS().purge({
    content: request.content,
    css: [{raw: request.css}],
    fontFace: true,
    keyframes: true,
    safelist: {standard: keep, greedy: keep},
  });
  process.stdout.write(result.css);
});
