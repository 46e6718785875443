"""Buses: routes with stops, timetabled trips, motion with dwell times, GTFS-RT wire."""
