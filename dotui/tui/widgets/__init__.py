"""The main screen's widgets, grouped by feature."""
