"""Serving the app to a class: several Streamlit servers over one data home behind a reverse proxy."""
