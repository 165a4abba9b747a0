"""Streamlit plumbing the pages and sections stand on, apart from any feature."""
