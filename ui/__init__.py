"""Streamlit-side helpers shared by app.py and pages/: state, cached loaders, formatting."""
