"""Parley's dashboard: a Streamlit client of the admin and GDPR APIs over HTTP."""
