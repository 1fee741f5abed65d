"""The validation report as a structured document, rendered to HTML, PDF and DOCX (issue 17)."""
