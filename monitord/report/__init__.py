"""The monthly client report and the history behind it.

* :mod:`monitord.report.rollup`: pure hourly roll-up arithmetic (a result's interval attributed
  to hours, maintenance windows excluded);
* :mod:`monitord.report.store`: the roll-ups, a few days of raw results and the reports sent,
  in the state store's SQLite file under this package's own versioned schema;
* :mod:`monitord.report.history`: the daemon service that feeds the roll-ups from probe results;
* :mod:`monitord.report.model`: the report as a pure function of (data, now);
* :mod:`monitord.report.data`: reads that data from the store;
* :mod:`monitord.report.render` and :mod:`monitord.report.charts`: HTML, text and PNG charts;
* :mod:`monitord.report.service`: sends the reports on the first working day of the month.
"""
