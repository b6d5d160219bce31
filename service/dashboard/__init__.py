"""The web dashboard: static files (no build step, no CDN) served by the API at `/`."""
