"""Buildings and their energy meters: load curves, registers, SenML/Tasmota/Shelly wire."""
