"""EV charging: charge points, sessions whose power tapers with state of charge, OCPP wire."""
