// Typesets formulas with KaTeX for _ext/katex_math.py, which starts it once per build.
// Usage: node katex-render.js KATEX_JS.  Reads one request per line on stdin,
//   {"tex": "...", "display": true|false, "macros": {...}}
// and answers each with one line on stdout, in order:
//   {"html": "<span class=\"katex\">...</span>"}   (HTML for the eye, MathML for screen readers)
//   {"error": "KaTeX parse error: ..."}            (the formula is not valid for KaTeX)
"use strict";
const katex = require(process.argv[2]);
const readline = require("readline");

const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
lines.on("line", (line) => {
  let answer;
  try {
    const request = JSON.parse(line);
    answer = {
      html: katex.renderToString(request.tex, {
        displayMode: Boolean(request.display),
        output: "htmlAndMathml",
        throwOnError: true,
        // TeX that LaTeX itself would reject or typeset differently is an error too, not a silent guess.
        strict: "error",
        trust: false,
        macros: request.macros || {},
      }),
    };
  } catch (error) {
    answer = {error: String(error && error.message ? error.message : error)};
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
