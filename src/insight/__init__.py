"""Exploratory analysis, cohorts, segment migration and the HTML report."""
