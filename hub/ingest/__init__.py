"""Ingest: the MQTT source and the pipeline that turns messages into stored points."""
