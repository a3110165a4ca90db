/* Demos start when the reader comes near them (see _ext/lazy_demos.py, which writes the page's part).
   Each demo on the page pushes {id, name, data, plotly, run} onto window.d2lminiDemos.  When its figure
   comes within a screen's height of the window, or a control in it gets the keyboard focus, this loads
   the demo's states (a script file that calls d2lminiDemos.loaded(name, states)) and plotly.js (once per
   page), then calls run(states): the demo's own script, which wires the controls and draws the plot.
   Until then the plot's place shows a picture of the first frame; it stays under the plot. */
(function () {
  "use strict";
  var scripts = {};   // src -> promise of the script having run
  var waiting = {};   // demo data name -> function receiving its states

  var load = function (src) {
    if (!scripts[src]) {
      scripts[src] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.async = true;
        script.onload = resolve;
        script.onerror = function () { reject(new Error("could not load " + src)); };
        document.head.appendChild(script);
      });
    }
    return scripts[src];
  };

  var states = function (demo) {
    return new Promise(function (resolve, reject) {
      waiting[demo.name] = resolve;
      load(demo.data).then(function () {
        if (waiting[demo.name]) { reject(new Error(demo.data + " held no states for " + demo.id)); }
      }, reject);
    });
  };

  var failed = function (fig, error) {
    var note = document.createElement("p");
    note.className = "d2lmini-demo-error";
    note.textContent = "The interactive figure could not load (" + error.message + "); reload the page to try again.";
    fig.insertBefore(note, fig.querySelector(".d2lmini-demo-description"));
    fig.dataset.demo = "failed";
  };

  var start = function (demo) {
    var fig = document.getElementById(demo.id);
    if (!fig || fig.dataset.demo) { return; }
    fig.dataset.demo = "waiting";
    var near = null;
    var go = function () {
      if (fig.dataset.demo !== "waiting") { return; }
      fig.dataset.demo = "loading";
      if (near) { near.disconnect(); }
      fig.removeEventListener("focusin", go);
      Promise.all([states(demo), load(demo.plotly)]).then(function (results) {
        var plot = fig.querySelector(".d2lmini-demo-plot");
        var picture = plot && plot.querySelector(".d2lmini-demo-frame");
        demo.run(results[0]);  // clears the plot's place, then draws the plot when it is on screen
        if (picture && !picture.isConnected) { plot.insertBefore(picture, plot.firstChild); }
        fig.dataset.demo = "ready";
      }).catch(function (error) { failed(fig, error); });
    };
    fig.addEventListener("focusin", go);
    if (window.IntersectionObserver) {
      near = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) { go(); }
      }, {rootMargin: "100% 0px"});
      near.observe(fig);
    } else {
      go();
    }
  };

  var queued = Array.isArray(window.d2lminiDemos) ? window.d2lminiDemos : [];
  window.d2lminiDemos = {
    push: start,
    loaded: function (name, data) {
      var resolve = waiting[name];
      delete waiting[name];
      if (resolve) { resolve(data); }
    },
  };
  queued.forEach(start);
})();
