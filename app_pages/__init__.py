"""The app's pages (Streamlit would treat a folder named pages/ as its own legacy page list; app.py navigates)."""
