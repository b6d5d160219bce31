"""Serves the dashboard's static files at `/`, after every API route so that the API keeps its paths."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Mount the dashboard at `/` (index.html for `/`). Call it last: a mount at `/` matches every path."""
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")
