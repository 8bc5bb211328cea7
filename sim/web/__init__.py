"""The web console: FastAPI app, pages, REST API; engine calls only in backend.py."""
