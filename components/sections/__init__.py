"""The Streamlit sections the pages (and the Week 3 tour) are built from, one module per concept."""
