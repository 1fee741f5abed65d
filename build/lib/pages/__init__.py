"""The dashboard's pages, one file per page (Streamlit multipage); each reads widgets, calls services, renders."""
