/* Boxes of code, tables or display math that scroll sideways become focusable regions, so that a keyboard
   can scroll them too (WCAG 2.1.1; axe: scrollable-region-focusable).  Checked on load (once the math's
   fonts are in: they set its width), whenever the window changes size and whenever hidden content is shown (a
   framework tab chosen, a dropdown opened: hidden boxes have no width to measure); when done, the window's width is
   written to <html data-scroll-boxes="..."> (the browser test waits for it). */
(function () {
  "use strict";
  var BOXES = "div.highlight pre, .cell_output pre, .output pre, div.math .katex-display, " +
    ".pst-scrollable-table-container";
  var mark = function () {
    document.querySelectorAll(BOXES).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.dataset.scrollFocus) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", box.matches("pre") ? "code (scrolls sideways)"
          : box.matches(".pst-scrollable-table-container") ? "table (scrolls sideways)" : "equation (scrolls sideways)");
        box.dataset.scrollFocus = "1";
      } else if (!scrolls && box.dataset.scrollFocus) {
        ["tabindex", "role", "aria-label", "data-scroll-focus"].forEach(function (a) { box.removeAttribute(a); });
      }
    });
    document.documentElement.dataset.scrollBoxes = String(window.innerWidth);
  };
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(mark, 100);
  });
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches(".sd-tab-set > input")) { mark(); }
  });
  document.addEventListener("toggle", function () { mark(); }, true);  // <details> opened or closed
  window.addEventListener("load", function () {
    if (document.fonts && document.fonts.ready) {
      document.fonts.ready.then(mark);
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
