"""mod_status: /server-status (the scoreboard as HTML and ?auto) and fastcore's
Prometheus endpoint (SetHandler metrics), both read from the shared scoreboard."""
