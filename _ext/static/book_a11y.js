/* Boxes of code, outputs, tables or display math that scroll become focusable regions, so that a keyboard
   can scroll them too (WCAG 2.1.1; axe: scrollable-region-focusable).  The theme's own pass over such boxes,
   which measured every box of the page at once, is switched off (_ext/page_assets.py).  Sections far from the window are not
   laid out (content-visibility: auto, _static/book.css), and measuring a box there would lay them all out at
   once (a second of a slow phone's time), so the boxes are measured
   - on load (once the math's fonts are in: they set its width), those of the sections laid out then;
   - when a section comes near the window and is laid out, its own;
   - at the first Tab key, all of them, before the focus moves: a keyboard meets every box that scrolls
     (and after that, at every change of the window's size);
   - whenever the window changes size, or hidden content is shown (a framework tab chosen, a dropdown
     opened: hidden boxes have no width to measure), those laid out.
   After a pass the window's width is written to <html data-scroll-boxes="..."> (the browser test waits for it). */
(function () {
  "use strict";
  var BOXES = "div.highlight pre, .cell_output pre, .output pre, .cell_output > .output, div.math .katex-display, " +
    ".pst-scrollable-table-container";
  var laidOut = function (box) {
    return !box.checkVisibility || box.checkVisibility({contentVisibilityAuto: true});
  };
  var scrollsDown = function (box) {  // an output given a height (myst-nb's scroll-output) scrolls down
    return box.scrollHeight > box.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(box).overflowY);
  };
  var measure = function (box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1 || scrollsDown(box);
    if (scrolls && !box.dataset.scrollFocus) {
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", box.matches("pre") ? "code (scrolls sideways)"
        : box.matches(".pst-scrollable-table-container") ? "table (scrolls sideways)"
        : box.matches(".output") ? "output (scrolls)" : "equation (scrolls sideways)");
      box.dataset.scrollFocus = "1";
    } else if (!scrolls && box.dataset.scrollFocus) {
      ["tabindex", "role", "aria-label", "data-scroll-focus"].forEach(function (a) { box.removeAttribute(a); });
    }
  };
  var everything = false;  // true once a Tab key asked for every box
  var mark = function (root) {
    (root || document).querySelectorAll(BOXES).forEach(function (box) {
      if (everything || laidOut(box)) { measure(box); }
    });
    document.documentElement.dataset.scrollBoxes = String(window.innerWidth);
  };
  document.addEventListener("contentvisibilityautostatechange", function (e) {
    if (!e.skipped) { mark(e.target); }
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Tab" && !everything) {
      everything = true;
      mark();
    }
  }, true);
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { mark(); }, 100);
  });
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches(".sd-tab-set > input")) { mark(); }
  });
  document.addEventListener("toggle", function () { mark(); }, true);  // <details> opened or closed
  window.addEventListener("load", function () {
    if (document.fonts && document.fonts.ready) {
      document.fonts.ready.then(function () { mark(); });
    } else {
      mark();
    }
  });
})();

/* Icons are Font Awesome <i> elements drawn by the theme's CSS (the book leaves out fontawesome.js,
   which turned them into SVGs hidden from screen readers): they are decoration next to a visible or
   aria-label name, so they are hidden from screen readers the same way. */
document.querySelectorAll("i[class*='fa-']").forEach(function (icon) {
  icon.setAttribute("aria-hidden", "true");
});
