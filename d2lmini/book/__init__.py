"""The book's machinery, kept apart from the core of :mod:`d2lmini`.

- :mod:`d2lmini.book.widgets`: slider demos, live (ipywidgets) and static (plotly);
- :mod:`d2lmini.book.activations`: activation functions and the chapter's demos;
- :mod:`d2lmini.book.playground`: the 2-D playground (data sets, tiny networks, decision regions);
- :mod:`d2lmini.book.diagrams`: network diagrams drawn by code;
- :mod:`d2lmini.book.metrics`: confusion matrices and per-class accuracy;
- :mod:`d2lmini.book.checks`: instant feedback for the exercises (the checkers of each
  chapter live in ``checks_*.py``), built on :mod:`d2lmini.book.checking` (the guard every
  checker shares: time limit, captured output, private copies, random and global state) and
  :mod:`d2lmini.book.experiment_checks` (experiment results, their plausibility and protocol).

These modules may import the core (``d2lmini.data``, ``d2lmini.train``, ...);
the core never imports them.  Import them by their full name, e.g.
``from d2lmini.book.checks import check_relu``.
"""
