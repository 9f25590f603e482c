"""Insight on top of the segments: names and actions, RFM scores, product picks, EDA, cohorts,
segment migration and the HTML report."""
