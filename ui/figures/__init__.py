"""Every chart of the app, as plotly figures built from data that core returns."""
